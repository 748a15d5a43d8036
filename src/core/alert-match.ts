/**
 * Which Alertmanager alerts concern a run, for monitoring (issue 19): the alert the run remediates
 * (`spec.alertRef`), whether it still fires; and which alerts that fired after the run started
 * concern an object it touched. Pure: the shell reads Alertmanager's v2 API and the touched objects'
 * labels, this decides.
 */
import type { WorkflowExecutionSpec } from '../api/generated/types.ts';
import { msOfIso } from './time.ts';

export type AlertRef = NonNullable<WorkflowExecutionSpec['alertRef']>;

/** An alert as Alertmanager's v2 API lists it (GET /api/v2/alerts), the fields read here. */
export interface ActiveAlert {
  fingerprint: string;
  labels: Readonly<Record<string, string>>;
  /** RFC 3339. */
  startsAt: string;
}

/**
 * An object a step touched, as alerts may name it. `labels`: the object's own labels as alerts
 * carry them (a Deployment's pod template labels, a selector's equalities); `names`: alert labels
 * whose value names it (`deployment: web`, `node: worker-1`).
 */
export interface TouchedObject {
  /** Empty for a Node. */
  namespace: string;
  names: Readonly<Record<string, readonly string[]>>;
  labels: Readonly<Record<string, string>>;
}

/** The alert the run remediates: the same fingerprint, or (without one) every label of the reference. */
export function isReferencedAlert(ref: AlertRef, alert: ActiveAlert): boolean {
  if (ref.fingerprint !== undefined) return alert.fingerprint === ref.fingerprint;
  return Object.entries(ref.labels).every(([k, v]) => alert.labels[k] === v);
}

/** Whether the referenced alert is among the active ones. */
export const referencedAlertFiring = (ref: AlertRef, active: readonly ActiveAlert[]): boolean =>
  active.some((a) => isReferencedAlert(ref, a));

/** `instance` is host or host:port; a node's alert names the host. */
const hostOf = (instance: string): string => instance.replace(/:\d+$/, '');

/**
 * Whether an alert concerns the object: in its namespace (a Node has none: its `node` or `instance`
 * label), and naming it by a kind label, or carrying one of its labels with the same value and none
 * with another. An alert elsewhere in the namespace or the cluster does not.
 */
export function alertConcerns(alert: ActiveAlert, object: TouchedObject): boolean {
  const labels = alert.labels;
  if (object.namespace !== '' && labels['namespace'] !== object.namespace) return false;
  for (const [label, names] of Object.entries(object.names)) {
    const value = labels[label];
    if (value === undefined) continue;
    if (names.includes(label === 'instance' ? hostOf(value) : value)) return true;
  }
  if (object.namespace === '') return false;
  const shared = Object.entries(object.labels).filter(([k]) => labels[k] !== undefined);
  return shared.length > 0 && shared.every(([k, v]) => labels[k] === v);
}

/**
 * Alerts that started after `since` (epoch ms) and concern an object the run touched, the alert the
 * run remediates excepted (it firing again is that alert still firing, not a new one).
 */
export function newAlertsOn(
  active: readonly ActiveAlert[],
  since: number,
  touched: readonly TouchedObject[],
  ref: AlertRef | undefined,
): ActiveAlert[] {
  return active.filter(
    (a) =>
      (msOfIso(a.startsAt) ?? -Infinity) > since &&
      !(ref !== undefined && isReferencedAlert(ref, a)) &&
      touched.some((o) => alertConcerns(a, o)),
  );
}

/** Equalities of a label selector (`app=web,tier in (a)` gives `{app: web}`): what alerts may carry. */
export function selectorLabels(selector: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (selector ?? '').split(',')) {
    const m = /^\s*([^=!\s]+)\s*==?\s*([^=!\s]*)\s*$/.exec(part);
    if (m?.[1] !== undefined && m[2] !== undefined) out[m[1]] = m[2];
  }
  return out;
}
