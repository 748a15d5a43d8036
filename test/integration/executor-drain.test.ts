// drain-node and cordon as kubectl does them, on a kwok node of the test's own: the drain refuses
// DaemonSet, unmanaged and emptyDir pods unless told; evicts through the Eviction API, held by a
// PodDisruptionBudget until it allows; and the inferred rollback uncordons. Two `wfx executor`
// replicas, the one draining SIGKILLed mid-drain: the other takes the child over and finishes the
// drain from the node's state, evicting no pod twice; a pod left terminating is waited for.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { KubernetesExecution, WorkflowExecution } from '../../src/api/generated/types.ts';
import { inferredRollback } from '../../src/api/inferred-rollback.ts';
import { Cleanup } from '../../src/shell/cleanup.ts';
import type { KubeClient, RunningWatch } from '../../src/shell/kube/client.ts';
import { KUBERNETES_EXECUTIONS, resourcePath } from '../../src/shell/kube/resources.ts';
import { spawnOperator, stopOperators, type OperatorProcess } from '../support/operator-process.ts';
import { sharedControlPlane } from '../support/shared-control-plane.ts';
import {
  createChild,
  createDeployment,
  createOwnNode,
  createWorkflow,
  eventually,
  onNode,
  pods,
  ready,
  runChild,
  waitAvailable,
  type PodLike,
} from './support/actions.ts';
import { adminInNamespace } from './support/harness.ts';

jest.setTimeout(240_000);

const cleanup = new Cleanup();
let client: KubeClient;
let namespace: string;
let node: string;
let workflow: WorkflowExecution;

beforeAll(async () => {
  ({ client, namespace } = await adminInNamespace(cleanup, 'drain'));
  node = await createOwnNode(client);
  cleanup.add(`node ${node}`, () =>
    client.request(`/api/v1/nodes/${node}`, { method: 'DELETE' }).then(() => undefined),
  );
  workflow = await createWorkflow(client, namespace, 'drain');
});
// An executor left running would carry out the next test's children too.
afterEach(() => stopOperators());
afterAll(async () => {
  await stopOperators();
  await cleanup.run();
});

const onOurNode = async (): Promise<PodLike[]> =>
  (await pods(client, namespace)).filter((p) => p.spec.nodeName === node && !p.metadata.deletionTimestamp);
const nodeSpec = async () =>
  client.request<{ spec: { unschedulable?: boolean } }>(`/api/v1/nodes/${node}`).then((n) => n.spec);

async function ownNode(): Promise<string> {
  const name = await createOwnNode(client);
  cleanup.add(`node ${name}`, () =>
    client.request(`/api/v1/nodes/${name}`, { method: 'DELETE' }).then(() => undefined),
  );
  return name;
}

const setUnschedulable = (name: string, unschedulable: boolean) =>
  client.request(`/api/v1/nodes/${name}`, {
    method: 'PATCH',
    patchType: 'merge',
    body: { spec: { unschedulable: unschedulable ? true : null } },
  });

type WatchedPod = PodLike & {
  metadata: { deletionTimestamp?: string };
  status?: { conditions?: { type: string; status: string; reason?: string }[] };
};

/**
 * Every pod of the namespace as a watch saw it, by uid: its last state and how many times the
 * apiserver reported it deleted. Watches again from the last resourceVersion when a stream ends.
 */
function watchPods(): { seen: Map<string, { last: WatchedPod; deleted: number }>; stop: () => void } {
  const seen = new Map<string, { last: WatchedPod; deleted: number }>();
  let running: RunningWatch | undefined;
  let stopped = false;
  let resourceVersion = '';
  const path = `/api/v1/namespaces/${namespace}/pods`;
  const record = (pod: WatchedPod, deleted: boolean) => {
    const entry = seen.get(pod.metadata.uid) ?? { last: pod, deleted: 0 };
    seen.set(pod.metadata.uid, { last: pod, deleted: entry.deleted + (deleted ? 1 : 0) });
  };
  const start = async (): Promise<void> => {
    if (resourceVersion === '') {
      const list = await client.request<{ metadata: { resourceVersion: string }; items: WatchedPod[] }>(path);
      for (const pod of list.items) record(pod, false);
      resourceVersion = list.metadata.resourceVersion;
    }
    running = client.watch(
      path,
      { resourceVersion, allowWatchBookmarks: true },
      (event) => {
        const pod = event.object as unknown as WatchedPod;
        if (event.type === 'ERROR') resourceVersion = '';
        else resourceVersion = event.object.metadata?.resourceVersion ?? resourceVersion;
        if (event.type === 'ADDED' || event.type === 'MODIFIED' || event.type === 'DELETED')
          record(pod, event.type === 'DELETED');
      },
      30_000,
    );
    await running.done.catch(() => undefined);
    if (stopped) return;
    await sleep(200);
    await start();
  };
  void start().catch(() => undefined);
  return {
    seen,
    stop: () => {
      stopped = true;
      running?.stop();
    },
  };
}

describe('drain-node', () => {
  it('cordons, refuses DaemonSet, unmanaged and emptyDir pods naming each, waits out a PodDisruptionBudget, and is undone by uncordon', async () => {
    // The node's pods: a Deployment behind a budget that allows no disruption, a DaemonSet, a bare
    // pod, and a Deployment with emptyDir data.
    await createDeployment(client, namespace, 'web', 1, onNode(node));
    await createDeployment(client, namespace, 'cache', 1, {
      ...onNode(node),
      volumes: [{ name: 'scratch', emptyDir: {} }],
    });
    await client.request(`/apis/apps/v1/namespaces/${namespace}/daemonsets`, {
      body: {
        apiVersion: 'apps/v1',
        kind: 'DaemonSet',
        metadata: { name: 'agent' },
        spec: {
          selector: { matchLabels: { app: 'agent' } },
          template: {
            metadata: { labels: { app: 'agent' } },
            spec: { ...onNode(node), containers: [{ name: 'agent', image: 'agent:1' }] },
          },
        },
      },
    });
    await client.request(`/api/v1/namespaces/${namespace}/pods`, {
      body: {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'bare' },
        spec: { ...onNode(node), containers: [{ name: 'bare', image: 'bare:1' }] },
      },
    });
    await client.request(`/apis/policy/v1/namespaces/${namespace}/poddisruptionbudgets`, {
      body: {
        apiVersion: 'policy/v1',
        kind: 'PodDisruptionBudget',
        metadata: { name: 'web' },
        spec: { minAvailable: 1, selector: { matchLabels: { app: 'web' } } },
      },
    });
    await waitAvailable(client, namespace, 'web', 1);
    await waitAvailable(client, namespace, 'cache', 1);
    await eventually('four Ready pods on the node', async () => {
      const here = await onOurNode();
      if (here.length === 4 && here.every(ready)) return here;
      const all = await pods(client, namespace);
      throw new Error(
        all
          .map(
            (p) =>
              `${p.metadata.name}@${p.spec.nodeName ?? '-'}:${p.status?.phase ?? '?'}/${String(ready(p))}`,
          )
          .join(' '),
      );
    });
    await eventually('the budget to count its healthy pod', async () => {
      const pdb = await client.request<{ status?: { currentHealthy?: number; observedGeneration?: number } }>(
        `/apis/policy/v1/namespaces/${namespace}/poddisruptionbudgets/web`,
      );
      return pdb.status?.currentHealthy === 1 ? true : undefined;
    });

    // As kubectl drain without flags: cordoned, nothing evicted, each refusal named.
    const refused = await runChild(client, workflow, {
      action: 'drain-node',
      parameters: { drainNode: { nodeName: node } },
    });
    expect(refused.status.phase).toBe('failed');
    expect(refused.status.message).toContain(`node ${node} is cordoned but not drained`);
    expect(refused.status.message).toContain('is managed by DaemonSet agent (set ignoreDaemonSets)');
    expect(refused.status.message).toContain(`${namespace}/bare is managed by no controller`);
    expect(refused.status.message).toContain('has emptyDir data that eviction deletes (set deleteLocalData)');
    expect(await nodeSpec()).toMatchObject({ unschedulable: true });
    expect((await onOurNode()).length).toBe(4);

    // Allowed to take them, the drain evicts the bare and emptyDir pods and is held by the budget on
    // web's pod; the attempt ends (its signal) while held, saying what it had evicted.
    // gracePeriod 0s: the apiserver removes an evicted pod at once (kwok would wait out the default 30 s).
    const drain = {
      nodeName: node,
      ignoreDaemonSets: true,
      force: true,
      deleteLocalData: true,
      gracePeriod: '0s',
    };
    const webPod = (await onOurNode()).find((p) => p.metadata.name.startsWith('web-'));
    const cachePod = (await onOurNode()).find((p) => p.metadata.name.startsWith('cache-'));
    const attempt = new AbortController();
    const held = runChild(
      client,
      workflow,
      { action: 'drain-node', parameters: { drainNode: drain }, attempt: 2 },
      { signal: attempt.signal },
    );
    let settled: string | undefined;
    void held.then((r) => (settled = r.status.message));
    await eventually('the bare and emptyDir pods evicted and gone', async () => {
      if (settled !== undefined) throw new Error(`the drain ended early: ${settled}`);
      const names = (await pods(client, namespace)).map((p) => p.metadata.name);
      // (The cache Deployment's replacement stays Pending: the node is cordoned.)
      if (!names.includes('bare') && !names.includes(cachePod?.metadata.name ?? '')) return true;
      throw new Error(`still there: ${names.join(', ')}`);
    });
    expect((await onOurNode()).map((p) => p.metadata.uid)).toContain(webPod?.metadata.uid);
    attempt.abort();
    const stopped = await held;
    expect(stopped.status.phase).toBe('failed');
    expect(stopped.status.message).toMatch(/refused by a PodDisruptionBudget/);
    expect(stopped.status.message).toContain(`evicted so far: ${namespace}/bare`);

    // The budget allows one disruption now: the next attempt evicts web's pod and leaves the DaemonSet's.
    await client.request(`/apis/policy/v1/namespaces/${namespace}/poddisruptionbudgets/web`, {
      method: 'PATCH',
      patchType: 'merge',
      body: { spec: { minAvailable: 0 } },
    });
    const drained = await runChild(client, workflow, {
      action: 'drain-node',
      parameters: { drainNode: drain },
      attempt: 3,
    });
    expect(drained.status.phase).toBe('completed');
    const result = drained.status.executionResult?.nodeResult;
    expect(result?.evictedPods).toEqual([`${namespace}/${webPod?.metadata.name ?? ''}`]);
    // The cordon is this step's own (from its first attempt): the rollback will undo it.
    expect(result?.previouslyUnschedulable).toBe(false);
    expect(result?.skippedPods).toEqual([expect.stringMatching(new RegExp(`^${namespace}/agent-`))]);
    const left = await onOurNode();
    expect(left.map((p) => p.metadata.ownerReferences?.[0]?.kind)).toEqual(['DaemonSet']);

    // Rollback without a rollbackSpec: the catalogue's inverse, uncordon.
    const inverse = inferredRollback({ action: 'drain-node', parameters: { drainNode: drain } });
    expect(inverse?.action).toBe('uncordon-node');
    const rolledBack = await runChild(client, workflow, {
      kind: 'rollback',
      action: 'uncordon-node',
      rollbackParameters: inverse?.parameters ?? {},
    });
    expect(rolledBack.status).toMatchObject({ phase: 'completed', message: `uncordoned node ${node}` });
    expect((await nodeSpec()).unschedulable).toBeUndefined();
  });

  it('leaves a node cordoned when the step found it cordoned', async () => {
    const wf = await createWorkflow(client, namespace, 'precordoned');
    await client.request(`/api/v1/nodes/${node}`, {
      method: 'PATCH',
      patchType: 'merge',
      body: { spec: { unschedulable: true } },
    });
    const cordoned = await runChild(client, wf, {
      action: 'cordon-node',
      parameters: { cordonNode: { nodeName: node } },
    });
    expect(cordoned.status.executionResult?.nodeResult?.previouslyUnschedulable).toBe(true);
    const undo = await runChild(client, wf, {
      kind: 'rollback',
      action: 'uncordon-node',
      rollbackParameters: { uncordonNode: { nodeName: node } },
    });
    expect(undo.status.message).toBe(`left node ${node} cordoned: it was cordoned before step 1`);
    expect(await nodeSpec()).toMatchObject({ unschedulable: true });
  });

  it('two executor replicas, the draining one SIGKILLed mid-drain: the other takes the child over and evicts the pods left, none twice', async () => {
    // The drained node's pods: ReplicaSet kweb (3 pods, one disruption at a time) and kfree (1 pod, no
    // budget). Their replacements go to a spare node that stays cordoned until the takeover, so the
    // drain is held mid-way by the budget for as long as the test needs: no race with the kill.
    // (kwok removes an evicted pod at once, whatever its grace period, so a pod still terminating at
    // the takeover is rare here; the next test holds that one is waited for, not evicted again.)
    const drained = await ownNode();
    const spare = await ownNode();
    await setUnschedulable(spare, true);
    // A ReplicaSet, not a Deployment: changing its template later leaves the pods it has alone.
    await createDeployment(client, namespace, 'kweb', 3, onNode(drained), 'ReplicaSet');
    await createDeployment(client, namespace, 'kfree', 1, onNode(drained), 'ReplicaSet');
    await client.request(`/apis/policy/v1/namespaces/${namespace}/poddisruptionbudgets`, {
      body: {
        apiVersion: 'policy/v1',
        kind: 'PodDisruptionBudget',
        metadata: { name: 'kweb' },
        spec: { maxUnavailable: 1, selector: { matchLabels: { app: 'kweb' } } },
      },
    });
    const onDrained = async () =>
      (await pods(client, namespace)).filter((p) => p.spec.nodeName === drained) as WatchedPod[];
    const original = await eventually(
      'four Ready pods on the drained node',
      async () => {
        const here = await onDrained();
        return here.length === 4 && here.every(ready) ? here : undefined;
      },
      120_000,
    );
    await eventually('the budget to allow one disruption', async () => {
      const pdb = await client.request<{ status?: { currentHealthy?: number; disruptionsAllowed?: number } }>(
        `/apis/policy/v1/namespaces/${namespace}/poddisruptionbudgets/kweb`,
      );
      return pdb.status?.currentHealthy === 3 && pdb.status.disruptionsAllowed === 1 ? true : undefined;
    });
    // Replacements from now on go to the spare node (a ReplicaSet keeps its pods when its template changes).
    for (const name of ['kweb', 'kfree'])
      await client.request(`/apis/apps/v1/namespaces/${namespace}/replicasets/${name}`, {
        method: 'PATCH',
        patchType: 'merge',
        body: { spec: { template: { spec: { nodeSelector: { 'kubernetes.io/hostname': spare } } } } },
      });
    const watched = watchPods();
    cleanup.add('the pod watch', () => {
      watched.stop();
    });

    const kubeconfig = sharedControlPlane().kubeconfigPath;
    const replica = async (identity: string): Promise<OperatorProcess> => {
      const started = await spawnOperator({
        command: 'executor',
        kubeconfig,
        args: ['-n', namespace, '--identity', identity, '--lease-duration', '2'],
      });
      await started.ready();
      return started;
    };
    const a = await replica('replica-a');
    const wf = await createWorkflow(client, namespace, 'drainkill');
    const child = await createChild(client, wf, {
      action: 'drain-node',
      parameters: { drainNode: { nodeName: drained } },
      timeout: '10m',
    });
    const name = child.metadata.name ?? '';
    const getChild = () =>
      client.request<KubernetesExecution>(resourcePath(KUBERNETES_EXECUTIONS, namespace, name));
    await eventually('replica-a to claim the drain', async () =>
      (await getChild()).status?.claim?.holder === 'replica-a' ? true : undefined,
    );
    const b = await replica('replica-b');

    // Mid-drain: kfree's pod and one of kweb's evicted, two of kweb's held by the budget.
    const evictedByA = await eventually(
      'replica-a to have evicted kfree and one kweb pod, the budget holding the other two',
      async () => {
        const here = await onDrained();
        const live = here.filter((p) => !p.metadata.deletionTimestamp);
        const pdb = await client.request<{ status?: { disruptionsAllowed?: number } }>(
          `/apis/policy/v1/namespaces/${namespace}/poddisruptionbudgets/kweb`,
        );
        if (live.length !== 2 || live.some((p) => !p.metadata.name.startsWith('kweb-'))) return undefined;
        const liveUids = live.map((p) => p.metadata.uid);
        return pdb.status?.disruptionsAllowed === 0
          ? original.filter((p) => !liveUids.includes(p.metadata.uid))
          : undefined;
      },
      120_000,
    );
    expect((await getChild()).status?.claim?.holder).toBe('replica-a');
    await a.kill('SIGKILL');
    const evictedBefore = new Set(evictedByA.map((p) => p.metadata.uid));

    const takenOver = await eventually(
      'replica-b to take the drain over',
      async () => {
        const now = await getChild();
        return now.status?.claim?.holder === 'replica-b' ? now : undefined;
      },
      120_000,
    );
    expect(takenOver.status?.claim?.claims).toBe(2);
    // Room for the replacements: the budget lets replica-b evict kweb's last two, one at a time.
    await setUnschedulable(spare, false);
    const done = await eventually(
      'the drain to end',
      async () => {
        const now = await getChild();
        return ['completed', 'failed', 'stopped'].includes(now.status?.phase ?? '') ? now : undefined;
      },
      180_000,
    );

    expect(done.status?.phase).toBe('completed');
    expect(done.status?.claim).toMatchObject({ holder: 'replica-b', claims: 2 });
    // Completed means every pod of the node gone.
    expect(await onDrained()).toEqual([]);
    expect(done.status?.message).toMatch(
      new RegExp(
        `^drained node ${drained}: cordoned, 2 pod\\(s\\) evicted(, [12] already terminating waited for)?$`,
      ),
    );
    // Each pod evicted once: replica-b evicted exactly the two kweb pods replica-a had not.
    const evictedByB = done.status?.executionResult?.nodeResult?.evictedPods ?? [];
    const key = (p: PodLike) => `${namespace}/${p.metadata.name}`;
    expect(evictedByB).toEqual(
      original
        .filter((p) => !evictedBefore.has(p.metadata.uid))
        .map(key)
        .sort(),
    );
    expect(evictedByB.filter((k) => evictedByA.map(key).includes(k))).toEqual([]);
    // Every pod that left the node went through the Eviction API, and only they were deleted (no
    // replacement on the spare node was touched).
    await eventually('the watch to see the last deletion', () =>
      Promise.resolve(
        original.every((p) => watched.seen.get(p.metadata.uid)?.deleted === 1) ? true : undefined,
      ),
    );
    for (const p of original)
      expect(
        watched.seen.get(p.metadata.uid)?.last.status?.conditions?.find((c) => c.type === 'DisruptionTarget'),
      ).toMatchObject({ status: 'True', reason: 'EvictionByEvictionAPI' });
    const deleted = [...watched.seen]
      .filter(([, s]) => s.deleted > 0 && [drained, spare].includes(s.last.spec.nodeName ?? ''))
      .map(([uid]) => uid);
    expect(deleted.sort()).toEqual(original.map((p) => p.metadata.uid).sort());
    // replica-b carried the drain out once.
    expect(b.lines.filter((l) => l.message === 'executing' && l['child'] === name)).toHaveLength(1);
  });

  it('resumes a drain an earlier attempt left half-done: waits for the pod it left terminating, evicts only the running one', async () => {
    // A node no kubelet (nor kwok) runs, so a deleted pod stays terminating until the test, as its
    // kubelet, removes it: the state a replica killed mid-drain leaves behind.
    const bare = `bare-node-${randomUUID().slice(0, 6)}`;
    await client.request('/api/v1/nodes', {
      body: {
        apiVersion: 'v1',
        kind: 'Node',
        metadata: { name: bare, labels: { 'kubernetes.io/hostname': bare } },
      },
    });
    cleanup.add(`node ${bare}`, () =>
      client.request(`/api/v1/nodes/${bare}`, { method: 'DELETE' }).then(() => undefined),
    );
    const podOn = (name: string) =>
      client.request<PodLike>(`/api/v1/namespaces/${namespace}/pods`, {
        body: {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name },
          spec: { nodeName: bare, containers: [{ name: 'app', image: 'app:1' }] },
        },
      });
    const podPath = (name: string) => `/api/v1/namespaces/${namespace}/pods/${name}`;
    const removeAsKubelet = (name: string) =>
      client.request(podPath(name), { method: 'DELETE', body: { gracePeriodSeconds: 0 } });
    await podOn('left-terminating');
    const running = await podOn('still-running');
    await client.request(podPath('left-terminating'), {
      method: 'DELETE',
      body: { gracePeriodSeconds: 300 },
    });
    expect(
      (await client.request<PodLike>(podPath('left-terminating'))).metadata.deletionTimestamp,
    ).toBeDefined();

    const drain = runChild(client, workflow, {
      action: 'drain-node',
      parameters: { drainNode: { nodeName: bare, force: true } },
      stepNumber: 2,
    });
    await eventually('the running pod evicted', async () => {
      const pod = await client.request<PodLike>(podPath('still-running'));
      return pod.metadata.uid === running.metadata.uid && pod.metadata.deletionTimestamp ? true : undefined;
    });
    await removeAsKubelet('still-running');
    await removeAsKubelet('left-terminating');
    const drained = await drain;
    expect(drained.status).toMatchObject({
      phase: 'completed',
      message: `drained node ${bare}: cordoned, 1 pod(s) evicted, 1 already terminating waited for`,
    });
    expect(drained.status.executionResult?.nodeResult?.evictedPods).toEqual([`${namespace}/still-running`]);
  });
});
