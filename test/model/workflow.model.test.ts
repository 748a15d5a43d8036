import { describe, expect, it } from '@jest/globals';
import { getShortestPaths, getSimplePaths } from 'xstate/graph';
import { machineOf } from '../../src/core/load.ts';
import type { ResolvedSpec } from '../../src/api/resolved-spec.ts';
import { advance, initialSnapshot } from '../../src/core/statechart.ts';
import { diamondSpec, specWith, step } from '../fixtures/specs.ts';
import { T0, planOf } from './workflow-world.ts';
import {
  activeIds,
  allStateNodes,
  allTransitions,
  alphabet,
  checkInvariants,
  serialize,
  takenTransitions,
  unreachable,
} from './model-support.ts';

const rollbackSpec = {
  action: 'scale-to-previous' as const,
  parameters: { scaleToPrevious: { namespace: 'shop', deployment: 'web', previousReplicas: 2 } },
};

/**
 * A retry of the run (failed -> admission -> executing, and a succeeded step kept as executing is entered again)
 * is reachable only where a run can fail without rolling back, with a step succeeded beside the
 * failed one: the models with `retry` must take those transitions, the others need not.
 */
const retryOnly = (key: string) =>
  key.includes('--RETRY_REQUESTED--> workflow.validating.admission') ||
  /\.pending --always--> .*\.succeeded$/.test(key);

const models: Record<string, { spec: ResolvedSpec; simple?: boolean; retry?: boolean }> = {
  'retry of a failed run: any step can be kept, any re-run': {
    spec: specWith(
      [
        step(1),
        step(2, { dependsOn: [1], criticalStep: true }),
        step(3, { dependsOn: [], criticalStep: true }),
      ],
      { rollbackStrategy: 'none' },
    ),
    retry: true,
  },
  'sequential, automatic rollback, a retry': {
    spec: specWith([
      step(1, { rollbackSpec }),
      step(2, { dependsOn: [1], criticalStep: true, maxRetries: 1 }),
    ]),
    simple: true,
  },
  'implicit sequence: a non-critical failure goes on, a critical one skips the rest': {
    spec: specWith([step(1), step(2, { criticalStep: true }), step(3)], { rollbackStrategy: 'none' }),
  },
  'parallel, no rollback': {
    spec: specWith([step(1, { dependsOn: [] }), step(2, { dependsOn: [], criticalStep: true })], {
      rollbackStrategy: 'none',
    }),
    simple: true,
  },
  'diamond, automatic rollback': {
    spec: specWith(
      diamondSpec().workflowDefinition.steps.map((s) =>
        s.stepNumber === 3
          ? { ...s, criticalStep: true }
          : s.stepNumber === 1 || s.stepNumber === 2
            ? { ...s, rollbackSpec }
            : s,
      ),
    ),
  },
  'safety checks, dry run and approval': {
    spec: specWith([step(1)], {
      approvalRequired: true,
      dryRunFirst: true,
      safetyChecks: [{ type: 'rbac', required: true }],
    }),
    simple: true,
  },
  'manual rollback': {
    spec: specWith([step(1, { rollbackSpec }), step(2, { dependsOn: [1], criticalStep: true })], {
      rollbackStrategy: 'manual',
      approvalRequired: true,
    }),
    simple: true,
  },
};

describe.each(Object.entries(models))('model: %s', (_name, { spec, simple, retry }) => {
  const plan = planOf(spec);
  const machine = machineOf(plan);
  const options = {
    input: { now: T0 },
    events: (snapshot: ReturnType<typeof initialSnapshot>) => alphabet(plan, snapshot),
    serializeState: serialize,
    serializeEvent: (event: unknown) => JSON.stringify(event),
  };
  // Simple paths without admission's blocked answer: every path through validation would double.
  const unblocked = (snapshot: ReturnType<typeof initialSnapshot>) =>
    alphabet(plan, snapshot, { blocking: false });
  const paths = [
    ...getShortestPaths(machine, options),
    ...(simple ? getSimplePaths(machine, { ...options, events: unblocked, limit: 5000 }) : []),
  ];

  it('reaches every state and takes every transition on some path, keeping the invariants at every step', () => {
    const transitionsAll = allTransitions(machine);
    const visited = new Set<string>();
    const taken = new Set<string>();
    for (const path of paths) {
      let snapshot = initialSnapshot(machine, T0);
      checkInvariants(plan, machine, snapshot);
      activeIds(snapshot.value).forEach((id) => visited.add(id));
      for (const s of path.steps) {
        if ((s.event.type as string) === 'xstate.init') continue;
        const step = takenTransitions(machine, transitionsAll, snapshot, s.event);
        step.taken.forEach((k) => taken.add(k));
        step.visited.forEach((id) => visited.add(id));
        snapshot = advance(machine, snapshot, [s.event]);
        expect(serialize(snapshot)).toBe(serialize(s.state));
        checkInvariants(plan, machine, snapshot);
        activeIds(snapshot.value).forEach((id) => visited.add(id));
      }
    }
    const expected = allStateNodes(machine)
      .map((n) => n.id)
      .filter((id) => !unreachable(plan).some((u) => id === u || id.startsWith(`${u}.`)));
    expect(expected.filter((id) => !visited.has(id))).toEqual([]);
    const missing = transitionsAll
      .filter((t) => !unreachable(plan).some((u) => t.source === u || t.source.startsWith(`${u}.`)))
      .filter((t) => !taken.has(t.key))
      .filter((t) => retry === true || !retryOnly(t.key))
      .map((t) => t.key);
    expect(missing).toEqual([]);
    expect(paths.length).toBeGreaterThan(0);
  });
});
