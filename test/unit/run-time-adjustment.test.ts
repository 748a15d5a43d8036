// Adjusting steps at run time (dynamicStepAdjustment), in the machine: a step about to start takes
// what this run's earlier steps of the same action on the same target did; the decision travels in
// the snapshot, so a restart keeps it; its child, its deadline, the Events, the metric and the
// status say so.
import { describe, expect, it } from '@jest/globals';
import type { WorkflowStep } from '../../src/api/generated/types.ts';
import { desiredEffects } from '../../src/core/effects.ts';
import { machineOf } from '../../src/core/load.ts';
import { consequencesOf } from '../../src/core/outcomes.ts';
import { advance, persist, rehydrate } from '../../src/core/statechart.ts';
import { projectStatus } from '../../src/core/status.ts';
import { transitions } from '../../src/core/transitions.ts';
import type { WorkflowSnapshot } from '../../machines/workflow.ts';
import { customStep, specWith } from '../fixtures/specs.ts';
import { T0, world, type World } from '../model/workflow-world.ts';

const S = 1000;

/** A custom step of action type `type`: steps of one type are the same action on the same target. */
const custom = (n: number, type: string, overrides: Partial<WorkflowStep> = {}): WorkflowStep =>
  customStep(n, { parameters: { custom: { actionType: type } }, ...overrides });

const withDynamic = (steps: WorkflowStep[], dynamic = true) =>
  specWith(steps, {}, { adaptiveOrchestration: { dynamicStepAdjustment: dynamic } });

/** Step 1 (flaky, one retry) then step 2 (flaky, none): step 1 fails once and then succeeds. */
function transientThenNext(dynamic = true): World {
  return world(withDynamic([custom(1, 'flaky', { maxRetries: 1 }), custom(2, 'flaky')], dynamic))
    .tick(T0)
    .failStep(1, T0 + S, 1, 'connection reset')
    .tick(T0 + 11 * S)
    .succeed(1, T0 + 12 * S);
}

const consequences = (before: WorkflowSnapshot, after: WorkflowSnapshot, w: World) =>
  consequencesOf(transitions(before, after), after, w.plan);

describe('a step about to start, with dynamicStepAdjustment', () => {
  it('gets the retries a transient failure of the same action needed in this run, and is retried', () => {
    const w = transientThenNext();
    expect(w.status(2)).toBe('running');
    expect(w.snapshot.context.adjustments).toEqual([
      expect.objectContaining({ kind: 'retries', step: 2, from: 0, to: 1, runs: 1, at: T0 + 12 * S }),
    ]);
    w.failStep(2, T0 + 13 * S);
    expect(w.status(2)).toBe('backoff');
    w.tick(T0 + 23 * S).succeed(2, T0 + 24 * S, 2);
    expect(w.phase).toBe('monitoring');
  });

  it('keeps its declared retries without dynamicStepAdjustment, and fails', () => {
    const w = transientThenNext(false);
    expect(w.snapshot.context.adjustments).toEqual([]);
    w.failStep(2, T0 + 13 * S);
    expect(w.status(2)).toBe('failed');
  });

  it('keeps the decision through a restart (persist, rehydrate) and never decides it again', () => {
    const w = transientThenNext();
    const hash = 'h';
    // As the apiserver keeps it, restored into a machine compiled afresh (a new operator process).
    const stored = JSON.parse(JSON.stringify(persist(w.snapshot, hash))) as ReturnType<typeof persist>;
    const restarted = machineOf(w.plan);
    const restored = rehydrate(stored, { machine: restarted, hash, plan: w.plan });
    if (!restored.ok) throw new Error(restored.message);
    expect(restored.snapshot.context.adjustments).toEqual(w.snapshot.context.adjustments);

    const rest = [
      { type: 'STEP_RESULT', now: T0 + 13 * S, step: 2, attempt: 1, outcome: 'failed' },
      { type: 'TICK', now: T0 + 23 * S },
    ] as const;
    const afterRestart = advance(restarted, restored.snapshot, rest);
    expect(persist(afterRestart, hash)).toEqual(persist(advance(w.machine, w.snapshot, rest), hash));
    // The retry is attempt 2 of the same step: no new decision.
    expect(afterRestart.context.steps['2']).toMatchObject({ status: 'running', attempt: 2 });
    expect(afterRestart.context.adjustments).toHaveLength(1);
  });

  it('gets a longer timeout after the same action barely made it in time, in its child and its deadline', () => {
    const w = world(
      withDynamic([custom(1, 'slow', { timeout: '60s' }), custom(2, 'slow', { timeout: '60s' })]),
    )
      .tick(T0)
      .succeed(1, T0 + 50 * S);
    expect(desiredEffects(w.snapshot, w.plan, 'wf')).toMatchObject({
      children: [{ name: 'wf-step-2-a1', timeoutMs: 100 * S }],
      nextDeadline: T0 + 150 * S,
    });
    w.tick(T0 + 111 * S);
    expect(w.status(2)).toBe('running');
    w.tick(T0 + 150 * S);
    expect(w.run(2)).toMatchObject({ status: 'failed', message: 'attempt 1 timed out after 100s' });
  });

  it('is flagged, and changed in nothing, when the same action failed in this run', () => {
    // 1 (flaky) and 2 (other) run side by side; 3 (flaky) waits for 2 only.
    const w = world(
      withDynamic([
        custom(1, 'flaky', { dependsOn: [] }),
        custom(2, 'other', { dependsOn: [] }),
        custom(3, 'flaky', { dependsOn: [2] }),
      ]),
    )
      .tick(T0)
      .failStep(1, T0 + S, 1, 'connection refused');
    const before = w.snapshot;
    w.succeed(2, T0 + 2 * S);
    expect(w.status(3)).toBe('running');
    expect(w.snapshot.context.adjustments).toEqual([
      {
        kind: 'flag',
        step: 3,
        from: 0,
        to: null,
        runs: 1,
        reason: 'step 1 (step-1), the same action on the same target in this run, failed: connection refused',
        at: T0 + 2 * S,
      },
    ]);
    const status = projectStatus(w.snapshot, w.plan, { generation: 1, previousConditions: [] });
    expect(status.conditions?.find((c) => c.type === 'Ready')?.message).toContain(
      'this run flags step 3 (the same action on the same target failed)',
    );
    const out = consequences(before, w.snapshot, w);
    expect(out.notices.filter((n) => n.reason === 'StepFlaggedAtRunTime')).toEqual([
      expect.objectContaining({ type: 'Warning', fields: { step: 3, runs: 1 } }),
    ]);
    expect(out.metrics).toContainEqual({
      metric: 'adaptiveAdjustmentsTotal',
      adjustmentType: 'flagged_at_run_time',
    });
    // Nothing else changed: step 3 fails as declared, without a retry.
    w.failStep(3, T0 + 3 * S);
    expect(w.status(3)).toBe('failed');
  });
});

describe('a run-time decision, outside the machine', () => {
  it('is recorded in status.adaptiveAdjustments as decided at run time, with what, why and from how many steps', () => {
    const w = transientThenNext();
    const status = projectStatus(w.snapshot, w.plan, { generation: 1, previousConditions: [] });
    expect(status.adaptiveAdjustments).toEqual([
      {
        timestamp: '2025-01-01T12:00:12.000Z',
        adjustment: 'step 2: retries 0 -> 1',
        reason:
          'step 1 (step-1), the same action on the same target in this run, failed 1 attempt before attempt 2 succeeded',
        kind: 'runTime',
        learned: { kind: 'retries', step: 2, from: 0, to: 1, runs: 1, source: 'run' },
      },
    ]);
  });

  it('is announced and counted once, with the start of the step it concerns', () => {
    const w = transientThenNext(true);
    const beforeSuccess = world(withDynamic([custom(1, 'flaky', { maxRetries: 1 }), custom(2, 'flaky')]))
      .tick(T0)
      .failStep(1, T0 + S, 1, 'connection reset')
      .tick(T0 + 11 * S).snapshot;
    const started = consequences(beforeSuccess, w.snapshot, w);
    expect(started.notices.filter((n) => n.reason === 'AdjustedAtRunTime').map((n) => n.note)).toEqual([
      'step 2: retries 0 -> 1 (step 1 (step-1), the same action on the same target in this run, failed 1 attempt before attempt 2 succeeded)',
    ]);
    expect(started.metrics.filter((m) => m.metric === 'adaptiveAdjustmentsTotal')).toEqual([
      { metric: 'adaptiveAdjustmentsTotal', adjustmentType: 'retries_at_run_time' },
    ]);

    const before = w.snapshot;
    w.failStep(2, T0 + 13 * S).tick(T0 + 23 * S);
    const later = consequences(before, w.snapshot, w);
    expect(later.notices.map((n) => n.reason)).not.toContain('AdjustedAtRunTime');
    expect(later.metrics.map((m) => m.metric)).not.toContain('adaptiveAdjustmentsTotal');
  });
});
