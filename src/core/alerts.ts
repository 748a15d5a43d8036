/**
 * From an Alertmanager webhook notification to runs: read the payload (anything may arrive: every
 * alert is checked on its own and a bad one is refused with a reason, never thrown), pick the route
 * an alert matches, and make the one run it becomes, named from the alert's fingerprint and
 * startsAt so that replays, retries and every replica name it the same. Pure.
 */
import type {
  AlertMatcher,
  AlertRoute,
  WorkflowExecution,
  WorkflowExecutionSpec,
} from '../api/generated/types.ts';
import { isRecord } from '../api/json.ts';
import { ROLLBACK_REQUESTED_BY } from './observe.ts';
import { fnv1a64 } from './spec-hash.ts';
import { parseTraceparent } from './trace-spans.ts';

/** The most alerts one notification may carry (Alertmanager's max_alerts is unlimited by default). */
export const MAX_ALERTS_PER_NOTIFICATION = 1000;
const MAX_LABELS = 64;
const MAX_LABEL_VALUE = 256;
const MAX_ANNOTATION_VALUE = 4096;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

export const ALERT_LABEL_FINGERPRINT = 'workflowexecution.kubernaut.io/alert-fingerprint';
export const ALERT_LABEL_ROUTE = 'workflowexecution.kubernaut.io/alert-route';
/**
 * The W3C trace context of the notification a run was made from (Alertmanager propagates one on its
 * webhook requests when its tracing is on): the run's trace links to it.
 */
export const ALERT_TRACEPARENT_ANNOTATION = 'workflowexecution.kubernaut.io/alert-traceparent';

export interface Alert {
  status: 'firing' | 'resolved';
  fingerprint: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
}

/** Why an alert, or a whole notification, was not acted on: a CamelCase reason and the details. */
export interface AlertRefusal {
  reason:
    | 'NotJson'
    | 'NotANotification'
    | 'UnsupportedVersion'
    | 'TooManyAlerts'
    | 'MalformedAlert'
    | 'NoRoute'
    | 'MissingParameterSource';
  message: string;
  /** The alert's index in the notification, when it concerns one alert. */
  index?: number;
}

export type Notification =
  | { ok: true; alerts: { index: number; alert: Alert }[]; refused: AlertRefusal[] }
  | { ok: false; refusal: AlertRefusal };

function stringMap(value: unknown, maxValue: number): Record<string, string> | string {
  if (value === undefined) return {};
  if (!isRecord(value)) return 'is not an object';
  const entries = Object.entries(value);
  if (entries.length > MAX_LABELS) return `has more than ${MAX_LABELS} entries`;
  for (const [key, v] of entries) {
    if (typeof v !== 'string') return `${key} is not a string`;
    if (key.length === 0 || key.length > 128) return `has a key of ${key.length} characters`;
    if (v.length > maxValue) return `${key} is longer than ${maxValue} characters`;
  }
  return Object.fromEntries(entries as [string, string][]);
}

function readAlert(raw: unknown): Alert | string {
  if (!isRecord(raw)) return 'an alert is not an object';
  const { status, fingerprint, startsAt } = raw;
  if (status !== 'firing' && status !== 'resolved') return 'status is neither firing nor resolved';
  if (typeof fingerprint !== 'string' || !/^[0-9a-f]{1,64}$/.test(fingerprint))
    return 'fingerprint is not 1-64 lowercase hex digits';
  if (typeof startsAt !== 'string' || !RFC3339.test(startsAt)) return 'startsAt is not an RFC 3339 time';
  const labels = stringMap(raw['labels'], MAX_LABEL_VALUE);
  if (typeof labels === 'string') return `labels ${labels}`;
  if (Object.keys(labels).length === 0) return 'labels are empty';
  const annotations = stringMap(raw['annotations'], MAX_ANNOTATION_VALUE);
  if (typeof annotations === 'string') return `annotations ${annotations}`;
  return { status, fingerprint, labels, annotations, startsAt };
}

/** A webhook body (already size-limited by the shell) read as Alertmanager's version 4 payload. */
export function readNotification(body: string): Notification {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (error) {
    return { ok: false, refusal: { reason: 'NotJson', message: (error as Error).message } };
  }
  if (!isRecord(parsed) || !Array.isArray(parsed['alerts']))
    return { ok: false, refusal: { reason: 'NotANotification', message: 'no alerts list' } };
  if (parsed['version'] !== '4')
    return {
      ok: false,
      refusal: {
        reason: 'UnsupportedVersion',
        message: `version ${JSON.stringify(parsed['version'])}; Alertmanager's webhook version is "4"`,
      },
    };
  const raw: unknown[] = parsed['alerts'];
  if (raw.length > MAX_ALERTS_PER_NOTIFICATION)
    return {
      ok: false,
      refusal: {
        reason: 'TooManyAlerts',
        message: `${raw.length} alerts; at most ${MAX_ALERTS_PER_NOTIFICATION} (set max_alerts in the receiver)`,
      },
    };
  const alerts: { index: number; alert: Alert }[] = [];
  const refused: AlertRefusal[] = [];
  raw.forEach((item, index) => {
    const alert = readAlert(item);
    if (typeof alert === 'string') refused.push({ reason: 'MalformedAlert', message: alert, index });
    else alerts.push({ index, alert });
  });
  return { ok: true, alerts, refused };
}

/** Whether a label value satisfies a matcher; a regex that does not compile matches nothing. */
export function matches(matcher: AlertMatcher, labels: Readonly<Record<string, string>>): boolean {
  const value = labels[matcher.label] ?? '';
  switch (matcher.operator) {
    case '=':
      return value === matcher.value;
    case '!=':
      return value !== matcher.value;
    case '=~':
    case '!~': {
      let regex: RegExp;
      try {
        regex = new RegExp(`^(?:${matcher.value})$`, 'u');
      } catch {
        return false;
      }
      return regex.test(value) === (matcher.operator === '=~');
    }
  }
}

/** The route an alert takes: the first, by namespace then name, whose matchers all hold. */
export function routeFor(alert: Alert, routes: readonly AlertRoute[]): AlertRoute | undefined {
  const key = (r: AlertRoute) => `${r.metadata.namespace ?? ''}/${r.metadata.name ?? ''}`;
  return [...routes]
    .sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0))
    .find((route) => route.spec.matchers.every((m) => matches(m, alert.labels)));
}

/**
 * The run's name: the same for every delivery of one firing of one alert (Alertmanager sends the
 * same fingerprint and startsAt text each time); a new firing starts at another time.
 */
export const runNameOf = (alert: Pick<Alert, 'fingerprint' | 'startsAt'>): string =>
  `alert-${alert.fingerprint.slice(0, 32)}-${fnv1a64(alert.startsAt).slice(0, 10)}`;

/**
 * The run a firing alert becomes through its route, or why it cannot; `traceparent` is the
 * notification's trace context, recorded when it is a valid one.
 */
export function runFor(
  alert: Alert,
  route: AlertRoute,
  traceparent?: string,
): WorkflowExecution | AlertRefusal {
  const parameters: Record<string, string> = {};
  for (const p of route.spec.parameters ?? []) {
    const value =
      p.value ??
      (p.fromLabel !== undefined ? alert.labels[p.fromLabel] : undefined) ??
      (p.fromAnnotation !== undefined ? alert.annotations[p.fromAnnotation] : undefined);
    if (value === undefined)
      return {
        reason: 'MissingParameterSource',
        message: `route ${route.metadata.name ?? ''}: parameter ${p.name} takes ${p.fromLabel !== undefined ? `label ${p.fromLabel}` : `annotation ${p.fromAnnotation ?? ''}`}, which the alert does not have`,
      };
    parameters[p.name] = value;
  }
  const strategy = route.spec.executionStrategy ?? {};
  const spec: WorkflowExecutionSpec = {
    alertRef: { fingerprint: alert.fingerprint, labels: alert.labels, startsAt: alert.startsAt },
    workflowTemplateRef: route.spec.workflowTemplateRef,
    ...(Object.keys(parameters).length > 0 ? { parameters } : {}),
    executionStrategy: {
      rollbackStrategy: strategy.rollbackStrategy ?? 'automatic',
      ...(strategy.approvalRequired !== undefined ? { approvalRequired: strategy.approvalRequired } : {}),
      ...(strategy.dryRunFirst !== undefined ? { dryRunFirst: strategy.dryRunFirst } : {}),
    },
  };
  return {
    apiVersion: 'workflowexecution.kubernaut.io/v1',
    kind: 'WorkflowExecution',
    metadata: {
      name: runNameOf(alert),
      namespace: route.metadata.namespace ?? 'default',
      labels: {
        [ALERT_LABEL_FINGERPRINT]: alert.fingerprint.slice(0, 63),
        [ALERT_LABEL_ROUTE]: (route.metadata.name ?? '').slice(0, 63),
      },
      ...(traceparent !== undefined && parseTraceparent(traceparent)
        ? { annotations: { [ALERT_TRACEPARENT_ANNOTATION]: traceparent } }
        : {}),
    },
    spec,
  };
}

/**
 * Whether a run may still be cancelled because its alert resolved: it has not started executing. A
 * retry or a requested rollback waiting in validating for its target locks has acted already: a
 * resolution does not cancel what it would finish or undo.
 */
export const notStarted = (run: WorkflowExecution): boolean =>
  (run.status?.phase === undefined || run.status.phase === 'planning' || run.status.phase === 'validating') &&
  (run.status?.retries?.count ?? 0) === 0 &&
  (run.metadata.annotations?.[ROLLBACK_REQUESTED_BY] ?? '') === '';
