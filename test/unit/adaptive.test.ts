// The adaptive rules: what a plan becomes given the history of its steps, as typed decisions.
import { describe, expect, it } from '@jest/globals';
import {
  applyDecisions,
  decideAdjustments,
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
import { planWorkflow } from '../../src/core/plan.ts';
import { specWith, step } from '../fixtures/specs.ts';

/** Two steps in a row: step 1 with a 30 s timeout and 1 retry, step 2 with 5 m and none. */
function declared(): ExecutionPlan {
  const result = planWorkflow(
    specWith([step(1, { timeout: '30s', maxRetries: 1 }), step(2, { dependsOn: [1] })]),
  );
  if (!result.ok) throw new Error('the fixture plans');
  return result.plan;
}

/** Steady history: every run succeeded at once in 10 s. */
const steady = (runs: number, overrides: Partial<StepHistory> = {}): StepHistory => ({
  runs,
  succeeded: runs,
  failed: 0,
  failedAttemptRuns: 0,
  fixedByRetry: 0,
  successRate: 1,
  transientShare: 0,
  maxAttemptsWhenFixed: 0,
  successDurationMs: { p50: 10_000, p90: 12_000, p99: 14_000 },
  ...overrides,
});

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
