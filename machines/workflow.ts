/**
 * The WorkflowExecution statechart (DESIGN 4), generated from an execution plan: one parallel
 * region per step while executing, one state per rollback candidate while rolling back.
 *
 * Pure: no `after`, no `invoke`, no clock. Every event carries `now`; deadlines live in context and
 * are checked by guards on every event. Every action is an `assign`, so XState's pure
 * `transition()` computes everything and nothing needs executing.
 */
import { setup } from 'xstate';
import type { PHASES } from '../src/api/schema/workflowexecution.ts';
import { initialContext, type FailureCode, type WorkflowContext, type WorkflowInput } from './context.ts';
import type { WorkflowEvent } from './events.ts';
import type { ExecutionPlan, PlannedStep } from './plan.ts';
import type { RunTimeRules } from './rules.ts';
import type { MachineText } from './text.ts';
import { abortActions, abortGuards } from './workflow/abort.ts';
import { monitoringActions, monitoringGuards } from './workflow/monitoring.ts';
import { outcomeActions } from './workflow/outcome.ts';
import { retryActions, retryGuards } from './workflow/retry.ts';
import { rollbackActions, rollbackGuards } from './workflow/rollback.ts';
import { bindActions, bindGuards, scopeOf } from './workflow/scope.ts';
import { stepActions, stepGuards } from './workflow/steps.ts';
import { stopActions, stopGuards } from './workflow/stops.ts';
import { validationActions, validationGuards } from './workflow/validation.ts';

/**
 * Bump when the machine's states or context change shape, add a migration in src/core/statechart.ts
 * and record the new fingerprint in test/unit/machine-version.test.ts.
 */
export const MACHINE_VERSION = 7;

export const MACHINE_ID = 'workflow';
/** The top-level states are the resource's phases, as the schema lists them. */
export { PHASES } from '../src/api/schema/workflowexecution.ts';
export type Phase = (typeof PHASES)[number];

/** State keys: a step's region while executing, and its state while rolling back. */
export const stepKey = (step: number): string => `step${step}`;

/**
 * The machine's guards and actions for one plan: named units grouped by concept (machines/workflow/),
 * each reading the plan, text and rules of this scope.
 */
function setupFor(plan: ExecutionPlan, text: MachineText, rules: RunTimeRules) {
  const scope = scopeOf(plan, text, rules);
  return setup({
    types: {
      context: {} as WorkflowContext,
      events: {} as WorkflowEvent,
      input: {} as WorkflowInput | undefined,
    },
    guards: bindGuards(scope, {
      ...validationGuards,
      ...stepGuards,
      ...abortGuards,
      ...monitoringGuards,
      ...retryGuards,
      ...rollbackGuards,
      ...stopGuards,
    }),
    actions: bindActions(scope, {
      ...validationActions,
      ...stepActions,
      ...abortActions,
      ...monitoringActions,
      ...outcomeActions,
      ...retryActions,
      ...rollbackActions,
      ...stopActions,
    }),
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
  /**
   * A failed attempt (reported, or overdue: then asked to stop): retried while retries are left, else
   * final. A reported result also answers a stop request the attempt may have had.
   */
  const attemptFailed = (
    withRetry: 'resultFailedWithRetry' | 'overdueWithRetry',
    final: 'resultFailed' | 'overdue',
  ): TransitionArray => {
    const also =
      final === 'overdue' ? ({ type: 'askToStop', params } as const) : ({ type: 'acknowledgeStop' } as const);
    return [
      ...(retries
        ? [
            {
              guard: { type: withRetry, params },
              target: 'backoff',
              actions: [{ type: 'recordRetry', params }, also],
            } as const,
          ]
        : []),
      {
        guard: { type: final, params },
        target: 'failed',
        actions: [{ type: 'recordFinalFailure', params }, also],
      } as const,
    ];
  };
  return {
    initial: 'pending',
    states: {
      pending: {
        always: [
          // Entered again by a retry of the run: a step that succeeded before is kept.
          { guard: { type: 'kept', params }, target: 'succeeded' },
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
              actions: [{ type: 'recordSuccess', params }, 'acknowledgeStop'],
            },
            ...attemptFailed('resultFailedWithRetry', 'resultFailed'),
          ],
          // It acknowledged a stop request (the run was cancelled): it ended without a result.
          STEP_STOPPED: {
            guard: { type: 'stoppedCurrent', params },
            target: 'failed',
            actions: [{ type: 'recordFinalFailure', params }, 'acknowledgeStop'],
          },
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

/** A rollback a person requests after the run failed (`rollbackStrategy: manual`, something to undo). */
const manualRollbackOf = (plan: ExecutionPlan): boolean =>
  plan.rollbackStrategy === 'manual' && rollbackSteps(plan).length > 0;

/**
 * Admission, the last gate of validation, is also where a retry and a requested rollback wait: they
 * take the run's target locks like a fresh run (src/core/target-locks.ts), so they never act on a
 * target another run holds.
 */
const ADMISSION = `#${MACHINE_ID}.validating.admission`;

function validating(plan: ExecutionPlan): StateConfig {
  const order = [
    'safety',
    ...(plan.dryRunFirst ? ['dryRun'] : []),
    ...(plan.approvalRequired ? ['approval'] : []),
    'admission',
  ];
  const after = (name: string) => {
    const next = order[order.indexOf(name) + 1];
    return next ?? `#${MACHINE_ID}.executing`;
  };
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
                  actions: ['recordSafety', 'recordAlertmanager', fail('SafetyCheckFailed')],
                },
                {
                  guard: 'safetyPassed',
                  target: after('safety'),
                  actions: ['recordSafety', 'recordAlertmanager'],
                },
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
  // The last gate: the run's target locks taken and no storm limit reached (src/core/target-locks.ts).
  states['admission'] = {
    always: [{ guard: 'blockedExpired', target: FAILED, actions: fail('Blocked') }, timeout],
    on: {
      ADMISSION_RESULT: [
        { guard: 'blockedExpired', target: FAILED, actions: fail('Blocked') },
        timeout,
        // A manual rollback waited here for its targets, as a retry and a fresh run do.
        ...(manualRollbackOf(plan)
          ? [
              {
                guard: 'admittedToRollBack',
                target: `#${MACHINE_ID}.rolling_back`,
                actions: ['admit', 'resumeRollback'],
              } as const,
            ]
          : []),
        { guard: 'admitted', target: `#${MACHINE_ID}.executing`, actions: 'admit' },
        { guard: 'admissionBlocked', actions: 'recordBlock' },
      ],
    },
  };
  return {
    entry: 'enterValidating',
    initial: 'safety',
    // Admission always waits for the shell's answer, so a validating run can always be cancelled.
    on: { CANCEL_REQUESTED: { target: FAILED, actions: fail('Cancelled') } },
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
    on: { CANCEL_REQUESTED: { guard: 'notAborting', actions: ['requestCancel', 'askRunningToStop'] } },
    // An attempt asked to stop that did not answer within the grace period is not waited for longer.
    always: [{ guard: 'stopGracePassed', actions: 'giveUpStops' }, ...settle],
    states: Object.fromEntries(plan.steps.map((s) => [stepKey(s.number), stepRegion(s, plan)])),
  };
}

/**
 * The machine for one plan; `text` words what it records (the core's WORKFLOW_TEXT), `rules` decide
 * run-time adjustments (the core's RUN_TIME_RULES).
 */
export function createWorkflowMachine(plan: ExecutionPlan, text: MachineText, rules: RunTimeRules) {
  const manualRollback = manualRollbackOf(plan);
  return setupFor(plan, text, rules).createMachine({
    id: MACHINE_ID,
    context: ({ input }) => initialContext(plan, input?.now ?? 0),
    initial: 'planning',
    // A retry request anywhere but `failed` is refused (XState's pure transition still takes
    // events at the root of a completed run, so its refusal is recorded too).
    on: {
      RETRY_REQUESTED: {
        guard: 'newRetryRequest',
        actions: { type: 'refuseRetry', params: { finishedFailed: false } },
      },
      // The end of an attempt asked to stop that its step no longer waits for: the stop's answer.
      STEP_RESULT: { guard: 'stopAnswered', actions: 'acknowledgeStop' },
      STEP_STOPPED: { guard: 'stopAnswered', actions: 'acknowledgeStop' },
    },
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
          // The deadline: the alert the run remediates still fires (the remediation did not fix it),
          // or nothing confirmed the run fixed for the whole stability window.
          { guard: 'firingAtDeadline', target: FAILED, actions: fail('AlertStillFiring') },
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
              guard: 'unverifiable',
              target: 'completed',
              actions: ['recordEffectiveness', { type: 'complete', params: { verdict: 'unverifiable' } }],
            },
            {
              guard: 'stableUnchecked',
              target: 'completed',
              actions: ['recordEffectiveness', { type: 'complete', params: { verdict: 'unverifiable' } }],
            },
            {
              guard: 'stable',
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
        on: {
          RETRY_REQUESTED: [
            { guard: 'retryAllowed', target: ADMISSION, actions: 'beginRetry' },
            {
              guard: 'newRetryRequest',
              actions: { type: 'refuseRetry', params: { finishedFailed: true } },
            },
          ],
        },
        initial: 'terminal',
        states: {
          terminal: { entry: 'finish' },
          ...(manualRollback
            ? {
                awaitingRollback: {
                  on: {
                    ROLLBACK_REQUESTED: {
                      target: ADMISSION,
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
