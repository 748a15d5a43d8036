/**
 * Generated WorkflowExecution specs: valid ones, and mutations of valid ones (wrong types, missing
 * members, huge and unicode strings, duplicated and dangling references, cycles of every length,
 * deep nesting, every enum wrong, absurd durations). Plain JSON: a mutation need not fit the type.
 */
import fc from 'fast-check';
import type { WorkflowStep } from '../../../src/api/generated/types.ts';
import type { ResolvedSpec } from '../../../src/api/resolved-spec.ts';
import { customRollback, customStep, specWith, step } from '../../fixtures/specs.ts';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

export interface FuzzSpec {
  /** What was done to it: 'valid' or the mutation's name. */
  kind: string;
  spec: Json;
}

// Valid specs must be able to run to the end on a loaded machine: a step timeout is never shorter
// than the instant executor can answer under load (a 250 ms one timed out at load average 40).
const TIMEOUTS = ['30s', '5m', '1h30m', '90000ms', '720h', '1.5h'];

const arbStep = (n: number): fc.Arbitrary<WorkflowStep> =>
  fc
    .record({
      custom: fc.boolean(),
      critical: fc.boolean(),
      retries: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
      timeout: fc.option(fc.constantFrom(...TIMEOUTS), { nil: undefined }),
      rollback: fc.boolean(),
      deps: fc.subarray(
        Array.from({ length: n - 1 }, (_, i) => i + 1),
        { maxLength: Math.min(3, n - 1) },
      ),
    })
    .map(({ custom, critical, retries, timeout, rollback, deps }) => {
      const overrides: Partial<WorkflowStep> = {
        criticalStep: critical,
        ...(retries === undefined ? {} : { maxRetries: retries }),
        ...(timeout === undefined ? {} : { timeout }),
        ...(deps.length > 0 ? { dependsOn: deps } : {}),
      };
      if (custom)
        return customStep(n, { ...overrides, ...(rollback ? { rollbackSpec: customRollback(n) } : {}) });
      return step(n, overrides);
    });

export const arbValidSpec: fc.Arbitrary<ResolvedSpec> = fc
  .integer({ min: 1, max: 12 })
  .chain((count) => fc.tuple(...Array.from({ length: count }, (_, i) => arbStep(i + 1))))
  .chain((steps) =>
    fc
      .record({
        rollbackStrategy: fc.constantFrom('automatic', 'manual', 'none'),
        approvalRequired: fc.boolean(),
        dryRunFirst: fc.boolean(),
        maxRetries: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
      })
      .map((strategy) =>
        specWith(steps, {
          rollbackStrategy: strategy.rollbackStrategy,
          approvalRequired: strategy.approvalRequired,
          dryRunFirst: strategy.dryRunFirst,
          ...(strategy.maxRetries === undefined ? {} : { maxRetries: strategy.maxRetries }),
        }),
      ),
  );

const clone = (spec: ResolvedSpec): JsonObject => structuredClone(spec) as unknown as JsonObject;
const stepsOf = (s: JsonObject): JsonObject[] =>
  ((s['workflowDefinition'] as JsonObject)['steps'] as JsonObject[] | undefined) ?? [];

type Mutation = (spec: ResolvedSpec, pick: number, text: string) => Json;

/** Each mutation gets a valid spec, a number to choose with, and a random string. */
const MUTATIONS: Record<string, Mutation> = {
  wrongType: (spec, pick) => {
    const s = clone(spec);
    const st = stepsOf(s)[pick % stepsOf(s).length] ?? {};
    const wrong: [JsonObject, string, Json][] = [
      [st, 'stepNumber', 'one'],
      [st, 'maxRetries', '3'],
      [st, 'timeout', 300],
      [st, 'dependsOn', '1'],
      [st, 'criticalStep', 'yes'],
      [st, 'parameters', ['scale']],
      [s['workflowDefinition'] as JsonObject, 'steps', { first: st }],
      [s, 'executionStrategy', 7],
      [s['executionStrategy'] as JsonObject, 'approvalRequired', 'no'],
    ];
    const [target, key, value] = wrong[pick % wrong.length] ?? wrong[0]!;
    target[key] = value;
    return s;
  },
  missingMember: (spec, pick) => {
    const s = clone(spec);
    const st = stepsOf(s)[0] ?? {};
    const members: [JsonObject, string][] = [
      [st, 'action'],
      [st, 'name'],
      [st, 'stepNumber'],
      [st, 'parameters'],
      [s['workflowDefinition'] as JsonObject, 'name'],
      [s['workflowDefinition'] as JsonObject, 'steps'],
      [s['executionStrategy'] as JsonObject, 'rollbackStrategy'],
      [s, 'workflowDefinition'],
      [s, 'executionStrategy'],
    ];
    const [target, key] = members[pick % members.length] ?? members[0]!;
    Reflect.deleteProperty(target, key);
    return s;
  },
  hugeString: (spec, pick) => {
    const s = clone(spec);
    const huge = 'x'.repeat(1000 + ((pick * 7919) % 200_000));
    const st = stepsOf(s)[0] ?? {};
    if (pick % 2 === 0) st['name'] = huge;
    else (s['workflowDefinition'] as JsonObject)['name'] = huge;
    return s;
  },
  unicodeString: (spec, _pick, text) => {
    const s = clone(spec);
    const st = stepsOf(s)[0] ?? {};
    st['name'] = text.length === 0 ? '\u{1F4A5}' : text;
    (s['workflowDefinition'] as JsonObject)['name'] = `\u202e${text}\u0000`;
    return s;
  },
  duplicateStepNumber: (spec, pick) => {
    const s = clone(spec);
    const steps = stepsOf(s);
    const copy = structuredClone(steps[pick % steps.length] ?? steps[0]!);
    copy['name'] = 'another-name';
    steps.push(copy);
    return s;
  },
  duplicateStepName: (spec) => {
    const s = clone(spec);
    const steps = stepsOf(s);
    const copy = structuredClone(steps[0]!);
    copy['stepNumber'] = steps.length + 1;
    steps.push(copy);
    return s;
  },
  duplicateDependency: (spec) => {
    const s = clone(spec);
    const steps = stepsOf(s);
    steps.push({
      ...structuredClone(steps[0]!),
      stepNumber: steps.length + 1,
      name: 'dup-deps',
      dependsOn: [1, 1],
    });
    return s;
  },
  danglingDependency: (spec, pick) => {
    const s = clone(spec);
    const st = stepsOf(s)[pick % stepsOf(s).length] ?? {};
    st['dependsOn'] = [100 + (pick % 9000)];
    return s;
  },
  selfDependency: (spec, pick) => {
    const s = clone(spec);
    const st = stepsOf(s)[pick % stepsOf(s).length] ?? {};
    st['dependsOn'] = [st['stepNumber'] ?? 1];
    return s;
  },
  /** A ring 1 -> 2 -> ... -> k -> 1 for k from 2 to 12. */
  cycle: (_spec, pick) => {
    const k = 2 + (pick % 11);
    return clone(
      specWith(Array.from({ length: k }, (_, i) => customStep(i + 1, { dependsOn: [i === 0 ? k : i] }))),
    );
  },
  /**
   * A chain of 20 to 60 steps, each depending on the one before: deep, and valid. (Longer ones are
   * the benchmarks' business: a 200-step spec costs this apiserver seconds of CEL evaluation.)
   */
  deepChain: (_spec, pick) => {
    const n = 20 + (pick % 41);
    return clone(
      specWith(Array.from({ length: n }, (_, i) => customStep(i + 1, i === 0 ? {} : { dependsOn: [i] }))),
    );
  },
  /** Deeply nested JSON where a string map is expected. */
  deepNesting: (spec, pick) => {
    const s = clone(spec);
    let nested: Json = 'bottom';
    for (let i = 0; i < 20 + (pick % 200); i++) nested = { level: nested };
    const st = stepsOf(s)[0] ?? {};
    st['parameters'] = { custom: { actionType: 'noop', config: { deep: nested } } };
    return s;
  },
  wrongEnum: (spec, pick, text) => {
    const s = clone(spec);
    const st = stepsOf(s)[0] ?? {};
    const value = `not-${text.replace(/[^a-z]/g, '') || 'an-enum'}`;
    const enums: (() => void)[] = [
      () => (st['action'] = value),
      () => ((s['executionStrategy'] as JsonObject)['rollbackStrategy'] = value),
      () => ((s['executionStrategy'] as JsonObject)['safetyChecks'] = [{ type: value }]),
      () => (st['rollbackSpec'] = { ...(customRollback(1) as unknown as JsonObject), action: value }),
      () => ((s['workflowDefinition'] as JsonObject)['aiRecommendations'] = { recommendationSource: value }),
      () =>
        ((s['workflowDefinition'] as JsonObject)['aiRecommendations'] = {
          safetyImprovements: [{ description: 'x', priority: value }],
        }),
    ];
    enums[pick % enums.length]?.();
    return s;
  },
  badDuration: (spec, pick) => {
    const s = clone(spec);
    const st = stepsOf(s)[0] ?? {};
    st['timeout'] = ['9999999999h', '721h', '0s', '-1s', '5 minutes', '1d', '', '1h1h1h1h1h1h1h1h1h1h1h'][
      pick % 8
    ]!;
    return s;
  },
  emptySteps: (spec) => {
    const s = clone(spec);
    (s['workflowDefinition'] as JsonObject)['steps'] = [];
    return s;
  },
  negativeNumbers: (spec, pick) => {
    const s = clone(spec);
    const st = stepsOf(s)[0] ?? {};
    if (pick % 2 === 0) st['stepNumber'] = -1 - pick;
    else st['maxRetries'] = -1;
    return s;
  },
};

export const MUTATION_NAMES = Object.keys(MUTATIONS);

export const arbFuzzSpec: fc.Arbitrary<FuzzSpec> = fc.oneof(
  { weight: 1, arbitrary: arbValidSpec.map((spec): FuzzSpec => ({ kind: 'valid', spec: clone(spec) })) },
  {
    weight: 3,
    arbitrary: fc
      .tuple(
        arbValidSpec,
        fc.constantFrom(...MUTATION_NAMES),
        fc.nat(),
        fc.string({ unit: 'grapheme', maxLength: 80 }),
      )
      .map(([spec, kind, pick, text]): FuzzSpec => ({ kind, spec: MUTATIONS[kind]!(spec, pick, text) })),
  },
);

/** `count` specs, the same ones for the same seed. */
export const fuzzSpecs = (count: number, seed: number): FuzzSpec[] =>
  fc.sample(arbFuzzSpec, { numRuns: count, seed });
