/**
 * Adaptive orchestration (the specification's `learningFromHistory` and `dynamicStepAdjustment`):
 * given the declared plan and what each step did in earlier runs, decide which figures to change
 * and why; and, at run time, what this run's earlier steps teach about a step about to start.
 * Pure: the shell fetches the history, these rules decide, the decisions travel as typed data and
 * are taken once (the shell or the machine persists them), so new history never changes a plan
 * already running.
 */
import type { WorkflowExecutionStatus } from '../api/generated/types.ts';
import { LIMITS } from '../api/schema/workflowexecution.ts';
import type { StepHistory } from './history.ts';
import {
  effectiveStep,
  runOf,
  type RunTimeAdjustment,
  type StepRun,
  type WorkflowContext,
} from '../../machines/context.ts';
import type {
  ExecutionPlan,
  LearnedAdjustment,
  PlannedAdjustment,
  PlannedStep,
} from '../../machines/plan.ts';
import type { RunTimeRules } from '../../machines/rules.ts';
import { MAX_SPEC_DURATION_MS, criticalPathMs } from './plan.ts';
import { formatDuration } from './duration.ts';

/** Fewer runs than this teach nothing: the step's figures stay as declared. */
export const MIN_HISTORY_RUNS = 5;
/** Failures count as mostly transient when later attempts fixed more than this share of them. */
export const TRANSIENT_SHARE = 0.5;
/** A step whose runs succeeded less often than this is flagged. */
export const FLAG_SUCCESS_RATE = 0.5;
/** At run time, a step that succeeded after running longer than this share of its timeout was slow. */
export const SLOW_SHARE = 0.8;
/** The steps after a slow one get this many times its duration as their timeout. */
export const SLOW_HEADROOM = 2;

export type HistorySource = 'workflow' | 'target';

/** One decision: {kind, step, from, to, runs, source} (machines/plan.ts) and why, in words. */
export interface AdaptiveDecision extends LearnedAdjustment {
  reason: string;
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

/**
 * Every decision for a plan about to run: the steps' first, then the estimate they lead to; at most
 * what `status.adaptiveAdjustments` has room for beside the plan's own adjustments, because what is
 * recorded there is what is applied. Too little history: one `declared` decision saying so.
 */
export function decideAdjustments(plan: ExecutionPlan, history: PlanHistory): AdaptiveDecision[] {
  const room = Math.max(1, LIMITS.adjustments - plan.adaptiveAdjustments.length);
  const stepDecisions = plan.steps.flatMap((s) => decideForStep(s, history)).slice(0, room - 1);
  const adjusted = applyDecisions(plan, stepDecisions);
  const estimate = decideEstimate(adjusted, history);
  const decisions = estimate ? [...stepDecisions, estimate] : stepDecisions;
  if (decisions.length > 0) return decisions;
  const runs = Math.max(
    0,
    ...plan.steps.flatMap((s) => [
      history.byStep.get(s.number)?.runs ?? 0,
      history.byTarget.get(s.number)?.runs ?? 0,
    ]),
  );
  const enough = plan.steps.some((s) => evidenceFor(s.number, history) !== null);
  return [
    declared(
      enough
        ? `the history of ${runs} runs gives no reason to change it`
        : `too little history: ${runs} runs at most for any step, ${MIN_HISTORY_RUNS} needed`,
      runs,
    ),
  ];
}

/** The plan stays as declared, and the status says why (no store, store unreachable, too little history). */
export function declared(reason: string, runs = 0): AdaptiveDecision {
  return {
    kind: 'declared',
    step: null,
    from: 0,
    to: null,
    runs,
    source: runs > 0 ? 'workflow' : 'none',
    reason,
  };
}

/** The plan with the decisions applied and recorded as its adjustments (what status shows). */
export function withLearning(plan: ExecutionPlan, decisions: readonly AdaptiveDecision[]): ExecutionPlan {
  if (decisions.length === 0) return plan;
  const applied = applyDecisions(plan, decisions);
  const recorded: PlannedAdjustment[] = decisions.map(({ reason, ...learned }) => ({
    kind: 'learned',
    adjustment: describeDecision({ ...learned, reason }),
    reason,
    learned,
  }));
  return { ...applied, adaptiveAdjustments: [...plan.adaptiveAdjustments, ...recorded] };
}

type RecordedAdjustments = NonNullable<WorkflowExecutionStatus['adaptiveAdjustments']>;

/**
 * The planning decisions a persisted status records, to plan again exactly as the first time. The
 * run-time ones are not the plan's: the snapshot keeps them.
 */
export function decisionsOf(adjustments: RecordedAdjustments | undefined): AdaptiveDecision[] {
  return (adjustments ?? []).flatMap((a) =>
    a.learned && a.kind === 'learned'
      ? [
          {
            kind: a.learned.kind,
            step: a.learned.step ?? null,
            from: a.learned.from,
            to: a.learned.to ?? null,
            runs: a.learned.runs,
            source: a.learned.source,
            reason: a.reason ?? '',
          },
        ]
      : [],
  );
}

/** How a decision is recorded in status (absent rather than null). */
export function recordedLearning(l: LearnedAdjustment): NonNullable<RecordedAdjustments[number]['learned']> {
  return {
    kind: l.kind,
    ...(l.step === null ? {} : { step: l.step }),
    from: l.from,
    ...(l.to === null ? {} : { to: l.to }),
    runs: l.runs,
    source: l.source,
  };
}

/** The steps history flags as mostly failing, for Events and the Ready message. */
export const flaggedSteps = (plan: ExecutionPlan): LearnedAdjustment[] =>
  plan.adaptiveAdjustments.flatMap((a) => (a.learned?.kind === 'flag' ? [a.learned] : []));

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
      return d.source === 'run'
        ? `${where}: flagged, the same action on the same target failed in this run (success rate ${percent(d.from)})`
        : `${where}: flagged, mostly failing (success rate ${percent(d.from)})`;
    case 'declared':
      return 'planned as declared';
  }
}

/** A run-time adjustment as a decision: the same record, from this run. */
export const runTimeDecision = ({ at: _at, ...a }: RunTimeAdjustment): AdaptiveDecision => ({
  ...a,
  source: 'run',
});

/** A step of this run that has finished, as the run-time rules read it. */
interface FinishedPeer {
  step: PlannedStep;
  run: StepRun & { status: 'succeeded' | 'failed' };
}

const isFinished = (run: StepRun | undefined): run is FinishedPeer['run'] =>
  run?.status === 'succeeded' || run?.status === 'failed';
const durationOf = (run: StepRun): number =>
  run.startedAt !== null && run.finishedAt !== null ? Math.max(0, run.finishedAt - run.startedAt) : 0;
/** How much of a failed peer's message a flag quotes: the status entry stays small. */
const MESSAGE_CHARS = 200;
const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
const sameTarget = (p: FinishedPeer): string =>
  `${describe(p.step)}, the same action on the same target in this run`;

/**
 * The run-time rules (dynamicStepAdjustment), for a step about to start its first attempt, from the
 * steps of this run with the same action on the same target that have finished (its peers); none
 * finished: nothing changes.
 * - retries: a peer failed attempts and a later one succeeded (transient): at least as many retries
 *   as it needed, within the CRD's maximum;
 * - timeout: a peer succeeded only after more than SLOW_SHARE of its timeout: SLOW_HEADROOM times
 *   the longest such duration (whole seconds, at most the schema's 720h), when longer than its own;
 * - flag: a peer failed for good: flagged, nothing changed.
 * At most what `status.adaptiveAdjustments` has room for, since what is recorded there is what applies.
 */
export function decideAtRunTime(
  step: PlannedStep,
  plan: ExecutionPlan,
  context: WorkflowContext,
): Omit<RunTimeAdjustment, 'at'>[] {
  const room = LIMITS.adjustments - plan.adaptiveAdjustments.length - context.adjustments.length;
  const peers = plan.steps
    .filter((s) => s.number !== step.number && s.action === step.action && s.target === step.target)
    .flatMap((s): FinishedPeer[] => {
      const run = runOf(context, s.number);
      return isFinished(run) ? [{ step: effectiveStep(s, context), run }] : [];
    });
  if (room <= 0 || peers.length === 0) return [];
  const own = effectiveStep(step, context);
  const base = { step: step.number, runs: peers.length };
  const decisions: Omit<RunTimeAdjustment, 'at'>[] = [];

  const fixed = peers
    .filter((p) => p.run.status === 'succeeded' && p.run.attempt > 1)
    .sort((a, b) => b.run.attempt - a.run.attempt)[0];
  if (fixed && Math.min(LIMITS.maxRetries, fixed.run.attempt - 1) > own.maxRetries) {
    decisions.push({
      ...base,
      kind: 'retries',
      from: own.maxRetries,
      to: Math.min(LIMITS.maxRetries, fixed.run.attempt - 1),
      reason: `${sameTarget(fixed)}, failed ${plural(fixed.run.attempt - 1, 'attempt')} before attempt ${fixed.run.attempt} succeeded`,
    });
  }

  const slow = peers
    .filter((p) => p.run.status === 'succeeded' && durationOf(p.run) > SLOW_SHARE * p.step.timeoutMs)
    .sort((a, b) => durationOf(b.run) - durationOf(a.run))[0];
  const longer = slow && Math.min(MAX_SPEC_DURATION_MS, ceilSeconds(SLOW_HEADROOM * durationOf(slow.run)));
  if (slow && longer !== undefined && longer > own.timeoutMs) {
    decisions.push({
      ...base,
      kind: 'timeout',
      from: own.timeoutMs,
      to: longer,
      reason: `${sameTarget(slow)}, succeeded only after ${formatDuration(durationOf(slow.run))} of its ${formatDuration(slow.step.timeoutMs)} timeout`,
    });
  }

  const failed = peers.find((p) => p.run.status === 'failed');
  if (failed) {
    const succeeded = peers.filter((p) => p.run.status === 'succeeded').length;
    decisions.push({
      ...base,
      kind: 'flag',
      from: Math.round((succeeded / peers.length) * 10_000) / 10_000,
      to: null,
      reason: `${sameTarget(failed)}, failed: ${(failed.run.message ?? 'no reason given').slice(0, MESSAGE_CHARS)}`,
    });
  }
  return decisions.slice(0, room);
}

/** The run-time rules as the machine consults them. */
export const RUN_TIME_RULES: RunTimeRules = { beforeFirstAttempt: decideAtRunTime };

/** The steps flagged at run time, for Events and the Ready message. */
export const flaggedAtRunTime = (context: WorkflowContext): RunTimeAdjustment[] =>
  context.adjustments.filter((a) => a.kind === 'flag');
