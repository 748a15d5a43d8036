/**
 * What every guard and action of the workflow machine reads besides its context and event: the plan,
 * the text that words records and the run-time rules. Guards and actions are written as named
 * functions of (scope, { context, event }, params), grouped by concept beside this file, and bound to
 * one plan's scope as the machine is set up (machines/workflow.ts), so each reads on its own.
 */
import { assign, type ActionFunction, type ParameterizedObject } from 'xstate';
import {
  attemptsBeforeRetry,
  effectiveStep,
  nowOf,
  runOf,
  type StepRun,
  type WorkflowContext,
} from '../context.ts';
import type { WorkflowEvent } from '../events.ts';
import type { ExecutionPlan, PlannedStep } from '../plan.ts';
import type { RunTimeRules } from '../rules.ts';
import type { MachineText } from '../text.ts';

export interface Scope {
  plan: ExecutionPlan;
  /** Words what the machine records (the core's WORKFLOW_TEXT). */
  text: MachineText;
  /** Decide run-time adjustments (the core's RUN_TIME_RULES). */
  rules: RunTimeRules;
  hasStep: (n: number) => boolean;
  /** The step as planned; throws for a number the plan does not have (a machine built wrong). */
  stepOf: (n: number) => PlannedStep;
}

export function scopeOf(plan: ExecutionPlan, text: MachineText, rules: RunTimeRules): Scope {
  const byNumber = new Map(plan.steps.map((s) => [s.number, s]));
  return {
    plan,
    text,
    rules,
    hasStep: (n) => byNumber.has(n),
    stepOf: (n) => {
      const step = byNumber.get(n);
      if (!step) throw new Error(`step ${n} is not in the plan`);
      return step;
    },
  };
}

/** What XState gives a guard or an action: the context and the event being taken. */
export interface Args {
  context: WorkflowContext;
  event: WorkflowEvent;
}

/** A guard: whether a transition is taken. */
export type Guard<P = undefined> = (scope: Scope, args: Args, params: P) => boolean;
/** An action: what it assigns to the context (every action is an `assign`, so `transition()` is pure). */
export type Update<P = undefined> = (scope: Scope, args: Args, params: P) => Partial<WorkflowContext>;

/** The parameters of a step's guards and actions: which step's region or rollback state. */
export interface StepParams {
  step: number;
}

type Params = ParameterizedObject['params'] | undefined;
type BoundGuards<T> = {
  [K in keyof T]: T[K] extends Guard<infer P> ? (args: Args, params: P) => boolean : never;
};
type BoundActions<T> = {
  [K in keyof T]: T[K] extends Update<infer P extends Params>
    ? ActionFunction<WorkflowContext, WorkflowEvent, WorkflowEvent, P, never, never, never, never, never>
    : never;
};

/** The guards, as XState's `setup({ guards })` takes them, reading this scope. */
export function bindGuards<T extends Record<string, Guard<never>>>(scope: Scope, guards: T): BoundGuards<T> {
  const bound = Object.entries(guards).map(([name, guard]) => [
    name,
    (args: Args, params: never) => guard(scope, args, params),
  ]);
  return Object.fromEntries(bound) as BoundGuards<T>;
}

/** The actions, as XState's `setup({ actions })` takes them: each an `assign` reading this scope. */
export function bindActions<T extends Record<string, Update<never>>>(
  scope: Scope,
  updates: T,
): BoundActions<T> {
  const bound = Object.entries(updates).map(([name, update]) => [
    name,
    assign<WorkflowContext, WorkflowEvent, never, WorkflowEvent, never>((args, params) =>
      update(scope, args, params),
    ),
  ]);
  return Object.fromEntries(bound) as BoundActions<T>;
}

/** The event's time (every event the operator sends carries one). */
export const now = (event: WorkflowEvent): number => nowOf(event) ?? 0;

/** Whether a phase entered at `start` has outlived its limit by the event's time. */
export function expired(start: number | null, limitMs: number, event: WorkflowEvent): boolean {
  const t = nowOf(event);
  return start !== null && t !== null && t >= start + limitMs;
}

export function mustRun(context: WorkflowContext, n: number): StepRun {
  const run = runOf(context, n);
  if (!run) throw new Error(`step ${n} has no run record`);
  return run;
}

/** The context's steps with step `n`'s run patched. */
export const withRun = (
  context: WorkflowContext,
  n: number,
  patch: Partial<StepRun>,
): WorkflowContext['steps'] => ({
  ...context.steps,
  [String(n)]: { ...mustRun(context, n), ...patch },
});

/** The step with what was adjusted at run time: every guard and deadline reads this one. */
export const effectiveOf = (scope: Scope, context: WorkflowContext, n: number): PlannedStep =>
  effectiveStep(scope.stepOf(n), context);

/** Attempts in this run segment: a retry of the run gives each re-run step its retries again. */
export const segmentAttempt = (context: WorkflowContext, n: number): number =>
  mustRun(context, n).attempt - attemptsBeforeRetry(context, n);
