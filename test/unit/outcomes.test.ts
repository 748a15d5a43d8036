/** What committed transitions mean outside: Events and metric samples, from typed fields only. */
import { describe, expect, it } from '@jest/globals';
import { consequencesOf, refusalConsequences, type MetricSample } from '../../src/core/outcomes.ts';
import { transitions } from '../../src/core/transitions.ts';
import { specWith, step } from '../fixtures/specs.ts';
import { T0, world, type World } from '../model/workflow-world.ts';

const S = 1000;
const rollbackSpec = {
  action: 'scale-to-previous' as const,
  parameters: { scaleToPrevious: { namespace: 'shop', deployment: 'web', previousReplicas: 2 } },
};
/** 1 (with a rollback) -> 2 (critical). */
const rollbackable = (strategy: 'automatic' | 'manual') =>
  specWith([step(1, { rollbackSpec }), step(2, { dependsOn: [1], criticalStep: true })], {
    rollbackStrategy: strategy,
  });

/** Drives a world to a point, then returns the consequences of the last move alone. */
function consequencesOfLast(w: World, move: (w: World) => void) {
  const before = w.snapshot;
  move(w);
  return consequencesOf(transitions(before, w.snapshot), w.snapshot, w.plan);
}
const samples = (metrics: MetricSample[], metric: MetricSample['metric']) =>
  metrics.filter((m) => m.metric === metric);

describe('the rollbacks metric', () => {
  it.each([
    [
      'a critical step failed',
      'step_failure',
      () =>
        world(rollbackable('automatic'))
          .tick(T0)
          .succeed(1, T0 + S),
      (w: World) => w.failStep(2, T0 + 2 * S),
    ],
    [
      'the workflow was cancelled',
      'manual',
      () =>
        world(rollbackable('automatic'))
          .tick(T0)
          .succeed(1, T0 + S),
      (w: World) => w.send({ type: 'CANCEL_REQUESTED', now: T0 + 2 * S, by: 'erin' }).succeed(2, T0 + 3 * S),
    ],
    [
      'a rollback was requested by annotation',
      'manual',
      () =>
        world(rollbackable('manual'))
          .tick(T0)
          .succeed(1, T0 + S)
          .failStep(2, T0 + 2 * S),
      (w: World) => w.send({ type: 'ROLLBACK_REQUESTED', now: T0 + 3 * S, by: 'dave' }),
    ],
  ])('counts a rollback because %s as %s', (_why, reason, setUp, move) => {
    const w = setUp();
    const { metrics, notices } = consequencesOfLast(w, move);
    expect(w.phase).toBe('rolling_back');
    expect(samples(metrics, 'rollbacksTotal')).toEqual([{ metric: 'rollbacksTotal', reason }]);
    expect(notices.find((n) => n.reason === 'RollbackStarted')).toMatchObject({ type: 'Warning' });
  });
});

describe('validation failures', () => {
  const checks = [{ type: 'rbac' as const, required: true }];
  it.each([
    [
      'SafetyCheckFailed',
      specWith([step(1)], { safetyChecks: checks }),
      (w: World) =>
        w.send({
          type: 'SAFETY_RESULT',
          now: T0 + S,
          results: [{ type: 'rbac', required: true, result: 'failed', message: 'no' }],
        }),
    ],
    [
      'DryRunFailed',
      specWith([step(1)], { dryRunFirst: true }),
      (w: World) => w.send({ type: 'DRYRUN_RESULT', now: T0 + S, step: 1, outcome: 'failed' }),
    ],
    [
      'Rejected',
      specWith([step(1)], { approvalRequired: true }),
      (w: World) => w.send({ type: 'REJECTED', now: T0 + S, by: 'bob' }),
    ],
    [
      'ValidationTimeout',
      specWith([step(1)], { approvalRequired: true }),
      (w: World) => w.tick(T0 + 6 * 60 * S),
    ],
  ])('counts %s as a validation failure, with its code as the reason', (code, spec, move) => {
    const { metrics, notices } = consequencesOfLast(world(spec).tick(T0), move);
    expect(samples(metrics, 'validationFailuresTotal')).toEqual([
      { metric: 'validationFailuresTotal', reason: code },
    ]);
    expect(samples(metrics, 'executionsTotal')).toEqual([{ metric: 'executionsTotal', outcome: 'failed' }]);
    expect(notices.at(-1)).toMatchObject({ reason: 'WorkflowExecutionFailed', type: 'Warning' });
    expect(notices.at(-1)?.note).toContain(`-> failed: ${code}: `);
  });

  it('does not count a failed step as a validation failure', () => {
    const { metrics } = consequencesOfLast(world(specWith([step(1, { criticalStep: true })])).tick(T0), (w) =>
      w.failStep(1, T0 + S),
    );
    expect(samples(metrics, 'validationFailuresTotal')).toEqual([]);
    expect(samples(metrics, 'stepsCompletedTotal')).toEqual([
      { metric: 'stepsCompletedTotal', action: 'scale-deployment', status: 'failed' },
    ]);
  });
});

describe('a new workflow', () => {
  it('counts its steps and each AI adjustment by the kind the planner decided', () => {
    const spec = specWith(
      [step(1), step(2), step(3), step(4)],
      {},
      {
        adaptiveOrchestration: { optimizationEnabled: true },
      },
    );
    spec.workflowDefinition.aiRecommendations = {
      parallelExecutionSuggestions: [{ stepNumbers: [2, 3] }, { stepNumbers: [1, 3] }, { stepNumbers: [9] }],
    };
    const w = world(spec);
    const { metrics, notices } = consequencesOf(transitions(null, w.snapshot), w.snapshot, w.plan);
    expect(samples(metrics, 'workflowSteps')).toEqual([{ metric: 'workflowSteps', steps: 4 }]);
    expect(
      samples(metrics, 'adaptiveAdjustmentsTotal').map(
        (m) => m.metric === 'adaptiveAdjustmentsTotal' && m.adjustmentType,
      ),
    ).toEqual(['parallel_grouping', 'suggestion_ignored', 'suggestion_ignored']);
    expect(notices).toEqual([
      expect.objectContaining({
        reason: 'PlanningStarted',
        note: 'phase new -> planning',
        action: 'Reconcile',
      }),
    ]);
  });
});

describe('step outcomes', () => {
  it.each([
    ['started', 'StepStarted', (w: World) => w.tick(T0), 'Normal', 'step 1 (step-1) attempt 1 started'],
    [
      'succeeded',
      'StepSucceeded',
      (w: World) => w.tick(T0).succeed(1, T0 + S),
      'Normal',
      'step 1 (step-1) attempt 1 succeeded',
    ],
    [
      'retrying',
      'StepRetrying',
      (w: World) => w.tick(T0).failStep(1, T0 + S, 1, 'quota'),
      'Warning',
      'step 1 (step-1) attempt 1 retrying: quota',
    ],
  ])('reports a step %s as %s', (_outcome, reason, move, type, note) => {
    const w = world(specWith([step(1, { maxRetries: 1 })]));
    const before = w.snapshot;
    move(w);
    const { notices } = consequencesOf(
      transitions(before, w.snapshot).filter((t) => t.kind === 'step'),
      w.snapshot,
      w.plan,
    );
    expect(notices.at(-1)).toMatchObject({ reason, type, note, action: 'ExecuteStep' });
  });

  it('measures how long the phase it leaves lasted, from the context', () => {
    const w = world(specWith([step(1)])).tick(T0 + S);
    const { metrics } = consequencesOfLast(w, (x) =>
      x.succeed(1, T0 + 4 * S).send({
        type: 'EFFECTIVENESS_RESULT',
        now: T0 + 6 * S,
        effective: true,
        score: 0.75,
        resourceHealth: 'healthy',
        newAlertsTriggered: false,
      }),
    );
    expect(samples(metrics, 'phaseDuration')).toEqual([
      { metric: 'phaseDuration', phase: 'executing', seconds: 3 },
      { metric: 'phaseDuration', phase: 'monitoring', seconds: 2 },
    ]);
    expect(samples(metrics, 'effectivenessScore')).toEqual([{ metric: 'effectivenessScore', score: 0.75 }]);
    expect(samples(metrics, 'lifecycleDuration')).toEqual([
      { metric: 'lifecycleDuration', outcome: 'success', seconds: 6 },
    ]);
  });
});

describe('refusals', () => {
  it.each([
    [
      { kind: 'invalid' as const, issues: [{ reason: 'DependencyCycle', path: 'spec.x', message: 'cycle' }] },
      'InvalidSpec',
      [{ metric: 'validationFailuresTotal', reason: 'InvalidSpec' }],
    ],
    [{ kind: 'stalled' as const, reason: 'SpecHashMismatch' as const, message: 'other spec' }, 'Stalled', []],
  ])('records a Warning for %j', (loaded, reason, metrics) => {
    const c = refusalConsequences(loaded);
    expect(c.notices).toEqual([expect.objectContaining({ type: 'Warning', reason })]);
    expect(c.metrics).toEqual(metrics);
  });
});
