/**
 * The decide step of a reconcile (DESIGN 3), between load and project: what the cluster shows,
 * folded through the machine, and what follows from the new snapshot, computed once: the children it
 * wants, when to look again, whether the status must be written now, and whether the run finished.
 *
 * Pure. A check the machine waits for (the safety checks in validation, admission as its last gate:
 * the target locks and storm limits, the effectiveness check while monitoring) is I/O: `decide` asks for it (`kind: 'check'`) and the shell runs it and decides again
 * with its results. A check the new state asks for runs at once, so its verdict shares this
 * reconcile's status write instead of needing another reconcile.
 */
import { safetyVerdict } from '../../machines/context.ts';
import type {
  AdmissionVerdict,
  AlertmanagerState,
  EffectivenessObservation,
  SafetyCheckResult,
} from '../../machines/events.ts';
import type { ExecutionPlan } from '../../machines/plan.ts';
import type { StepExecutionResult } from '../api/generated/types.ts';
import type { WorkflowSnapshot } from '../../machines/workflow.ts';
import {
  checksWanted,
  desiredEffects,
  nextDeadline,
  type ChecksWanted,
  type DesiredEffects,
} from './effects.ts';
import type { Compiled } from './load.ts';
import { observe, stillAwaited, type ObservedChild } from './observe.ts';
import { advance, phaseOf } from './statechart.ts';
import { statusWrite, type StatusWrite } from './status-writes.ts';
import { admissionRetryMs } from './target-locks.ts';
import { transitions, type Transition } from './transitions.ts';

/** Checks without a verdict (an errored safety check) are asked again this soon, within the deadline. */
export const CHECK_RETRY_MS = 2000;

/** Checks asked for after advancing within one reconcile at most: the safety checks, then admission. */
const MAX_CHECK_ROUNDS = 2;

/** What the shell saw of the workflow in the cluster: its children and its annotations. */
export interface Seen {
  children: readonly ObservedChild[];
  annotations: Readonly<Record<string, string>>;
}

/** The checks to run before deciding. */
export interface CheckRequest {
  safety: boolean;
  /** Admission: take the run's target locks (all or none) and look at the storm limits. */
  admission: boolean;
  /**
   * The admission is of a retry or a rollback a person asked for (`wfx retry`, `wfx rollback`): it
   * takes the locks and respects the storm limits, but no cooldown or backoff holds it back.
   */
  requested: boolean;
  /**
   * The steps whose targets the effectiveness check looks at (with what their executor reported),
   * since when new alerts count, and the spec's stability window (null: the operator's).
   */
  effectiveness: {
    succeededSteps: ReadonlySet<number>;
    results: ReadonlyMap<number, StepExecutionResult>;
    since: number;
    stabilityWindowMs: number | null;
  } | null;
}

export interface CheckResults {
  safety?: SafetyCheckResult[];
  /** Alertmanager, asked with the safety checks when configured or the run names an alert. */
  alertmanager?: AlertmanagerState;
  /** Absent when asked but not answered (the apiserver could not be asked): asked again soon. */
  admission?: AdmissionVerdict;
  effectiveness?: EffectivenessObservation;
}

export interface DecideInput {
  compiled: Compiled;
  /** The workflow's name: its children are named after it. */
  name: string;
  /** The snapshot its status has (null: none written yet); what happened is measured from it. */
  written: WorkflowSnapshot | null;
  /** Where the decision starts: the written snapshot, or the progress ahead of it awaiting its write. */
  from: WorkflowSnapshot;
  /**
   * `from` is what this machine's own `advance` returned (the progress awaiting its write), so no
   * transition is enabled in it but by time passing. A rehydrated snapshot is not taken on trust: an
   * operator of another version wrote it, perhaps under other guards.
   */
  fromAdvanced?: boolean;
  seen: Seen;
  now: number;
  /** When the oldest progress not written yet happened (`now` when none waits). */
  waitingSince: number;
  /** How long step progress may wait to share a status write (0: written at once). */
  progressWriteDelayMs: number;
  /** How often the targets are checked again while monitoring. */
  monitoringPollMs: number;
  /** The results of the checks a `check` decision asked for. */
  checks?: CheckResults;
  /**
   * How many checks were asked for after advancing in this reconcile so far: the safety checks a new
   * validation waits for, then admission once they passed. Bounded by MAX_CHECK_ROUNDS.
   */
  rounds?: number;
}

export interface Decided {
  kind: 'decided';
  snapshot: WorkflowSnapshot;
  /** The new snapshot's effects (computed once per reconcile). */
  effects: DesiredEffects;
  /** What happened since the written snapshot. */
  happened: Transition[];
  write: StatusWrite;
  /** When to reconcile again: the earliest deadline, poll, unfinished check or delayed write. */
  requeueAfterMs: number | undefined;
  /** Set when the run is over (its audit record is due). */
  finished: 'completed' | 'failed' | null;
}

export type Decision =
  | Decided
  | {
      kind: 'check';
      request: CheckRequest;
      /** Decide again with these and the check's results. */
      resume: { from: WorkflowSnapshot; rounds: number };
    };

const asksFor = (checks: ChecksWanted): boolean => checks.safety || checks.admission || checks.effectiveness;

function requestOf(
  snapshot: WorkflowSnapshot,
  plan: ExecutionPlan,
  checks: ChecksWanted,
  now: number,
): CheckRequest {
  const succeeded = Object.entries(snapshot.context.steps).filter(([, run]) => run.status === 'succeeded');
  return {
    safety: checks.safety,
    admission: checks.admission,
    requested:
      checks.admission &&
      (snapshot.context.rollbackTrigger === 'requested' || snapshot.context.retries.length > 0),
    effectiveness: checks.effectiveness
      ? {
          succeededSteps: new Set(succeeded.map(([n]) => Number(n))),
          results: new Map(
            succeeded.flatMap(([n, run]) => (run.result ? [[Number(n), run.result] as const] : [])),
          ),
          since: snapshot.context.times.executing ?? now,
          stabilityWindowMs: plan.stabilityWindowMs,
        }
      : null,
  };
}

export function decide(input: DecideInput): Decision {
  const { compiled, from, now, checks } = input;
  const { plan, machine } = compiled;
  const wanted = checksWanted(from, plan);
  if (checks === undefined && asksFor(wanted))
    return { kind: 'check', request: requestOf(from, plan, wanted, now), resume: { from, rounds: 0 } };
  const events = observe({
    now,
    children: input.seen.children.filter((c) => stillAwaited(from.context, c)),
    annotations: input.seen.annotations,
    ...checks,
  });
  const after = onlyTimePassed(input, plan, events.length) ? from : advance(machine, from, events);
  const rounds = input.rounds ?? 0;
  if (rounds < MAX_CHECK_ROUNDS) {
    const asked = checksWanted(after, plan);
    if (
      (asked.safety && !wanted.safety) ||
      (asked.admission && !wanted.admission) ||
      (asked.effectiveness && !wanted.effectiveness)
    )
      return {
        kind: 'check',
        request: requestOf(after, plan, asked, now),
        resume: { from: after, rounds: rounds + 1 },
      };
  }
  return decided(input, plan, after);
}

/**
 * Whether folding the events would change nothing: all that happened is time passing (the TICK every
 * observation starts with), while executing, before the machine's next deadline. Every guard there
 * that reads the time is a deadline `nextDeadline` lists (attempt timeouts, retries due, stop grace
 * periods), so the machine would take no transition: on a long chain the claim and start of each child
 * reconcile like this, and an XState macrostep over 150 step regions costs ~1 ms (test/model: a TICK
 * before the deadline changes no reachable snapshot).
 */
function onlyTimePassed(input: DecideInput, plan: ExecutionPlan, events: number): boolean {
  if (events !== 1 || input.fromAdvanced !== true || phaseOf(input.from) !== 'executing') return false;
  const deadline = nextDeadline(input.from, plan);
  return deadline === null || input.now < deadline;
}

function decided(input: DecideInput, plan: ExecutionPlan, snapshot: WorkflowSnapshot): Decided {
  const { now } = input;
  const effects = desiredEffects(snapshot, plan, input.name);
  const happened = transitions(input.written, snapshot);
  const write = statusWrite(happened, input.waitingSince, now, input.progressWriteDelayMs);
  const inconclusive =
    (input.checks?.safety && safetyVerdict(input.checks.safety) === 'inconclusive') ||
    (effects.admit && input.checks !== undefined && input.checks.admission === undefined);
  const blocked = effects.admit ? snapshot.context.admission : null;
  const lookAgainInMs = earliest([
    effects.nextDeadline === null ? undefined : Math.max(0, effects.nextDeadline - now) + 1,
    effects.checkEffectiveness ? input.monitoringPollMs : undefined,
    inconclusive ? CHECK_RETRY_MS : undefined,
    blocked ? admissionRetryMs(blocked.since, now) : undefined,
  ]);
  const phase = phaseOf(snapshot);
  return {
    kind: 'decided',
    snapshot,
    effects,
    happened,
    write,
    requeueAfterMs: write.now ? lookAgainInMs : Math.min(write.inMs, lookAgainInMs ?? Infinity),
    finished: phase === 'completed' || phase === 'failed' ? phase : null,
  };
}

function earliest(candidates: readonly (number | undefined)[]): number | undefined {
  const present = candidates.filter((v): v is number => v !== undefined);
  return present.length === 0 ? undefined : Math.min(...present);
}
