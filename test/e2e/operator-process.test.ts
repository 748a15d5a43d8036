// The operator as real processes (`wfx operator`): leader election between two of them, handover
// after SIGKILL and after a graceful SIGTERM, the metrics endpoint behind TokenReview and
// SubjectAccessReview, and readiness that waits for the caches.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node';
import { REPO_ROOT } from '../../src/shell/controlplane/binaries.ts';
import { sharedControlPlane } from '../../src/shell/controlplane/launcher.ts';
import { applyAll, loadManifests } from '../../src/shell/controlplane/manifests.ts';
import { freePorts } from '../../src/shell/controlplane/ports.ts';
import type { KubeClient } from '../../src/shell/kube/client.ts';
import { customStep, specWith } from '../fixtures/specs.ts';
import { ScriptedExecutor } from '../support/executor.ts';
import {
  adminClient,
  applyWorkflow,
  createNamespace,
  inPhase,
  waitForWorkflow,
} from '../integration/support/harness.ts';

jest.setTimeout(180_000);

const LEASE_DURATION_MS = 15_000;
const RENEW_DEADLINE_MS = 10_000;
const RETRY_PERIOD_MS = 2_000;
/** Process start-up, a log line crossing a pipe, a poll interval: slack on top of the lease rules. */
const SLACK_MS = 1_500;

interface LogLine {
  message?: string;
  level?: string;
  workflow?: string;
  reconcileId?: string;
  identity?: string;
  [key: string]: unknown;
}

interface OperatorProcess {
  child: ChildProcess;
  lines: LogLine[];
  healthPort: number;
  metricsPort: number;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the first log line that satisfies `match` (already logged or still to come). */
  waitForLog(match: (line: LogLine) => boolean, what: string, timeoutMs?: number): Promise<LogLine>;
}

const running: OperatorProcess[] = [];

async function spawnOperator(options: {
  kubeconfig: string;
  namespace: string;
  leaseName?: string;
}): Promise<OperatorProcess> {
  const [healthPort = 0, metricsPort = 0] = await freePorts(2);
  const args = [
    'src/cli/wfx.ts',
    'operator',
    '--kubeconfig',
    options.kubeconfig,
    '--namespaces',
    options.namespace,
    '--health-port',
    String(healthPort),
    '--metrics-port',
    String(metricsPort),
    '--bind-address',
    '127.0.0.1',
    '--log-level',
    'info',
  ];
  if (options.leaseName) {
    args.push(
      '--leader-elect',
      '--leader-election-namespace',
      options.namespace,
      '--leader-election-id',
      options.leaseName,
    );
  }
  const child = spawn('node_modules/.bin/node', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: LogLine[] = [];
  const waiters: { match: (line: LogLine) => boolean; resolve: (line: LogLine) => void }[] = [];
  const input = createInterface({ input: child.stderr });
  input.on('line', (text) => {
    let line: LogLine;
    try {
      line = JSON.parse(text) as LogLine;
    } catch {
      line = { message: text };
    }
    lines.push(line);
    for (const w of [...waiters]) {
      if (w.match(line)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
  child.stdout.resume();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      resolve({ code, signal });
    });
  });
  const operator: OperatorProcess = {
    child,
    lines,
    healthPort,
    metricsPort,
    exited,
    waitForLog(match, what, timeoutMs = 60_000) {
      const found = lines.find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(new Error(`no log line ${what} in ${timeoutMs} ms; log:\n${tail(lines)}`));
        }, timeoutMs);
        waiters.push({
          match,
          resolve: (line) => {
            clearTimeout(timer);
            resolve(line);
          },
        });
        void exited.then(({ code, signal }) => {
          clearTimeout(timer);
          reject(
            new Error(`operator exited (${String(code ?? signal)}) before ${what}; log:\n${tail(lines)}`),
          );
        });
      });
    },
  };
  running.push(operator);
  return operator;
}

const tail = (lines: LogLine[]) =>
  lines
    .slice(-20)
    .map((l) => JSON.stringify(l))
    .join('\n');

const isRunning = (p: OperatorProcess) => p.child.exitCode === null && p.child.signalCode === null;

async function kill(p: OperatorProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (!isRunning(p)) return;
  p.child.kill(signal);
  await p.exited;
}

/** Status code of a GET on one of an operator's ports, or 0 while nothing listens there. */
async function httpStatus(
  port: number,
  path: string,
  token?: string,
): Promise<{ status: number; body: string }> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, {
      headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
    });
    return { status: res.status, body: await res.text() };
  } catch {
    return { status: 0, body: '' };
  }
}

async function until<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 60_000,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what} not seen in ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}

interface Lease {
  spec: { holderIdentity?: string; leaseTransitions?: number; leaseDurationSeconds?: number };
}

let client: KubeClient;
let kc: KubeConfig;
const executors: ScriptedExecutor[] = [];
const namespaces: string[] = [];

async function namespaceWithExecutor(prefix: string): Promise<string> {
  const namespace = await createNamespace(client, prefix);
  namespaces.push(namespace);
  const executor = new ScriptedExecutor(kc, client, undefined, namespace);
  await executor.start();
  executors.push(executor);
  return namespace;
}

const lease = (namespace: string, name: string) =>
  client.request<Lease>(`/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases/${name}`);

const metricValue = (body: string, name: string): number | undefined => {
  const line = body.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
};

/** A ServiceAccount and a token for it from the TokenRequest API. */
async function serviceAccountToken(namespace: string, name: string): Promise<string> {
  await client.request(`/api/v1/namespaces/${namespace}/serviceaccounts`, {
    body: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name } },
  });
  const request = await client.request<{ status: { token: string } }>(
    `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`,
    {
      body: {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenRequest',
        spec: { expirationSeconds: 3600 },
      },
    },
  );
  return request.status.token;
}

beforeAll(async () => {
  const admin = await adminClient();
  client = admin.client;
  kc = admin.kc;
  // The operator's ClusterRoles, including the metrics reader the Prometheus account is bound to.
  await applyAll(kc, await loadManifests(join(REPO_ROOT, 'manifests', 'rbac')));
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((p) => kill(p)));
});

afterAll(async () => {
  await Promise.all(executors.map((e) => e.stop()));
  for (const namespace of namespaces)
    await client.request(`/api/v1/namespaces/${namespace}`, { method: 'DELETE' }).catch(() => undefined);
  await client
    .request('/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/e2e-metrics-reader', {
      method: 'DELETE',
    })
    .catch(() => undefined);
  client.close();
});

const admin = () => sharedControlPlane().kubeconfigPath;
const reconcileLinesFor = (p: OperatorProcess, workflow: string) =>
  p.lines.filter((l) => l.workflow === workflow && l.reconcileId !== undefined);
const becameLeader = (l: LogLine) => l.message === 'became leader';
const failedList = (l: LogLine) => /watch failed; restarting/.test(l.message ?? '');

async function leaderMetric(p: OperatorProcess, token: string): Promise<number | undefined> {
  const { status, body } = await httpStatus(p.metricsPort, '/metrics', token);
  expect(status).toBe(200);
  return metricValue(body, 'kubernaut_workflowexecution_leader');
}

let readerToken = '';

describe('operators as processes', () => {
  beforeAll(async () => {
    const namespace = await createNamespace(client, 'metrics-sa');
    namespaces.push(namespace);
    readerToken = await serviceAccountToken(namespace, 'prometheus');
    await client.request('/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
      body: {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: 'e2e-metrics-reader' },
        roleRef: {
          apiGroup: 'rbac.authorization.k8s.io',
          kind: 'ClusterRole',
          name: 'workflowexecution-metrics-reader',
        },
        subjects: [{ kind: 'ServiceAccount', name: 'prometheus', namespace }],
      },
    });
  });

  it('with leader election only the leader reconciles, and after SIGKILL of the leader the other takes over within the lease duration + 2 s', async () => {
    const namespace = await namespaceWithExecutor('leader');
    const leaseName = 'wfe-leader';
    const first = await spawnOperator({ kubeconfig: admin(), namespace, leaseName });
    const leader = await first.waitForLog(becameLeader, 'became leader');
    const second = await spawnOperator({ kubeconfig: admin(), namespace, leaseName });
    // The second one is up, its caches synced, but it waits for the lease.
    await until('the second operator ready', async () =>
      (await httpStatus(second.healthPort, '/ready')).status === 200 ? true : undefined,
    );
    expect((await lease(namespace, leaseName)).spec.holderIdentity).toBe(leader.identity);
    expect(await leaderMetric(first, readerToken)).toBe(1);
    expect(await leaderMetric(second, readerToken)).toBe(0);

    await applyWorkflow({ client, namespace }, 'before-kill', specWith([customStep(1), customStep(2)]));
    await waitForWorkflow({ client, namespace }, 'before-kill', inPhase('completed'));
    expect(reconcileLinesFor(first, 'before-kill').length).toBeGreaterThan(0);
    expect(reconcileLinesFor(second, 'before-kill')).toEqual([]);
    expect(second.lines.filter(becameLeader)).toEqual([]);

    // The leader dies without a word; a workflow arrives while nobody leads.
    const killedAt = Date.now();
    await kill(first);
    await applyWorkflow({ client, namespace }, 'after-kill', specWith([customStep(1), customStep(2)]));
    const successor = await second.waitForLog(becameLeader, 'became leader', 30_000);
    const handoverMs = Date.now() - killedAt;
    expect((await lease(namespace, leaseName)).spec.holderIdentity).toBe(successor.identity);
    expect(successor.identity).not.toBe(leader.identity);
    // Not before the dead leader's lease ran out (its last renewal was at most a retry period ago),
    // and no later than one retry period after that.
    expect(handoverMs).toBeGreaterThanOrEqual(LEASE_DURATION_MS - RETRY_PERIOD_MS - SLACK_MS);
    expect(handoverMs).toBeLessThanOrEqual(LEASE_DURATION_MS + RETRY_PERIOD_MS + SLACK_MS);

    await waitForWorkflow({ client, namespace }, 'after-kill', inPhase('completed'));
    expect(reconcileLinesFor(second, 'after-kill').length).toBeGreaterThan(0);
    expect(await leaderMetric(second, readerToken)).toBe(1);
  });

  it('a leader stopped with SIGTERM exits 0 within 10 s and releases the lease, so its successor takes over at once', async () => {
    const namespace = await namespaceWithExecutor('sigterm');
    const leaseName = 'wfe-sigterm';
    const first = await spawnOperator({ kubeconfig: admin(), namespace, leaseName });
    const leader = await first.waitForLog(becameLeader, 'became leader');
    const second = await spawnOperator({ kubeconfig: admin(), namespace, leaseName });
    await until('the second operator ready', async () =>
      (await httpStatus(second.healthPort, '/ready')).status === 200 ? true : undefined,
    );
    // Work in flight when the signal comes.
    await applyWorkflow(
      { client, namespace },
      'in-flight',
      specWith([customStep(1), customStep(2), customStep(3)]),
    );

    const signalledAt = Date.now();
    first.child.kill('SIGTERM');
    const exit = await first.exited;
    const exitMs = Date.now() - signalledAt;
    expect(exit).toEqual({ code: 0, signal: null });
    expect(exitMs).toBeLessThan(10_000);
    // Released: nobody holds it, or the successor already does.
    const holder = (await lease(namespace, leaseName)).spec.holderIdentity ?? '';
    expect(holder).not.toBe(leader.identity);

    const successor = await second.waitForLog(becameLeader, 'became leader', 30_000);
    // One retry period, not a lease duration.
    expect(Date.now() - signalledAt).toBeLessThanOrEqual(exitMs + RETRY_PERIOD_MS + SLACK_MS);
    expect((await lease(namespace, leaseName)).spec.holderIdentity).toBe(successor.identity);
    await waitForWorkflow({ client, namespace }, 'in-flight', inPhase('completed'));
  });

  it('a lone operator stopped with SIGTERM leaves the lease with no holder', async () => {
    const namespace = await namespaceWithExecutor('release');
    const only = await spawnOperator({ kubeconfig: admin(), namespace, leaseName: 'wfe-release' });
    const leader = await only.waitForLog(becameLeader, 'became leader');
    expect((await lease(namespace, 'wfe-release')).spec.holderIdentity).toBe(leader.identity);
    only.child.kill('SIGTERM');
    expect(await only.exited).toEqual({ code: 0, signal: null });
    expect((await lease(namespace, 'wfe-release')).spec.holderIdentity ?? '').toBe('');
  });

  it('a leader that can no longer renew its lease (someone else holds it) exits non-zero within the renew deadline', async () => {
    const namespace = await namespaceWithExecutor('lost');
    const leaseName = 'wfe-lost';
    const operator = await spawnOperator({ kubeconfig: admin(), namespace, leaseName });
    await operator.waitForLog(becameLeader, 'became leader');
    const current = await lease(namespace, leaseName);
    const now = new Date().toISOString().replace(/Z$/, '000Z');
    await client.request(`/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases/${leaseName}`, {
      method: 'PUT',
      body: {
        ...current,
        spec: { ...current.spec, holderIdentity: 'usurper', leaseDurationSeconds: 3600, renewTime: now },
      },
    });
    const takenAt = Date.now();
    const exit = await operator.exited;
    expect(exit.code).not.toBe(0);
    expect(exit.code).not.toBeNull();
    expect(Date.now() - takenAt).toBeLessThanOrEqual(RENEW_DEADLINE_MS + RETRY_PERIOD_MS + SLACK_MS);
    expect(operator.lines.some((l) => l.message === 'leader lease lost; exiting')).toBe(true);
    expect((await lease(namespace, leaseName)).spec.holderIdentity).toBe('usurper');
  });

  it('stopped with SIGTERM while still waiting for its caches, exits 0 within 10 s', async () => {
    const namespace = await namespaceWithExecutor('early-term');
    const kubeconfig = await sharedControlPlane().addUser({ name: `operator-${namespace}` });
    const operator = await spawnOperator({ kubeconfig, namespace, leaseName: 'wfe-early' });
    await operator.waitForLog(failedList, 'a failed list');
    const signalledAt = Date.now();
    operator.child.kill('SIGTERM');
    expect(await operator.exited).toEqual({ code: 0, signal: null });
    expect(Date.now() - signalledAt).toBeLessThan(10_000);
  });

  it('serves /metrics only to a token allowed to get /metrics: none or garbage 401, no permission 403, metrics reader 200', async () => {
    const namespace = await namespaceWithExecutor('metrics');
    const operator = await spawnOperator({ kubeconfig: admin(), namespace });
    await until('the operator ready', async () =>
      (await httpStatus(operator.healthPort, '/ready')).status === 200 ? true : undefined,
    );
    await applyWorkflow({ client, namespace }, 'measured', specWith([customStep(1), customStep(2)]));
    await waitForWorkflow({ client, namespace }, 'measured', inPhase('completed'));
    const nobody = await serviceAccountToken(namespace, 'nobody');

    expect((await httpStatus(operator.metricsPort, '/metrics')).status).toBe(401);
    expect((await httpStatus(operator.metricsPort, '/metrics', 'not-a-token')).status).toBe(401);
    expect((await httpStatus(operator.metricsPort, '/metrics', nobody)).status).toBe(403);
    const { status, body } = await httpStatus(operator.metricsPort, '/metrics', readerToken);
    expect(status).toBe(200);
    expect(metricValue(body, 'kubernaut_workflowexecution_executions_total')).toBe(1);
    expect(body).toMatch(
      /^kubernaut_workflowexecution_steps_created_total\{workflow_name="remediate-web",action="custom"\} 2$/m,
    );
    expect(body).toMatch(/^kubernaut_workflowexecution_reconcile_total\{result="[a-z_]+"\} [1-9]/m);
    expect(metricValue(body, 'kubernaut_workflowexecution_workqueue_depth')).toBe(0);
    // Without leader election the one instance leads.
    expect(metricValue(body, 'kubernaut_workflowexecution_leader')).toBe(1);
  });

  it('is not ready until its caches have synced: without RBAC to list workflows /ready is 503 while /health is 200, and turns 200 once RBAC allows it', async () => {
    const namespace = await namespaceWithExecutor('ready');
    const user = `operator-${namespace}`;
    const kubeconfig = await sharedControlPlane().addUser({ name: user });
    const operator = await spawnOperator({ kubeconfig, namespace });
    await operator.waitForLog(failedList, 'a failed list');
    expect((await httpStatus(operator.healthPort, '/health')).status).toBe(200);
    expect((await httpStatus(operator.healthPort, '/healthz')).status).toBe(200);
    expect((await httpStatus(operator.healthPort, '/ready')).status).toBe(503);
    expect((await httpStatus(operator.healthPort, '/readyz')).status).toBe(503);
    // It keeps trying and stays unready.
    await until('a second failed list', () =>
      operator.lines.filter(failedList).length >= 2 ? true : undefined,
    );
    expect((await httpStatus(operator.healthPort, '/ready')).status).toBe(503);

    await client.request(`/apis/rbac.authorization.k8s.io/v1/namespaces/${namespace}/rolebindings`, {
      body: {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: 'operator' },
        roleRef: {
          apiGroup: 'rbac.authorization.k8s.io',
          kind: 'ClusterRole',
          name: 'workflowexecution-controller',
        },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: user }],
      },
    });
    await until(
      '/ready 200 after RBAC was granted',
      async () => ((await httpStatus(operator.healthPort, '/ready')).status === 200 ? true : undefined),
      60_000,
    );
    expect((await httpStatus(operator.healthPort, '/health')).status).toBe(200);
    // And it works: a workflow in its namespace completes.
    await applyWorkflow({ client, namespace }, 'after-grant', specWith([customStep(1)]));
    await waitForWorkflow({ client, namespace }, 'after-grant', inPhase('completed'));
  });
});
