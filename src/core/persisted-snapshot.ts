/**
 * The persisted snapshot's form, current and past: how each older machine version's snapshot becomes
 * the next one's, and how the current one's state value and context are read back.
 */
import { stepKey } from '../../machines/workflow.ts';
import type { RollbackTrigger, StepRun, WorkflowContext } from '../../machines/context.ts';
import type { ExecutionPlan } from '../../machines/plan.ts';
import { decodeStepRun, encodeStepRun } from './persisted-step-run.ts';
import { isRecord } from '../api/json.ts';

/**
 * The persisted form: status, state value and context. Nothing else is kept. Since version 4 the
 * context's step runs are short strings (persisted-step-run.ts) and, while executing, the state
 * value is just `"executing"`: each step's region is its run's status, rebuilt on rehydrate.
 */
export interface PersistedSnapshot {
  status: 'active' | 'done' | 'error' | 'stopped';
  value: unknown;
  context: unknown;
  [key: string]: unknown;
}

/**
 * Migrations by the machine version they upgrade from: `migrations[v]` turns a v snapshot into v+1.
 * A migration may read the plan (the spec is immutable, so it is the one the snapshot was made for).
 */
export type Migration = (snapshot: PersistedSnapshot, plan: ExecutionPlan) => PersistedSnapshot;

interface StepRunV0 {
  number: number;
  status: string;
  attempt: number;
  startedAt: number | null;
  finishedAt: number | null;
}

/**
 * Version 0 (the first prototype) kept steps as an array and its phase times under `phaseTimes`
 * without `rollingBack`; version 1 keys steps by number and records retries, messages and rollbacks.
 */
const fromV0: Migration = (snapshot) => {
  const context = snapshot.context as {
    steps: StepRunV0[];
    phaseTimes: Record<string, number | null>;
  } & Record<string, unknown>;
  const { steps, phaseTimes, ...rest } = context;
  return {
    ...snapshot,
    context: {
      ...rest,
      steps: Object.fromEntries(
        steps.map((s) => [
          String(s.number),
          {
            status: s.status,
            attempt: s.attempt,
            startedAt: s.startedAt,
            finishedAt: s.finishedAt,
            retryAt: null,
            message: null,
            result: null,
            rollback: null,
          },
        ]),
      ),
      times: {
        planning: phaseTimes['planning'] ?? null,
        validating: phaseTimes['validating'] ?? null,
        executing: phaseTimes['executing'] ?? null,
        monitoring: phaseTimes['monitoring'] ?? null,
        rollingBack: null,
        finished: phaseTimes['finished'] ?? null,
      },
    },
  };
};

/**
 * Version 2 records what started a rollback as data (`rollbackTrigger`). Version 1 knew it only from
 * its plan and context: a manual strategy rolls back only on request; otherwise the abort's code.
 */
const fromV1: Migration = (snapshot, plan) => {
  const context = snapshot.context as {
    rollbackReason: string | null;
    abort: { code: string } | null;
  } & Record<string, unknown>;
  const trigger: RollbackTrigger | null =
    context.rollbackReason === null
      ? null
      : plan.rollbackStrategy === 'manual'
        ? 'requested'
        : context.abort?.code === 'Cancelled'
          ? 'cancelled'
          : 'criticalStepFailed';
  return { ...snapshot, context: { ...context, rollbackTrigger: trigger } };
};

/**
 * Version 3 records run-time adjustments (dynamicStepAdjustment) and retries of a failed run
 * (`wfx retry`); a version 2 run had neither.
 */
const fromV2: Migration = (snapshot) => ({
  ...snapshot,
  context: {
    ...(snapshot.context as Record<string, unknown>),
    adjustments: [],
    retries: [],
    retryRefusal: null,
  },
});

/** What step-run offsets are counted from: the planning time (absent only in a broken context). */
export const originOf = (context: Record<string, unknown>): number => {
  const planning = isRecord(context['times']) ? context['times']['planning'] : null;
  return typeof planning === 'number' ? planning : 0;
};

export const EXECUTING = 'executing';

/** The state value as persisted: while executing, the step regions are left out. */
export function compactValue(value: unknown): unknown {
  return isRecord(value) && EXECUTING in value ? EXECUTING : value;
}

/** The full state value of a persisted one: each step's region is its run's status. */
export function fullValue(value: unknown, context: WorkflowContext, plan: ExecutionPlan): unknown {
  if (value !== EXECUTING) return value;
  return {
    [EXECUTING]: Object.fromEntries(
      plan.steps.map((s) => [stepKey(s.number), context.steps[String(s.number)]?.status]),
    ),
  };
}

/**
 * Version 4 persists each step run as a short string and leaves the step regions out of the state
 * value (issue 13). A version 3 snapshot whose regions disagree with its step runs is refused: it
 * could not be restored the same way.
 */
const fromV3: Migration = (snapshot) => {
  const context = snapshot.context as { steps: Record<string, StepRun> } & Record<string, unknown>;
  const value = snapshot.value;
  const regions = isRecord(value) && isRecord(value[EXECUTING]) ? value[EXECUTING] : {};
  for (const [n, run] of Object.entries(context.steps)) {
    const region = regions[stepKey(Number(n))];
    if (region !== undefined && region !== run.status)
      throw new Error(`the region of step ${n} is ${JSON.stringify(region)}, its run says ${run.status}`);
  }
  const origin = originOf(context);
  return {
    ...snapshot,
    value: compactValue(value),
    context: {
      ...context,
      steps: Object.fromEntries(
        Object.entries(context.steps).map(([n, run]) => [n, encodeStepRun(run, origin)]),
      ),
    },
  };
};

/** Version 5 added admission (target locks, storm limits): a version-4 run was never blocked. */
const fromV4: Migration = (snapshot) => ({
  ...snapshot,
  context: { ...(snapshot.context as Record<string, unknown>), admission: null },
});

/**
 * Version 6 asks timed-out and cancelled attempts to stop and records each request and its answer
 * (`stops`); a version 5 run asked none.
 */
const fromV5: Migration = (snapshot) => ({
  ...snapshot,
  context: { ...(snapshot.context as Record<string, unknown>), stops: [] },
});

/**
 * Version 7 monitors for "fixed" (issue 19): each effectiveness record says what it found of the
 * run's alert and Alertmanager, the stability window in force and since when the run was fixed, and
 * the context keeps Alertmanager's reachability. A version 6 record named no alert (its runs were
 * never asked to resolve one), had Alertmanager answer when it checked alerts at all, and its run was
 * not yet counted as stable: the window starts at its next check.
 */
const fromV6: Migration = (snapshot) => {
  const context = snapshot.context as Record<string, unknown>;
  const e = context['effectiveness'];
  return {
    ...snapshot,
    // What a version 6 snapshot lacks is filled in; nothing it has is changed.
    context: {
      alertmanager: null,
      ...context,
      effectiveness: isRecord(e)
        ? {
            alert: null,
            alertmanager: e['newAlertsTriggered'] === null ? 'notConfigured' : 'answered',
            stabilityWindowMs: 0,
            stableSince: null,
            ...e,
          }
        : null,
    },
  };
};

export const migrations: Readonly<Record<number, Migration>> = {
  0: fromV0,
  1: fromV1,
  2: fromV2,
  3: fromV3,
  4: fromV4,
  5: fromV5,
  6: fromV6,
};

/** The in-memory context of a persisted one: every step run decoded, or what is wrong, and where. */
export function contextOf(
  persisted: Record<string, unknown>,
  plan: ExecutionPlan,
): { ok: true; context: WorkflowContext } | { ok: false; message: string } {
  const steps = persisted['steps'];
  if (!isRecord(steps)) return { ok: false, message: 'the stored context has no step runs' };
  const planned = new Set(plan.steps.map((s) => String(s.number)));
  const missing = [...planned].find((n) => !(n in steps));
  if (missing !== undefined)
    return { ok: false, message: `context.steps: step ${missing} of the plan has no run` };
  const extra = Object.keys(steps).find((n) => !planned.has(n));
  if (extra !== undefined)
    return { ok: false, message: `context.steps.${extra}: step ${extra} is not in the plan` };
  const origin = originOf(persisted);
  const runs: Record<string, StepRun> = {};
  for (const [n, text] of Object.entries(steps)) {
    if (typeof text !== 'string')
      return { ok: false, message: `context.steps.${n}: the run of step ${n} is not a string` };
    const decoded = decodeStepRun(text, origin);
    if (!decoded.ok)
      return {
        ok: false,
        message: `context.steps.${n}: the run of step ${n} ${JSON.stringify(text)} cannot be read: ${decoded.problem}`,
      };
    runs[n] = decoded.run;
  }
  return { ok: true, context: { ...structuredClone(persisted), steps: runs } as unknown as WorkflowContext };
}
