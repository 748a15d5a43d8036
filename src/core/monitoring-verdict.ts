/**
 * How monitoring ended, and what it knows of the alert the run remediates, as typed reasons: one
 * vocabulary for the `Ready` condition's reason, the `MonitoringVerdict` Event and the
 * `monitoring_verdicts_total` metric label (never derived from message text). Pure.
 */
import type { WorkflowContext } from '../../machines/context.ts';
import { isoOf } from './time.ts';

/** How long a run must stay fixed before it completes, unless its spec or the operator says otherwise. */
export const DEFAULT_STABILITY_WINDOW_MS = 60_000;

export const MONITORING_VERDICTS = [
  /** Fixed for the whole stability window. */
  'Effective',
  /** A new alert concerned a touched target. */
  'NewAlerts',
  /** The deadline passed with the run's alert still firing. */
  'AlertStillFiring',
  /** No target the check can judge and no alert named: nothing to verify. */
  'NoVerifiableTarget',
  /** The deadline passed and the run's alert could not be looked up: Alertmanager did not answer. */
  'AlertmanagerUnreachable',
  /** The deadline passed and the run names an alert, but the operator has no --alertmanager-url. */
  'AlertmanagerNotConfigured',
  /** The deadline passed with a target unhealthy at the last check. */
  'TargetsUnhealthy',
  /** The deadline passed while the run was fixed, but not yet for the whole stability window. */
  'NotStable',
  /** The deadline passed before any check answered. */
  'Unchecked',
] as const;
export type MonitoringVerdict = (typeof MONITORING_VERDICTS)[number];

/** How monitoring ended; null while it has not (or the run never monitored). */
export function monitoringVerdict(context: WorkflowContext): MonitoringVerdict | null {
  if (context.times.monitoring === null) return null;
  if (context.failure?.code === 'Ineffective') return 'NewAlerts';
  if (context.failure?.code === 'AlertStillFiring') return 'AlertStillFiring';
  if (context.outcome === 'success' || context.outcome === 'partial_success') return 'Effective';
  if (context.outcome !== 'unknown') return null;
  const e = context.effectiveness;
  if (e === null) return 'Unchecked';
  if (e.score === null && e.alert === null) return 'NoVerifiableTarget';
  if (e.alert === 'unknown')
    return e.alertmanager === 'notConfigured' ? 'AlertmanagerNotConfigured' : 'AlertmanagerUnreachable';
  return e.effective ? 'NotStable' : 'TargetsUnhealthy';
}

/** The `AlertResolved` condition's status and reason (runs that name an alert, once checked). */
export function alertCondition(
  context: WorkflowContext,
): { status: 'True' | 'False' | 'Unknown'; reason: string; message: string } | null {
  const e = context.effectiveness;
  if (e?.alert == null) return null;
  if (e.alert === 'resolved')
    return {
      status: 'True',
      reason: 'Resolved',
      message:
        e.stableSince === null
          ? 'the alert this run remediates is no longer active in Alertmanager'
          : `the alert this run remediates is no longer active in Alertmanager; the run is fixed since ${isoOf(e.stableSince)} (stability window ${e.stabilityWindowMs / 1000}s)`,
    };
  if (e.alert === 'firing')
    return {
      status: 'False',
      reason: 'AlertStillFiring',
      message: 'the alert this run remediates is still active in Alertmanager',
    };
  return e.alertmanager === 'notConfigured'
    ? {
        status: 'Unknown',
        reason: 'AlertmanagerNotConfigured',
        message:
          'the run names an alert (spec.alertRef) but the operator has no --alertmanager-url: it cannot be verified',
      }
    : {
        status: 'Unknown',
        reason: 'AlertmanagerUnreachable',
        message: 'Alertmanager did not answer: whether the alert this run remediates resolved is not known',
      };
}

/**
 * The `AlertmanagerReachable` condition, from the latest check that asked it (validation's, then each
 * monitoring poll): absent while never asked, and when none is configured for a run naming no alert.
 */
export function alertmanagerCondition(
  context: WorkflowContext,
  remediatesAlert: boolean,
): { status: 'True' | 'False'; reason: string; message: string } | null {
  const am = context.alertmanager;
  if (am === null || (am.state === 'notConfigured' && !remediatesAlert)) return null;
  switch (am.state) {
    case 'answered':
      return { status: 'True', reason: 'Reachable', message: `Alertmanager answered at ${isoOf(am.at)}` };
    case 'unreachable':
      return {
        status: 'False',
        reason: 'Unreachable',
        message: `Alertmanager did not answer at ${isoOf(am.at)}: new alerts${remediatesAlert ? ' and the alert this run remediates' : ''} cannot be checked`,
      };
    case 'notConfigured':
      return {
        status: 'False',
        reason: 'NotConfigured',
        message:
          'the run names an alert (spec.alertRef) but the operator has no --alertmanager-url: monitoring cannot verify it',
      };
  }
}
