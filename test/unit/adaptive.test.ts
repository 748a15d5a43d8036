// The adaptive rules: what a plan becomes given the history of its steps, as typed decisions.
import { describe, expect, it } from '@jest/globals';
import {
  applyDecisions,
  decideAdjustments,
  describeDecision,
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

  it('is the declared plan itself when there is nothing to decide', () => {
    const plan = declared();
    expect(decideAdjustments(plan, history({}))).toEqual([]);
    expect(applyDecisions(plan, [])).toBe(plan);
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
