/**
 * A run as a timeline (a Gantt chart's data): phases as bands, validation's checks, dry run and
 * approval wait, one row per step with each attempt as a bar, the backoff between attempts, the
 * rollback, and the moments each child was created and picked up by the executor.
 *
 * Built from what is already recorded: the snapshot (phase times, the current attempt of each step,
 * safety, dry-run and approval records) and the children (one per attempt, dry run and rollback;
 * each carries its attempt's start as the operator decided it, the executor's pickup and end, its
 * message and result). Earlier attempts are read from their children, so the status stays within
 * its per-step byte budget. Pure: `now` only extends what is still going.
 */
import type { StepExecutionResult } from '../api/generated/types.ts';
import { runOf, safetyVerdict, type StepRun, type WorkflowContext } from '../../machines/context.ts';
import type { ExecutionPlan, PlannedStep } from '../../machines/plan.ts';
import type { WorkflowSnapshot } from '../../machines/workflow.ts';
import { childName } from './child-name.ts';
import type { ChildKind } from './observe.ts';
import { phaseOf } from './statechart.ts';

/**
 * On each child: when the operator started the attempt, dry run or rollback (RFC 3339, ms): the
 * child's creationTimestamp has whole seconds only.
 */
export const STARTED_AT_ANNOTATION = 'workflowexecution.kubernaut.io/started-at';

/** What the timeline reads of a KubernetesExecution child; times in epoch ms. */
export interface TimelineChild {
  name: string;
  kind: ChildKind;
  stepNumber: number;
  attempt: number;
  /** metadata.creationTimestamp (whole seconds). */
  createdAt: number | null;
  /** The operator's start of this attempt (STARTED_AT_ANNOTATION). */
  startedAt: number | null;
  /** status.startTime: when the executor picked it up. */
  pickedUpAt: number | null;
  /** status.completionTime. */
  completedAt: number | null;
  phase: 'pending' | 'executing' | 'completed' | 'failed' | 'stopped' | null;
  message: string | null;
  result: StepExecutionResult | null;
}

export type BarKind = 'phase' | 'checks' | 'dryRun' | 'approval' | 'attempt' | 'backoff' | 'rollback';
export type BarOutcome =
  | 'running'
  | 'waiting'
  | 'succeeded'
  | 'failed'
  | 'rejected'
  | 'rolledBack'
  | 'rollbackFailed'
  /** An attempt that ended without a result (timed out, stopped, or its child is gone). */
  | 'unfinished';

export interface TimelineBar {
  kind: BarKind;
  label: string;
  start: number;
  /** null while it goes on (drawn up to the timeline's end). */
  end: number | null;
  outcome: BarOutcome;
  attempt: number | null;
  message: string | null;
  result: StepExecutionResult | null;
  child: string | null;
}

export type MarkKind =
  | 'created'
  | 'pickedUp'
  | 'skipped'
  | 'effectiveness'
  /** An attempt asked to stop (src/api/stop-request.ts), and the answer or the grace period's end. */
  | 'stopRequested'
  | 'stopAnswered';

export interface TimelineMark {
  kind: MarkKind;
  at: number;
  label: string;
  child: string | null;
}

export interface TimelineRow {
  id: string;
  label: string;
  step: number | null;
  bars: TimelineBar[];
  marks: TimelineMark[];
}

export interface Timeline {
  start: number;
  end: number;
  /** The run goes on: open bars end at `end`, which is `now`. */
  live: boolean;
  rows: TimelineRow[];
}

const bar = (b: Omit<TimelineBar, 'attempt' | 'message' | 'result' | 'child'> & Partial<TimelineBar>) => ({
  attempt: null,
  message: null,
  result: null,
  child: null,
  ...b,
});

/** The earliest of the given times at or after `from`. */
function firstAfter(from: number, candidates: readonly (number | null)[]): number | null {
  const after = candidates.filter((t): t is number => t !== null && t >= from);
  return after.length === 0 ? null : Math.min(...after);
}

function phaseBands(context: WorkflowContext, terminal: boolean): TimelineBar[] {
  const { times } = context;
  const bands: TimelineBar[] = [];
  const rollbackEnds = Object.values(context.steps).map((r) => r.rollback?.finishedAt ?? null);
  const add = (label: string, start: number | null, later: (number | null)[], fallback: number | null) => {
    if (start === null) return;
    const end = firstAfter(start, later) ?? (terminal ? (fallback ?? start) : null);
    bands.push(bar({ kind: 'phase', label, start, end, outcome: end === null ? 'running' : 'succeeded' }));
  };
  add('validating', times.validating, [times.executing, times.finished], times.finished);
  add('executing', times.executing, [times.monitoring, times.rollingBack, times.finished], times.finished);
  add('monitoring', times.monitoring, [times.finished], times.finished);
  const lastRollback = Math.max(times.rollingBack ?? 0, ...rollbackEnds.map((t) => t ?? 0));
  add('rolling back', times.rollingBack, [], lastRollback);
  return bands;
}

/** Safety checks, dry run and approval wait: each starts when the one before it passed. */
function validationBars(plan: ExecutionPlan, context: WorkflowContext, terminal: boolean): TimelineBar[] {
  const bars: TimelineBar[] = [];
  const validating = context.times.validating;
  if (validating === null) return bars;
  const finished = context.times.finished;
  const closed = (end: number | null) => end ?? (terminal ? finished : null);
  let passedAt: number | null = validating;

  if (plan.safetyChecks.length > 0) {
    const safety = context.safety;
    const verdict = safety === null ? null : safetyVerdict(safety);
    const end = safety?.[0]?.checkedAt ?? closed(null);
    bars.push(
      bar({
        kind: 'checks',
        label: 'safety checks',
        start: validating,
        end,
        outcome:
          verdict === null
            ? end === null
              ? 'running'
              : 'unfinished'
            : verdict === 'failed'
              ? 'failed'
              : 'succeeded',
        message:
          safety?.map((r) => `${r.type}: ${r.result}${r.message ? ` (${r.message})` : ''}`).join('; ') ??
          null,
      }),
    );
    passedAt = verdict === 'passed' ? end : null;
  }
  if (plan.dryRunFirst && passedAt !== null) {
    const records = Object.values(context.dryRun);
    const failed = records.find((r) => r.outcome === 'failed');
    const done = records.length === plan.steps.length || failed !== undefined;
    const end = done ? Math.max(...records.map((r) => r.at)) : closed(null);
    bars.push(
      bar({
        kind: 'dryRun',
        label: 'dry run',
        start: passedAt,
        end,
        outcome: failed ? 'failed' : done ? 'succeeded' : end === null ? 'running' : 'unfinished',
        message: failed?.message ?? `${records.length}/${plan.steps.length} steps simulated`,
      }),
    );
    passedAt = done && !failed ? end : null;
  }
  if (plan.approvalRequired && passedAt !== null) {
    const approval = context.approval;
    const end = approval?.at ?? closed(null);
    const rejected = context.failure?.code === 'Rejected';
    bars.push(
      bar({
        kind: 'approval',
        label: 'approval wait',
        start: passedAt,
        end,
        outcome: approval ? 'succeeded' : rejected ? 'rejected' : end === null ? 'waiting' : 'unfinished',
        message: approval ? `approved by ${approval.by}` : (context.failure?.message ?? null),
      }),
    );
  }
  return bars;
}

const childOutcome = (child: TimelineChild): BarOutcome =>
  child.phase === 'completed' ? 'succeeded' : child.phase === 'failed' ? 'failed' : 'unfinished';

const runOutcome = (run: StepRun): BarOutcome =>
  run.status === 'running' ? 'running' : run.status === 'succeeded' ? 'succeeded' : 'failed';

/** Where a child's attempt starts: the operator's start, else the executor's pickup, else its creation. */
const childStart = (c: TimelineChild): number | null => c.startedAt ?? c.pickedUpAt ?? c.createdAt;

function attemptBars(
  step: PlannedStep,
  run: StepRun,
  children: readonly TimelineChild[],
  workflowName: string,
): TimelineBar[] {
  const byAttempt = new Map(children.filter((c) => c.kind === 'step').map((c) => [c.attempt, c]));
  const last = Math.max(run.attempt, ...byAttempt.keys());
  // The run's own record is the current attempt's, unless a retry of the run reset it to pending.
  const current =
    run.startedAt !== null && run.status !== 'pending' && run.status !== 'skipped' ? run.attempt : 0;
  const bars: TimelineBar[] = [];
  for (let attempt = 1; attempt <= last; attempt++) {
    const child = byAttempt.get(attempt);
    const name = child?.name ?? childName(workflowName, 'step', step.number, attempt);
    if (attempt === current && run.startedAt !== null) {
      bars.push(
        bar({
          kind: 'attempt',
          label: `attempt ${attempt}`,
          start: run.startedAt,
          end: run.status === 'running' ? null : run.finishedAt,
          outcome: runOutcome(run),
          attempt,
          message: run.message ?? child?.message ?? null,
          result: run.result ?? child?.result ?? null,
          child: name,
        }),
      );
      continue;
    }
    const start = child ? childStart(child) : null;
    if (!child || start === null) continue;
    bars.push(
      bar({
        kind: 'attempt',
        label: `attempt ${attempt}`,
        start,
        end: child.completedAt,
        outcome: childOutcome(child),
        attempt,
        message: child.message,
        result: child.result,
        child: name,
      }),
    );
  }
  // An attempt without an end (timed out, stopped) ends where the next one starts.
  for (let i = 0; i < bars.length - 1; i++) {
    const b = bars[i];
    const next = bars[i + 1];
    if (b && next && b.end === null) bars[i] = { ...b, end: Math.max(b.start, next.start) };
  }
  const withGaps: TimelineBar[] = [];
  bars.forEach((b, i) => {
    const previous = bars[i - 1];
    if (previous?.end != null && b.start > previous.end)
      withGaps.push(
        bar({ kind: 'backoff', label: 'backoff', start: previous.end, end: b.start, outcome: 'succeeded' }),
      );
    withGaps.push(b);
  });
  if (run.status === 'backoff' && run.finishedAt !== null && run.retryAt !== null)
    withGaps.push(
      bar({
        kind: 'backoff',
        label: 'backoff',
        start: run.finishedAt,
        end: null,
        outcome: 'waiting',
        message: `next attempt at ${run.retryAt - run.finishedAt} ms after the failure`,
      }),
    );
  return withGaps;
}

function stepRow(
  step: PlannedStep,
  context: WorkflowContext,
  children: readonly TimelineChild[],
  workflowName: string,
  dryRunStart: number | null,
): TimelineRow {
  const run = runOf(context, step.number);
  const own = children.filter((c) => c.stepNumber === step.number);
  const bars: TimelineBar[] = [];
  const dryRunChild = own.find((c) => c.kind === 'dryRun');
  const dryRun = context.dryRun[String(step.number)];
  const dryStart = (dryRunChild ? childStart(dryRunChild) : null) ?? (dryRun ? dryRunStart : null);
  if (dryStart !== null && (dryRun || dryRunChild))
    bars.push(
      bar({
        kind: 'dryRun',
        label: 'dry run',
        start: dryStart,
        end: dryRun?.at ?? dryRunChild?.completedAt ?? null,
        outcome: dryRun ? dryRun.outcome : 'running',
        message: dryRun?.message ?? dryRunChild?.message ?? null,
        child: dryRunChild?.name ?? null,
      }),
    );
  if (run) bars.push(...attemptBars(step, run, own, workflowName));
  const rollback = run?.rollback;
  if (rollback) {
    const child = own.find((c) => c.kind === 'rollback');
    bars.push(
      bar({
        kind: 'rollback',
        label: 'rollback',
        start: rollback.startedAt,
        end: rollback.finishedAt,
        outcome:
          rollback.status === 'running'
            ? 'running'
            : rollback.status === 'rolledBack'
              ? 'rolledBack'
              : 'rollbackFailed',
        message: rollback.message ?? child?.message ?? null,
        result: child?.result ?? null,
        child: child?.name ?? childName(workflowName, 'rollback', step.number),
      }),
    );
  }
  const marks: TimelineMark[] = [];
  for (const c of [...own].sort((a, b) => (childStart(a) ?? 0) - (childStart(b) ?? 0))) {
    const created = createdMoment(c);
    if (created !== null)
      marks.push({ kind: 'created', at: created, label: `${c.name} created`, child: c.name });
    if (c.pickedUpAt !== null)
      marks.push({
        kind: 'pickedUp',
        at: c.pickedUpAt,
        label: `${c.name} picked up by the executor`,
        child: c.name,
      });
  }
  for (const stop of context.stops.filter((s) => s.step === step.number)) {
    const child = childName(workflowName, 'step', step.number, stop.attempt);
    marks.push({
      kind: 'stopRequested',
      at: stop.at,
      label: `attempt ${stop.attempt} asked to stop (${stop.reason})`,
      child,
    });
    if (stop.ended !== null && stop.endedAt !== null)
      marks.push({
        kind: 'stopAnswered',
        at: stop.endedAt,
        label:
          stop.ended === 'gracePassed'
            ? `attempt ${stop.attempt} did not answer its stop request within the grace period`
            : stop.ended === 'stopped'
              ? `attempt ${stop.attempt} stopped`
              : `attempt ${stop.attempt} ended ${stop.ended} before it stopped`,
        child,
      });
  }
  if (run?.status === 'skipped' && run.finishedAt !== null)
    marks.push({ kind: 'skipped', at: run.finishedAt, label: run.message ?? 'skipped', child: null });
  return { id: `step-${step.number}`, label: `${step.number} ${step.name}`, step: step.number, bars, marks };
}

/**
 * When a child was created: its creationTimestamp has whole seconds, so within that second the
 * operator's recorded start (taken just before it created the child) says it better.
 */
function createdMoment(c: TimelineChild): number | null {
  if (c.createdAt === null) return c.startedAt;
  if (c.startedAt !== null && c.startedAt >= c.createdAt && c.startedAt < c.createdAt + 1000)
    return c.startedAt;
  return c.createdAt;
}

const TERMINAL = new Set(['completed', 'failed']);

export function buildTimeline(
  snapshot: WorkflowSnapshot,
  plan: ExecutionPlan,
  children: readonly TimelineChild[],
  options: { workflowName: string; now: number },
): Timeline {
  const { context } = snapshot;
  const terminal = TERMINAL.has(phaseOf(snapshot));
  const validation = validationBars(plan, context, terminal);
  const phases = phaseBands(context, terminal);
  const phaseMarks: TimelineMark[] = context.effectiveness
    ? [
        {
          kind: 'effectiveness',
          at: context.effectiveness.at,
          label: `effectiveness: ${context.effectiveness.effective ? 'effective' : 'not effective'} (score ${context.effectiveness.score ?? 'none'})`,
          child: null,
        },
      ]
    : [];
  const dryRunStart = validation.find((b) => b.kind === 'dryRun')?.start ?? null;
  const rows: TimelineRow[] = [
    { id: 'phases', label: 'phases', step: null, bars: phases, marks: phaseMarks },
    ...(validation.length > 0
      ? [{ id: 'validation', label: 'validation', step: null, bars: validation, marks: [] }]
      : []),
    ...plan.steps.map((s) => stepRow(s, context, children, options.workflowName, dryRunStart)),
  ];
  const times: number[] = [];
  for (const row of rows) {
    for (const b of row.bars) times.push(b.start, ...(b.end === null ? [] : [b.end]));
    for (const m of row.marks) times.push(m.at);
  }
  const start = Math.min(context.times.planning ?? Infinity, ...times);
  const recordedEnd = Math.max(start, context.times.finished ?? start, ...times);
  const live = !terminal;
  return {
    start: Number.isFinite(start) ? start : options.now,
    end: live ? Math.max(recordedEnd, options.now) : recordedEnd,
    live,
    rows,
  };
}
