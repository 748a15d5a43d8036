import { describe, expect, it } from '@jest/globals';
import { MACHINE_VERSION } from '../../machines/workflow.ts';
import { machineOf } from '../../src/core/load.ts';
import { childName } from '../../src/core/child-name.ts';
import { desiredEffects } from '../../src/core/effects.ts';
import {
  APPROVED_BY,
  CANCEL_REQUESTED_BY,
  REJECTED_BY,
  ROLLBACK_REQUESTED_BY,
  RETRY_REQUESTED_BY,
  parseRetryRequest,
  observe,
} from '../../src/core/observe.ts';
import { specHash, canonicalJson } from '../../src/core/spec-hash.ts';
import { STATECHART_SCHEMA, advance, persist, phaseOf, rehydrate } from '../../src/core/statechart.ts';
import { projectStatus } from '../../src/core/status.ts';
import { isoOf } from '../../src/core/time.ts';
import { transitions, waitingFor } from '../../src/core/transitions.ts';
import { diamondSpec, sequentialSpec, specWith, step } from '../fixtures/specs.ts';
import { T0, checksPassed, legacyEnvelope, planOf, world } from '../model/workflow-world.ts';

const S = 1000;

describe('spec hash', () => {
  it('is the same for the same spec whatever the key order, and differs otherwise', () => {
    expect(specHash({ a: 1, b: [1, { c: 2, d: 3 }] })).toBe(specHash({ b: [1, { d: 3, c: 2 }], a: 1 }));
    expect(specHash(sequentialSpec(2))).not.toBe(specHash(sequentialSpec(3)));
    expect(specHash(sequentialSpec(2))).toMatch(/^[0-9a-f]{16}$/);
    expect(canonicalJson({ b: undefined, a: [undefined] })).toBe('{"a":[null]}');
  });
});

describe('time', () => {
  it('formats epoch milliseconds exactly like toISOString', () => {
    for (const ms of [0, T0, 951_782_400_000, 4_102_444_799_999, 1_709_164_800_123]) {
      expect(isoOf(ms)).toBe(new Date(ms).toISOString());
    }
  });
});

describe('rehydrate and persist', () => {
  const spec = diamondSpec();
  const hash = specHash(spec);
  const running = () =>
    world(spec)
      .tick(T0)
      .succeed(1, T0 + S);

  it('gives the initial planning snapshot without an envelope', () => {
    const machine = machineOf(planOf(spec));
    const result = rehydrate(undefined, { machine, hash, plan: planOf(spec) }, T0);
    expect(result.ok && phaseOf(result.snapshot)).toBe('planning');
    expect(result.ok && result.snapshot.context.times.planning).toBe(T0);
  });

  it('restores exactly what it persisted, through JSON', () => {
    const w = running();
    const envelope = JSON.parse(JSON.stringify(persist(w.snapshot, hash))) as ReturnType<typeof persist>;
    expect(envelope).toMatchObject({
      schema: STATECHART_SCHEMA,
      machineVersion: MACHINE_VERSION,
      specHash: hash,
    });
    expect(Object.keys(envelope.snapshot).sort()).toEqual(['context', 'status', 'value']);
    const result = rehydrate(envelope, { machine: w.machine, hash, plan: w.plan });
    if (!result.ok) throw new Error(result.message);
    expect(result.snapshot.value).toEqual(w.snapshot.value);
    expect(result.snapshot.context).toStrictEqual(w.snapshot.context);
    const next = advance(w.machine, result.snapshot, [
      { type: 'STEP_RESULT', now: T0 + 2 * S, step: 2, attempt: 1, outcome: 'succeeded' },
    ]);
    expect(persist(next, hash)).toEqual(persist(running().succeed(2, T0 + 2 * S).snapshot, hash));
  });

  const refusal = (mutate: (e: ReturnType<typeof persist>) => unknown, hashNow = hash) => {
    const w = running();
    const envelope = JSON.parse(JSON.stringify(persist(w.snapshot, hash))) as ReturnType<typeof persist>;
    const changed = (mutate(envelope) as ReturnType<typeof persist> | undefined) ?? envelope;
    const result = rehydrate(changed, { machine: w.machine, hash: hashNow, plan: w.plan });
    return result.ok ? null : result.reason;
  };

  it('refuses an unknown schema', () => {
    expect(refusal((e) => ({ ...e, schema: 'example.com/v9' }))).toBe('UnknownSchema');
  });
  it('refuses a machine version without a migration', () => {
    expect(refusal((e) => ({ ...e, machineVersion: MACHINE_VERSION + 1 }))).toBe('UnsupportedMachineVersion');
    expect(refusal((e) => ({ ...e, machineVersion: -1 }))).toBe('UnsupportedMachineVersion');
  });
  it('refuses a snapshot made for another spec', () => {
    expect(refusal(() => undefined, specHash(sequentialSpec(4)))).toBe('SpecHashMismatch');
  });
  it('refuses a snapshot in error', () => {
    expect(refusal((e) => ({ ...e, snapshot: { ...e.snapshot, status: 'error', error: 'x' } }))).toBe(
      'SnapshotError',
    );
  });
  it('refuses a state the machine would restore differently', () => {
    // A missing region would be silently filled in by XState.
    expect(
      refusal((e) => ({ ...e, snapshot: { ...e.snapshot, value: { executing: { step1: 'succeeded' } } } })),
    ).toBe('StateMismatch');
    expect(refusal((e) => ({ ...e, snapshot: { ...e.snapshot, value: 'sleeping' } }))).toBe('StateMismatch');
  });

  it('migrates a version 0 snapshot (steps as a list, phaseTimes) to the current shape', () => {
    const w = running();
    const current = legacyEnvelope(w.snapshot, hash, 0);
    const context = w.snapshot.context;
    const v0 = {
      ...current,
      snapshot: {
        ...current.snapshot,
        context: {
          ...Object.fromEntries(Object.entries(context).filter(([k]) => k !== 'steps' && k !== 'times')),
          steps: Object.entries(context.steps).map(([n, run]) => ({
            number: Number(n),
            status: run.status,
            attempt: run.attempt,
            startedAt: run.startedAt,
            finishedAt: run.finishedAt,
          })),
          phaseTimes: {
            planning: context.times.planning,
            validating: context.times.validating,
            executing: context.times.executing,
          },
        },
      },
    };
    const result = rehydrate(v0, { machine: w.machine, hash, plan: w.plan });
    if (!result.ok) throw new Error(result.message);
    expect(result.migratedFrom).toBe(0);
    expect(result.snapshot.context.steps['2']).toEqual({ ...context.steps['2'] });
    expect(result.snapshot.context.times).toEqual({ ...context.times, monitoring: null, finished: null });
    expect(rehydrate(v0, { machine: w.machine, hash, plan: w.plan }, 0, {}).ok).toBe(false);
  });

  it('keeps a 200-step snapshot small', () => {
    const big = world(sequentialSpec(200)).tick(T0);
    expect(JSON.stringify(persist(big.snapshot, 'h')).length).toBeLessThan(64 * 1024);
  });
});

describe('observe', () => {
  it('turns children and annotations into events, always with one TICK first', () => {
    const events = observe({
      now: T0,
      children: [
        { kind: 'step', stepNumber: 2, attempt: 1, phase: 'failed', message: 'nope' },
        { kind: 'step', stepNumber: 1, attempt: 1, phase: 'completed' },
        { kind: 'step', stepNumber: 3, attempt: 1, phase: 'executing' },
        { kind: 'dryRun', stepNumber: 1, attempt: 1, phase: 'completed', wouldSucceed: false },
        { kind: 'rollback', stepNumber: 1, attempt: 1, phase: 'completed' },
      ],
      annotations: {
        [APPROVED_BY]: 'alice',
        [REJECTED_BY]: 'bob',
        [CANCEL_REQUESTED_BY]: 'carol',
        [ROLLBACK_REQUESTED_BY]: 'dave',
        unrelated: 'x',
      },
      effectiveness: { effective: true, score: 1, resourceHealth: 'healthy', newAlertsTriggered: false },
    });
    expect(events.map((e) => e.type)).toEqual([
      'TICK',
      'DRYRUN_RESULT',
      'STEP_RESULT',
      'STEP_RESULT',
      'ROLLBACK_RESULT',
      'EFFECTIVENESS_RESULT',
      'REJECTED',
      'APPROVED',
      'CANCEL_REQUESTED',
      'ROLLBACK_REQUESTED',
    ]);
    expect(events[1]).toEqual({ type: 'DRYRUN_RESULT', now: T0, step: 1, outcome: 'failed' });
    expect(events[3]).toEqual({
      type: 'STEP_RESULT',
      now: T0,
      step: 2,
      attempt: 1,
      outcome: 'failed',
      message: 'nope',
    });
    expect(observe({ now: T0, children: [], annotations: {} })).toEqual([{ type: 'TICK', now: T0 }]);
  });

  it('reads a retry request as its user and its request id, split at the last slash', () => {
    const retryOf = (value: string) =>
      observe({ now: T0, children: [], annotations: { [RETRY_REQUESTED_BY]: value } }).filter(
        (e) => e.type === 'RETRY_REQUESTED',
      );
    expect(retryOf('system:serviceaccount:ops:bot/2026-12-01T22:40:00.000Z')).toEqual([
      {
        type: 'RETRY_REQUESTED',
        now: T0,
        by: 'system:serviceaccount:ops:bot',
        request: '2026-12-01T22:40:00.000Z',
      },
    ]);
    // Without an id (set by hand, no admission policy) the value names both: it retries once.
    expect(parseRetryRequest('alice')).toEqual({ by: 'alice', request: 'alice' });
    expect(parseRetryRequest('alice/')).toEqual({ by: 'alice/', request: 'alice/' });
    expect(retryOf('  ')).toEqual([]);
  });
});

describe('child names', () => {
  it('names children after the workflow, kind, step and attempt', () => {
    expect(childName('fix-web', 'step', 3, 2)).toBe('fix-web-step-3-a2');
    expect(childName('fix-web', 'dryRun', 3, 1)).toBe('fix-web-dryrun-3');
    expect(childName('fix-web', 'rollback', 3, 1)).toBe('fix-web-rollback-3');
  });
  it('shortens long names with a hash, always a valid DNS label, distinct per input', () => {
    const long = 'a'.repeat(60);
    const names = [
      childName(long, 'step', 1, 1),
      childName(long, 'step', 1, 2),
      childName(`${long}b`, 'step', 1, 1),
    ];
    for (const name of [...names, childName('Fix.Web', 'step', 1, 1), childName('---', 'rollback', 1, 1)]) {
      expect(name.length).toBeLessThanOrEqual(63);
      expect(name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    }
    expect(new Set(names).size).toBe(3);
    expect(names[1]).toMatch(/-step-1-a2$/);
  });
});

describe('desired effects', () => {
  it('wants the running attempts, dry runs while dry-running and the current rollback', () => {
    const w = world(diamondSpec())
      .tick(T0)
      .succeed(1, T0 + S);
    const effects = desiredEffects(w.snapshot, w.plan, 'wf');
    expect(effects.children.map((c) => c.name)).toEqual(['wf-step-2-a1', 'wf-step-3-a1']);
    expect(effects.nextDeadline).toBe(T0 + S + 5 * 60 * S);
    expect(effects.checkEffectiveness).toBe(false);

    const dry = world(specWith([step(1), step(2)], { dryRunFirst: true })).tick(T0);
    expect(desiredEffects(dry.snapshot, dry.plan, 'wf').children.map((c) => c.name)).toEqual([
      'wf-dryrun-1',
      'wf-dryrun-2',
    ]);

    const safety = world(specWith([step(1)], { safetyChecks: [{ type: 'rbac', required: true }] })).tick(T0);
    expect(desiredEffects(safety.snapshot, safety.plan, 'wf')).toMatchObject({
      runSafetyChecks: true,
      nextDeadline: T0 + 5 * 60 * S,
    });

    const rollbackSpec = {
      action: 'uncordon-node' as const,
      parameters: { uncordonNode: { nodeName: 'n1' } },
    };
    const rb = world(specWith([step(1, { rollbackSpec }), step(2, { dependsOn: [1], criticalStep: true })]))
      .tick(T0)
      .succeed(1, T0 + S)
      .failStep(2, T0 + 2 * S);
    expect(desiredEffects(rb.snapshot, rb.plan, 'wf').children).toEqual([
      // The rollback's own timeout, or its step's (5 m) when it declares none.
      { name: 'wf-rollback-1', kind: 'rollback', stepNumber: 1, attempt: 1, timeoutMs: 5 * 60 * S },
    ]);

    const done = world(sequentialSpec(1))
      .tick(T0)
      .succeed(1, T0 + S);
    expect(desiredEffects(done.snapshot, done.plan, 'wf')).toMatchObject({
      children: [],
      checkEffectiveness: true,
    });
  });
});

describe('status projection', () => {
  it('projects phase, steps, plan and conditions, byte-stable for the same snapshot', () => {
    const w = world(diamondSpec())
      .tick(T0)
      .succeed(1, T0 + S);
    const status = projectStatus(w.snapshot, w.plan, {
      generation: 3,
      previousConditions: [],
      name: 'fix-web',
    });
    expect(status).toMatchObject({
      phase: 'executing',
      currentStep: 1,
      totalSteps: 4,
      executionPlan: {
        strategy: 'sequential-with-parallel',
        parallelGroups: [[1], [2, 3], [4]],
        rollbackOrder: [4, 3, 2, 1],
      },
      planningStartTime: isoOf(T0),
      executionStartTime: isoOf(T0),
    });
    expect(status.stepStatuses?.map((s) => s.status)).toEqual([
      'completed',
      'executing',
      'executing',
      'pending',
    ]);
    expect(status.stepStatuses?.[1]?.k8sExecutionRef).toEqual({ name: 'fix-web-step-2-a1' });
    expect(status.conditions?.map((c) => [c.type, c.status, c.reason])).toEqual([
      ['Ready', 'False', 'Executing'],
      ['Reconciling', 'True', 'Executing'],
    ]);
    const again = projectStatus(w.snapshot, w.plan, {
      generation: 3,
      previousConditions: status.conditions ?? [],
      name: 'fix-web',
    });
    expect(JSON.stringify(again)).toBe(JSON.stringify(status));

    w.succeed(2, T0 + 2 * S)
      .succeed(3, T0 + 3 * S)
      .succeed(4, T0 + 4 * S);
    w.send({
      type: 'EFFECTIVENESS_RESULT',
      now: T0 + 5 * S,
      effective: true,
      score: 0.95,
      resourceHealth: 'healthy',
      newAlertsTriggered: false,
    });
    const done = projectStatus(w.snapshot, w.plan, {
      generation: 3,
      previousConditions: status.conditions ?? [],
    });
    expect(done.workflowResult).toMatchObject({
      outcome: 'success',
      effectivenessScore: 0.95,
      alertsChecked: true,
      newAlertsTriggered: false,
    });
    expect(done.executionMetrics).toMatchObject({
      totalDuration: '5s',
      stepSuccessRate: 1,
      rollbacksPerformed: 0,
    });
    expect(done.conditions?.find((c) => c.type === 'Succeeded')).toMatchObject({
      status: 'True',
      reason: 'Succeeded',
    });
    expect(done.conditions?.find((c) => c.type === 'Ready')?.lastTransitionTime).toBe(isoOf(T0 + 5 * S));
  });

  it('shows retries, failures and rollbacks of steps', () => {
    const rollbackSpec = {
      action: 'uncordon-node' as const,
      parameters: { uncordonNode: { nodeName: 'n1' } },
    };
    const w = world(
      specWith([step(1, { rollbackSpec }), step(2, { dependsOn: [1], criticalStep: true, maxRetries: 1 })]),
    )
      .tick(T0)
      .succeed(1, T0 + S)
      .failStep(2, T0 + 2 * S);
    let status = projectStatus(w.snapshot, w.plan, { generation: 1, previousConditions: [] });
    expect(status.stepStatuses?.[1]).toMatchObject({ status: 'retrying', errorMessage: 'boom' });
    w.tick(T0 + 12 * S).failStep(2, T0 + 13 * S, 2, 'again');
    status = projectStatus(w.snapshot, w.plan, { generation: 1, previousConditions: [] });
    expect(status.phase).toBe('rolling_back');
    expect(status.stepStatuses?.map((s) => [s.status, s.retriesAttempted])).toEqual([
      ['rolling_back', undefined],
      ['failed', 1],
    ]);
    expect(status.stepStatuses?.[0]?.k8sExecutionRef?.name).toBe('remediate-web-rollback-1');
    expect(status.rollbackReason).toContain('again');
    w.send({ type: 'ROLLBACK_RESULT', now: T0 + 14 * S, step: 1, outcome: 'succeeded' });
    status = projectStatus(w.snapshot, w.plan, {
      generation: 1,
      previousConditions: status.conditions ?? [],
    });
    expect(status).toMatchObject({ phase: 'failed', executionMetrics: { rollbacksPerformed: 1 } });
    expect(status.failureReason).toMatch(/^CriticalStepFailed: /);
    expect(status.stepStatuses?.[0]?.status).toBe('rolled_back');
    expect(status.conditions?.find((c) => c.type === 'Succeeded')).toMatchObject({
      status: 'False',
      reason: 'CriticalStepFailed',
    });
  });
});

describe('transitions and waiting', () => {
  it('lists phase changes and step outcomes between two snapshots', () => {
    const w = world(specWith([step(1, { maxRetries: 1 }), step(2, { dependsOn: [1] })]));
    const start = w.snapshot;
    expect(transitions(null, start)).toEqual([{ kind: 'phase', from: null, to: 'planning', at: T0 }]);
    w.tick(T0 + S);
    // One event passed through validating (nothing to check): both phase changes are reported.
    expect(transitions(start, w.snapshot)).toEqual([
      { kind: 'phase', from: 'planning', to: 'validating', at: T0 + S },
      { kind: 'phase', from: 'validating', to: 'executing', at: T0 + S },
      { kind: 'step', step: 1, attempt: 1, outcome: 'started', at: T0 + S },
    ]);
    const running = w.snapshot;
    w.failStep(1, T0 + 2 * S);
    expect(transitions(running, w.snapshot)).toEqual([
      { kind: 'step', step: 1, attempt: 1, outcome: 'retrying', at: T0 + 2 * S },
    ]);
    const backoff = w.snapshot;
    w.tick(T0 + 12 * S).succeed(1, T0 + 13 * S);
    expect(transitions(backoff, w.snapshot)).toEqual([
      { kind: 'step', step: 1, attempt: 2, outcome: 'started', at: T0 + 12 * S },
      { kind: 'step', step: 1, attempt: 2, outcome: 'succeeded', at: T0 + 13 * S },
      { kind: 'step', step: 2, attempt: 1, outcome: 'started', at: T0 + 13 * S },
    ]);
  });

  it('says in one line what the workflow waits for', () => {
    const approval = world(specWith([step(1)], { approvalRequired: true })).tick(T0);
    expect(waitingFor(approval.snapshot, approval.plan)).toBe(
      `waiting for approval (annotation ${APPROVED_BY}) until 12:05:00Z`,
    );
    const diamond = world(diamondSpec())
      .tick(T0)
      .succeed(1, T0 + S);
    expect(waitingFor(diamond.snapshot, diamond.plan)).toBe('waiting for steps 2 and 3 (attempt 1)');
  });
});

describe('advance', () => {
  it('folds events in order, like sending them one by one', () => {
    const w = world(sequentialSpec(2));
    const folded = advance(w.machine, w.snapshot, [
      { type: 'TICK', now: T0 },
      checksPassed(w.plan, T0),
      { type: 'STEP_RESULT', now: T0 + S, step: 1, attempt: 1, outcome: 'succeeded' },
    ]);
    w.tick(T0).succeed(1, T0 + S);
    expect(folded.context).toEqual(w.snapshot.context);
  });
});
