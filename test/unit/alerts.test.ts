import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import type { AlertRoute, WorkflowExecution } from '../../src/api/generated/types.ts';
import { ROLLBACK_REQUESTED_BY } from '../../src/core/observe.ts';
import { validateWorkflowExecutionSpec } from '../../src/api/generated/validators.js';
import {
  matches,
  notStarted,
  readNotification,
  routeFor,
  runFor,
  runNameOf,
  type Alert,
  MAX_ALERTS_PER_NOTIFICATION,
} from '../../src/core/alerts.ts';
import { REFUSAL_REASONS, fuzzedBody } from '../fixtures/alert-fuzz.ts';

const firing = (overrides: Record<string, unknown> = {}) => ({
  status: 'firing',
  labels: { alertname: 'HighMemory', namespace: 'shop', deployment: 'web', severity: 'critical' },
  annotations: { summary: 'web is out of memory', replicas: '4' },
  startsAt: '2026-12-07T20:00:00.000Z',
  endsAt: '0001-01-01T00:00:00Z',
  generatorURL: 'http://prometheus/graph',
  fingerprint: 'c0ffee0123456789',
  ...overrides,
});

const notification = (alerts: unknown[], overrides: Record<string, unknown> = {}) =>
  JSON.stringify({
    version: '4',
    groupKey: '{}:{alertname="HighMemory"}',
    status: 'firing',
    receiver: 'kubernaut',
    groupLabels: {},
    commonLabels: {},
    commonAnnotations: {},
    externalURL: 'http://alertmanager',
    truncatedAlerts: 0,
    alerts,
    ...overrides,
  });

const route = (name: string, namespace: string, matchers: AlertRoute['spec']['matchers']): AlertRoute => ({
  apiVersion: 'workflowexecution.kubernaut.io/v1',
  kind: 'AlertRoute',
  metadata: { name, namespace },
  spec: {
    matchers,
    workflowTemplateRef: { name: 'scale-up', version: '1.0.0' },
    parameters: [
      { name: 'namespace', fromLabel: 'namespace' },
      { name: 'deployment', fromLabel: 'deployment' },
      { name: 'replicas', fromAnnotation: 'replicas' },
      { name: 'reason', value: 'alert' },
    ],
    executionStrategy: { approvalRequired: true },
  },
});

const alertOf = (raw: ReturnType<typeof firing>): Alert => {
  const read = readNotification(notification([raw]));
  if (!read.ok || !read.alerts[0]) throw new Error('not read');
  return read.alerts[0].alert;
};

describe('reading an Alertmanager notification', () => {
  it('reads every alert of a version 4 payload', () => {
    const read = readNotification(
      notification([firing(), firing({ status: 'resolved', fingerprint: 'ab' })]),
    );
    expect(read.ok && read.alerts.map((a) => [a.index, a.alert.status, a.alert.fingerprint])).toEqual([
      [0, 'firing', 'c0ffee0123456789'],
      [1, 'resolved', 'ab'],
    ]);
  });

  it.each([
    ['not JSON', '{"version": "4", alerts: [', 'NotJson'],
    ['not a notification', '[1, 2, 3]', 'NotANotification'],
    ['another version', notification([firing()], { version: '3' }), 'UnsupportedVersion'],
    [
      'too many alerts',
      notification(Array.from({ length: MAX_ALERTS_PER_NOTIFICATION + 1 }, () => firing())),
      'TooManyAlerts',
    ],
  ])('refuses a body that is %s as a whole', (_, body, reason) => {
    expect(readNotification(body)).toEqual({ ok: false, refusal: expect.objectContaining({ reason }) });
  });

  it.each([
    ['an unknown status', { status: 'pending' }, /status/],
    ['a fingerprint that is not hex', { fingerprint: '../../etc' }, /fingerprint/],
    ['a startsAt that is not a time', { startsAt: 'yesterday' }, /startsAt/],
    ['a label that is not a string', { labels: { alertname: 3 } }, /labels alertname is not a string/],
    ['no labels', { labels: {} }, /labels are empty/],
    ['annotations that are a list', { annotations: ['a'] }, /annotations is not an object/],
  ])('refuses one alert with %s and keeps the others', (_, change, message) => {
    const read = readNotification(notification([firing(change), firing({ fingerprint: 'ff' })]));
    expect(read.ok && read.alerts.map((a) => a.index)).toEqual([1]);
    expect(read.ok && read.refused).toEqual([
      { reason: 'MalformedAlert', index: 0, message: expect.stringMatching(message) },
    ]);
  });

  it('never throws, whatever arrives, and accepts only well-formed alerts', () => {
    const anyAlert = fc.oneof(
      fc.anything(),
      fc.record({
        status: fc.oneof(fc.constantFrom('firing', 'resolved'), fc.string()),
        labels: fc.oneof(fc.dictionary(fc.string(), fc.string()), fc.anything()),
        annotations: fc.oneof(fc.dictionary(fc.string(), fc.string({ maxLength: 5000 })), fc.anything()),
        startsAt: fc.oneof(
          fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
          fc.string(),
        ),
        fingerprint: fc.oneof(fc.stringMatching(/^[0-9a-f]{1,70}$/), fc.string()),
      }),
    );
    const bodies = fc.oneof(
      fc.string(),
      fc.json(),
      fc.array(anyAlert, { maxLength: 20 }).map((alerts) => notification(alerts)),
      fc
        .tuple(fc.array(anyAlert, { maxLength: 5 }), fc.nat())
        .map(([alerts, cut]) => notification(alerts).slice(0, cut)),
    );
    fc.assert(
      fc.property(bodies, (body) => {
        const read = readNotification(body);
        if (!read.ok) return typeof read.refusal.message === 'string';
        for (const { alert } of read.alerts) {
          expect(['firing', 'resolved']).toContain(alert.status);
          expect(alert.fingerprint).toMatch(/^[0-9a-f]{1,64}$/);
          expect(Object.keys(alert.labels).length).toBeGreaterThan(0);
          expect(runNameOf(alert)).toMatch(/^[a-z0-9-]{1,63}$/);
        }
        return true;
      }),
      { numRuns: 2000 },
    );
  });
});

describe('fuzzed notifications, mostly almost right', () => {
  const routes = [
    route('memory', 'shop', [{ label: 'alertname', operator: '=', value: 'HighMemory' }]),
    route('disk', 'shop', [{ label: 'alertname', operator: '=~', value: 'Disk.*' }]),
  ];

  it('account for every alert once, refuse only with a typed reason, and name one run per alert', () => {
    fc.assert(
      fc.property(fuzzedBody(['HighMemory', 'DiskFull', 'Unrouted'], 'shop'), (body) => {
        const read = readNotification(body);
        if (!read.ok) {
          expect(REFUSAL_REASONS).toContain(read.refusal.reason);
          return;
        }
        const count = (JSON.parse(body) as { alerts: unknown[] }).alerts.length;
        const indices = [...read.alerts.map((a) => a.index), ...read.refused.map((r) => r.index)];
        expect(indices.sort((a, b) => (a ?? 0) - (b ?? 0))).toEqual(
          Array.from({ length: count }, (_, i) => i),
        );
        for (const refusal of read.refused) expect(refusal.reason).toBe('MalformedAlert');
        // One name per firing (fingerprint, startsAt), whatever else differs between deliveries.
        const names = new Map<string, string>();
        for (const { alert } of read.alerts) {
          const chosen = routeFor(alert, routes);
          if (!chosen || alert.status === 'resolved') continue;
          const run = runFor(alert, chosen);
          if (!('apiVersion' in run)) {
            expect(REFUSAL_REASONS).toContain(run.reason);
            continue;
          }
          expect(validateWorkflowExecutionSpec(run.spec)).toBe(true);
          const key = `${alert.fingerprint} ${alert.startsAt}`;
          expect(names.get(key) ?? run.metadata.name).toBe(run.metadata.name);
          names.set(key, run.metadata.name ?? '');
        }
        expect(new Set(names.values()).size).toBe(names.size);
      }),
      { numRuns: 3000 },
    );
  });
});

describe('routing an alert', () => {
  it.each([
    [{ label: 'severity', operator: '=', value: 'critical' }, true],
    [{ label: 'severity', operator: '!=', value: 'critical' }, false],
    [{ label: 'alertname', operator: '=~', value: 'High.*' }, true],
    [{ label: 'alertname', operator: '=~', value: 'High' }, false],
    [{ label: 'alertname', operator: '!~', value: 'Low.*' }, true],
    [{ label: 'missing', operator: '=', value: '' }, true],
    [{ label: 'alertname', operator: '=~', value: '(' }, false],
  ] as const)('%j matches: %s', (matcher, expected) => {
    expect(matches(matcher, alertOf(firing()).labels)).toBe(expected);
  });

  it('takes the first route, by namespace then name, whose matchers all hold', () => {
    const routes = [
      route('b', 'shop', [{ label: 'alertname', operator: '=', value: 'HighMemory' }]),
      route('a', 'shop', [
        { label: 'alertname', operator: '=', value: 'HighMemory' },
        { label: 'severity', operator: '=', value: 'warning' },
      ]),
      route('z', 'aaa', [{ label: 'alertname', operator: '=', value: 'Other' }]),
    ];
    expect(routeFor(alertOf(firing()), routes)?.metadata.name).toBe('b');
    expect(routeFor(alertOf(firing({ labels: { alertname: 'Quiet' } })), routes)).toBeUndefined();
  });
});

describe('the run an alert becomes', () => {
  const shop = route('memory', 'shop', [{ label: 'alertname', operator: '=', value: 'HighMemory' }]);

  it('is named from fingerprint and startsAt, records the alert, and takes its parameters from it', () => {
    const run = runFor(alertOf(firing()), shop);
    if (!('apiVersion' in run)) throw new Error(run.message);
    expect(run.metadata.name).toBe(
      runNameOf({ fingerprint: 'c0ffee0123456789', startsAt: '2026-12-07T20:00:00.000Z' }),
    );
    expect(run.metadata.namespace).toBe('shop');
    expect(run.spec).toEqual({
      alertRef: {
        fingerprint: 'c0ffee0123456789',
        labels: { alertname: 'HighMemory', namespace: 'shop', deployment: 'web', severity: 'critical' },
        startsAt: '2026-12-07T20:00:00.000Z',
      },
      workflowTemplateRef: { name: 'scale-up', version: '1.0.0' },
      parameters: { namespace: 'shop', deployment: 'web', replicas: '4', reason: 'alert' },
      executionStrategy: { rollbackStrategy: 'automatic', approvalRequired: true },
    });
    expect(validateWorkflowExecutionSpec(run.spec)).toBe(true);
  });

  it('is another run for another firing of the same alert, and the same run for a replay', () => {
    const again = runNameOf(alertOf(firing()));
    expect(again).toBe(runNameOf(alertOf(firing())));
    expect(runNameOf(alertOf(firing({ startsAt: '2026-12-07T21:00:00Z' })))).not.toBe(again);
  });

  it('is refused when a parameter’s label is missing', () => {
    const run = runFor(alertOf(firing({ labels: { alertname: 'HighMemory', namespace: 'shop' } })), shop);
    expect(run).toMatchObject({
      reason: 'MissingParameterSource',
      message: expect.stringContaining('deployment'),
    });
  });
});

describe('a resolved alert cancels its run', () => {
  const run = (
    status: WorkflowExecution['status'],
    annotations: Record<string, string> = {},
  ): WorkflowExecution => ({
    apiVersion: 'workflowexecution.kubernaut.io/v1',
    kind: 'WorkflowExecution',
    metadata: { name: 'alert-run', namespace: 'shop', annotations },
    spec: { workflowTemplateRef: { name: 'scale-up' }, executionStrategy: { rollbackStrategy: 'none' } },
    ...(status ? { status } : {}),
  });

  it('only before it started: not once it executed, nor while a retry or rollback waits for its targets', () => {
    expect(notStarted(run(undefined))).toBe(true);
    expect(notStarted(run({ phase: 'validating' }))).toBe(true);
    expect(notStarted(run({ phase: 'executing' }))).toBe(false);
    expect(notStarted(run({ phase: 'validating', retries: { count: 1 } }))).toBe(false);
    expect(notStarted(run({ phase: 'validating' }, { [ROLLBACK_REQUESTED_BY]: 'dave' }))).toBe(false);
  });
});
