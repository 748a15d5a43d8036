// The adaptive rules: what a plan becomes given the history of its steps, as typed decisions.
import { describe, expect, it } from '@jest/globals';
import {
  applyDecisions,
  decideAdjustments,
  decideAtRunTime,
  decisionsOf,
  describeDecision,
  recordedLearning,
  withLearning,
  MIN_HISTORY_RUNS,
  type AdaptiveDecision,
  type PlanHistory,
} from '../../src/core/adaptive.ts';
import type { StepHistory } from '../../src/core/history.ts';
import type { ExecutionPlan } from '../../machines/plan.ts';
import {
  PENDING_RUN,
  effectiveStep,
  initialContext,
  type RunTimeAdjustment,
  type StepRun,
  type WorkflowContext,
} from '../../machines/context.ts';
import { planWorkflow } from '../../src/core/plan.ts';
import { steady } from '../fixtures/history.ts';
import { customStep, specWith, step } from '../fixtures/specs.ts';
import { T0 } from '../model/workflow-world.ts';

/** Two steps in a row: step 1 with a 30 s timeout and 1 retry, step 2 with 5 m and none. */
function declared(): ExecutionPlan {
  const result = planWorkflow(
    specWith([step(1, { timeout: '30s', maxRetries: 1 }), step(2, { dependsOn: [1] })]),
  );
  if (!result.ok) throw new Error('the fixture plans');
  return result.plan;
}

const history = (
  byStep: Record<number, StepHistory>,
  byTarget: Record<number, StepHistory> = {},
): PlanHistory => ({
  byStep: new Map(Object.entries(byStep).map(([k, v]) => [Number(k), v])),
  byTarget: new Map(Object.entries(byTarget).map(([k, v]) => [Number(k), v])),
});

/** The decisions for step 1 only, without the plan-level estimate. */
const forStep1 = (h: PlanHistory): Omit<AdaptiveDecision, 'reason'>[] =>
  decideAdjustments(declared(), h)
    .filter((d) => d.step === 1)
    .map(({ reason: _reason, ...rest }) => rest);

describe('the adaptive rules for one step', () => {
  it.each<[string, PlanHistory, Omit<AdaptiveDecision, 'reason'>[]]>([
    ['no history: nothing changes', history({}), []],
    [
      `${MIN_HISTORY_RUNS - 1} runs are too few, however bad`,
      history({ 1: steady(4, { successRate: 0, succeeded: 0, failed: 4 }) }),
      [],
    ],
    ['steady history: nothing to change', history({ 1: steady(20) }), []],
    [
      'mostly transient failures raise the retries to what fixed them',
      history({
        1: steady(10, {
          failedAttemptRuns: 4,
          fixedByRetry: 3,
          transientShare: 0.75,
          maxAttemptsWhenFixed: 4,
        }),
      }),
      [{ kind: 'retries', step: 1, from: 1, to: 3, runs: 10, source: 'workflow' }],
    ],
    [
      'transient failures fixed at the second attempt still raise the retries by one',
      history({
        1: steady(10, { failedAttemptRuns: 2, fixedByRetry: 2, transientShare: 1, maxAttemptsWhenFixed: 2 }),
      }),
      [{ kind: 'retries', step: 1, from: 1, to: 2, runs: 10, source: 'workflow' }],
    ],
    [
      'retries never go past the CRD maximum',
      history({
        1: steady(10, { failedAttemptRuns: 5, fixedByRetry: 5, transientShare: 1, maxAttemptsWhenFixed: 40 }),
      }),
      [{ kind: 'retries', step: 1, from: 1, to: 10, runs: 10, source: 'workflow' }],
    ],
    [
      'failures later attempts mostly did not fix leave the retries alone',
      history({
        1: steady(10, {
          failedAttemptRuns: 4,
          fixedByRetry: 2,
          transientShare: 0.5,
          maxAttemptsWhenFixed: 2,
        }),
      }),
      [],
    ],
    [
      'a declared timeout shorter than most successful runs becomes their p99, in whole seconds',
      history({ 1: steady(8, { successDurationMs: { p50: 40_000, p90: 50_000, p99: 61_200 } }) }),
      [{ kind: 'timeout', step: 1, from: 30_000, to: 62_000, runs: 8, source: 'workflow' }],
    ],
    [
      'a timeout longer than most runs stays, even if a few runs took longer',
      history({ 1: steady(8, { successDurationMs: { p50: 20_000, p90: 45_000, p99: 90_000 } }) }),
      [],
    ],
    [
      'a mostly failing step is flagged, and nothing changes silently',
      history({
        1: steady(10, { succeeded: 3, failed: 7, successRate: 0.3, failedAttemptRuns: 7, transientShare: 0 }),
      }),
      [{ kind: 'flag', step: 1, from: 0.3, to: null, runs: 10, source: 'workflow' }],
    ],
    [
      "too little of this workflow's history: the same action on the same target decides",
      history(
        { 1: steady(2) },
        {
          1: steady(6, { failedAttemptRuns: 3, fixedByRetry: 3, transientShare: 1, maxAttemptsWhenFixed: 3 }),
        },
      ),
      [{ kind: 'retries', step: 1, from: 1, to: 2, runs: 6, source: 'target' }],
    ],
    [
      "enough of this workflow's history wins over the target's",
      history({ 1: steady(5) }, { 1: steady(50, { successRate: 0.1 }) }),
      [],
    ],
  ])('%s', (_case, h, expected) => {
    expect(forStep1(h)).toEqual(expected);
  });
});

describe('the plan after the decisions', () => {
  it('carries the new retries and timeouts, and an estimate from the observed durations', () => {
    const plan = declared();
    const h = history({
      1: steady(10, {
        failedAttemptRuns: 3,
        fixedByRetry: 3,
        transientShare: 1,
        maxAttemptsWhenFixed: 3,
        successDurationMs: { p50: 40_000, p90: 50_000, p99: 59_000 },
      }),
      2: steady(10),
    });
    const decisions = decideAdjustments(plan, h);
    const adjusted = applyDecisions(plan, decisions);
    expect(adjusted.steps.map((s) => [s.number, s.maxRetries, s.timeoutMs])).toEqual([
      [1, 2, 59_000],
      [2, 0, 300_000],
    ]);
    // Declared: 30 s + 5 m; observed p90: 50 s + 12 s.
    expect(plan.estimatedDurationMs).toBe(330_000);
    expect(decisions.find((d) => d.kind === 'estimate')).toMatchObject({
      step: null,
      from: 330_000,
      to: 62_000,
      runs: 10,
    });
    expect(adjusted.estimatedDurationMs).toBe(62_000);
    expect(decisions.map(describeDecision)).toEqual([
      'step 1: retries 1 -> 2',
      'step 1: timeout 30s -> 59s',
      'estimated duration: 5m30s -> 1m2s',
    ]);
  });

  it('stays as declared when there is nothing to decide, and says why', () => {
    const plan = declared();
    expect(decideAdjustments(plan, history({}))).toEqual([
      expect.objectContaining({
        kind: 'declared',
        step: null,
        to: null,
        reason: 'too little history: 0 runs at most for any step, 5 needed',
      }),
    ]);
    expect(decideAdjustments(plan, history({ 1: steady(3) }))[0]?.reason).toBe(
      'too little history: 3 runs at most for any step, 5 needed',
    );
    expect(
      decideAdjustments(plan, history({ 1: steady(20), 2: steady(20, { successDurationMs: null }) })),
    ).toEqual([expect.objectContaining({ kind: 'estimate' })]);
    const kept = withLearning(plan, decideAdjustments(plan, history({})));
    expect(kept.steps).toEqual(plan.steps);
    expect(kept.estimatedDurationMs).toBe(plan.estimatedDurationMs);
    expect(kept.adaptiveAdjustments.map((a) => [a.kind, a.adjustment])).toEqual([
      ['learned', 'planned as declared'],
    ]);
    expect(applyDecisions(plan, [])).toBe(plan);
  });

  it('is planned again exactly the same from what its status records', () => {
    const plan = declared();
    const decisions = decideAdjustments(
      plan,
      history({
        1: steady(10, { failedAttemptRuns: 3, fixedByRetry: 3, transientShare: 1, maxAttemptsWhenFixed: 3 }),
      }),
    );
    const recorded = withLearning(plan, decisions).adaptiveAdjustments.map((a) => ({
      adjustment: a.adjustment,
      reason: a.reason,
      kind: a.kind,
      ...(a.learned ? { learned: recordedLearning(a.learned) } : {}),
    }));
    // Through JSON, as the apiserver keeps it.
    const restored = decisionsOf(JSON.parse(JSON.stringify(recorded)) as typeof recorded);
    expect(restored).toEqual(decisions);
    expect(withLearning(plan, restored)).toEqual(withLearning(plan, decisions));
  });

  it('is unchanged by a flag', () => {
    const plan = declared();
    const decisions = decideAdjustments(
      plan,
      history({ 1: steady(10, { successRate: 0.2, successDurationMs: null }) }),
    );
    expect(decisions.map((d) => d.kind)).toEqual(['flag']);
    expect(decisions.map(describeDecision)).toEqual(['step 1: flagged, mostly failing (success rate 20%)']);
    expect(applyDecisions(plan, decisions)).toEqual(plan);
  });

  it('says why, in words, with the runs it rests on', () => {
    const [decision] = decideAdjustments(
      declared(),
      history({
        1: steady(10, {
          failedAttemptRuns: 4,
          fixedByRetry: 4,
          transientShare: 1,
          maxAttemptsWhenFixed: 2,
          successDurationMs: null,
        }),
      }),
    );
    expect(decision?.reason).toBe(
      'a later attempt fixed 100% of the failures in 4 of 10 runs of this workflow (up to 2 attempts)',
    );
  });
});

/**
 * Four custom steps: 1, 3 and 4 the same action on the same target (`custom flaky`, 60 s, no
 * retries), 2 another (`custom other`); the run-time rules decide for step 4, about to start.
 */
function runTimePlan(timeout = '60s', step4Timeout = timeout): ExecutionPlan {
  const flaky = (n: number) =>
    customStep(n, {
      timeout: n === 4 ? step4Timeout : timeout,
      dependsOn: [],
      parameters: { custom: { actionType: 'flaky' } },
    });
  const result = planWorkflow(
    specWith([
      flaky(1),
      customStep(2, { dependsOn: [], parameters: { custom: { actionType: 'other' } } }),
      flaky(3),
      flaky(4),
    ]),
  );
  if (!result.ok) throw new Error('the fixture plans');
  return result.plan;
}

/** A finished (or waiting) attempt `attempt` of a step, its last attempt lasting `ms`. */
const ran = (
  status: StepRun['status'],
  attempt: number,
  ms = 10_000,
  message: string | null = null,
): StepRun => ({
  ...PENDING_RUN,
  status,
  attempt,
  startedAt: T0,
  finishedAt: status === 'backoff' || status === 'running' ? null : T0 + ms,
  message,
});

function contextWith(plan: ExecutionPlan, runs: Record<number, StepRun>): WorkflowContext {
  const context = initialContext(plan, T0);
  return { ...context, steps: { ...context.steps, ...Object.fromEntries(Object.entries(runs)) } };
}

const forStep4 = (plan: ExecutionPlan, context: WorkflowContext) => {
  const step4 = plan.steps.find((s) => s.number === 4);
  if (!step4) throw new Error('no step 4');
  return decideAtRunTime(step4, plan, context);
};

describe('the run-time rules, for a step about to start', () => {
  it.each<[string, Record<number, StepRun>, Omit<RunTimeAdjustment, 'at' | 'reason'>[]]>([
    ['nothing of this run has finished: nothing changes', {}, []],
    [
      'a step of the same action still waiting for its retry is no evidence yet',
      { 1: ran('backoff', 1) },
      [],
    ],
    ['the same action succeeded at once and in time: nothing to change', { 1: ran('succeeded', 1) }, []],
    ['another action, fixed by a retry, teaches nothing about this one', { 2: ran('succeeded', 3) }, []],
    [
      'the same action fixed by its third attempt: as many retries as it needed',
      { 1: ran('succeeded', 3) },
      [{ kind: 'retries', step: 4, from: 0, to: 2, runs: 1 }],
    ],
    [
      'the same action succeeded after 50 s of its 60 s: twice that as the timeout',
      { 1: ran('succeeded', 1, 50_000) },
      [{ kind: 'timeout', step: 4, from: 60_000, to: 100_000, runs: 1 }],
    ],
    ['42 s of 60 s is within the timeout’s margin: nothing changes', { 1: ran('succeeded', 1, 42_000) }, []],
    [
      'both at once, from the longest and the most attempts, in whole seconds',
      { 1: ran('succeeded', 2, 48_200), 3: ran('succeeded', 1, 55_100) },
      [
        { kind: 'retries', step: 4, from: 0, to: 1, runs: 2 },
        { kind: 'timeout', step: 4, from: 60_000, to: 111_000, runs: 2 },
      ],
    ],
    [
      'the same action failed for good: flagged, nothing changed',
      { 1: ran('failed', 1, 1_000, 'connection refused') },
      [{ kind: 'flag', step: 4, from: 0, to: null, runs: 1 }],
    ],
    [
      'one of two failed: flagged with their success rate',
      { 1: ran('failed', 1), 3: ran('succeeded', 1) },
      [{ kind: 'flag', step: 4, from: 0.5, to: null, runs: 2 }],
    ],
  ])('%s', (_case, runs, expected) => {
    const plan = runTimePlan();
    expect(forStep4(plan, contextWith(plan, runs)).map(({ reason: _reason, ...rest }) => rest)).toEqual(
      expected,
    );
  });

  it('says why, naming the step of this run it learned from', () => {
    const plan = runTimePlan();
    expect(
      forStep4(
        plan,
        contextWith(plan, { 1: ran('succeeded', 2, 50_000), 3: ran('failed', 1, 1_000, 'boom') }),
      ).map((a) => a.reason),
    ).toEqual([
      'step 1 (step-1), the same action on the same target in this run, failed 1 attempt before attempt 2 succeeded',
      'step 1 (step-1), the same action on the same target in this run, succeeded only after 50s of its 1m timeout',
      'step 3 (step-3), the same action on the same target in this run, failed: boom',
    ]);
  });

  it('reads the figures as this run has them: a step already raised is not raised again', () => {
    const plan = runTimePlan();
    const context = contextWith(plan, { 1: ran('succeeded', 3, 50_000) });
    const adjusted: WorkflowContext = {
      ...context,
      adjustments: [
        { kind: 'retries', step: 4, from: 0, to: 2, runs: 1, reason: 'before', at: T0 },
        { kind: 'timeout', step: 4, from: 60_000, to: 120_000, runs: 1, reason: 'before', at: T0 },
      ],
    };
    expect(forStep4(plan, adjusted)).toEqual([]);
    expect(effectiveStep(plan.steps[3]!, adjusted)).toMatchObject({ maxRetries: 2, timeoutMs: 120_000 });
  });

  it('never goes past the schema’s 720h or the CRD’s 10 retries', () => {
    // Step 1 took 700 h of its 720 h, and 11 attempts; step 4 has 1 h.
    const plan = runTimePlan('720h', '1h');
    const decided = forStep4(plan, contextWith(plan, { 1: ran('succeeded', 11, 700 * 3_600_000) }));
    expect(decided.map((a) => [a.kind, a.to])).toEqual([
      ['retries', 10],
      ['timeout', 720 * 3_600_000],
    ]);
  });

  it('decides nothing once status.adaptiveAdjustments is full', () => {
    const plan = runTimePlan();
    const full: WorkflowContext = {
      ...contextWith(plan, { 1: ran('succeeded', 3) }),
      adjustments: Array.from({ length: 64 }, (_, i) => ({
        kind: 'flag' as const,
        step: 100 + i,
        from: 0,
        to: null,
        runs: 1,
        reason: 'r',
        at: T0,
      })),
    };
    expect(forStep4(plan, full)).toEqual([]);
  });
});
