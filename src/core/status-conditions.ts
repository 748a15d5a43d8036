/**
 * The status conditions of a running workflow (Ready, Reconciling, Succeeded, Stalled, RetryRequest,
 * SafetyChecks, Blocked),
 * from its snapshot: what it waits for, what history and this run flag, how a retry request went.
 */
import {
  BLOCKED_CONDITION,
  conditionsFor,
  removeCondition,
  setCondition,
  type Condition,
  type Health,
} from '../api/conditions.ts';
import type { WorkflowContext } from '../../machines/context.ts';
import type { ExecutionPlan } from '../../machines/plan.ts';
import type { WorkflowSnapshot } from '../../machines/workflow.ts';
import { flaggedAtRunTime, flaggedSteps } from './adaptive.ts';
import { ROLLBACK_REQUESTED_BY } from './observe.ts';
import { phaseOf, substateOf } from './statechart.ts';
import { describeBlock } from './target-locks.ts';
import { waitingFor } from './transitions.ts';
import {
  alertCondition,
  alertmanagerCondition,
  monitoringVerdict,
  type MonitoringVerdict,
} from './monitoring-verdict.ts';

/** Why a completed run's effectiveness is unknown, in words, by its typed reason. */
const UNVERIFIED: Readonly<Record<MonitoringVerdict, string>> = {
  Effective: 'verified',
  NewAlerts: 'new alerts fired on its targets',
  AlertStillFiring: 'its alert was still firing',
  NoVerifiableTarget:
    'no step names a target the operator can check (custom actions, Secrets, a bare pod that is gone) and the run names no alert: verify by hand',
  AlertmanagerUnreachable:
    'Alertmanager did not answer, so whether the alert this run remediates resolved is not known',
  AlertmanagerNotConfigured:
    'the run names an alert, but the operator has no --alertmanager-url to look it up',
  TargetsUnhealthy: "a target was still unhealthy at monitoring's deadline",
  NotStable: "the targets were healthy, but not for the whole stability window by monitoring's deadline",
  Unchecked: "no effectiveness check answered before monitoring's deadline",
};

/**
 * Steps history flags as mostly failing, and steps started after a step of the same action on the
 * same target failed in this run, said in the Ready message while the run goes on.
 */
function flagNote(plan: ExecutionPlan, context: WorkflowContext): string {
  const flags = flaggedSteps(plan);
  const atRunTime = flaggedAtRunTime(context);
  return [
    flags.length === 0
      ? ''
      : `; history flags ${flags.map((f) => `step ${f.step ?? '?'} (success rate ${Math.round(f.from * 100)}% in ${f.runs} runs)`).join(', ')}`,
    atRunTime.length === 0
      ? ''
      : `; this run flags ${atRunTime.map((f) => `step ${f.step} (the same action on the same target failed)`).join(', ')}`,
  ].join('');
}

function health(snapshot: WorkflowSnapshot, plan: ExecutionPlan): Health {
  const { context } = snapshot;
  const message = `${waitingFor(snapshot, plan)}${flagNote(plan, context)}`;
  switch (phaseOf(snapshot)) {
    case 'completed': {
      const outcome = context.outcome ?? 'unknown';
      if (outcome === 'unknown') {
        // Why it could not be verified, as a typed reason (NoVerifiableTarget, AlertmanagerUnreachable, ...).
        const why = monitoringVerdict(context) ?? 'Unchecked';
        return {
          state: 'succeeded',
          reason: why,
          message: `the workflow completed (unknown): ${UNVERIFIED[why]}`,
        };
      }
      const reason = outcome === 'success' ? 'Succeeded' : 'PartialSuccess';
      return { state: 'succeeded', reason, message: `the workflow completed (${outcome})` };
    }
    case 'failed':
      if (substateOf(snapshot) === 'awaitingRollback')
        return {
          state: 'failed',
          reason: 'AwaitingManualRollback',
          message: `${context.failure?.message ?? 'failed'}; roll back with annotation ${ROLLBACK_REQUESTED_BY}`,
        };
      return {
        state: 'failed',
        reason: context.failure?.code ?? 'Failed',
        message: context.failure?.message ?? 'the workflow failed',
      };
    case 'planning':
      return { state: 'inProgress', reason: 'Planning', message };
    case 'validating': {
      const sub = substateOf(snapshot);
      const blocked = sub === 'admission' ? context.admission?.block.reason : undefined;
      const reason =
        blocked ?? (sub === 'approval' ? 'AwaitingApproval' : sub === 'dryRun' ? 'DryRunning' : 'Validating');
      return { state: 'inProgress', reason, message };
    }
    case 'executing':
      return { state: 'inProgress', reason: context.abort ? 'Stopping' : 'Executing', message };
    case 'monitoring':
      return { state: 'inProgress', reason: 'Monitoring', message };
    case 'rolling_back':
      return { state: 'inProgress', reason: 'RollingBack', message };
  }
}

/**
 * The `RetryRequest` condition: the latest retry request's decision, True when it was accepted,
 * False with the refusal's reason; absent before any request.
 */
function withRetryCondition(
  conditions: Condition[],
  context: WorkflowContext,
  generation: number,
  nowIso: string,
): Condition[] {
  const accepted = context.retries.at(-1);
  const refused = context.retryRefusal;
  if (refused !== null && (accepted === undefined || refused.at >= accepted.at))
    return setCondition(
      conditions,
      {
        type: 'RetryRequest',
        status: 'False',
        reason: refused.code,
        message: `retry requested by ${refused.by} refused: ${refused.message}`,
      },
      generation,
      nowIso,
    );
  if (accepted !== undefined)
    return setCondition(
      conditions,
      {
        type: 'RetryRequest',
        status: 'True',
        reason: 'RetryStarted',
        message: `retry ${context.retries.length} requested by ${accepted.by} re-runs steps ${accepted.steps.map((s) => s.step).join(', ')}`,
      },
      generation,
      nowIso,
    );
  return conditions;
}

/**
 * The `SafetyChecks` condition, once the checks answered: True `Passed`, True `PassedWithWarnings`
 * naming each check relaxed by `required: false` that failed, or False `Failed` naming the blocking ones.
 */
function withSafetyCondition(
  conditions: Condition[],
  context: WorkflowContext,
  generation: number,
  nowIso: string,
): Condition[] {
  const safety = context.safety;
  if (safety === null) return conditions;
  const blocking = safety.filter((r) => r.required && r.result === 'failed');
  const warned = safety.filter((r) => !r.required && r.result === 'failed');
  const input =
    blocking.length > 0
      ? { status: 'False' as const, reason: 'Failed', message: blocking.map((r) => r.message).join('; ') }
      : warned.length > 0
        ? {
            status: 'True' as const,
            reason: 'PassedWithWarnings',
            message: `warnings (required: false): ${warned.map((r) => r.message).join('; ')}`,
          }
        : {
            status: 'True' as const,
            reason: 'Passed',
            message: safety.map((r) => `${r.type} ${r.result}`).join(', '),
          };
  return setCondition(conditions, { type: 'SafetyChecks', ...input }, generation, nowIso);
}

/**
 * The `Blocked` condition: True while the run waits in validation's admission gate, its reason the
 * block's (`TargetBusy`, `ExecutionLimit`, `RecentlyRemediated`, `Backoff`, `TargetFailing`), its
 * message naming the target and the run holding it (or the earlier run and when its cooldown ends);
 * absent once the run executes, fails or was never held back.
 */
function withBlockedCondition(
  conditions: Condition[],
  snapshot: WorkflowSnapshot,
  generation: number,
  nowIso: string,
): Condition[] {
  const admission = snapshot.context.admission;
  if (admission === null || phaseOf(snapshot) !== 'validating')
    return removeCondition(conditions, BLOCKED_CONDITION);
  return setCondition(
    conditions,
    {
      type: BLOCKED_CONDITION,
      status: 'True',
      reason: admission.block.reason,
      message: `waiting to execute: ${describeBlock(admission.block)}`,
    },
    generation,
    nowIso,
  );
}

/** The conditions after `previous`, as of `nowIso` (the snapshot's last event). */
export function statusConditions(
  snapshot: WorkflowSnapshot,
  plan: ExecutionPlan,
  previous: readonly Condition[],
  generation: number,
  nowIso: string,
): Condition[] {
  const conditions = withBlockedCondition(
    conditionsFor(previous, health(snapshot, plan), generation, nowIso),
    snapshot,
    generation,
    nowIso,
  );
  return withAlertConditions(
    withSafetyCondition(
      withRetryCondition(conditions, snapshot.context, generation, nowIso),
      snapshot.context,
      generation,
      nowIso,
    ),
    snapshot.context,
    plan,
    generation,
    nowIso,
  );
}

/**
 * `AlertmanagerReachable` (once asked: validation, then each monitoring check) and `AlertResolved`
 * (a run naming its alert, once monitoring checked it): typed reasons, never a silent pass.
 */
function withAlertConditions(
  conditions: Condition[],
  context: WorkflowContext,
  plan: ExecutionPlan,
  generation: number,
  nowIso: string,
): Condition[] {
  const reachable = alertmanagerCondition(context, plan.remediatesAlert);
  const resolved = alertCondition(context);
  const withReachable = reachable
    ? setCondition(conditions, { type: 'AlertmanagerReachable', ...reachable }, generation, nowIso)
    : conditions;
  return resolved
    ? setCondition(withReachable, { type: 'AlertResolved', ...resolved }, generation, nowIso)
    : withReachable;
}
