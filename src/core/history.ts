/**
 * Step history: what one step did in one finished run, and the summary of many such runs that the
 * adaptive rules read (success rate, share of failures a later attempt fixed, duration percentiles).
 * Pure: the audit stores select the rows, this turns them into figures, the same for every store.
 */
import type { WorkflowStep } from '../api/generated/types.ts';
import { describeTarget, targetOf } from './targets.ts';

/** History older than this is not consulted unless asked. */
export const DEFAULT_HISTORY_WINDOW_MS = 30 * 24 * 3_600_000;
/** The newest rows a history query reads at most: its cost is bounded whatever the store holds. */
export const MAX_HISTORY_ROWS = 10_000;

/** How a step ended in a finished run, as history counts it. */
export type StepRunOutcome = 'succeeded' | 'failed' | 'skipped';

/** One step of one finished run. */
export interface StepRunRecord {
  stepNumber: number;
  outcome: StepRunOutcome;
  /** Attempts made: 0 when the step never started. */
  attempts: number;
  /** The last attempt's duration; null when not known (e.g. the step was rolled back since). */
  durationMs: number | null;
}

export interface DurationPercentiles {
  p50: number;
  p90: number;
  p99: number;
}

export interface StepHistory {
  /** Runs in which the step started. */
  runs: number;
  succeeded: number;
  failed: number;
  /** Runs with at least one failed attempt (whether or not a later one succeeded). */
  failedAttemptRuns: number;
  /** Of those, the runs a later attempt fixed. */
  fixedByRetry: number;
  /** succeeded / runs; 0 without runs. */
  successRate: number;
  /** fixedByRetry / failedAttemptRuns: how transient the failures were; 0 without failures. */
  transientShare: number;
  /** The most attempts a fixed run needed. */
  maxAttemptsWhenFixed: number;
  /** Durations of the successful attempts; null when none is known. */
  successDurationMs: DurationPercentiles | null;
}

export interface HistoryWindow {
  /** The end of the window, ms since the epoch (the shell's clock). */
  now: number;
  windowMs?: number;
}

/** Nearest-rank percentile of ascending values. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] ?? 0;
}

const ratio = (a: number, b: number): number => (b === 0 ? 0 : Math.round((a / b) * 10_000) / 10_000);

export function summarizeStepRuns(records: readonly StepRunRecord[]): StepHistory {
  const ran = records.filter((r) => r.outcome !== 'skipped' && r.attempts > 0);
  const succeeded = ran.filter((r) => r.outcome === 'succeeded');
  const failedAttempt = ran.filter((r) => r.outcome === 'failed' || r.attempts > 1);
  const fixed = succeeded.filter((r) => r.attempts > 1);
  const durations = succeeded
    .map((r) => r.durationMs)
    .filter((d): d is number => d !== null)
    .sort((a, b) => a - b);
  return {
    runs: ran.length,
    succeeded: succeeded.length,
    failed: ran.length - succeeded.length,
    failedAttemptRuns: failedAttempt.length,
    fixedByRetry: fixed.length,
    successRate: ratio(succeeded.length, ran.length),
    transientShare: ratio(fixed.length, failedAttempt.length),
    maxAttemptsWhenFixed: Math.max(0, ...fixed.map((r) => r.attempts)),
    successDurationMs:
      durations.length === 0
        ? null
        : {
            p50: percentile(durations, 50),
            p90: percentile(durations, 90),
            p99: percentile(durations, 99),
          },
  };
}

/** Summaries per step number, from the rows of many runs. */
export function summarizeByStep(records: readonly StepRunRecord[]): Map<number, StepHistory> {
  const groups = new Map<number, StepRunRecord[]>();
  for (const r of records) groups.set(r.stepNumber, [...(groups.get(r.stepNumber) ?? []), r]);
  return new Map([...groups].map(([n, rows]) => [n, summarizeStepRuns(rows)] as const));
}

/**
 * The name history keeps "what a step acts on" under: the object (`Deployment shop/web`), or for a
 * custom action its action type (`custom noop`), which is all such a step names.
 */
export function historyTargetOf(step: WorkflowStep): string {
  const target = targetOf(step);
  if (target) return describeTarget(target);
  return `custom ${step.parameters.custom?.actionType ?? ''}`.trim();
}

/** The outcome history records for a step's projected status. */
export function stepRunOutcome(status: string): StepRunOutcome {
  switch (status) {
    case 'completed':
    case 'rolling_back':
    case 'rolled_back':
    case 'rollback_failed':
      // The step itself succeeded; what happened to it later is the rollback's story.
      return 'succeeded';
    case 'failed':
      return 'failed';
    default:
      return 'skipped';
  }
}
