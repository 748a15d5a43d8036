// The executor's Deployment and pod actions against the real apiserver, with the controller-manager
// rolling real ReplicaSets and kwok making their pods Ready: rollout restart and undo waiting for
// the rollout, scale and scale back to what the step found, pods evicted one at a time and replaced.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { WorkflowExecution } from '../../src/api/generated/types.ts';
import { inferredRollback } from '../../src/api/inferred-rollback.ts';
import { RESTARTED_AT } from '../../src/executor/actions/deployments.ts';
import { Cleanup } from '../../src/shell/cleanup.ts';
import type { KubeClient } from '../../src/shell/kube/client.ts';
import {
  createDeployment,
  createWorkflow,
  getDeployment,
  pods,
  ready,
  runChild,
  waitAvailable,
} from './support/actions.ts';
import { adminInNamespace } from './support/harness.ts';

jest.setTimeout(240_000);

const cleanup = new Cleanup();
let client: KubeClient;
let namespace: string;
let workflow: WorkflowExecution;

beforeAll(async () => {
  ({ client, namespace } = await adminInNamespace(cleanup, 'actions'));
  workflow = await createWorkflow(client, namespace, 'actions');
});
afterAll(() => cleanup.run());

const revisionOf = async (name: string): Promise<string | undefined> =>
  (await getDeployment(client, namespace, name)).metadata.annotations?.['deployment.kubernetes.io/revision'];

describe('restart-deployment', () => {
  it('stamps the pod template as kubectl rollout restart does and completes once the rollout has', async () => {
    await createDeployment(client, namespace, 'web', 2);
    await waitAvailable(client, namespace, 'web', 2);
    const before = (await pods(client, namespace, 'app=web')).map((p) => p.metadata.uid);

    const { status } = await runChild(client, workflow, {
      action: 'restart-deployment',
      parameters: { restartDeployment: { namespace, deployment: 'web' } },
    });

    expect(status.phase).toBe('completed');
    expect(status.message).toBe(`restarted deployment ${namespace}/web and its rollout completed`);
    expect(status.executionResult?.updateResult?.previousRevision).toBe(1);
    // Complete as kubectl judges it, the moment the action says so: no waiting here.
    const d = await getDeployment(client, namespace, 'web');
    expect(d.spec.template.metadata?.annotations?.[RESTARTED_AT]).toBe(
      status.executionResult?.updateResult?.newValue,
    );
    expect(d.status?.observedGeneration).toBe(d.metadata.generation);
    expect(d.status).toMatchObject({ updatedReplicas: 2, availableReplicas: 2, replicas: 2 });
    const now = (await pods(client, namespace, 'app=web')).filter((p) => !p.metadata.deletionTimestamp);
    expect(now.filter(ready).length).toBe(2);
    expect(now.some((p) => before.includes(p.metadata.uid))).toBe(false);
  });
});

describe('update-image and its inferred rollback, kubectl rollout undo', () => {
  it('records the image and revision before, and the rollback puts that revision’s template back', async () => {
    await createDeployment(client, namespace, 'api', 1);
    await waitAvailable(client, namespace, 'api', 1);
    const step = {
      action: 'update-image' as const,
      parameters: { updateImage: { namespace, deployment: 'api', container: 'app', newImage: 'nginx:2' } },
    };
    const wf = await createWorkflow(client, namespace, 'image');
    const updated = await runChild(client, wf, step);
    expect(updated.status.phase).toBe('completed');
    expect(updated.status.executionResult?.updateResult).toMatchObject({
      previousValue: 'nginx:1',
      newValue: 'nginx:2',
      previousRevision: 1,
    });
    expect(await revisionOf('api')).toBe('2');

    const inverse = inferredRollback(step);
    expect(inverse?.action).toBe('restore-previous-deployment');
    const undone = await runChild(client, wf, {
      kind: 'rollback',
      action: 'restore-previous-deployment',
      rollbackParameters: inverse?.parameters ?? {},
    });
    expect(undone.status.phase).toBe('completed');
    expect(undone.status.message).toBe(
      `rolled back deployment ${namespace}/api to revision 1 and its rollout completed`,
    );
    const d = await getDeployment(client, namespace, 'api');
    expect(d.spec.template.spec.containers[0]?.image).toBe('nginx:1');
    // As after kubectl rollout undo: revision 1's ReplicaSet becomes revision 3.
    expect(await revisionOf('api')).toBe('3');
    expect(d.status).toMatchObject({ updatedReplicas: 1, availableReplicas: 1 });
  });
});

describe('scale-deployment and scale-to-previous', () => {
  it('restores the replicas the step found, not the previousReplicas written in the spec', async () => {
    await createDeployment(client, namespace, 'worker', 2);
    const wf = await createWorkflow(client, namespace, 'scale');
    const scaled = await runChild(client, wf, {
      action: 'scale-deployment',
      parameters: { scaleDeployment: { namespace, deployment: 'worker', replicas: 4 } },
    });
    expect(scaled.status.executionResult?.scaleResult).toMatchObject({ previousReplicas: 2, newReplicas: 4 });
    expect((await getDeployment(client, namespace, 'worker')).spec.replicas).toBe(4);
    const back = await runChild(client, wf, {
      kind: 'rollback',
      action: 'scale-to-previous',
      rollbackParameters: { scaleToPrevious: { namespace, deployment: 'worker', previousReplicas: 7 } },
    });
    expect(back.status.message).toBe(
      `scaled deployment ${namespace}/worker from 4 to 2 (recorded by the step)`,
    );
    expect((await getDeployment(client, namespace, 'worker')).spec.replicas).toBe(2);
  });

  it('falls back to previousReplicas when no step recorded any, and fails naming the step without either', async () => {
    const wf = await createWorkflow(client, namespace, 'scale-fallback');
    const back = await runChild(client, wf, {
      kind: 'rollback',
      action: 'scale-to-previous',
      rollbackParameters: { scaleToPrevious: { namespace, deployment: 'worker', previousReplicas: 3 } },
    });
    expect(back.status.message).toContain('to 3 (previousReplicas of the rollbackSpec)');
    const none = await runChild(client, wf, {
      kind: 'rollback',
      action: 'scale-to-previous',
      rollbackParameters: { scaleToPrevious: { namespace, deployment: 'worker' } },
    });
    expect(none.status).toMatchObject({
      phase: 'failed',
      message: 'step 1 recorded no replicas to restore and the rollback names no previousReplicas',
    });
  });
});

describe('restart-pod', () => {
  it('evicts the selected pods one at a time, each replaced by a Ready pod before the next, within the budget', async () => {
    await createDeployment(client, namespace, 'shop', 2);
    await waitAvailable(client, namespace, 'shop', 2);
    // Only one of the two may be down at a time: evicting both at once would be refused.
    await client.request(`/apis/policy/v1/namespaces/${namespace}/poddisruptionbudgets`, {
      body: {
        apiVersion: 'policy/v1',
        kind: 'PodDisruptionBudget',
        metadata: { name: 'shop' },
        spec: { minAvailable: 1, selector: { matchLabels: { app: 'shop' } } },
      },
    });
    const before = (await pods(client, namespace, 'app=shop')).map((p) => p.metadata.name).sort();
    const { status } = await runChild(client, workflow, {
      action: 'restart-pod',
      parameters: { restartPod: { namespace, selector: 'app=shop' } },
    });
    expect(status.phase).toBe('completed');
    expect(status.executionResult?.restartResult?.restartedPods).toEqual(before);
    const after = (await pods(client, namespace, 'app=shop')).filter((p) => !p.metadata.deletionTimestamp);
    expect(after.filter(ready).length).toBe(2);
    expect(after.some((p) => before.includes(p.metadata.name))).toBe(false);
  });

  it('fails a delete-pod of a pod that does not exist, naming it', async () => {
    const { status } = await runChild(client, workflow, {
      action: 'delete-pod',
      parameters: { deletePod: { namespace, podName: 'nobody' } },
    });
    expect(status).toMatchObject({ phase: 'failed', message: expect.stringContaining('"nobody" not found') });
  });
});
