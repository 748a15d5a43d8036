/**
 * Monitoring: the effectiveness check's findings, until its deadline. The run is fixed when every
 * verifiable target is healthy, no new alert concerns a touched target and the alert it remediates
 * (if it names one) is resolved; it completes once it stayed fixed for the stability window, counted
 * from the first check that found it fixed (`stableSince`), restarted by any check that did not.
 */
import type { EffectivenessRecord } from '../context.ts';
import type { WorkflowEvent } from '../events.ts';
import { expired, now, type Guard, type Update } from './scope.ts';

/**
 * The alert the run names cannot be checked, and will not be during this run: the operator has no
 * Alertmanager configured. Its targets are still judged; the run then completes `unknown` after the
 * window (AlertResolved says why) instead of waiting for a deadline nothing can change.
 */
const alertUncheckable = (event: WorkflowEvent): boolean =>
  event.type === 'EFFECTIVENESS_RESULT' &&
  event.alert === 'unknown' &&
  event.alertmanager === 'notConfigured';

/** Whether the check found the run fixed now (a run with nothing verifiable never is). */
export function fixedNow(event: WorkflowEvent): boolean {
  if (event.type !== 'EFFECTIVENESS_RESULT') return false;
  const alertResolved = event.alert === null || event.alert === 'resolved' || alertUncheckable(event);
  const verifiable = event.score !== null || event.alert === 'resolved';
  return event.effective && alertResolved && verifiable;
}

/** Since when the run has been fixed, this check included; null when this check found it not fixed. */
function stableSinceAfter(previous: EffectivenessRecord | null, event: WorkflowEvent): number | null {
  if (!fixedNow(event)) return null;
  return previous?.stableSince ?? now(event);
}

const newAlerts: Guard = (_, { event }) =>
  event.type === 'EFFECTIVENESS_RESULT' && event.newAlertsTriggered === true;

/** Nothing the check can verify: no target it can judge, and no alert named (or none it can check). */
const unverifiable: Guard = (_, { event }) =>
  event.type === 'EFFECTIVENESS_RESULT' &&
  event.score === null &&
  (event.alert === null || alertUncheckable(event));

/** Fixed, and fixed for the whole stability window. */
const stable: Guard = (_, { context, event }) => {
  if (event.type !== 'EFFECTIVENESS_RESULT') return false;
  const since = stableSinceAfter(context.effectiveness, event);
  return since !== null && event.now >= since + event.stabilityWindowMs;
};

/** Stable on its targets, its alert uncheckable for want of an Alertmanager: completed, unknown. */
const stableUnchecked: Guard = (scope, args, params) =>
  alertUncheckable(args.event) && stable(scope, args, params);

const monitoringExpired: Guard = ({ plan }, { context, event }) =>
  expired(context.times.monitoring, plan.timeouts.monitoringMs, event);

/** The deadline passed and the last check found the alert the run remediates still firing. */
const firingAtDeadline: Guard = (scope, args, params) =>
  args.context.effectiveness?.alert === 'firing' && monitoringExpired(scope, args, params);

export const monitoringGuards = {
  newAlerts,
  unverifiable,
  stableUnchecked,
  stable,
  monitoringExpired,
  firingAtDeadline,
};

const enterMonitoring: Update = (_, { context, event }) => ({
  times: { ...context.times, monitoring: now(event) },
});

const recordEffectiveness: Update = (_, { context, event }) =>
  event.type === 'EFFECTIVENESS_RESULT'
    ? {
        effectiveness: {
          effective: event.effective,
          score: event.score,
          resourceHealth: event.resourceHealth,
          newAlertsTriggered: event.newAlertsTriggered,
          alert: event.alert,
          alertmanager: event.alertmanager,
          stabilityWindowMs: event.stabilityWindowMs,
          at: event.now,
          stableSince: stableSinceAfter(context.effectiveness, event),
        },
        alertmanager: { state: event.alertmanager, at: event.now },
      }
    : {};

/** Alertmanager as validation found it (only asked when configured or the run names an alert). */
const recordAlertmanager: Update = (_, { event }) =>
  event.type === 'SAFETY_RESULT' && event.alertmanager !== undefined
    ? { alertmanager: { state: event.alertmanager, at: event.now } }
    : {};

export const monitoringActions = { enterMonitoring, recordEffectiveness, recordAlertmanager };
