// drain-node and cordon as kubectl does them, on a kwok node of the test's own: the drain refuses
// DaemonSet, unmanaged and emptyDir pods unless told; evicts through the Eviction API, held by a
// PodDisruptionBudget until it allows; and the inferred rollback uncordons.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { WorkflowExecution } from '../../src/api/generated/types.ts';
import { inferredRollback } from '../../src/api/inferred-rollback.ts';
import { Cleanup } from '../../src/shell/cleanup.ts';
import type { KubeClient } from '../../src/shell/kube/client.ts';
import {
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
afterAll(() => cleanup.run());

const onOurNode = async (): Promise<PodLike[]> =>
  (await pods(client, namespace)).filter((p) => p.spec.nodeName === node && !p.metadata.deletionTimestamp);
const nodeSpec = async () =>
  client.request<{ spec: { unschedulable?: boolean } }>(`/api/v1/nodes/${node}`).then((n) => n.spec);

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
});
