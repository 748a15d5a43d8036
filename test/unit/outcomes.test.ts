/** What committed transitions mean outside: Events and metric samples, from typed fields only. */
import { describe, expect, it } from '@jest/globals';
import { consequencesOf, refusalConsequences, type MetricSample } from '../../src/core/outcomes.ts';
import { stepProgressNotice, type ProgressOutcome, type StepProgress } from '../../src/core/step-progress.ts';
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
  const progressOf = (w: World, move: (w: World) => void) => {
    const before = w.snapshot;
    move(w);
    return consequencesOf(
      transitions(before, w.snapshot).filter((t) => t.kind === 'step'),
      w.snapshot,
      w.plan,
    );
  };

  it.each([
    ['started', (w: World) => w.tick(T0), [{ step: 1, name: 'step-1', attempt: 1, outcome: 'started' }]],
    [
      'succeeded',
      (w: World) => w.tick(T0).succeed(1, T0 + S),
      [
        { step: 1, name: 'step-1', attempt: 1, outcome: 'started' },
        { step: 1, name: 'step-1', attempt: 1, outcome: 'succeeded' },
      ],
    ],
  ])('reports a step %s as progress, not as an Event of its own', (_outcome, move, progress) => {
    const { notices, progress: reported } = progressOf(world(specWith([step(1, { maxRetries: 1 })])), move);
    expect(notices).toEqual([]);
    expect(reported).toEqual(progress);
  });

  it('keeps a retry as a Warning of its own, with the failure', () => {
    const { notices } = progressOf(world(specWith([step(1, { maxRetries: 1 })])).tick(T0), (w) =>
      w.failStep(1, T0 + S, 1, 'quota'),
    );
    expect(notices).toEqual([
      expect.objectContaining({
        reason: 'StepRetrying',
        type: 'Warning',
        note: 'step 1 (step-1) attempt 1 retrying: quota',
        action: 'ExecuteStep',
      }),
    ]);
  });

  it('keeps a failed step as a Warning of its own, and counts it', () => {
    const { notices, metrics } = progressOf(world(specWith([step(1), step(2)])).tick(T0), (w) =>
      w.failStep(1, T0 + S),
    );
    expect(notices.map((n) => [n.reason, n.type])).toEqual([['StepFailed', 'Warning']]);
    expect(samples(metrics, 'stepsCompletedTotal')).toEqual([
      { metric: 'stepsCompletedTotal', action: 'scale-deployment', status: 'failed' },
    ]);
  });

  it('counts a succeeded step in the steps-completed metric although it has no Event', () => {
    const { metrics } = progressOf(world(specWith([step(1)])).tick(T0), (w) => w.succeed(1, T0 + S));
    expect(samples(metrics, 'stepsCompletedTotal')).toEqual([
      { metric: 'stepsCompletedTotal', action: 'scale-deployment', status: 'success' },
    ]);
  });

  it('says steps continue while the workflow executes, and not once it leaves executing', () => {
    const w = world(specWith([step(1), step(2, { dependsOn: [1] })]));
    expect(consequencesOfLast(w, (x) => x.tick(T0)).stepsContinue).toBe(true);
    expect(consequencesOfLast(w, (x) => x.succeed(1, T0 + S)).stepsContinue).toBe(true);
    const last = consequencesOfLast(w, (x) => x.succeed(2, T0 + 2 * S));
    expect(w.phase).toBe('monitoring');
    expect(last.stepsContinue).toBe(false);
    expect(last.progress).toEqual([{ step: 2, name: 'step-2', attempt: 1, outcome: 'succeeded' }]);
    expect(last.notices.map((n) => n.reason)).toEqual(['MonitoringStarted']);
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
        alert: null,
        alertmanager: 'notConfigured',
        stabilityWindowMs: 0,
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

describe('step progress, one Event per batch', () => {
  const p = (step: number, outcome: ProgressOutcome, attempt = 1): StepProgress => ({
    step,
    name: `step-${String(step)}`,
    attempt,
    outcome,
  });

  it('names each step once, at its latest outcome, with runs of numbers', () => {
    const batch = [1, 2, 3, 5].flatMap((n) => [p(n, 'started'), p(n, 'succeeded')]);
    expect(stepProgressNotice([...batch, p(6, 'started')])).toEqual({
      type: 'Normal',
      reason: 'StepsCompleted',
      note: 'steps 1-3 and 5 succeeded, step 6 started',
      action: 'ExecuteStep',
      fields: { succeeded: 4, skipped: 0, started: 1 },
    });
  });

  it('lists two neighbours apart and names a retried attempt', () => {
    const batch = [
      p(7, 'succeeded'),
      p(8, 'succeeded'),
      p(9, 'started', 2),
      p(9, 'succeeded', 2),
      p(4, 'skipped'),
    ];
    expect(stepProgressNotice(batch)?.note).toBe('steps 7, 8 and 9 (attempt 2) succeeded, step 4 skipped');
  });

  it('is StepsStarted when nothing in the batch finished yet', () => {
    expect(stepProgressNotice([p(1, 'started'), p(2, 'started')])).toMatchObject({
      reason: 'StepsStarted',
      note: 'steps 1 and 2 started',
    });
  });

  it('is no Event at all for an empty batch', () => {
    expect(stepProgressNotice([])).toBeNull();
  });

  it('stays one short line for a 150-step chain', () => {
    const batch = Array.from({ length: 150 }, (_, i) => p(i + 1, 'succeeded'));
    expect(stepProgressNotice(batch)?.note).toBe('steps 1-150 succeeded');
  });
});
