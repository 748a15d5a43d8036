/**
 * The statechart's life in the resource: rehydrate the persisted envelope (refusing anything it
 * cannot trust), advance it with observed events through XState's pure `transition`, and persist it
 * back as small, plain JSON.
 */
import { createActor, initialTransition, type ActorScope } from 'xstate';
import {
  MACHINE_VERSION,
  PHASES,
  type Phase,
  type WorkflowMachine,
  type WorkflowSnapshot,
} from '../../machines/workflow.ts';
import type { WorkflowContext } from '../../machines/context.ts';
import type { ExecutionPlan } from '../../machines/plan.ts';
import type { WorkflowEvent } from '../../machines/events.ts';
import {
  EXECUTING,
  compactValue,
  contextOf,
  fullValue,
  migrations,
  type Migration,
  type PersistedSnapshot,
} from './persisted-snapshot.ts';
import { encodeStepRun } from './persisted-step-run.ts';
import { canonicalJson } from './spec-hash.ts';
import { isRecord } from '../api/json.ts';

export const STATECHART_SCHEMA = 'workflowexecution.kubernaut.io/statechart/v1';

export interface StatechartEnvelope {
  schema: string;
  machineVersion: number;
  specHash: string;
  snapshot: Record<string, unknown>;
}

export type RehydrateRefusal =
  'UnknownSchema' | 'UnsupportedMachineVersion' | 'SpecHashMismatch' | 'SnapshotError' | 'StateMismatch';

export type RehydrateResult =
  | { ok: true; snapshot: WorkflowSnapshot; migratedFrom?: number }
  | { ok: false; reason: RehydrateRefusal; message: string };

/** The initial snapshot: planning, started at `now`. */
export function initialSnapshot(machine: WorkflowMachine, now: number): WorkflowSnapshot {
  return initialTransition(machine, { now })[0];
}

/** What a snapshot is restored into: the machine of the spec with this hash, built from this plan. */
export interface RehydrateTarget {
  machine: WorkflowMachine;
  hash: string;
  plan: ExecutionPlan;
}

export function rehydrate(
  envelope: StatechartEnvelope | undefined,
  { machine, hash: specHash, plan }: RehydrateTarget,
  now = 0,
  migrationTable: Readonly<Record<number, Migration>> = migrations,
): RehydrateResult {
  if (envelope === undefined) return { ok: true, snapshot: initialSnapshot(machine, now) };
  if (envelope.schema !== STATECHART_SCHEMA) {
    return {
      ok: false,
      reason: 'UnknownSchema',
      message: `statechart schema ${JSON.stringify(envelope.schema)} is not ${STATECHART_SCHEMA}`,
    };
  }
  if (envelope.specHash !== specHash) {
    return {
      ok: false,
      reason: 'SpecHashMismatch',
      message: `the statechart was built for spec ${envelope.specHash}, the spec is now ${specHash}`,
    };
  }
  let persisted = envelope.snapshot as PersistedSnapshot;
  let version = envelope.machineVersion;
  const from = version;
  if (!Number.isInteger(version) || version > MACHINE_VERSION) {
    return {
      ok: false,
      reason: 'UnsupportedMachineVersion',
      message: `machine version ${version} is newer than this operator's (${MACHINE_VERSION})`,
    };
  }
  while (version < MACHINE_VERSION) {
    const migrate = migrationTable[version];
    if (!migrate) {
      return {
        ok: false,
        reason: 'UnsupportedMachineVersion',
        message: `no migration from machine version ${version} to ${MACHINE_VERSION}`,
      };
    }
    try {
      persisted = migrate(persisted, plan);
    } catch (error) {
      return {
        ok: false,
        reason: 'UnsupportedMachineVersion',
        message: `migration from machine version ${version} failed: ${(error as Error).message}`,
      };
    }
    version += 1;
  }
  if (!isRecord(persisted) || persisted.status === 'error') {
    return {
      ok: false,
      reason: 'SnapshotError',
      message: `the stored snapshot is in error${isRecord(persisted) && persisted['error'] !== undefined ? `: ${JSON.stringify(persisted['error'])}` : ''}`,
    };
  }
  if (!isRecord(persisted.context) || persisted.value === undefined) {
    return {
      ok: false,
      reason: 'SnapshotError',
      message: 'the stored snapshot has no state value or context',
    };
  }
  const context = contextOf(persisted.context, plan);
  if (!context.ok) return { ok: false, reason: 'SnapshotError', message: context.message };
  if (compactValue(persisted.value) !== persisted.value) {
    return {
      ok: false,
      reason: 'StateMismatch',
      message: `the stored state ${JSON.stringify(persisted.value)} has step regions: since machine version 4 it is ${JSON.stringify(EXECUTING)}, the regions rebuilt from the step runs`,
    };
  }
  const value = fullValue(persisted.value, context.context, plan);
  let snapshot: WorkflowSnapshot;
  try {
    snapshot = machine.resolveState({
      value: value as WorkflowSnapshot['value'],
      context: context.context,
      status: persisted.status === 'done' ? 'done' : 'active',
    });
  } catch (error) {
    return {
      ok: false,
      reason: 'StateMismatch',
      message: `the stored state ${JSON.stringify(value)} does not exist in this machine: ${(error as Error).message}`,
    };
  }
  if (canonicalJson(snapshot.value) !== canonicalJson(value)) {
    return {
      ok: false,
      reason: 'StateMismatch',
      message: `the stored state ${JSON.stringify(value)} restores as ${JSON.stringify(snapshot.value)}`,
    };
  }
  return from === MACHINE_VERSION ? { ok: true, snapshot } : { ok: true, snapshot, migratedFrom: from };
}

type WorkflowScope = ActorScope<WorkflowSnapshot, WorkflowEvent>;

/**
 * One inert actor scope per machine, as xstate's pure `transition` makes for every call: making it
 * builds an actor, which computes the machine's whole initial snapshot (every step region's entry),
 * a quarter of each event's cost on a 60-step workflow. The scope executes nothing (every action is
 * an `assign`, resolved inside the transition) and spawns nothing, so sharing it changes no result.
 */
const scopes = new WeakMap<WorkflowMachine, WorkflowScope>();

function inertScopeOf(machine: WorkflowMachine): WorkflowScope {
  const known = scopes.get(machine);
  if (known) return known;
  const self = createActor(machine);
  const scope: WorkflowScope = {
    self,
    id: '',
    sessionId: '',
    logger: () => undefined,
    defer: () => undefined,
    emit: () => undefined,
    system: self.system,
    stopChild: () => undefined,
    actionExecutor: () => undefined,
  };
  scopes.set(machine, scope);
  return scope;
}

/** Folds events through the machine (pure `transition`; no action is executed: all are `assign`). */
export function advance(
  machine: WorkflowMachine,
  snapshot: WorkflowSnapshot,
  events: readonly WorkflowEvent[],
): WorkflowSnapshot {
  const scope = inertScopeOf(machine);
  let current = snapshot;
  for (const event of events) current = machine.transition(current, event, scope);
  return current;
}

/**
 * The envelope for `status.statechart`: plain JSON, nothing but status, value and context, with
 * the step runs as short strings and no step regions (see PersistedSnapshot).
 */
export function persist(snapshot: WorkflowSnapshot, specHash: string): StatechartEnvelope {
  const { status, value, context } = snapshot;
  const origin = context.times.planning ?? 0;
  const steps = Object.fromEntries(
    Object.entries(context.steps).map(([n, run]) => [n, encodeStepRun(run, origin)]),
  );
  const persisted: PersistedSnapshot = { status, value: compactValue(value), context: { ...context, steps } };
  return {
    schema: STATECHART_SCHEMA,
    machineVersion: MACHINE_VERSION,
    specHash,
    snapshot: JSON.parse(JSON.stringify(persisted)) as Record<string, unknown>,
  };
}

/** The active top-level state: the phase. */
export function phaseOf(snapshot: { value: unknown }): Phase {
  const value = snapshot.value;
  const key = typeof value === 'string' ? value : isRecord(value) ? Object.keys(value)[0] : undefined;
  const phase = PHASES.find((p) => p === key);
  if (!phase) throw new Error(`state ${JSON.stringify(value)} is not a phase`);
  return phase;
}

/** The active substate of a compound phase (e.g. `approval` in validating), or null. */
export function substateOf(snapshot: { value: unknown }): string | null {
  const value = snapshot.value;
  if (!isRecord(value)) return null;
  const inner = Object.values(value)[0];
  return typeof inner === 'string' ? inner : null;
}

/** The latest time the context records: the time of the last event that changed anything. */
export function lastEventTime(context: WorkflowContext): number {
  const times: number[] = [];
  for (const t of Object.values(context.times) as (number | null)[]) if (t !== null) times.push(t);
  for (const run of Object.values(context.steps)) {
    for (const t of [
      run.startedAt,
      run.finishedAt,
      run.rollback?.startedAt ?? null,
      run.rollback?.finishedAt ?? null,
    ])
      if (t !== null) times.push(t);
  }
  for (const r of context.safety ?? []) times.push(r.checkedAt);
  for (const r of Object.values(context.dryRun)) times.push(r.at);
  if (context.approval) times.push(context.approval.at);
  if (context.effectiveness) times.push(context.effectiveness.at);
  if (context.abort) times.push(context.abort.at);
  for (const a of context.adjustments) times.push(a.at);
  for (const r of context.retries) times.push(r.at);
  if (context.retryRefusal) times.push(context.retryRefusal.at);
  for (const s of context.stops) {
    times.push(s.at);
    if (s.endedAt !== null) times.push(s.endedAt);
  }
  return times.length === 0 ? 0 : Math.max(...times);
}
