// The operator as real processes (`wfx operator`): leader election between two of them, handover
// after SIGKILL and after a graceful SIGTERM, the metrics endpoint behind TokenReview and
// SubjectAccessReview, and readiness that waits for the caches.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node';
import { Cleanup } from '../../src/shell/cleanup.ts';
import { REPO_ROOT } from '../../tooling/controlplane/binaries.ts';
import { sharedControlPlane } from '../support/shared-control-plane.ts';
import { applyAll, parseManifests } from '../../tooling/controlplane/manifests.ts';
import type { WorkflowExecution } from '../../src/api/generated/types.ts';
import type { KubeClient } from '../../src/shell/kube/client.ts';
import { customStep, specWith } from '../fixtures/specs.ts';
import { ScriptedExecutor } from '../support/executor.ts';
import {
  metricValue,
  spawnOperator as spawnOperatorProcess,
  stopOperators,
  type LogLine,
  type OperatorProcess,
} from '../support/operator-process.ts';
import { Workflows, adminClient, inPhase, scratchNamespace } from '../integration/support/harness.ts';
import { serviceAccountToken, until } from '../support/cluster.ts';

jest.setTimeout(180_000);

const LEASE_DURATION_MS = 15_000;
const RENEW_DEADLINE_MS = 10_000;
const RETRY_PERIOD_MS = 2_000;
/** Process start-up, a log line crossing a pipe, a poll interval: slack on top of the lease rules. */
const SLACK_MS = 1_500;

interface Lease {
  spec: { holderIdentity?: string; leaseTransitions?: number; leaseDurationSeconds?: number };
}

const cleanup = new Cleanup();
let client: KubeClient;
let kc: KubeConfig;

async function namespaceWithExecutor(prefix: string): Promise<string> {
  const namespace = await scratchNamespace(cleanup, client, prefix);
  const executor = cleanup.track('an executor', new ScriptedExecutor(kc, client, undefined, namespace), (e) =>
    e.stop(),
  );
  await executor.start();
  return namespace;
}

const lease = (namespace: string, name: string) =>
  client.request<Lease>(`/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases/${name}`);

beforeAll(async () => {
  const admin = await adminClient();
  client = cleanup.track('the admin client', admin.client, (c) => {
    c.close();
  });
  kc = admin.kc;
  // The operator's ClusterRoles, including the metrics reader the Prometheus account is bound to.
  // Only the operator's: the executor's ClusterRoleBinding would permit its ServiceAccount cluster-wide
  // for every suite sharing this control plane (the rbac safety check's refusals rest on its absence).
  await applyAll(
    kc,
    parseManifests(await readFile(join(REPO_ROOT, 'manifests', 'rbac', 'operator.yaml'), 'utf8')),
  );
});

afterEach(() => stopOperators());

afterAll(async () => {
  await stopOperators();
  await cleanup.run();
});

const admin = () => sharedControlPlane().kubeconfigPath;
const spawnOperator = (options: { kubeconfig: string; namespace: string; leaseName?: string }) =>
  spawnOperatorProcess({ ...options, namespaces: [options.namespace] });
const reconcileLinesFor = (p: OperatorProcess, workflow: string) =>
  p.lines.filter((l) => l.workflow === workflow && l.reconcileId !== undefined);
const becameLeader = (l: LogLine) => l.message === 'became leader';
const failedList = (l: LogLine) => /watch failed; restarting/.test(l.message ?? '');

/** Two operators on one lease: the first leads; the second is up, its caches synced, and waits. */
async function leaderAndStandby(prefix: string) {
  const namespace = await namespaceWithExecutor(prefix);
  const leaseName = `wfe-${prefix}`;
  const first = await spawnOperator({ kubeconfig: admin(), namespace, leaseName });
  const leader = await first.waitForLog(becameLeader, 'became leader');
  const second = await spawnOperator({ kubeconfig: admin(), namespace, leaseName });
  await second.ready();
  return { namespace, leaseName, first, leader, second };
}

async function leaderMetric(p: OperatorProcess, token: string): Promise<number | undefined> {
  const { status, body } = await p.get('metrics', '/metrics', token);
  expect(status).toBe(200);
  return metricValue(body, 'kubernaut_workflowexecution_leader');
}

let readerToken = '';

describe('operators as processes', () => {
  beforeAll(async () => {
    const namespace = await scratchNamespace(cleanup, client, 'metrics-sa');
    readerToken = await serviceAccountToken(client, namespace, 'prometheus');
    cleanup.add('the metrics reader binding', () =>
      client
        .request('/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/e2e-metrics-reader', {
          method: 'DELETE',
        })
        .catch(() => undefined),
    );
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
    const { namespace, leaseName, first, leader, second } = await leaderAndStandby('leader');
    const workflows = new Workflows({ client, namespace });
    expect((await lease(namespace, leaseName)).spec.holderIdentity).toBe(leader.identity);
    expect(await leaderMetric(first, readerToken)).toBe(1);
    expect(await leaderMetric(second, readerToken)).toBe(0);

    await workflows.apply('before-kill', specWith([customStep(1), customStep(2)]));
    await workflows.waitFor('before-kill', inPhase('completed'));
    expect(reconcileLinesFor(first, 'before-kill').length).toBeGreaterThan(0);
    expect(reconcileLinesFor(second, 'before-kill')).toEqual([]);
    expect(second.lines.filter(becameLeader)).toEqual([]);

    // The leader dies without a word; a workflow arrives while nobody leads.
    const killedAt = Date.now();
    await first.kill();
    await workflows.apply('after-kill', specWith([customStep(1), customStep(2)]));
    const successor = await second.waitForLog(becameLeader, 'became leader', 30_000);
    const handoverMs = Date.now() - killedAt;
    expect((await lease(namespace, leaseName)).spec.holderIdentity).toBe(successor.identity);
    expect(successor.identity).not.toBe(leader.identity);
    // Not before the dead leader's lease ran out (its last renewal was at most a retry period ago),
    // and no later than one retry period after that.
    expect(handoverMs).toBeGreaterThanOrEqual(LEASE_DURATION_MS - RETRY_PERIOD_MS - SLACK_MS);
    expect(handoverMs).toBeLessThanOrEqual(LEASE_DURATION_MS + RETRY_PERIOD_MS + SLACK_MS);

    await workflows.waitFor('after-kill', inPhase('completed'));
    expect(reconcileLinesFor(second, 'after-kill').length).toBeGreaterThan(0);
    expect(await leaderMetric(second, readerToken)).toBe(1);
  });

  it('a leader stopped with SIGTERM exits 0 within 10 s and releases the lease, so its successor takes over at once', async () => {
    const { namespace, leaseName, first, leader, second } = await leaderAndStandby('sigterm');
    const workflows = new Workflows({ client, namespace });
    // Work in flight when the signal comes.
    await workflows.apply('in-flight', specWith([customStep(1), customStep(2), customStep(3)]));

    const signalledAt = Date.now();
    const exit = await first.kill('SIGTERM');
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
    await workflows.waitFor('in-flight', inPhase('completed'));
  });

  it('a lone operator stopped with SIGTERM leaves the lease with no holder', async () => {
    const namespace = await namespaceWithExecutor('release');
    const only = await spawnOperator({ kubeconfig: admin(), namespace, leaseName: 'wfe-release' });
    const leader = await only.waitForLog(becameLeader, 'became leader');
    expect((await lease(namespace, 'wfe-release')).spec.holderIdentity).toBe(leader.identity);
    expect(await only.kill('SIGTERM')).toEqual({ code: 0, signal: null });
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
    expect(await operator.kill('SIGTERM')).toEqual({ code: 0, signal: null });
    expect(Date.now() - signalledAt).toBeLessThan(10_000);
  });

  it('serves /metrics only to a token allowed to get /metrics: none or garbage 401, no permission 403, metrics reader 200', async () => {
    const namespace = await namespaceWithExecutor('metrics');
    const workflows = new Workflows({ client, namespace });
    const operator = await spawnOperator({ kubeconfig: admin(), namespace });
    await operator.ready();
    await workflows.apply('measured', specWith([customStep(1), customStep(2)]));
    await workflows.waitFor('measured', inPhase('completed'));
    const nobody = await serviceAccountToken(client, namespace, 'nobody');

    expect((await operator.get('metrics', '/metrics')).status).toBe(401);
    expect((await operator.get('metrics', '/metrics', 'not-a-token')).status).toBe(401);
    expect((await operator.get('metrics', '/metrics', nobody)).status).toBe(403);
    const { status, body } = await operator.get('metrics', '/metrics', readerToken);
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
    const workflows = new Workflows({ client, namespace });
    const user = `operator-${namespace}`;
    const kubeconfig = await sharedControlPlane().addUser({ name: user });
    const operator = await spawnOperator({ kubeconfig, namespace });
    await operator.waitForLog(failedList, 'a failed list');
    expect((await operator.get('health', '/health')).status).toBe(200);
    expect((await operator.get('health', '/healthz')).status).toBe(200);
    expect((await operator.get('health', '/ready')).status).toBe(503);
    expect((await operator.get('health', '/readyz')).status).toBe(503);
    // It keeps trying and stays unready.
    await until('a second failed list', () =>
      operator.lines.filter(failedList).length >= 2 ? true : undefined,
    );
    expect((await operator.get('health', '/ready')).status).toBe(503);

    // Cluster-wide: the safety checks every workflow runs ask SubjectAccessReviews and list Nodes,
    // which no RoleBinding can grant.
    await client.request(`/apis/rbac.authorization.k8s.io/v1/clusterrolebindings`, {
      body: {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: `operator-${namespace}` },
        roleRef: {
          apiGroup: 'rbac.authorization.k8s.io',
          kind: 'ClusterRole',
          name: 'workflowexecution-controller',
        },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: user }],
      },
    });
    await operator.ready(60_000);
    expect((await operator.get('health', '/health')).status).toBe(200);
    // And it works: a workflow in its namespace completes.
    await workflows.apply('after-grant', specWith([customStep(1)]));
    await workflows.waitFor('after-grant', inPhase('completed'));
  });
});

describe('step progress waiting for its status write', () => {
  /** Long enough that only stopping can write what waits. */
  const WAIT = ['--progress-write-delay', '600000'];
  const statuses = (wf: WorkflowExecution) => wf.status?.stepStatuses?.map((s) => s.status);

  /** A 3-step chain whose step 3 hangs, run by `operator` until step 3's child exists. */
  async function chainAtStep3(prefix: string, operator: (namespace: string) => Promise<OperatorProcess>) {
    const namespace = await scratchNamespace(cleanup, client, prefix);
    const executor = cleanup.track(
      'the executor',
      new ScriptedExecutor(
        kc,
        client,
        (c) => (c.spec.stepNumber === 3 ? { phase: 'hang' } : { phase: 'completed' }),
        namespace,
      ),
      (e) => e.stop(),
    );
    await executor.start();
    const process = await operator(namespace);
    const workflows = new Workflows({ client, namespace });
    await workflows.apply('chain', specWith([customStep(1), customStep(2), customStep(3)]));
    await until('the child of step 3', async () =>
      (await workflows.childrenOf('chain')).some((c) => c.spec.stepNumber === 3) ? true : undefined,
    );
    // Steps 1 and 2 are done and 3 runs, but the last write is the one that started step 1.
    expect(statuses(await workflows.get('chain'))).toEqual(['executing', 'pending', 'pending']);
    return { namespace, executor, process, workflows };
  }

  it('is written before the operator exits on SIGTERM', async () => {
    const { process, workflows } = await chainAtStep3('progress-term', (namespace) =>
      spawnOperatorProcess({ kubeconfig: admin(), namespaces: [namespace], args: WAIT }),
    );
    expect(await process.kill('SIGTERM')).toEqual({ code: 0, signal: null });
    expect(statuses(await workflows.get('chain'))).toEqual(['completed', 'completed', 'executing']);
  });

  it('is found again after SIGKILL: the next operator takes in the children it finds and creates none twice', async () => {
    const { namespace, executor, process, workflows } = await chainAtStep3('progress-kill', (ns) =>
      spawnOperatorProcess({ kubeconfig: admin(), namespaces: [ns], args: WAIT }),
    );
    await process.kill('SIGKILL');
    await spawnOperator({ kubeconfig: admin(), namespace });
    await until('steps 1 and 2 written as completed by the next operator', async () =>
      statuses(await workflows.get('chain'))?.join() === 'completed,completed,executing' ? true : undefined,
    );
    await client.request(
      `/apis/kubernetesexecution.kubernaut.io/v1/namespaces/${namespace}/kubernetesexecutions/chain-step-3-a1/status`,
      { method: 'PATCH', patchType: 'merge', body: { status: { phase: 'completed' } } },
    );
    const done = await workflows.waitFor('chain', inPhase('completed'));
    expect(statuses(done)).toEqual(['completed', 'completed', 'completed']);
    expect((await workflows.childrenOf('chain')).map((c) => c.metadata.name)).toEqual([
      'chain-step-1-a1',
      'chain-step-2-a1',
      'chain-step-3-a1',
    ]);
    expect(executor.duplicates()).toEqual([]);
  });
});
