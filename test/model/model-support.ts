/** Model-based testing support: an event alphabet per state, state coverage, invariants. */
import { getMicrosteps } from 'xstate';
import type { AnyStateNode } from 'xstate';
import { attemptsBeforeRetry, effectiveStep, runOf } from '../../machines/context.ts';
import {
  MACHINE_ID,
  rollbackSteps,
  stepKey,
  type WorkflowMachine,
  type WorkflowSnapshot,
} from '../../machines/workflow.ts';
import { nextDeadline } from '../../src/core/effects.ts';
import type { WorkflowEvent } from '../../machines/events.ts';
import type { ExecutionPlan } from '../../machines/plan.ts';
import { lastEventTime, persist, phaseOf, rehydrate, substateOf } from '../../src/core/statechart.ts';
import { projectStatus } from '../../src/core/status.ts';
import { HEALTHY } from './workflow-world.ts';

/**
 * The events worth sending in a state, at concrete times: results at the time of the last change
 * (no time passes), and a TICK at the next deadline (time jumps to it).
 */
export function alphabet(
  plan: ExecutionPlan,
  snapshot: WorkflowSnapshot,
  /** Whether admission also answers blocked (shortest paths; simple paths would multiply by it). */
  { blocking = true }: { blocking?: boolean } = {},
): WorkflowEvent[] {
  const { context } = snapshot;
  const now = lastEventTime(context);
  const events: WorkflowEvent[] = [];
  const deadline = nextDeadline(snapshot, plan);
  if (deadline !== null) events.push({ type: 'TICK', now: deadline });
  const phase = phaseOf(snapshot);
  const sub = substateOf(snapshot);
  if (phase === 'planning') events.push({ type: 'TICK', now });
  if (phase === 'validating') {
    if (sub === 'safety')
      for (const result of ['passed', 'failed'] as const)
        events.push({
          type: 'SAFETY_RESULT',
          now,
          results: plan.safetyChecks.map((c) => ({
            type: c.type,
            required: c.required ?? false,
            result,
            message: result,
          })),
        });
    if (sub === 'dryRun')
      for (const s of plan.steps)
        if (context.dryRun[String(s.number)] === undefined)
          for (const outcome of ['succeeded', 'failed'] as const)
            events.push({ type: 'DRYRUN_RESULT', now, step: s.number, outcome });
    if (sub === 'approval') {
      events.push({ type: 'APPROVED', now, by: 'alice' });
      events.push({ type: 'REJECTED', now, by: 'bob' });
    }
    if (sub === 'admission') {
      events.push({ type: 'ADMISSION_RESULT', now, verdict: { admitted: true } });
      // Blocked by a target lock (once: a block that changes is a unit test's, not a path's), on a
      // run's first admission only: a retry's or a rollback's takes the same transitions, and
      // answering it both ways again would multiply every path after a failure.
      if (blocking && context.admission === null && !readmitted(context))
        events.push({
          type: 'ADMISSION_RESULT',
          now,
          verdict: {
            admitted: false,
            block: { reason: 'TargetBusy', target: 'Deployment shop/web', holder: 'shop/other/uid-2' },
          },
        });
    }
    // Cancelled while validating: on a first validation (a retry's or rollback's wait takes the same
    // transition, and answering it again would multiply the paths after every failure).
    if (!readmitted(context)) events.push({ type: 'CANCEL_REQUESTED', now, by: 'carol' });
  }
  if (phase === 'executing') {
    for (const s of plan.steps) {
      const run = runOf(context, s.number);
      if (run?.status !== 'running') continue;
      for (const outcome of ['succeeded', 'failed'] as const)
        events.push({ type: 'STEP_RESULT', now, step: s.number, attempt: run.attempt, outcome });
    }
    if (context.abort === null) events.push({ type: 'CANCEL_REQUESTED', now, by: 'carol' });
  }
  // The first attempt asked to stop and awaited answers: stopped, or (one not running) a result anyway;
  // a running one's result is above. One at a time, or the answers' orders multiply the states.
  const awaited = context.stops.find((s) => s.ended === null);
  if (awaited) {
    const { step, attempt } = awaited;
    events.push({ type: 'STEP_STOPPED', now, step, attempt });
    const run = runOf(context, step);
    if (run?.status !== 'running' || run.attempt !== attempt)
      events.push({ type: 'STEP_RESULT', now, step, attempt, outcome: 'succeeded' });
  }
  if (phase === 'monitoring') {
    events.push({ type: 'EFFECTIVENESS_RESULT', now, ...HEALTHY });
    // Nothing verifiable: completed unknown at once.
    events.push({ type: 'EFFECTIVENESS_RESULT', now, ...HEALTHY, score: null, resourceHealth: 'unknown' });
    // On the first check only (the states would multiply): fixed but the window not seen through
    // yet (a later check with window 0 completes it), and the run's alert still firing (the
    // deadline's TICK then fails it AlertStillFiring).
    if (context.effectiveness === null) {
      events.push({ type: 'EFFECTIVENESS_RESULT', now, ...HEALTHY, stabilityWindowMs: 60_000 });
      events.push({
        type: 'EFFECTIVENESS_RESULT',
        now,
        ...HEALTHY,
        alert: 'firing',
        alertmanager: 'answered',
      });
    }
    events.push({
      type: 'EFFECTIVENESS_RESULT',
      now,
      effective: false,
      score: 0,
      resourceHealth: 'unhealthy',
      newAlertsTriggered: true,
      alert: null,
      alertmanager: 'notConfigured',
      stabilityWindowMs: 0,
    });
    events.push({
      type: 'EFFECTIVENESS_RESULT',
      now,
      effective: false,
      score: 0.5,
      resourceHealth: 'degraded',
      newAlertsTriggered: false,
      alert: null,
      alertmanager: 'notConfigured',
      stabilityWindowMs: 0,
    });
  }
  if (phase === 'rolling_back') {
    const current = plan.rollbackOrder.find((n) => runOf(context, n)?.rollback?.status === 'running');
    if (current !== undefined)
      for (const outcome of ['succeeded', 'failed'] as const)
        events.push({ type: 'ROLLBACK_RESULT', now, step: current, outcome });
  }
  if (phase === 'failed' && sub === 'awaitingRollback')
    events.push({ type: 'ROLLBACK_REQUESTED', now, by: 'dave' });
  // One retry of the run per path (a new request), and the same request again after it.
  // (Not after runs that asked attempts to stop: their histories would multiply the retried runs'
  // states; runs without stops take the retry's transitions.)
  if (phase === 'failed' && context.stops.length === 0)
    events.push({ type: 'RETRY_REQUESTED', now, by: 'erin', request: 'r1' });
  // A retry asked for too early: refused once, in flight (before the run's first failure).
  if (
    (phase === 'executing' || phase === 'validating') &&
    context.retryRefusal === null &&
    !readmitted(context)
  )
    events.push({ type: 'RETRY_REQUESTED', now, by: 'erin', request: 'early' });
  return events;
}

/** A retry or a requested rollback brought the run back to admission. */
const readmitted = (context: WorkflowSnapshot['context']): boolean =>
  context.retries.length > 0 || context.rollbackTrigger === 'requested';

export const serialize = (snapshot: WorkflowSnapshot): string =>
  JSON.stringify([snapshot.value, snapshot.context]);

/** Every state node of the machine, by id. */
export function allStateNodes(machine: WorkflowMachine): AnyStateNode[] {
  const out: AnyStateNode[] = [];
  const walk = (node: AnyStateNode) => {
    out.push(node);
    for (const child of Object.values(node.states)) walk(child);
  };
  walk(machine.root);
  return out;
}

/** Ids of the active state nodes of a state value. */
export function activeIds(value: unknown, prefix = MACHINE_ID): string[] {
  if (typeof value === 'string') return [prefix, `${prefix}.${value}`];
  if (value && typeof value === 'object')
    return [prefix, ...Object.entries(value).flatMap(([k, v]) => activeIds(v, `${prefix}.${k}`))];
  return [prefix];
}

/** States no path can reach in this plan, by construction. */
export function unreachable(plan: ExecutionPlan): string[] {
  return rollbackSteps(plan).length === 0 ? [`${MACHINE_ID}.rolling_back`] : [];
}

export interface TransitionKey {
  key: string;
  source: string;
  targets: string[];
  eventType: string;
}

export function allTransitions(machine: WorkflowMachine): TransitionKey[] {
  const keys = new Map<string, TransitionKey>();
  for (const node of allStateNodes(machine)) {
    const defs = [...[...node.transitions.values()].flat(), ...(node.always ?? [])];
    for (const t of defs) {
      const targets = (t.target ?? []).map((n) => n.id);
      const key = `${node.id} --${t.eventType || 'always'}--> ${targets.join(',') || '(self)'}`;
      keys.set(key, { key, source: node.id, targets, eventType: t.eventType });
    }
  }
  return [...keys.values()];
}

/** The transitions an event took and the states it passed through, microstep by microstep. */
export function takenTransitions(
  machine: WorkflowMachine,
  all: readonly TransitionKey[],
  snapshot: WorkflowSnapshot,
  event: WorkflowEvent,
): { taken: string[]; visited: string[] } {
  const taken: string[] = [];
  const visited: string[] = [];
  let before = snapshot;
  // The first microstep takes the event's transitions, every later one eventless (`always`) ones.
  for (const [i, [after]] of getMicrosteps(machine, snapshot, event).entries()) {
    const firedType = i === 0 ? event.type : '';
    const was = new Set(activeIds(before.value));
    const is = new Set(activeIds(after.value));
    visited.push(...is);
    const contextChanged = JSON.stringify(before.context) !== JSON.stringify(after.context);
    for (const t of all) {
      if (!was.has(t.source)) continue;
      if (t.targets.length === 0) {
        if (
          contextChanged &&
          (t.eventType || '') === firedType &&
          JSON.stringify(before.value) === JSON.stringify(after.value)
        )
          taken.push(t.key);
        continue;
      }
      if (t.targets.every((id) => is.has(id)) && (t.targets.some((id) => !was.has(id)) || !is.has(t.source)))
        taken.push(t.key);
    }
    before = after;
  }
  return { taken, visited };
}

/** Invariants that hold in every state of every run. */
export function checkInvariants(
  plan: ExecutionPlan,
  machine: WorkflowMachine,
  snapshot: WorkflowSnapshot,
): void {
  const { context } = snapshot;
  const phase = phaseOf(snapshot);
  const fail = (message: string) => {
    throw new Error(`${message} in ${JSON.stringify(snapshot.value)}`);
  };
  const status = projectStatus(snapshot, plan, { generation: 1, previousConditions: [] });
  if (status.phase !== phase) fail(`projected phase ${String(status.phase)} is not ${phase}`);
  for (const step of plan.steps) {
    const run = runOf(context, step.number);
    if (!run) return fail(`step ${step.number} has no run`);
    if (phase === 'executing') {
      const region = (snapshot.value as { executing: Record<string, string> }).executing[
        stepKey(step.number)
      ];
      if (region !== run.status)
        fail(`region of step ${step.number} is ${String(region)}, context says ${run.status}`);
    }
    // A step re-run by a retry of the run is pending (or skipped) again with its earlier attempts.
    if (run.attempt > 0 && run.status !== 'pending' && run.status !== 'skipped') {
      // A data dependency must have succeeded; a step before it in an implicit sequence settled.
      const met = step.dependencyKind === 'data' ? ['succeeded'] : ['succeeded', 'failed'];
      for (const d of step.dependsOn) {
        const dep = runOf(context, d);
        if (!met.includes(dep?.status ?? '') || (dep?.finishedAt ?? Infinity) > (run.startedAt ?? -Infinity))
          fail(`step ${step.number} started before its dependency ${d} ${met.join(' or ')}`);
      }
    }
    // Retries as this run segment has them: raised at run time, never past what was decided.
    const segmentAttempts = run.attempt - attemptsBeforeRetry(context, step.number);
    if (segmentAttempts > effectiveStep(step, context).maxRetries + 1)
      fail(
        `step ${step.number} ran ${segmentAttempts} attempts in run segment ${context.retries.length + 1}`,
      );
    for (const retry of context.retries)
      for (const rerun of retry.steps)
        if (rerun.step === step.number && rerun.attemptsBefore > run.attempt)
          fail(`step ${step.number}'s attempts went back from ${rerun.attemptsBefore} to ${run.attempt}`);
    if (
      run.rollback &&
      (run.status !== 'succeeded' || step.rollback === null || plan.rollbackStrategy === 'none')
    )
      fail(`step ${step.number} was rolled back though it did not succeed or has no rollback`);
  }
  const rolled = plan.rollbackOrder.filter((n) => runOf(context, n)?.rollback);
  const starts = rolled.map((n) => runOf(context, n)?.rollback?.startedAt ?? 0);
  if (starts.some((t, i) => i > 0 && t < (starts[i - 1] ?? 0)))
    fail('rollbacks out of reverse topological order');
  if (rolled.filter((n) => runOf(context, n)?.rollback?.status === 'running').length > 1)
    fail('two rollbacks at once');
  const restored = rehydrate(
    JSON.parse(JSON.stringify(persist(snapshot, 'h'))) as ReturnType<typeof persist>,
    { machine, hash: 'h', plan },
  );
  if (!restored.ok) fail(`rehydrate refused: ${restored.message}`);
  else if (serialize(restored.snapshot) !== serialize(snapshot)) fail('rehydrated snapshot differs');
}
