// From alert to fixed, with every part real: a metric this test serves and flips, a real Prometheus
// scraping it and evaluating a rule every second, a real Alertmanager (one group, 1 s waits) posting
// to the operator's webhook receiver with a ServiceAccount token that the receiver checks with a
// TokenReview and a SubjectAccessReview, an AlertRoute choosing a WorkflowTemplate, and the real
// executor scaling a real Deployment. The alert fires, one run is created and scales the Deployment;
// the metric flips back, the alert resolves and the run completes; the same alert sent again through
// Alertmanager creates nothing new.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { AlertRoute, KubernetesExecution, WorkflowExecution } from '../../src/api/generated/types.ts';
import { ALERT_LABEL_ROUTE, runNameOf } from '../../src/core/alerts.ts';
import { startExecutor, type RunningExecutor } from '../../src/executor/executor.ts';
import { ALERTS_PATH } from '../../src/shell/alert-receiver.ts';
import type { KubeClient } from '../../src/shell/kube/client.ts';
import {
  KUBERNETES_EXECUTIONS,
  WORKFLOW_EXECUTIONS,
  WORKFLOW_TEMPLATES,
  resourcePath,
} from '../../src/shell/kube/resources.ts';
import { createLogger } from '../../src/shell/logger.ts';
import { startOperator, type RunningOperator } from '../../src/shell/operator.ts';
import { freePorts } from '../../tooling/controlplane/ports.ts';
import {
  startAlertmanager,
  webhookConfig,
  type RunningAlertmanager,
} from '../../tooling/monitoring/alertmanager.ts';
import { startPrometheus, type RunningPrometheus } from '../../tooling/monitoring/prometheus.ts';
import { ensureMonitoringTools } from '../../tooling/monitoring/tools.ts';
import { scaleParameters, scaleStep, templateVersion, workflowTemplate } from '../fixtures/templates.ts';
import { alertSenderToken, until } from '../support/cluster.ts';
import { sharedControlPlane } from '../support/shared-control-plane.ts';
import { createDeployment, getDeployment, waitAvailable } from '../integration/support/actions.ts';
import { adminClient, createNamespace, deleteNamespace, inPhase } from '../integration/support/harness.ts';

// The first run builds Prometheus and Alertmanager from Go modules (minutes).
jest.setTimeout(30 * 60_000);

const ALERT = 'WebUnderProvisioned';
const METRIC = 'wfe_demo_replicas_wanted';
const log = createLogger(process.env['WFE_TEST_LOG'] ?? 'error');

let client: KubeClient;
let namespace: string;
let dir: string;
let operator: RunningOperator;
let executor: RunningExecutor;
let prometheus: RunningPrometheus | undefined;
let alertmanager: RunningAlertmanager;
let metrics: Server;
/** The gauge the test flips: the replicas the alert asks for, 0 when nothing is wrong. */
let wanted = 0;
const cleanups: (() => Promise<void> | void)[] = [];

const alertsCounted = async (outcome: string): Promise<number> =>
  (await operator.metrics.alertsTotal.get()).values.find((v) => v.labels['outcome'] === outcome)?.value ?? 0;

async function runsOfRoute(): Promise<WorkflowExecution[]> {
  const selector = encodeURIComponent(`${ALERT_LABEL_ROUTE}=scale-web`);
  return (
    await client.request<{ items: WorkflowExecution[] }>(
      `${resourcePath(WORKFLOW_EXECUTIONS, namespace)}?labelSelector=${selector}`,
    )
  ).items;
}

interface AmAlert {
  fingerprint: string;
  labels: Record<string, string>;
  status: { state: string };
}
const activeInAlertmanager = async (): Promise<AmAlert[]> =>
  (await (await fetch(`${alertmanager.url}/api/v2/alerts?active=true`)).json()) as AmAlert[];

beforeAll(async () => {
  const tools = await ensureMonitoringTools();
  const admin = await adminClient();
  client = admin.client;
  cleanups.push(() => {
    client.close();
  });
  namespace = await createNamespace(client, 'alertloop');
  cleanups.push(() => deleteNamespace(client, namespace));
  dir = mkdtempSync(join(tmpdir(), 'wfe-alert-loop-'));
  cleanups.push(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  await createDeployment(client, namespace, 'web', 1);
  await waitAvailable(client, namespace, 'web', 1);
  // scale-up 1.0.0: one step scaling ${params.deployment} to ${params.replicas}, all three required.
  const template = workflowTemplate(
    'scale-up',
    [
      templateVersion(
        '1.0.0',
        [scaleStep()],
        scaleParameters.map(({ name, type }) => ({ name, type, required: true })),
      ),
    ],
    namespace,
  );
  await client.request(resourcePath(WORKFLOW_TEMPLATES, namespace), { body: template });
  const route: AlertRoute = {
    apiVersion: 'workflowexecution.kubernaut.io/v1',
    kind: 'AlertRoute',
    metadata: { name: 'scale-web', namespace },
    spec: {
      matchers: [
        { label: 'alertname', operator: '=', value: ALERT },
        { label: 'namespace', operator: '=', value: namespace },
      ],
      workflowTemplateRef: { name: 'scale-up', version: '1.0.0' },
      parameters: [
        { name: 'namespace', fromLabel: 'namespace' },
        { name: 'deployment', fromLabel: 'deployment' },
        { name: 'replicas', fromAnnotation: 'replicas' },
      ],
    },
  };
  await client.request(`/apis/workflowexecution.kubernaut.io/v1/namespaces/${namespace}/alertroutes`, {
    body: route,
  });

  // Alertmanager's identity: a ServiceAccount bound to the shipped alert-sender role's rule.
  const { token, unbind } = await alertSenderToken(client, namespace, 'alertmanager');
  cleanups.push(unbind);
  const tokenFile = join(dir, 'alertmanager-token');
  writeFileSync(tokenFile, token, { mode: 0o600 });

  const [webhookPort = 0, amPort = 0, promPort = 0] = await freePorts(3);
  operator = await startOperator({
    kubeconfig: sharedControlPlane().kubeconfigPath,
    namespaces: [namespace],
    bindAddress: '127.0.0.1',
    alertWebhookPort: webhookPort,
    alertmanagerUrl: `http://127.0.0.1:${String(amPort)}`,
    admission: { lockNamespace: namespace },
    monitoringPollMs: 200,
    log,
  });
  cleanups.push(() => operator.stop());
  executor = await startExecutor({
    client,
    log,
    namespace,
    clusterNamespace: namespace,
    identity: 'alert-loop-executor',
    leaseDurationSeconds: 5,
    resyncMs: 200,
  });
  cleanups.push(() => executor.stop());

  alertmanager = await startAlertmanager({
    binary: tools.alertmanager,
    dir: join(dir, 'alertmanager'),
    port: amPort,
    config: webhookConfig({ webhookUrl: `http://127.0.0.1:${String(webhookPort)}${ALERTS_PATH}`, tokenFile }),
  });
  cleanups.push(() => alertmanager.stop());

  // The metric: one gauge for the Deployment, the replicas it should have (0: none wanted).
  metrics = createServer((_, res) => {
    res
      .writeHead(200, { 'content-type': 'text/plain; version=0.0.4' })
      .end(
        `# TYPE ${METRIC} gauge\n${METRIC}{namespace="${namespace}",deployment="web"} ${String(wanted)}\n`,
      );
  });
  await new Promise<void>((resolve) => metrics.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        metrics.closeAllConnections();
        metrics.close(() => {
          resolve();
        });
      }),
  );
  const running = await startPrometheus({
    binary: tools.prometheus,
    dir: join(dir, 'prometheus'),
    port: promPort,
    scrapeConfigs: [
      {
        job_name: 'demo',
        scrape_interval: '1s',
        scrape_timeout: '1s',
        static_configs: [{ targets: [`127.0.0.1:${String((metrics.address() as AddressInfo).port)}`] }],
      },
    ],
    ruleGroups: [
      {
        name: 'demo',
        rules: [
          {
            alert: ALERT,
            expr: `${METRIC}{namespace="${namespace}"} > 0`,
            for: '0s',
            labels: { severity: 'critical' },
            // The replicas the run scales to: the gauge's value, through the route's parameter.
            annotations: { replicas: '{{ $value }}', summary: 'web needs more replicas' },
          },
        ],
      },
    ],
    evaluationInterval: '1s',
    alertmanagers: [`127.0.0.1:${String(amPort)}`],
  });
  prometheus = running;
  cleanups.push(() => running.stop());
});

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

describe('an alert, through Prometheus and Alertmanager, remediated by a template run', () => {
  it('fires, creates one run that scales the Deployment, resolves, the run completes; sent again, nothing new', async () => {
    expect(await runsOfRoute()).toEqual([]);
    wanted = 3;

    // Prometheus fires, Alertmanager posts, the route makes one run of scale-up 1.0.0.
    const [created] = await until(
      'a run created by the alert',
      async () => {
        const runs = await runsOfRoute();
        return runs.length > 0 ? runs : undefined;
      },
      120_000,
      250,
    );
    const name = created?.metadata.name ?? '';
    const alertRef = created?.spec.alertRef;
    expect(alertRef?.labels).toMatchObject({ alertname: ALERT, namespace, deployment: 'web' });
    expect(name).toBe(
      runNameOf({ fingerprint: alertRef?.fingerprint ?? '', startsAt: alertRef?.startsAt ?? '' }),
    );

    // The executor carries the step out on the real Deployment.
    await until(
      'web scaled to 3 by the run',
      async () => ((await getDeployment(client, namespace, 'web')).spec.replicas === 3 ? true : undefined),
      120_000,
      250,
    );
    const children = await until(
      'the step carried out by the executor',
      async () => {
        const items = (
          await client.request<{ items: KubernetesExecution[] }>(
            resourcePath(KUBERNETES_EXECUTIONS, namespace),
          )
        ).items;
        return items.some((c) => c.status?.phase === 'completed') ? items : undefined;
      },
      120_000,
      250,
    );
    expect(children.map((c) => [c.spec.action, c.spec.workflowExecutionRef.name, c.status?.phase])).toEqual([
      ['scale-deployment', name, 'completed'],
    ]);

    // Fixed: the metric goes back, the alert resolves in Prometheus and Alertmanager, and
    // Alertmanager's resolved notification reaches the receiver.
    const ignoredBefore = await alertsCounted('ignored');
    wanted = 0;
    await until(
      'the alert resolved in Alertmanager',
      async () =>
        (await activeInAlertmanager()).some((a) => a.fingerprint === alertRef?.fingerprint)
          ? undefined
          : true,
      120_000,
      250,
    );
    await until(
      'the resolved notification received (the run had started: nothing to cancel)',
      async () => ((await alertsCounted('ignored')) > ignoredBefore ? true : undefined),
      120_000,
      250,
    );
    const done = await until(
      'the run completed',
      async () => {
        const wf = await client.request<WorkflowExecution>(
          resourcePath(WORKFLOW_EXECUTIONS, namespace, name),
        );
        return inPhase('completed')(wf) ? wf : undefined;
      },
      180_000,
      250,
    );
    expect(done.status?.resolvedTemplate).toMatchObject({
      name: 'scale-up',
      version: '1.0.0',
      parameters: { namespace, deployment: 'web', replicas: '3' },
    });
    await waitAvailable(client, namespace, 'web', 3);

    // The same alert again (what a replay or a retry of Alertmanager delivers): Prometheus is
    // stopped so that its resends of the resolved alert cannot overtake this one.
    await prometheus?.stop();
    const duplicatesBefore = await alertsCounted('duplicate');
    const resent = await fetch(`${alertmanager.url}/api/v2/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([
        {
          labels: alertRef?.labels,
          annotations: { replicas: '3' },
          startsAt: alertRef?.startsAt,
          endsAt: new Date(Date.now() + 10 * 60_000).toISOString(),
        },
      ]),
    });
    expect(resent.status).toBe(200);
    await until(
      'the replayed alert delivered and found a duplicate',
      async () => ((await alertsCounted('duplicate')) > duplicatesBefore ? true : undefined),
      120_000,
      250,
    );
    expect((await runsOfRoute()).map((r) => r.metadata.name)).toEqual([name]);
    expect(await alertsCounted('created')).toBe(1);
  });
});
