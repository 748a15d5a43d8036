/** A workflow run driven by events, for tests: the state of the world, not calls. */
import type { WorkflowMachine, WorkflowSnapshot } from '../../machines/workflow.ts';
import type { StepRun } from '../../machines/context.ts';
import type { ResolvedSpec } from '../../src/api/resolved-spec.ts';
import type { EffectivenessObservation, WorkflowEvent } from '../../machines/events.ts';
import { machineOf } from '../../src/core/load.ts';
import { planWorkflow } from '../../src/core/plan.ts';
import type { ExecutionPlan } from '../../machines/plan.ts';
import {
  STATECHART_SCHEMA,
  advance,
  initialSnapshot,
  phaseOf,
  substateOf,
  type StatechartEnvelope,
} from '../../src/core/statechart.ts';

export const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);

/** What an effectiveness check says of targets that are fine: healthy, no new alerts. */
export const HEALTHY: EffectivenessObservation = {
  effective: true,
  score: 1,
  resourceHealth: 'healthy',
  newAlertsTriggered: false,
  alert: null,
  alertmanager: 'notConfigured',
  stabilityWindowMs: 0,
};

export function planOf(spec: ResolvedSpec): ExecutionPlan {
  const result = planWorkflow(spec);
  if (!result.ok) throw new Error(`invalid spec: ${JSON.stringify(result.issues)}`);
  return result.plan;
}

export interface World {
  plan: ExecutionPlan;
  machine: WorkflowMachine;
  snapshot: WorkflowSnapshot;
  /** Sends events; returns the world for chaining. */
  send(...events: WorkflowEvent[]): World;
  tick(now: number): World;
  succeed(step: number, now: number, attempt?: number): World;
  failStep(step: number, now: number, attempt?: number, message?: string): World;
  /** The effectiveness check's finding (by default: the targets healthy, no new alerts). */
  observe(now: number, observation?: EffectivenessObservation): World;
  readonly phase: string;
  readonly sub: string | null;
  run(step: number): StepRun;
  status(step: number): StepRun['status'];
}

/** What the checks say on a cluster where they all pass. */
export const checksPassed = (plan: ExecutionPlan, now: number): WorkflowEvent => ({
  type: 'SAFETY_RESULT',
  now,
  results: plan.safetyChecks.map((c) => ({
    type: c.type,
    required: c.required ?? true,
    result: 'passed' as const,
    message: `${c.type}: passed`,
  })),
});

/** What admission says when nothing holds the run back: its locks taken, no storm limit reached. */
export const admitted = (now: number): WorkflowEvent => ({
  type: 'ADMISSION_RESULT',
  now,
  verdict: { admitted: true },
});

export interface WorldOptions {
  /** Admission is answered by the test itself (ADMISSION_RESULT); by default the run is admitted. */
  admission?: 'admitted' | 'manual';
}

/**
 * Every workflow's safety checks run (DESIGN 12). A spec that lists no `safetyChecks` is run, in this
 * world, on a cluster where all of them pass: they are answered as the machine asks. A test that lists
 * them answers them itself (SAFETY_RESULT). Admission (target locks, storm limits) admits the run as
 * it asks, unless the test answers it itself (`admission: 'manual'`).
 */
export function world(spec: ResolvedSpec, start = T0, options: WorldOptions = {}): World {
  const plan = planOf(spec);
  const machine = machineOf(plan);
  const checksPass = spec.executionStrategy.safetyChecks === undefined;
  const admits = (options.admission ?? 'admitted') === 'admitted';
  const passed = (now: number) => checksPassed(plan, now);
  const w: World = {
    plan,
    machine,
    snapshot: initialSnapshot(machine, start),
    send(...events) {
      w.snapshot = advance(machine, w.snapshot, events);
      const last = events.at(-1);
      if (checksPass && last && phaseOf(w.snapshot) === 'validating' && substateOf(w.snapshot) === 'safety')
        w.snapshot = advance(machine, w.snapshot, [passed(last.now)]);
      if (admits && last && phaseOf(w.snapshot) === 'validating' && substateOf(w.snapshot) === 'admission')
        w.snapshot = advance(machine, w.snapshot, [admitted(last.now)]);
      return w;
    },
    tick: (now) => w.send({ type: 'TICK', now }),
    succeed: (step, now, attempt) =>
      w.send({
        type: 'STEP_RESULT',
        now,
        step,
        attempt: attempt ?? w.run(step).attempt,
        outcome: 'succeeded',
      }),
    failStep: (step, now, attempt, message = 'boom') =>
      w.send({
        type: 'STEP_RESULT',
        now,
        step,
        attempt: attempt ?? w.run(step).attempt,
        outcome: 'failed',
        message,
      }),
    observe: (now, observation = HEALTHY) => w.send({ type: 'EFFECTIVENESS_RESULT', now, ...observation }),
    get phase() {
      return phaseOf(w.snapshot);
    },
    get sub() {
      return substateOf(w.snapshot);
    },
    run(step) {
      const run = w.snapshot.context.steps[String(step)];
      if (!run) throw new Error(`no step ${step}`);
      return run;
    },
    status: (step) => w.run(step).status,
  };
  return w;
}

/**
 * The envelope as machine versions 0 to 3 wrote it (the shape of their context aside): the
 * snapshot's status, full state value and context, as plain JSON.
 */
export function legacyEnvelope(
  snapshot: WorkflowSnapshot,
  hash: string,
  machineVersion: number,
): StatechartEnvelope {
  const { status, value, context } = snapshot;
  return {
    schema: STATECHART_SCHEMA,
    machineVersion,
    specHash: hash,
    snapshot: JSON.parse(JSON.stringify({ status, value, context })) as Record<string, unknown>,
  };
}
