/**
 * What changed between two snapshots, for Kubernetes Events, metrics and audit; and one line of
 * what the workflow waits for now.
 */
import {
  PENDING_RUN,
  runOf,
  segmentOf,
  stopGraceEnd,
  type StepRun,
  type StopEnd,
} from '../../machines/context.ts';
import type { StopReason } from '../api/stop-request.ts';
import type { AdmissionBlock } from '../../machines/events.ts';
import type { Phase, WorkflowSnapshot } from '../../machines/workflow.ts';
import { currentRollback } from './effects.ts';
import { APPROVED_BY, ROLLBACK_REQUESTED_BY } from './observe.ts';
import type { ExecutionPlan } from '../../machines/plan.ts';
import { lastEventTime, phaseOf, substateOf } from './statechart.ts';
import { describeBlock } from './target-locks.ts';
import { canonicalJson } from './spec-hash.ts';
import { clockOf } from './time.ts';

export type StepTransitionOutcome =
  'started' | 'succeeded' | 'failed' | 'retrying' | 'skipped' | 'rolledBack' | 'rollbackFailed';

export type Transition =
  | { kind: 'phase'; from: Phase | null; to: Phase; at: number }
  /** A retry request decided: accepted (starting run segment `segment`) or refused. */
  | { kind: 'retry'; accepted: boolean; segment: number; at: number }
  | { kind: 'step'; step: number; attempt: number; outcome: StepTransitionOutcome; at: number }
  /** The run came to wait to execute, or waits for something else now (a target lock, a storm limit). */
  | { kind: 'blocked'; block: AdmissionBlock; at: number }
  /** A step attempt asked to stop (`ended` null), or the end of that request: its answer or none. */
  | { kind: 'stop'; step: number; attempt: number; reason: StopReason; ended: StopEnd | null; at: number };

function stepTransitions(step: number, before: StepRun, after: StepRun, at: number): Transition[] {
  const out: Transition[] = [];
  const add = (attempt: number, outcome: StepTransitionOutcome, time: number | null) =>
    out.push({ kind: 'step', step, attempt, outcome, at: time ?? at });
  for (let a = before.attempt + 1; a <= after.attempt; a++) {
    // The attempt before this one failed; its retry was already reported if it was in backoff, and
    // a retry of the run (failed, or already reset to pending) is reported as RetryStarted.
    const reported = ['backoff', 'failed', 'pending'].includes(before.status) && before.attempt === a - 1;
    if (a > 1 && !reported) add(a - 1, 'retrying', null);
    add(a, 'started', a === after.attempt ? after.startedAt : null);
  }
  if (after.status !== before.status || after.attempt !== before.attempt) {
    if (after.status === 'succeeded') add(after.attempt, 'succeeded', after.finishedAt);
    if (after.status === 'failed') add(after.attempt, 'failed', after.finishedAt);
    if (after.status === 'backoff') add(after.attempt, 'retrying', after.finishedAt);
    if (after.status === 'skipped') add(after.attempt, 'skipped', after.finishedAt);
  }
  if (after.rollback?.status !== before.rollback?.status) {
    if (after.rollback?.status === 'rolledBack') add(after.attempt, 'rolledBack', after.rollback.finishedAt);
    if (after.rollback?.status === 'failed') add(after.attempt, 'rollbackFailed', after.rollback.finishedAt);
  }
  return out;
}

/** The phases a snapshot's context records entering, with when. */
const PHASE_TIMES: [Phase, keyof WorkflowSnapshot['context']['times']][] = [
  ['validating', 'validating'],
  ['executing', 'executing'],
  ['monitoring', 'monitoring'],
  ['rolling_back', 'rollingBack'],
];

/**
 * Phase changes between two snapshots. One reconcile can pass through several phases (planning ->
 * validating -> executing when nothing needs checking); each is reported, in the order entered.
 */
function phaseTransitions(
  before: WorkflowSnapshot | null,
  after: WorkflowSnapshot,
  at: number,
): Transition[] {
  const from = before ? phaseOf(before) : null;
  const to = phaseOf(after);
  if (from === to) return [];
  const passed = PHASE_TIMES.filter(
    ([phase, key]) =>
      phase !== to &&
      phase !== from &&
      after.context.times[key] !== null &&
      (before === null || before.context.times[key] === null),
  )
    .map(([phase, key]) => ({ phase, at: after.context.times[key] ?? at }))
    .sort((a, b) => a.at - b.at);
  const out: Transition[] = [];
  let previous: Phase | null = from;
  for (const step of passed) {
    out.push({ kind: 'phase', from: previous, to: step.phase, at: step.at });
    previous = step.phase;
  }
  out.push({ kind: 'phase', from: previous, to, at });
  return out;
}

/** Retry requests decided between two snapshots: at most one per reconcile (one annotation). */
function retryTransitions(before: WorkflowSnapshot | null, after: WorkflowSnapshot): Transition[] {
  if (before === null) return [];
  const out: Transition[] = [];
  const accepted = after.context.retries.at(-1);
  if (accepted && after.context.retries.length > before.context.retries.length)
    out.push({ kind: 'retry', accepted: true, segment: segmentOf(after.context), at: accepted.at });
  const refused = after.context.retryRefusal;
  if (refused && refused.request !== before.context.retryRefusal?.request)
    out.push({ kind: 'retry', accepted: false, segment: segmentOf(after.context), at: refused.at });
  return out;
}

/** A new block of the run's admission (not one it was already waiting for). */
function blockedTransitions(
  before: WorkflowSnapshot | null,
  after: WorkflowSnapshot,
  at: number,
): Transition[] {
  const block = after.context.admission?.block;
  if (block === undefined) return [];
  const previous = before?.context.admission?.block;
  return previous !== undefined && canonicalJson(previous) === canonicalJson(block)
    ? []
    : [{ kind: 'blocked', block, at }];
}

/** Stop requests made and ended between two snapshots (the list only grows; a request ends once). */
function stopTransitions(before: WorkflowSnapshot | null, after: WorkflowSnapshot): Transition[] {
  const out: Transition[] = [];
  after.context.stops.forEach((stop, i) => {
    const earlier = before?.context.stops[i];
    const { step, attempt, reason } = stop;
    if (earlier === undefined) out.push({ kind: 'stop', step, attempt, reason, ended: null, at: stop.at });
    if (stop.ended !== null && (earlier === undefined || earlier.ended === null))
      out.push({ kind: 'stop', step, attempt, reason, ended: stop.ended, at: stop.endedAt ?? stop.at });
  });
  return out;
}

export function transitions(before: WorkflowSnapshot | null, after: WorkflowSnapshot): Transition[] {
  const at = lastEventTime(after.context);
  const out: Transition[] = [
    ...retryTransitions(before, after),
    ...phaseTransitions(before, after, at),
    ...blockedTransitions(before, after, at),
    ...stopTransitions(before, after),
  ];
  const numbers = Object.keys(after.context.steps)
    .map(Number)
    .sort((a, b) => a - b);
  for (const n of numbers) {
    const a = runOf(after.context, n);
    if (!a) continue;
    const b = (before ? runOf(before.context, n) : undefined) ?? PENDING_RUN;
    out.push(...stepTransitions(n, b, a, at));
  }
  // In the order they happened; one reconcile commits several at the same time, in causal order:
  // what a step reported, then the stop it asked for or the answer, then the retry or phase change it
  // caused, then the steps that started.
  const rank = (t: Transition): number =>
    t.kind === 'step' ? (t.outcome === 'started' ? 3 : 0) : t.kind === 'phase' ? 2 : 1;
  return out
    .map((t, i) => ({ t, i }))
    .sort((x, y) => x.t.at - y.t.at || rank(x.t) - rank(y.t) || x.i - y.i)
    .map(({ t }) => t);
}

/** "2 and 3", "1, 2 and 4". */
export function listOf(items: readonly string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1] ?? ''}`;
}

const stepsWord = (numbers: readonly number[]) => (numbers.length === 1 ? 'step' : 'steps');

export function waitingFor(snapshot: WorkflowSnapshot, plan: ExecutionPlan): string {
  const { context } = snapshot;
  const phase = phaseOf(snapshot);
  const sub = substateOf(snapshot);
  const validationUntil =
    context.times.validating === null
      ? ''
      : ` until ${clockOf(context.times.validating + plan.timeouts.validationMs)}`;
  switch (phase) {
    case 'planning':
      return 'waiting for the next reconcile to start validation';
    case 'validating':
      if (sub === 'dryRun') {
        const missing = plan.steps
          .map((s) => s.number)
          .filter((n) => context.dryRun[String(n)] === undefined);
        return `waiting for dry runs of ${stepsWord(missing)} ${listOf(missing.map(String))}${validationUntil}`;
      }
      if (sub === 'approval') return `waiting for approval (annotation ${APPROVED_BY})${validationUntil}`;
      if (sub === 'admission')
        return context.admission
          ? `waiting to execute: ${describeBlock(context.admission.block)}${validationUntil}`
          : `waiting to take the target locks${validationUntil}`;
      return `waiting for safety checks (${plan.safetyChecks.map((c) => c.type).join(', ')})${validationUntil}`;
    case 'executing': {
      const running = plan.steps.filter((s) => runOf(context, s.number)?.status === 'running');
      const backoff = plan.steps.filter((s) => runOf(context, s.number)?.status === 'backoff');
      const parts: string[] = [];
      if (running.length > 0) {
        const attempts = new Set(running.map((s) => runOf(context, s.number)?.attempt ?? 0));
        const only = [...attempts][0];
        parts.push(
          attempts.size === 1 && only !== undefined
            ? `${stepsWord(running.map((s) => s.number))} ${listOf(running.map((s) => String(s.number)))} (attempt ${only})`
            : `${stepsWord(running.map((s) => s.number))} ${listOf(
                running.map((s) => `${s.number} (attempt ${runOf(context, s.number)?.attempt ?? 0})`),
              )}`,
        );
      }
      for (const s of backoff) {
        const retryAt = runOf(context, s.number)?.retryAt;
        parts.push(`the retry of step ${s.number} at ${retryAt == null ? '?' : clockOf(retryAt)}`);
      }
      for (const stop of context.stops)
        if (stop.ended === null)
          parts.push(
            `step ${stop.step} attempt ${stop.attempt} to stop (${stop.reason}) until ${clockOf(stopGraceEnd(plan, stop))}`,
          );
      const prefix = context.abort ? `stopping (${context.abort.message}): ` : '';
      return parts.length === 0 ? `${prefix}starting steps` : `${prefix}waiting for ${parts.join(' and ')}`;
    }
    case 'monitoring': {
      const deadline = clockOf((context.times.monitoring ?? 0) + plan.timeouts.monitoringMs);
      const e = context.effectiveness;
      if (e?.stableSince != null)
        return `fixed since ${clockOf(e.stableSince)}: completes once still fixed at ${clockOf(e.stableSince + e.stabilityWindowMs)} (deadline ${deadline})`;
      if (e?.alert === 'firing')
        return `waiting for the alert this run remediates to resolve until ${deadline}`;
      return `waiting for the effectiveness check until ${deadline}`;
    }
    case 'rolling_back': {
      const n = currentRollback(snapshot, plan);
      const step = plan.steps.find((s) => s.number === n);
      const rb = n === null ? null : runOf(context, n)?.rollback;
      return step?.rollback && rb
        ? `waiting for the rollback of step ${step.number} (${step.name}) until ${clockOf(rb.startedAt + step.rollback.timeoutMs)}`
        : 'rolling back';
    }
    case 'completed':
      return `nothing: the workflow completed (${context.outcome ?? 'unknown'})`;
    case 'failed':
      if (sub === 'awaitingRollback')
        return `waiting for a rollback request (annotation ${ROLLBACK_REQUESTED_BY})`;
      return `nothing: the workflow failed (${context.failure?.code ?? 'unknown'})`;
  }
}
