/**
 * Adaptive orchestration from history (the specification's `learningFromHistory`): given the
 * declared plan and what each step did in earlier runs, decide which figures to change and why.
 * Pure: the shell fetches the history, these rules decide, the decisions travel as typed data and
 * are taken once (the shell persists them), so new history never changes a plan already running.
 */
import { LIMITS } from '../api/schema/workflowexecution.ts';
import type { StepHistory } from './history.ts';
import type { ExecutionPlan, PlannedStep } from '../../machines/plan.ts';
import { criticalPathMs } from './plan.ts';
import { formatDuration } from './duration.ts';

/** Fewer runs than this teach nothing: the step's figures stay as declared. */
export const MIN_HISTORY_RUNS = 5;
/** Failures count as mostly transient when later attempts fixed more than this share of them. */
export const TRANSIENT_SHARE = 0.5;
/** A step whose runs succeeded less often than this is flagged. */
export const FLAG_SUCCESS_RATE = 0.5;

export type AdjustmentKind = 'estimate' | 'retries' | 'timeout' | 'flag';
export type HistorySource = 'workflow' | 'target';

export interface AdaptiveDecision {
  kind: AdjustmentKind;
  /** The step it concerns; null for the plan's estimated duration. */
  step: number | null;
  /** The value before: retries, milliseconds, or for a flag the success rate. */
  from: number;
  /** The value after; null for a flag, which changes nothing. */
  to: number | null;
  reason: string;
  /** How many runs of history the decision rests on. */
  runs: number;
  /** Whose history: this workflow's name/version, or the same action on the same target. */
  source: HistorySource;
}

/** The histories the shell found, per step number. */
export interface PlanHistory {
  /** This workflow name/version's step of the same number. */
  byStep: ReadonlyMap<number, StepHistory>;
  /** The same action on the same target, in any workflow. */
  byTarget: ReadonlyMap<number, StepHistory>;
}

interface Evidence {
  history: StepHistory;
  source: HistorySource;
}

/** This workflow's own history when there is enough of it, else the target's, else none. */
function evidenceFor(step: number, history: PlanHistory): Evidence | null {
  const own = history.byStep.get(step);
  if (own && own.runs >= MIN_HISTORY_RUNS) return { history: own, source: 'workflow' };
  const target = history.byTarget.get(step);
  if (target && target.runs >= MIN_HISTORY_RUNS) return { history: target, source: 'target' };
  return null;
}

const percent = (share: number): string => `${Math.round(share * 100)}%`;
const whose = (source: HistorySource): string =>
  source === 'workflow' ? 'runs of this workflow' : 'runs of this action on this target';
const ceilSeconds = (ms: number): number => Math.ceil(ms / 1000) * 1000;

/** The decisions for one step not yet started; none when its history is too thin. */
export function decideForStep(step: PlannedStep, history: PlanHistory): AdaptiveDecision[] {
  const evidence = evidenceFor(step.number, history);
  if (!evidence) return [];
  const { history: h, source } = evidence;
  const base = { step: step.number, runs: h.runs, source };
  const decisions: AdaptiveDecision[] = [];

  if (h.failedAttemptRuns > 0 && h.transientShare > TRANSIENT_SHARE && step.maxRetries < LIMITS.maxRetries) {
    const needed = Math.max(step.maxRetries + 1, h.maxAttemptsWhenFixed - 1);
    const to = Math.min(LIMITS.maxRetries, needed);
    decisions.push({
      ...base,
      kind: 'retries',
      from: step.maxRetries,
      to,
      reason: `a later attempt fixed ${percent(h.transientShare)} of the failures in ${h.failedAttemptRuns} of ${h.runs} ${whose(source)} (up to ${h.maxAttemptsWhenFixed} attempts)`,
    });
  }

  const durations = h.successDurationMs;
  if (durations && durations.p50 > step.timeoutMs) {
    const to = ceilSeconds(durations.p99);
    decisions.push({
      ...base,
      kind: 'timeout',
      from: step.timeoutMs,
      to,
      reason: `most successful ${whose(source)} took longer than ${formatDuration(step.timeoutMs)} (median ${formatDuration(durations.p50)}, p99 ${formatDuration(durations.p99)})`,
    });
  }

  if (h.successRate < FLAG_SUCCESS_RATE) {
    decisions.push({
      ...base,
      kind: 'flag',
      from: h.successRate,
      to: null,
      reason: `${describe(step)} succeeded in only ${percent(h.successRate)} of ${h.runs} ${whose(source)}`,
    });
  }
  return decisions;
}

const describe = (step: PlannedStep): string => `step ${step.number} (${step.name})`;

/** The plan's estimated duration from the steps' observed p90 where known, their timeouts elsewhere. */
function decideEstimate(plan: ExecutionPlan, history: PlanHistory): AdaptiveDecision | null {
  const observed = new Map<number, { p90: number; runs: number; source: HistorySource }>();
  for (const step of plan.steps) {
    const evidence = evidenceFor(step.number, history);
    const p90 = evidence?.history.successDurationMs?.p90;
    if (evidence && p90 !== undefined)
      observed.set(step.number, { p90, runs: evidence.history.runs, source: evidence.source });
  }
  if (observed.size === 0) return null;
  const to = criticalPathMs(plan.steps, (s) => observed.get(s.number)?.p90 ?? s.timeoutMs);
  if (to === plan.estimatedDurationMs) return null;
  const runs = Math.min(...[...observed.values()].map((o) => o.runs));
  const sources = new Set([...observed.values()].map((o) => o.source));
  return {
    kind: 'estimate',
    step: null,
    from: plan.estimatedDurationMs,
    to,
    reason: `estimated from the observed p90 duration of ${observed.size} of ${plan.steps.length} steps (at least ${runs} runs each)`,
    runs,
    source: sources.has('workflow') ? 'workflow' : 'target',
  };
}

/** Every decision for a plan about to run: the steps' first, then the estimate they lead to. */
export function decideAdjustments(plan: ExecutionPlan, history: PlanHistory): AdaptiveDecision[] {
  const stepDecisions = plan.steps.flatMap((s) => decideForStep(s, history));
  const adjusted = applyDecisions(plan, stepDecisions);
  const estimate = decideEstimate(adjusted, history);
  return estimate ? [...stepDecisions, estimate] : stepDecisions;
}

/** The plan with the decisions applied; flags change nothing. */
export function applyDecisions(plan: ExecutionPlan, decisions: readonly AdaptiveDecision[]): ExecutionPlan {
  if (decisions.length === 0) return plan;
  const steps = plan.steps.map((step) => {
    let next = step;
    for (const d of decisions) {
      if (d.step !== step.number || d.to === null) continue;
      if (d.kind === 'retries') next = { ...next, maxRetries: d.to };
      if (d.kind === 'timeout') next = { ...next, timeoutMs: d.to };
    }
    return next;
  });
  const estimate = decisions.find((d) => d.kind === 'estimate' && d.to !== null);
  return { ...plan, steps, estimatedDurationMs: estimate?.to ?? plan.estimatedDurationMs };
}

/** How a decision reads in `status.adaptiveAdjustments` and Events. */
export function describeDecision(d: AdaptiveDecision): string {
  const where = d.step === null ? 'estimated duration' : `step ${d.step}`;
  switch (d.kind) {
    case 'retries':
      return `${where}: retries ${d.from} -> ${d.to ?? d.from}`;
    case 'timeout':
    case 'estimate':
      return `${where}: ${d.kind === 'timeout' ? 'timeout ' : ''}${formatDuration(d.from)} -> ${formatDuration(d.to ?? d.from)}`;
    case 'flag':
      return `${where}: flagged, mostly failing (success rate ${percent(d.from)})`;
  }
}
