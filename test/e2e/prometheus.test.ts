// A real Prometheus scrapes a running operator exactly as the shipped ServiceMonitor says (https,
// path, the bearer token of its ServiceAccount, bound to the metrics reader) and evaluates the
// shipped rules with short test thresholds, while workflows run on the real control plane: every
// metric of the specification arrives with its labels, a workflow held at its approval gate makes
// the awaiting-approval alert go pending, every dashboard query answers, and wrong tokens get
// 401/403 from the operator while Prometheus reports those targets down.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { openSqliteAuditStore } from '../../src/audit/sqlite.ts';
import { DASHBOARD_FILE } from '../../src/monitoring/outputs.ts';
import { REPO_ROOT } from '../../tooling/controlplane/binaries.ts';
import { sharedControlPlane } from '../support/shared-control-plane.ts';
import { freePorts } from '../../tooling/controlplane/ports.ts';
import type { KubeClient } from '../../src/shell/kube/client.ts';
import { startMonitoring, type RunningMonitoring } from '../../tooling/monitoring/bundle.ts';
import { scrapeConfigOf, type ServiceMonitor } from '../../tooling/monitoring/prometheus.ts';
import { ensureMonitoringTools } from '../../tooling/monitoring/tools.ts';
import { startOperator, type RunningOperator } from '../../src/shell/operator.ts';
import { createLogger } from '../../src/shell/logger.ts';
import { customRollback, customStep, specWith } from '../fixtures/specs.ts';
import { metricsGet } from '../support/operator-process.ts';
import { ScriptedExecutor, rollbackFailsIn } from '../support/executor.ts';
import { serviceAccountToken, until } from '../support/cluster.ts';
import {
  Workflows,
  adminClient,
  awaitingApproval,
  conditionOf,
  createNamespace,
  inPhase,
} from '../integration/support/harness.ts';

// The first run builds Prometheus from Go modules (minutes).
jest.setTimeout(30 * 60_000);

const M = 'kubernaut_workflowexecution';

/** The specification's metrics (service and lifecycle) and the labels each must carry. */
const SPECIFIED: [string, string[]][] = [
  [`${M}_executions_total`, ['workflow_name', 'outcome']],
  [`${M}_phase_duration_seconds_bucket`, ['phase', 'le']],
  [`${M}_active_executions`, []],
  [`${M}_steps_created_total`, ['workflow_name', 'action']],
  [`${M}_steps_completed_total`, ['workflow_name', 'action', 'status']],
  [`${M}_rollbacks_total`, ['workflow_name', 'reason']],
  [`${M}_effectiveness_score_bucket`, ['le']],
  [`${M}_safety_validation_total`, ['check_type', 'result']],
  [`${M}_adaptive_adjustments_total`, ['adjustment_type']],
  [`${M}_created_total`, ['namespace']],
  [`${M}_deleted_total`, ['namespace', 'phase']],
  [`${M}_active_total`, ['namespace', 'phase']],
  [`${M}_lifecycle_duration_seconds_bucket`, ['outcome', 'le']],
  [`${M}_validation_failures_total`, ['reason']],
  [`${M}_phase_start_timestamp_seconds`, ['namespace', 'name', 'phase']],
  [`${M}_workflow_steps_bucket`, ['le']],
];

const script = rollbackFailsIn('bad-rollback', 2);

interface QueryResult {
  status: string;
  error?: string;
  data: { result: { metric: Record<string, string>; value: [number, string] }[] };
}
interface Target {
  labels: { job: string };
  health: 'up' | 'down' | 'unknown';
  lastError: string;
}
interface Alert {
  labels: Record<string, string>;
  state: 'pending' | 'firing';
}

let client: KubeClient;
let namespace: string;
let operator: RunningOperator;
let executor: ScriptedExecutor;
let monitoring: RunningMonitoring;
let dir: string;
const nobodyToken = { value: '' };
const cleanups: (() => Promise<void> | void)[] = [];

async function api<T>(path: string, params: Record<string, string> = {}): Promise<T> {
  const url = new URL(`${monitoring.prometheus.url}${path}`);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  const res = await fetch(url);
  return (await res.json()) as T;
}
const query = (expr: string) => api<QueryResult>('/api/v1/query', { query: expr });

const targets = async () =>
  (await api<{ data: { activeTargets: Target[] } }>('/api/v1/targets')).data.activeTargets;

beforeAll(async () => {
  const tools = await ensureMonitoringTools();
  const admin = await adminClient();
  client = admin.client;
  cleanups.push(() => {
    client.close();
  });
  namespace = await createNamespace(client, 'prom');
  cleanups.push(async () => {
    await client.request(`/api/v1/namespaces/${namespace}`, { method: 'DELETE' }).catch(() => undefined);
  });
  dir = mkdtempSync(join(tmpdir(), 'wfe-prometheus-'));
  cleanups.push(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const audit = openSqliteAuditStore(join(dir, 'audit.db'));
  operator = await startOperator({
    kubeconfig: sharedControlPlane().kubeconfigPath,
    namespaces: [namespace],
    metricsPort: 0,
    bindAddress: '127.0.0.1',
    log: createLogger(process.env['WFE_TEST_LOG'] ?? 'error'),
    audit,
    monitoringPollMs: 200,
  });
  cleanups.push(() => operator.stop());
  executor = new ScriptedExecutor(admin.kc, client, script, namespace);
  await executor.start();
  cleanups.push(() => executor.stop());

  // A ServiceAccount that exists but may not read /metrics.
  nobodyToken.value = await serviceAccountToken(client, namespace, 'nobody');
  const garbageFile = join(dir, 'garbage-token');
  const nobodyFile = join(dir, 'nobody-token');
  writeFileSync(garbageFile, 'not-a-token');
  writeFileSync(nobodyFile, nobodyToken.value);

  const [port = 0] = await freePorts(1);
  const metricsAddress = `127.0.0.1:${String(operator.metricsPort)}`;
  // The same endpoint with the wrong credentials: a made-up token, and one without permission.
  const wrong = (monitor: ServiceMonitor, job: string, tokenFile: string) =>
    scrapeConfigOf(monitor, { address: metricsAddress, tokenFile, interval: '1s' }, 0, job);
  monitoring = await startMonitoring({
    kc: admin.kc,
    client,
    tools,
    metricsAddress,
    dir: join(dir, 'prometheus'),
    port,
    scrapeInterval: '1s',
    // The shipped rules, with thresholds a test can reach.
    ruleParameters: { approvalTimeoutSeconds: 1, approvalFor: '10m', rateWindow: '1m' },
    extraScrapeConfigs: (monitor) => [
      wrong(monitor, 'garbage-token', garbageFile),
      wrong(monitor, 'nobody-token', nobodyFile),
    ],
  });
  cleanups.push(() => monitoring.stop());
});

afterAll(async () => {
  // Whatever beforeAll got to start, stopped in reverse order.
  for (const cleanup of cleanups.reverse()) await cleanup();
});

describe('Prometheus scraping the operator as the ServiceMonitor says', () => {
  it('scrapes with the ServiceAccount token; wrong tokens get 401 and 403 and their targets are down', async () => {
    const health = await until('all three targets scraped', async () => {
      const all = await targets();
      return all.length === 3 && all.every((t) => t.health !== 'unknown') ? all : undefined;
    });
    const byJob = new Map(health.map((t) => [t.labels.job, t]));
    expect(byJob.get(monitoring.job)).toMatchObject({ health: 'up', lastError: '' });
    expect(byJob.get('garbage-token')).toMatchObject({
      health: 'down',
      lastError: expect.stringContaining('401'),
    });
    expect(byJob.get('nobody-token')).toMatchObject({
      health: 'down',
      lastError: expect.stringContaining('403'),
    });
    const up = await query('up');
    expect(Object.fromEntries(up.data.result.map((r) => [r.metric['job'], r.value[1]]))).toEqual({
      [monitoring.job]: '1',
      'garbage-token': '0',
      'nobody-token': '0',
    });
    // And what the operator answers them, directly.
    const status = async (token: string) =>
      (await metricsGet(operator.metricsPort ?? 0, '/metrics', { authorization: `Bearer ${token}` })).status;
    expect(await status('not-a-token')).toBe(401);
    expect(await status(nobodyToken.value)).toBe(403);
    expect(await status(monitoring.token)).toBe(200);
  });

  it('while workflows run: every specified metric arrives with its labels, the held workflow makes WorkflowExecutionAwaitingApproval pending, every dashboard query answers', async () => {
    const workflows = new Workflows({ client, namespace });
    await workflows.apply('gated', specWith([customStep(1)], { approvalRequired: true }));
    await workflows.apply('steady', {
      ...specWith([customStep(1), customStep(2), customStep(3)]),
      workflowDefinition: {
        name: 'remediate-web',
        version: '1',
        steps: [customStep(1), customStep(2), customStep(3)],
        aiRecommendations: {
          parallelExecutionSuggestions: [{ groupName: 'fanout', stepNumbers: [2, 3], confidence: 0.9 }],
        },
      },
      adaptiveOrchestration: { optimizationEnabled: true },
    });
    await workflows.apply(
      'bad-rollback',
      specWith([customStep(1, { rollbackSpec: customRollback(1) }), customStep(2, { criticalStep: true })]),
    );
    await workflows.apply(
      'unsafe',
      specWith(
        [
          {
            stepNumber: 1,
            name: 'scale-missing',
            action: 'scale-deployment',
            parameters: { scaleDeployment: { namespace, deployment: 'does-not-exist', replicas: 2 } },
          },
        ],
        { safetyChecks: [{ type: 'health', required: true }] },
      ),
    );
    await workflows.apply('short-lived', specWith([customStep(1)]));

    await workflows.waitFor('gated', awaitingApproval);
    await workflows.waitFor('steady', inPhase('completed'));
    await workflows.waitFor('bad-rollback', (wf) => conditionOf(wf, 'Ready')?.reason === 'RollbackFailed');
    await workflows.waitFor('unsafe', inPhase('failed'));
    await workflows.waitFor('short-lived', inPhase('completed'));
    await client.request(
      `/apis/workflowexecution.kubernaut.io/v1/namespaces/${namespace}/workflowexecutions/short-lived`,
      {
        method: 'DELETE',
      },
    );

    // Every metric of the specification, with its labels (once a scrape after the run has landed).
    for (const [name, labels] of SPECIFIED) {
      const series = await until(`${name} in Prometheus`, async () => {
        const r = await query(`${name}{job="${monitoring.job}"}`);
        return r.data.result.length > 0 ? r.data.result : undefined;
      });
      for (const s of series)
        expect({ name, missing: labels.filter((l) => !(l in s.metric)) }).toEqual({ name, missing: [] });
    }
    const deleted = await until('the deletion counted', async () => {
      const r = await query(`${M}_deleted_total{namespace="${namespace}"}`);
      return r.data.result.length > 0 ? r.data.result : undefined;
    });
    expect(deleted[0]?.metric['phase']).toBe('completed');

    // The held workflow: the shipped rule with a 1 s approval timeout goes pending (for: 10m).
    const pending = await until('WorkflowExecutionAwaitingApproval pending', async () => {
      const alerts = (await api<{ data: { alerts: Alert[] } }>('/api/v1/alerts')).data.alerts;
      return alerts.find((a) => a.labels['alertname'] === 'WorkflowExecutionAwaitingApproval');
    });
    expect(pending).toMatchObject({
      state: 'pending',
      labels: { namespace, name: 'gated', severity: 'warning' },
    });

    // Every dashboard panel's query, as Grafana would send it for this namespace.
    const dashboard = JSON.parse(readFileSync(join(REPO_ROOT, DASHBOARD_FILE), 'utf8')) as {
      panels: { title: string; targets: { expr: string }[] }[];
    };
    for (const panel of dashboard.panels) {
      for (const target of panel.targets) {
        const expr = target.expr.replaceAll('$namespace', namespace).replaceAll('$__rate_interval', '1m');
        // A rate needs two samples after the counter moved: wait for them, but not for an error.
        const answer = await until(`${panel.title}: ${expr} answering with data`, async () => {
          const a = await query(expr);
          return a.status !== 'success' || a.data.result.length > 0 ? a : undefined;
        });
        expect({ panel: panel.title, expr, status: answer.status, error: answer.error }).toEqual({
          panel: panel.title,
          expr,
          status: 'success',
          error: undefined,
        });
        expect({ panel: panel.title, expr, series: answer.data.result.length > 0 }).toEqual({
          panel: panel.title,
          expr,
          series: true,
        });
      }
    }
  });
});
