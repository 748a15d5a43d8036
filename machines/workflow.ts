/**
 * The WorkflowExecution statechart (DESIGN 4), generated from an execution plan: one parallel
 * region per step while executing, one state per rollback candidate while rolling back.
 *
 * Pure: no `after`, no `invoke`, no clock. Every event carries `now`; deadlines live in context and
 * are checked by guards on every event. Every action is an `assign`, so XState's pure
 * `transition()` computes everything and nothing needs executing.
 */
import { assign, setup } from 'xstate';
import type { PHASES } from '../src/api/schema/workflowexecution.ts';
import {
  allSettled,
  attemptDeadline,
  backoffMs,
  dependenciesSucceeded,
  dependencyBlocked,
  effectiveStep,
  hasRollbackWork,
  initialContext,
  noOverdueAttempt,
  nowOf,
  runOf,
  safetyVerdict,
  sanitizeResult,
  type AbortCode,
  type FailureCode,
  type RollbackTrigger,
  type StepRun,
  type WorkflowContext,
  type WorkflowInput,
} from './context.ts';
import type { WorkflowEvent } from './events.ts';
import type { ExecutionPlan, PlannedStep } from './plan.ts';
import type { RunTimeRules } from './rules.ts';
import type { MachineText } from './text.ts';

/**
 * Bump when the machine's states or context change shape, add a migration in src/core/statechart.ts
 * and record the new fingerprint in test/unit/machine-version.test.ts.
 */
export const MACHINE_VERSION = 3;

export const MACHINE_ID = 'workflow';
/** The top-level states are the resource's phases, as the schema lists them. */
export { PHASES } from '../src/api/schema/workflowexecution.ts';
export type Phase = (typeof PHASES)[number];

/** State keys: a step's region while executing, and its state while rolling back. */
export const stepKey = (step: number): string => `step${step}`;

type StepParams = { step: number };
type FailParams = { code: FailureCode };
type RollbackParams = { trigger: 'fromAbort' | 'requested' };

function expired(start: number | null, limitMs: number, event: WorkflowEvent): boolean {
  const now = nowOf(event);
  return start !== null && now !== null && now >= start + limitMs;
}

function setupFor(plan: ExecutionPlan, text: MachineText, rules: RunTimeRules) {
  const byNumber = new Map(plan.steps.map((s) => [s.number, s]));
  const stepOf = (n: number): PlannedStep => {
    const step = byNumber.get(n);
    if (!step) throw new Error(`step ${n} is not in the plan`);
    return step;
  };
  const mustRun = (context: WorkflowContext, n: number): StepRun => {
    const run = runOf(context, n);
    if (!run) throw new Error(`step ${n} has no run record`);
    return run;
  };
  const withRun = (
    context: WorkflowContext,
    n: number,
    patch: Partial<StepRun>,
  ): WorkflowContext['steps'] => ({
    ...context.steps,
    [String(n)]: { ...mustRun(context, n), ...patch },
  });
  const now = (event: WorkflowEvent): number => nowOf(event) ?? 0;
  const currentResult = (context: WorkflowContext, event: WorkflowEvent, n: number) =>
    event.type === 'STEP_RESULT' &&
    event.step === n &&
    runOf(context, n)?.status === 'running' &&
    event.attempt === runOf(context, n)?.attempt
      ? event
      : null;
  /** The step with what was adjusted at run time: every guard and deadline reads this one. */
  const effectiveOf = (context: WorkflowContext, n: number): PlannedStep => effectiveStep(stepOf(n), context);
  const retriesLeft = (context: WorkflowContext, n: number) =>
    context.abort === null && mustRun(context, n).attempt <= effectiveOf(context, n).maxRetries;
  const overdue = (context: WorkflowContext, event: WorkflowEvent, n: number) => {
    const deadline = attemptDeadline(context, stepOf(n));
    const t = nowOf(event);
    return deadline !== null && t !== null && t >= deadline;
  };
  const rollbackOverdue = (context: WorkflowContext, event: WorkflowEvent, n: number) => {
    const rb = runOf(context, n)?.rollback;
    const timeout = stepOf(n).rollback?.timeoutMs;
    return rb?.status === 'running' && timeout !== undefined && expired(rb.startedAt, timeout, event);
  };

  /** What a failed or timed-out attempt leaves on its step, whatever is decided next. */
  const failedAttempt = (context: WorkflowContext, event: WorkflowEvent, n: number) => {
    const planned = effectiveOf(context, n);
    const run = mustRun(context, n);
    const reported = event.type === 'STEP_RESULT' && event.step === n ? event : null;
    return {
      finishedAt: now(event),
      message: reported
        ? (reported.message ?? text.attemptFailed(run.attempt))
        : text.attemptTimedOut(run.attempt, planned),
      result: reported?.result ? sanitizeResult(planned, reported.result) : run.result,
    };
  };

  return setup({
    types: {
      context: {} as WorkflowContext,
      events: {} as WorkflowEvent,
      input: {} as WorkflowInput | undefined,
    },
    guards: {
      observed: ({ event }) => typeof (event as { now?: unknown }).now === 'number',
      planningExpired: ({ context, event }) =>
        expired(context.times.planning, plan.timeouts.planningMs, event),
      validationExpired: ({ context, event }) =>
        expired(context.times.validating, plan.timeouts.validationMs, event),
      safetyFailed: ({ event }) =>
        event.type === 'SAFETY_RESULT' && safetyVerdict(event.results) === 'failed',
      safetyPassed: ({ event }) =>
        event.type === 'SAFETY_RESULT' && safetyVerdict(event.results) === 'passed',
      dryRunFailed: ({ context, event }) =>
        event.type === 'DRYRUN_RESULT' &&
        byNumber.has(event.step) &&
        context.dryRun[String(event.step)] === undefined &&
        event.outcome === 'failed',
      dryRunNew: ({ context, event }) =>
        event.type === 'DRYRUN_RESULT' &&
        byNumber.has(event.step) &&
        context.dryRun[String(event.step)] === undefined,
      allDryRunsSucceeded: ({ context }) =>
        plan.steps.every((s) => context.dryRun[String(s.number)]?.outcome === 'succeeded'),
      blocked: ({ context }, { step }: StepParams) =>
        context.abort !== null || dependencyBlocked(stepOf(step), context),
      canStart: ({ context, event }, { step }: StepParams) =>
        context.abort === null &&
        dependenciesSucceeded(stepOf(step), context) &&
        noOverdueAttempt(plan, context, now(event)),
      resultSucceeded: ({ context, event }, { step }: StepParams) =>
        currentResult(context, event, step)?.outcome === 'succeeded',
      resultFailedWithRetry: ({ context, event }, { step }: StepParams) =>
        currentResult(context, event, step)?.outcome === 'failed' && retriesLeft(context, step),
      resultFailed: ({ context, event }, { step }: StepParams) =>
        currentResult(context, event, step)?.outcome === 'failed',
      overdueWithRetry: ({ context, event }, { step }: StepParams) =>
        overdue(context, event, step) && retriesLeft(context, step),
      overdue: ({ context, event }, { step }: StepParams) => overdue(context, event, step),
      aborting: ({ context }) => context.abort !== null,
      notAborting: ({ context }) => context.abort === null,
      retryDue: ({ context, event }, { step }: StepParams) => {
        const retryAt = runOf(context, step)?.retryAt ?? null;
        const t = nowOf(event);
        return (
          context.abort === null &&
          retryAt !== null &&
          t !== null &&
          t >= retryAt &&
          noOverdueAttempt(plan, context, t)
        );
      },
      settledAbortedWithRollback: ({ context }) =>
        allSettled(context) && context.abort !== null && hasRollbackWork(plan, context),
      settledAborted: ({ context }) => allSettled(context) && context.abort !== null,
      settledClean: ({ context }) => allSettled(context) && context.abort === null,
      newAlerts: ({ event }) => event.type === 'EFFECTIVENESS_RESULT' && event.newAlertsTriggered === true,
      effective: ({ event }) => event.type === 'EFFECTIVENESS_RESULT' && event.effective,
      monitoringExpired: ({ context, event }) =>
        expired(context.times.monitoring, plan.timeouts.monitoringMs, event),
      rollbackNotNeeded: ({ context }, { step }: StepParams) =>
        runOf(context, step)?.rollback?.status !== 'running',
      rollbackOverdue: ({ context, event }, { step }: StepParams) => rollbackOverdue(context, event, step),
      rollbackSucceeded: ({ context, event }, { step }: StepParams) =>
        event.type === 'ROLLBACK_RESULT' &&
        event.step === step &&
        event.outcome === 'succeeded' &&
        runOf(context, step)?.rollback?.status === 'running',
      rollbackFailed: ({ context, event }, { step }: StepParams) =>
        event.type === 'ROLLBACK_RESULT' &&
        event.step === step &&
        event.outcome === 'failed' &&
        runOf(context, step)?.rollback?.status === 'running',
    },
    actions: {
      enterValidating: assign(({ context, event }) => ({
        times: { ...context.times, validating: now(event) },
      })),
      recordSafety: assign(({ event }) =>
        event.type === 'SAFETY_RESULT'
          ? { safety: event.results.map((r) => ({ ...r, checkedAt: event.now })) }
          : {},
      ),
      fail: assign(({ context, event }, { code }: FailParams) => ({
        failure: { code, message: text.failure(code, { plan, context, event }) },
        outcome: code === 'Ineffective' ? ('ineffective' as const) : ('failed' as const),
      })),
      recordDryRun: assign(({ context, event }) =>
        event.type === 'DRYRUN_RESULT'
          ? {
              dryRun: {
                ...context.dryRun,
                [String(event.step)]: {
                  outcome: event.outcome,
                  message: event.message ?? null,
                  at: event.now,
                },
              },
            }
          : {},
      ),
      approve: assign(({ event }) =>
        event.type === 'APPROVED' ? { approval: { by: event.by, at: event.now } } : {},
      ),
      enterExecuting: assign(({ context, event }) => ({
        times: { ...context.times, executing: now(event) },
      })),
      startAttempt: assign(({ context, event }, { step }: StepParams) => {
        const first = mustRun(context, step).attempt === 0;
        // Decided once, as the step is about to start, from what this run's earlier steps did.
        const decided =
          first && plan.dynamicStepAdjustment ? rules.beforeFirstAttempt(stepOf(step), plan, context) : [];
        return {
          steps: withRun(context, step, {
            status: 'running',
            attempt: mustRun(context, step).attempt + 1,
            startedAt: now(event),
            finishedAt: null,
            retryAt: null,
          }),
          ...(decided.length > 0
            ? { adjustments: [...context.adjustments, ...decided.map((a) => ({ ...a, at: now(event) }))] }
            : {}),
        };
      }),
      recordSuccess: assign(({ context, event }, { step }: StepParams) => {
        const result =
          event.type === 'STEP_RESULT' && event.result ? sanitizeResult(stepOf(step), event.result) : null;
        return {
          steps: withRun(context, step, {
            status: 'succeeded',
            finishedAt: now(event),
            message: event.type === 'STEP_RESULT' ? (event.message ?? null) : null,
            result,
          }),
        };
      }),
      recordRetry: assign(({ context, event }, { step }: StepParams) => {
        const run = mustRun(context, step);
        const t = now(event);
        return {
          steps: withRun(context, step, {
            ...failedAttempt(context, event, step),
            status: 'backoff',
            retryAt: t + backoffMs(plan, run.attempt),
          }),
        };
      }),
      recordFinalFailure: assign(({ context, event }, { step }: StepParams) => {
        const planned = stepOf(step);
        const failed = failedAttempt(context, event, step);
        const abort =
          planned.critical && context.abort === null
            ? {
                code: 'CriticalStepFailed' as AbortCode,
                message: text.criticalStepFailed(planned, failed.message),
                at: failed.finishedAt,
              }
            : context.abort;
        return { steps: withRun(context, step, { ...failed, status: 'failed' }), abort };
      }),
      skip: assign(({ context, event }, { step }: StepParams) => ({
        steps: withRun(context, step, {
          status: 'skipped',
          finishedAt: now(event),
          message: text.notStarted(
            stepOf(step),
            context.abort?.code ?? null,
            stepOf(step).dependsOn.filter((d) =>
              ['failed', 'skipped'].includes(runOf(context, d)?.status ?? ''),
            ),
          ),
        }),
      })),
      abandon: assign(({ context, event }, { step }: StepParams) => ({
        steps: withRun(context, step, {
          status: 'failed',
          retryAt: null,
          finishedAt: now(event),
          message: text.notRetried(mustRun(context, step).message, context.abort?.code ?? null),
        }),
      })),
      requestCancel: assign(({ event }) =>
        event.type === 'CANCEL_REQUESTED'
          ? { abort: { code: 'Cancelled' as AbortCode, message: text.cancelled(event.by), at: event.now } }
          : {},
      ),
      settleAbort: assign(({ context }) =>
        context.abort
          ? {
              failure: { code: context.abort.code as FailureCode, message: context.abort.message },
              outcome: 'failed' as const,
            }
          : {},
      ),
      enterMonitoring: assign(({ context, event }) => ({
        times: { ...context.times, monitoring: now(event) },
      })),
      recordEffectiveness: assign(({ event }) =>
        event.type === 'EFFECTIVENESS_RESULT'
          ? {
              effectiveness: {
                effective: event.effective,
                score: event.score,
                resourceHealth: event.resourceHealth,
                newAlertsTriggered: event.newAlertsTriggered,
                at: event.now,
              },
            }
          : {},
      ),
      complete: assign(({ context }, { verdict }: { verdict: 'effective' | 'deadline' }) => ({
        outcome:
          verdict === 'deadline'
            ? ('unknown' as const)
            : Object.values(context.steps).every((s) => s.status === 'succeeded')
              ? ('success' as const)
              : ('partial_success' as const),
      })),
      finish: assign(({ context, event }) =>
        context.times.finished === null ? { times: { ...context.times, finished: now(event) } } : {},
      ),
      beginRollback: assign(({ context, event }, params: RollbackParams) => {
        const trigger: RollbackTrigger =
          params.trigger === 'requested'
            ? 'requested'
            : context.abort?.code === 'Cancelled'
              ? 'cancelled'
              : 'criticalStepFailed';
        return {
          times: { ...context.times, rollingBack: now(event) },
          rollbackTrigger: trigger,
          rollbackReason: text.rollbackReason(trigger, { plan, context, event }),
        };
      }),
      startRollbackStep: assign(({ context, event }, { step }: StepParams) => {
        const run = mustRun(context, step);
        return run.status === 'succeeded' && run.rollback === null
          ? {
              steps: withRun(context, step, {
                rollback: { status: 'running', startedAt: now(event), finishedAt: null, message: null },
              }),
            }
          : {};
      }),
      recordRollback: assign(({ context, event }, { step }: StepParams) => {
        const rb = mustRun(context, step).rollback;
        if (!rb) return {};
        const ok = event.type === 'ROLLBACK_RESULT' && event.outcome === 'succeeded';
        const message =
          event.type === 'ROLLBACK_RESULT' ? (event.message ?? null) : text.rollbackTimedOut(stepOf(step));
        return {
          steps: withRun(context, step, {
            rollback: { ...rb, status: ok ? 'rolledBack' : 'failed', finishedAt: now(event), message },
          }),
        };
      }),
    },
  });
}

type WorkflowSetup = ReturnType<typeof setupFor>;
type MachineConfig = Parameters<WorkflowSetup['createMachine']>[0];
type StateConfig = NonNullable<MachineConfig['states']>[string];
type TransitionList = NonNullable<StateConfig['always']>;
type TransitionArray = Extract<TransitionList, readonly unknown[]>;

const FAILED = `#${MACHINE_ID}.failed.terminal`;
const fail = (code: FailureCode) => ({ type: 'fail', params: { code } }) as const;

function stepRegion(step: PlannedStep, plan: ExecutionPlan): StateConfig {
  const params = { step: step.number };
  // With run-time adjustment, retries may be raised before the step starts.
  const retries = step.maxRetries > 0 || plan.dynamicStepAdjustment;
  // A step without dependencies starts as execution starts: it can never be skipped.
  const skippable = step.dependsOn.length > 0;
  /** A failed attempt (reported or overdue): retried while retries are left, else final. */
  const attemptFailed = (
    withRetry: 'resultFailedWithRetry' | 'overdueWithRetry',
    final: 'resultFailed' | 'overdue',
  ): TransitionArray => [
    ...(retries
      ? [
          {
            guard: { type: withRetry, params },
            target: 'backoff',
            actions: { type: 'recordRetry', params },
          } as const,
        ]
      : []),
    {
      guard: { type: final, params },
      target: 'failed',
      actions: { type: 'recordFinalFailure', params },
    } as const,
  ];
  return {
    initial: 'pending',
    states: {
      pending: {
        always: [
          ...(skippable
            ? [
                {
                  guard: { type: 'blocked', params },
                  target: 'skipped',
                  actions: { type: 'skip', params },
                } as const,
              ]
            : []),
          {
            guard: { type: 'canStart', params },
            target: 'running',
            actions: { type: 'startAttempt', params },
          },
        ],
      },
      running: {
        on: {
          STEP_RESULT: [
            {
              guard: { type: 'resultSucceeded', params },
              target: 'succeeded',
              actions: { type: 'recordSuccess', params },
            },
            ...attemptFailed('resultFailedWithRetry', 'resultFailed'),
          ],
        },
        always: attemptFailed('overdueWithRetry', 'overdue'),
      },
      ...(retries
        ? {
            backoff: {
              always: [
                { guard: 'aborting', target: 'failed', actions: { type: 'abandon', params } },
                {
                  guard: { type: 'retryDue', params },
                  target: 'running',
                  actions: { type: 'startAttempt', params },
                },
              ],
            } satisfies StateConfig,
          }
        : {}),
      succeeded: {},
      failed: {},
      ...(skippable ? { skipped: {} } : {}),
    },
  };
}

/** Steps whose rollback this plan may ever run, in rollback order. */
export function rollbackSteps(plan: ExecutionPlan): number[] {
  if (plan.rollbackStrategy === 'none') return [];
  const byNumber = new Map(plan.steps.map((s) => [s.number, s]));
  return plan.rollbackOrder.filter((n) => byNumber.get(n)?.rollback != null);
}

function rollingBack(plan: ExecutionPlan): StateConfig {
  const order = rollbackSteps(plan);
  const first = order[0];
  if (first === undefined) return { always: { target: FAILED } };
  const states: Record<string, StateConfig> = {};
  order.forEach((n, i) => {
    const params = { step: n };
    const following = order[i + 1];
    const next = following === undefined ? FAILED : stepKey(following);
    states[stepKey(n)] = {
      entry: { type: 'startRollbackStep', params },
      always: [
        { guard: { type: 'rollbackNotNeeded', params }, target: next },
        {
          guard: { type: 'rollbackOverdue', params },
          target: FAILED,
          actions: [{ type: 'recordRollback', params }, fail('RollbackFailed')],
        },
      ],
      on: {
        ROLLBACK_RESULT: [
          {
            guard: { type: 'rollbackSucceeded', params },
            target: next,
            actions: { type: 'recordRollback', params },
          },
          {
            guard: { type: 'rollbackFailed', params },
            target: FAILED,
            actions: [{ type: 'recordRollback', params }, fail('RollbackFailed')],
          },
        ],
      },
    };
  });
  return { initial: stepKey(first), states };
}

function validating(plan: ExecutionPlan): StateConfig {
  const order = [
    'safety',
    ...(plan.dryRunFirst ? ['dryRun'] : []),
    ...(plan.approvalRequired ? ['approval'] : []),
  ];
  const after = (name: string) => {
    const next = order[order.indexOf(name) + 1];
    return next ?? `#${MACHINE_ID}.executing`;
  };
  const waits = plan.safetyChecks.length > 0 || plan.dryRunFirst || plan.approvalRequired;
  const timeout = { guard: 'validationExpired', target: FAILED, actions: fail('ValidationTimeout') } as const;
  const states: Record<string, StateConfig> = {
    safety:
      plan.safetyChecks.length === 0
        ? { always: { target: after('safety') } }
        : {
            always: [timeout],
            on: {
              SAFETY_RESULT: [
                timeout,
                {
                  guard: 'safetyFailed',
                  target: FAILED,
                  actions: ['recordSafety', fail('SafetyCheckFailed')],
                },
                { guard: 'safetyPassed', target: after('safety'), actions: 'recordSafety' },
              ],
            },
          },
  };
  if (plan.dryRunFirst) {
    states['dryRun'] = {
      always: [timeout, { guard: 'allDryRunsSucceeded', target: after('dryRun') }],
      on: {
        DRYRUN_RESULT: [
          timeout,
          { guard: 'dryRunFailed', target: FAILED, actions: ['recordDryRun', fail('DryRunFailed')] },
          { guard: 'dryRunNew', actions: 'recordDryRun' },
        ],
      },
    };
  }
  if (plan.approvalRequired) {
    states['approval'] = {
      always: [timeout],
      on: {
        APPROVED: [timeout, { target: after('approval'), actions: 'approve' }],
        REJECTED: [timeout, { target: FAILED, actions: fail('Rejected') }],
      },
    };
  }
  return {
    entry: 'enterValidating',
    initial: 'safety',
    // Without checks, dry run or approval, validation passes within one event: nothing to cancel.
    ...(waits ? { on: { CANCEL_REQUESTED: { target: FAILED, actions: fail('Cancelled') } } } : {}),
    states,
  };
}

function executing(plan: ExecutionPlan): StateConfig {
  const canRollBack = rollbackSteps(plan).length > 0;
  const settle: TransitionList = [
    ...(canRollBack && plan.rollbackStrategy === 'automatic'
      ? [
          {
            guard: 'settledAbortedWithRollback',
            target: `#${MACHINE_ID}.rolling_back`,
            actions: ['settleAbort', { type: 'beginRollback', params: { trigger: 'fromAbort' } }],
          } as const,
        ]
      : []),
    ...(canRollBack && plan.rollbackStrategy === 'manual'
      ? [
          {
            guard: 'settledAbortedWithRollback',
            target: `#${MACHINE_ID}.failed.awaitingRollback`,
            actions: 'settleAbort',
          } as const,
        ]
      : []),
    { guard: 'settledAborted', target: FAILED, actions: 'settleAbort' },
    { guard: 'settledClean', target: `#${MACHINE_ID}.monitoring` },
  ];
  return {
    type: 'parallel',
    entry: 'enterExecuting',
    on: { CANCEL_REQUESTED: { guard: 'notAborting', actions: 'requestCancel' } },
    always: settle,
    states: Object.fromEntries(plan.steps.map((s) => [stepKey(s.number), stepRegion(s, plan)])),
  };
}

/**
 * The machine for one plan; `text` words what it records (the core's WORKFLOW_TEXT), `rules` decide
 * run-time adjustments (the core's RUN_TIME_RULES).
 */
export function createWorkflowMachine(plan: ExecutionPlan, text: MachineText, rules: RunTimeRules) {
  const manualRollback = plan.rollbackStrategy === 'manual' && rollbackSteps(plan).length > 0;
  return setupFor(plan, text, rules).createMachine({
    id: MACHINE_ID,
    context: ({ input }) => initialContext(plan, input?.now ?? 0),
    initial: 'planning',
    states: {
      planning: {
        always: [
          { guard: 'planningExpired', target: FAILED, actions: fail('PlanningTimeout') },
          { guard: 'observed', target: 'validating' },
        ],
      },
      validating: validating(plan),
      executing: executing(plan),
      monitoring: {
        entry: 'enterMonitoring',
        always: [
          {
            guard: 'monitoringExpired',
            target: 'completed',
            actions: { type: 'complete', params: { verdict: 'deadline' } },
          },
        ],
        on: {
          EFFECTIVENESS_RESULT: [
            { guard: 'newAlerts', target: FAILED, actions: ['recordEffectiveness', fail('Ineffective')] },
            {
              guard: 'effective',
              target: 'completed',
              actions: ['recordEffectiveness', { type: 'complete', params: { verdict: 'effective' } }],
            },
            { actions: 'recordEffectiveness' },
          ],
        },
      },
      rolling_back: rollingBack(plan),
      completed: { type: 'final', entry: 'finish' },
      failed: {
        initial: 'terminal',
        states: {
          terminal: { entry: 'finish' },
          ...(manualRollback
            ? {
                awaitingRollback: {
                  on: {
                    ROLLBACK_REQUESTED: {
                      target: `#${MACHINE_ID}.rolling_back`,
                      actions: { type: 'beginRollback', params: { trigger: 'requested' } },
                    },
                  },
                } satisfies StateConfig,
              }
            : {}),
        },
      },
    },
  });
}

export type WorkflowMachine = ReturnType<typeof createWorkflowMachine>;
export type WorkflowSnapshot = ReturnType<WorkflowMachine['resolveState']>;
export type { WorkflowContext, WorkflowInput, StepRun } from './context.ts';
