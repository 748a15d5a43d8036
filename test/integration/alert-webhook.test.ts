// The Alertmanager webhook receiver over real HTTP, authenticating real ServiceAccount tokens with
// the real apiserver, routing alerts through AlertRoutes to template runs that the operator executes:
// one run per firing alert however often it is delivered, a resolved alert cancelling a run that has
// not started, every malformed delivery refused and counted without a crash, and 80 fuzzed deliveries
// (mostly almost right) answered 200 or 400 with typed refusals and at most one run per firing.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import fc from 'fast-check';

import type { AlertRoute, WorkflowExecution, WorkflowTemplate } from '../../src/api/generated/types.ts';
import { ALERT_LABEL_ROUTE, ALERT_TRACEPARENT_ANNOTATION, runNameOf } from '../../src/core/alerts.ts';
import { ALERTS_PATH, AlertReceiver } from '../../src/shell/alert-receiver.ts';
import { createLogger } from '../../src/shell/logger.ts';
import { WORKFLOW_EXECUTIONS, WORKFLOW_TEMPLATES, resourcePath } from '../../src/shell/kube/resources.ts';
import { bearerAuthorizer, type RunningServer } from '../../src/shell/servers.ts';
import { alertSenderToken, serviceAccountToken } from '../support/cluster.ts';
import { REFUSAL_REASONS, fuzzedBody } from '../fixtures/alert-fuzz.ts';
import { untilSpecPolicyEnforced } from './support/admission.ts';
import { awaitingApproval, conditionOf, inPhase } from './support/harness.ts';
import { harnessForSuite } from './support/suite.ts';

jest.setTimeout(180_000);

const h = harnessForSuite();
let receiver: RunningServer;
let senderToken: string;
let strangerToken: string;
let unbind: () => Promise<void> = () => Promise.resolve();

const STARTS_AT = '2026-12-07T20:00:00.000Z';
const alert = (fingerprint: string, alertname: string, status: 'firing' | 'resolved' = 'firing') => ({
  status,
  labels: { alertname, namespace: h.namespace, severity: 'critical' },
  annotations: { summary: `${alertname} on ${fingerprint}` },
  startsAt: STARTS_AT,
  endsAt: status === 'resolved' ? '2026-12-07T20:05:00.000Z' : '0001-01-01T00:00:00Z',
  generatorURL: 'http://prometheus.example/graph',
  fingerprint,
});
const notification = (alerts: unknown[]) =>
  JSON.stringify({ version: '4', groupKey: 'test', status: 'firing', receiver: 'kubernaut', alerts });

async function post(
  body: string,
  token: string | null = senderToken,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`http://127.0.0.1:${receiver.port}${ALERTS_PATH}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...headers,
    },
    body,
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // a plain-text answer stays text
  }
  return { status: response.status, body: parsed };
}

const counter = async (
  name: 'alertNotificationsTotal' | 'alertsTotal' | 'alertRefusalsTotal',
  label: string,
) =>
  (await h.operator.metrics[name].get()).values.find((v) => Object.values(v.labels).includes(label))?.value ??
  0;

async function runsOfRoute(route: string): Promise<WorkflowExecution[]> {
  const list = await h.client.request<{ items: WorkflowExecution[] }>(
    `${resourcePath(WORKFLOW_EXECUTIONS, h.namespace)}?labelSelector=${encodeURIComponent(`${ALERT_LABEL_ROUTE}=${route}`)}`,
  );
  return list.items;
}

function routeFor(name: string, alertname: string, approvalRequired = false): AlertRoute {
  return {
    apiVersion: 'workflowexecution.kubernaut.io/v1',
    kind: 'AlertRoute',
    metadata: { name, namespace: h.namespace },
    spec: {
      matchers: [
        { label: 'alertname', operator: '=', value: alertname },
        { label: 'namespace', operator: '=', value: h.namespace },
      ],
      workflowTemplateRef: { name: 'note', version: '1' },
      parameters: [{ name: 'note', fromAnnotation: 'summary' }],
      executionStrategy: { approvalRequired },
    },
  };
}

beforeAll(async () => {
  await untilSpecPolicyEnforced(h.client, h.namespace);
  const template: WorkflowTemplate = {
    apiVersion: 'workflowexecution.kubernaut.io/v1',
    kind: 'WorkflowTemplate',
    metadata: { name: 'note', namespace: h.namespace },
    spec: {
      versions: [
        {
          version: '1',
          parameters: [{ name: 'note', type: 'string', required: true }],
          workflowDefinition: {
            steps: [
              {
                stepNumber: 1,
                name: 'note-it',
                action: 'custom',
                parameters: { custom: { actionType: 'noop', config: { note: '${params.note}' } } },
              },
            ],
          },
        },
      ],
    },
  };
  await h.client.request(resourcePath(WORKFLOW_TEMPLATES, h.namespace), { body: template });
  for (const route of [routeFor('memory', 'HighMemory'), routeFor('storm', 'Storm', true)])
    await h.client.request(`/apis/workflowexecution.kubernaut.io/v1/namespaces/${h.namespace}/alertroutes`, {
      body: route,
    });
  // Alertmanager's identity: a ServiceAccount allowed to post to /alerts, and one that is not.
  const sender = await alertSenderToken(h.client, h.namespace, 'alertmanager');
  senderToken = sender.token;
  unbind = sender.unbind;
  strangerToken = await serviceAccountToken(h.client, h.namespace, 'stranger');
  receiver = await new AlertReceiver({
    client: h.operator.client,
    authorize: bearerAuthorizer(h.operator.client, ALERTS_PATH, 'post'),
    log: createLogger(process.env['WFE_TEST_LOG'] ?? 'error'),
    metrics: h.operator.metrics,
    port: 0,
    host: '127.0.0.1',
  }).start();
});

afterAll(async () => {
  await receiver.close();
  await unbind();
});

describe('who may post', () => {
  it('refuses no token (401) and a token without post on /alerts (403), counting both', async () => {
    const body = notification([alert('aaa1', 'HighMemory')]);
    expect((await post(body, null)).status).toBe(401);
    expect((await post(body, 'not-a-token')).status).toBe(401);
    expect((await post(body, strangerToken)).status).toBe(403);
    expect(await counter('alertNotificationsTotal', 'unauthorized')).toBeGreaterThanOrEqual(2);
    expect(await counter('alertNotificationsTotal', 'forbidden')).toBeGreaterThanOrEqual(1);
    expect(await runsOfRoute('memory')).toEqual([]);
  });
});

describe('a firing alert', () => {
  it('becomes one run of the routed template that records the alert, however often it is sent', async () => {
    const body = notification([alert('c0ffee01', 'HighMemory')]);
    // Alertmanager with tracing on sends the notification's trace context: the run's trace links to it.
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    expect(await post(body, senderToken, { traceparent })).toMatchObject({
      status: 200,
      body: { created: 1, refused: 0 },
    });
    const replays = await Promise.all([post(body), post(body), post(body)]);
    for (const replay of replays)
      expect(replay).toMatchObject({ status: 200, body: { created: 0, duplicate: 1 } });
    const name = runNameOf({ fingerprint: 'c0ffee01', startsAt: STARTS_AT });
    expect((await runsOfRoute('memory')).map((r) => r.metadata.name)).toEqual([name]);
    const wf = await h.workflows.waitFor(name, inPhase('completed'), 'completed');
    expect(wf.spec.alertRef).toEqual({
      fingerprint: 'c0ffee01',
      labels: { alertname: 'HighMemory', namespace: h.namespace, severity: 'critical' },
      startsAt: STARTS_AT,
    });
    expect(wf.status?.resolvedTemplate?.parameters).toEqual({ note: 'HighMemory on c0ffee01' });
    expect(wf.metadata.annotations?.[ALERT_TRACEPARENT_ANNOTATION]).toBe(traceparent);
  });

  it('records no trace context that is not a valid W3C traceparent', async () => {
    const body = notification([alert('c0ffee02', 'HighMemory')]);
    expect(
      await post(body, senderToken, {
        traceparent: '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
      }),
    ).toMatchObject({
      status: 200,
      body: { created: 1 },
    });
    const wf = await h.workflows.get(runNameOf({ fingerprint: 'c0ffee02', startsAt: STARTS_AT }));
    expect(wf.metadata.annotations?.[ALERT_TRACEPARENT_ANNOTATION]).toBeUndefined();
  });
});

describe('a burst of alerts, sent again and again, then resolved', () => {
  const fingerprints = Array.from({ length: 120 }, (_, i) => (0xb000 + i).toString(16));

  it('creates one run per alert, and the resolution cancels every run that has not started', async () => {
    const body = notification(fingerprints.map((f) => alert(f, 'Storm')));
    const deliveries = await Promise.all([post(body), post(body), post(body)]);
    const created = deliveries.map((d) => (d.body as { created: number }).created);
    expect(deliveries.map((d) => d.status)).toEqual([200, 200, 200]);
    expect(created.reduce((a, b) => a + b, 0)).toBe(fingerprints.length);
    expect(await runsOfRoute('storm')).toHaveLength(fingerprints.length);

    const first = runNameOf({ fingerprint: fingerprints[0] ?? '', startsAt: STARTS_AT });
    await h.workflows.waitFor(first, awaitingApproval, 'awaiting approval', 60_000);
    const resolved = await post(notification(fingerprints.map((f) => alert(f, 'Storm', 'resolved'))));
    expect(resolved).toMatchObject({ status: 200, body: { cancelled: fingerprints.length } });
    const wf = await h.workflows.waitFor(first, inPhase('failed'), 'failed (cancelled)', 60_000);
    expect(conditionOf(wf, 'Ready')?.reason).toBe('Cancelled');
    expect(await h.workflows.childrenOf(first)).toEqual([]);
    expect(await post(notification([alert(fingerprints[1] ?? '', 'Storm', 'resolved')]))).toMatchObject({
      body: { cancelled: 0, ignored: 1 },
    });
  });
});

describe('what Alertmanager should never send', () => {
  it('answers 400 to a body that is not a notification, and 405 to a GET', async () => {
    expect((await post('{"alerts": [')).status).toBe(400);
    expect((await post(JSON.stringify({ version: '3', alerts: [] }))).status).toBe(400);
    expect(await counter('alertNotificationsTotal', 'malformed')).toBeGreaterThanOrEqual(2);
    const get = await fetch(`http://127.0.0.1:${receiver.port}${ALERTS_PATH}`);
    expect(get.status).toBe(405);
  });

  it('refuses a malformed alert and an unrouted one, and acts on the rest of the notification', async () => {
    const before = await counter('alertRefusalsTotal', 'MalformedAlert');
    const body = notification([
      { ...alert('dd01', 'HighMemory'), fingerprint: 'not hex' },
      alert('dd02', 'NobodyRoutesThis'),
      alert('dd03', 'HighMemory'),
    ]);
    expect(await post(body)).toMatchObject({
      status: 200,
      body: {
        created: 1,
        refused: 2,
        refusals: [
          { reason: 'MalformedAlert', index: 0 },
          { reason: 'NoRoute', index: 1 },
        ],
      },
    });
    expect(await counter('alertRefusalsTotal', 'MalformedAlert')).toBe(before + 1);
    expect(await counter('alertRefusalsTotal', 'NoRoute')).toBeGreaterThanOrEqual(1);
  });
});

describe('fuzzed deliveries against the running receiver', () => {
  it('never answer 5xx or crash, refuse only with typed reasons, and make at most one run per alert', async () => {
    const bodies = fc.sample(fuzzedBody(['Storm', 'Unrouted'], h.namespace), { numRuns: 80, seed: 21 });
    const sent = new Set<string>();
    for (const body of bodies) {
      const answer = await post(body);
      expect({ body, status: answer.status }).toEqual({ body, status: answer.status === 200 ? 200 : 400 });
      if (answer.status !== 200) continue;
      const counts = answer.body as { refusals: { reason: string }[] };
      for (const refusal of counts.refusals) expect(REFUSAL_REASONS).toContain(refusal.reason);
      for (const item of (JSON.parse(body) as { alerts: unknown[] }).alerts)
        if (typeof item === 'object' && item !== null && 'fingerprint' in item)
          sent.add(String(item.fingerprint));
    }
    // Every run the fuzz made: one per firing, under the name every delivery gives it.
    const runs = (await runsOfRoute('storm')).filter((r) => sent.has(r.spec.alertRef?.fingerprint ?? ''));
    const firings = runs.map(
      (r) => `${r.spec.alertRef?.fingerprint ?? ''} ${r.spec.alertRef?.startsAt ?? ''}`,
    );
    expect(runs.length).toBeGreaterThan(0);
    expect(new Set(firings).size).toBe(runs.length);
    for (const r of runs)
      expect(r.metadata.name).toBe(
        runNameOf({
          fingerprint: r.spec.alertRef?.fingerprint ?? '',
          startsAt: r.spec.alertRef?.startsAt ?? '',
        }),
      );
    expect(await counter('alertNotificationsTotal', 'error')).toBe(0);
    // And it still serves.
    expect(await post(notification([alert('ee01', 'HighMemory')]))).toMatchObject({
      status: 200,
      body: { created: 1 },
    });
  });
});
