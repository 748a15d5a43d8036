// Per-target locks and storm limits against the real apiserver: a run whose target another run holds
// waits in validating (Blocked/TargetBusy naming that run) and runs once the lock is released, by a
// completion, a failure or a deletion; a lock whose holder is gone is reclaimed; with a storm limit of
// one, the second of two unrelated runs waits (Blocked/ExecutionLimit) and then runs. The first run's
// child is held by the test, which completes it itself: what the executor saw is ordered after it.
import { performance } from 'node:perf_hooks';
import { describe, expect, it, jest } from '@jest/globals';
import type { KubernetesExecution, WorkflowExecution, WorkflowStep } from '../../src/api/generated/types.ts';
import { describeWorkflow } from '../../src/cli/commands/describe.ts';
import { LOCK_LABEL, lockTargetsOf, nodeLockFor } from '../../src/core/target-locks.ts';
import { isNotFound } from '../../src/shell/kube/client.ts';
import { KUBERNETES_EXECUTIONS, resourcePath } from '../../src/shell/kube/resources.ts';
import { succeedAll, type Script } from '../support/executor.ts';
import { customStep, specWith } from '../fixtures/specs.ts';
import { createDeployment, eventually, waitAvailable } from './support/actions.ts';
import { conditionOf, inPhase, startOperatorFor, type Harness } from './support/harness.ts';
import { RETRY_REQUESTED_BY, ROLLBACK_REQUESTED_BY } from '../../src/core/observe.ts';
import { until } from '../support/cluster.ts';
import { sharedControlPlane } from '../support/shared-control-plane.ts';
import { harnessForSuite } from './support/suite.ts';

jest.setTimeout(120_000);

/** The children of workflows named `held*` wait for the test; every other child succeeds. */
const holdFirst: Script = (child) =>
  child.spec.workflowExecutionRef.name.startsWith('held') ? { phase: 'hang' } : succeedAll(child);

const h = harnessForSuite(holdFirst);

const scale = (namespace: string, deployment: string): WorkflowStep => ({
  stepNumber: 1,
  name: `scale-${deployment}`,
  action: 'scale-deployment',
  // The replicas it has: nothing to add up for the capacity check.
  parameters: { scaleDeployment: { namespace, deployment, replicas: 1 } },
  criticalStep: true,
});

async function deployment(harness: Harness, name: string): Promise<void> {
  await createDeployment(harness.client, harness.namespace, name, 1);
  await waitAvailable(harness.client, harness.namespace, name, 1);
}

const blockedBy = (reason: string) => (wf: WorkflowExecution) =>
  conditionOf(wf, 'Blocked')?.status === 'True' && conditionOf(wf, 'Blocked')?.reason === reason;

/** The workflow's step child once created. */
async function childOf(harness: Harness, name: string): Promise<KubernetesExecution> {
  for (;;) {
    const [child] = await harness.workflows.childrenOf(name);
    if (child) return child;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Finishes a held child as an executor would; returns when the write was accepted. */
async function finish(harness: Harness, child: KubernetesExecution, phase: 'completed' | 'failed') {
  const now = new Date().toISOString();
  await harness.client.request(
    resourcePath(KUBERNETES_EXECUTIONS, harness.namespace, child.metadata.name, 'status'),
    {
      method: 'PATCH',
      patchType: 'merge',
      body: {
        status: {
          phase,
          startTime: now,
          completionTime: now,
          ...(phase === 'failed' ? { message: 'boom' } : {}),
        },
      },
    },
  );
  return performance.now();
}

async function leaseOf(harness: Harness, deploymentName: string) {
  const [lock] = lockTargetsOf(specWith([scale(harness.namespace, deploymentName)]));
  if (!lock) throw new Error('no lock');
  try {
    return await harness.client.request<{ spec: { holderIdentity?: string } }>(
      `/apis/coordination.k8s.io/v1/namespaces/${harness.namespace}/leases/${lock.lease}`,
    );
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

describe('per-target locks', () => {
  it('keeps a second run on one Deployment waiting, named, until the first completes; their children never overlap', async () => {
    await deployment(h, 'web');
    const first = await h.workflows.apply('held-first', specWith([scale(h.namespace, 'web')]));
    const firstChild = await childOf(h, 'held-first');
    expect((await leaseOf(h, 'web'))?.spec.holderIdentity).toBe(
      `${h.namespace}/held-first/${first.metadata.uid ?? ''}`,
    );

    await h.workflows.apply('second', specWith([scale(h.namespace, 'web')]));
    const waiting = await h.workflows.waitFor('second', blockedBy('TargetBusy'), 'Blocked/TargetBusy');
    expect(waiting.status?.phase).toBe('validating');
    expect(conditionOf(waiting, 'Blocked')?.message).toBe(
      `waiting to execute: Deployment ${h.namespace}/web is locked by WorkflowExecution ${h.namespace}/held-first`,
    );
    expect(conditionOf(waiting, 'Ready')?.reason).toBe('TargetBusy');
    expect(describeWorkflow(waiting)).toMatch(/Blocked +True +TargetBusy .*held-first/);
    expect(await h.workflows.childrenOf('second')).toEqual([]);

    const firstDone = await finish(h, firstChild, 'completed');
    await h.workflows.waitFor('held-first', inPhase('completed'));
    const done = await h.workflows.waitFor('second', inPhase('completed'), 'completed', 60_000);
    expect(conditionOf(done, 'Blocked')).toBeUndefined();
    const secondChild = h.executor.timeline.get(
      (await h.workflows.childrenOf('second'))[0]?.metadata.name ?? '',
    );
    // The second run's child exists only after the first's finished.
    expect(secondChild?.seen).toBeGreaterThan(firstDone);
    // Both settled: nothing holds the Deployment (the release follows the status write that settles).
    await eventually('the lock of web released', async () =>
      (await leaseOf(h, 'web')) === undefined ? true : undefined,
    );
  });

  it('keeps a cordon of a Node waiting while a restart of a pod on that Node runs, and locks the Node only while it runs', async () => {
    await deployment(h, 'node-api');
    const pods = await h.client.request<{
      items: { metadata: { name: string }; spec: { nodeName?: string } }[];
    }>(`/api/v1/namespaces/${h.namespace}/pods`, { query: { labelSelector: 'app=node-api' } });
    const pod = pods.items.find((p) => p.spec.nodeName);
    if (!pod?.spec.nodeName) throw new Error('no scheduled pod of node-api');
    const node = pod.spec.nodeName;
    const nodeLease = async () =>
      h.client
        .request<{ spec: { holderIdentity?: string } }>(
          `/apis/coordination.k8s.io/v1/namespaces/${h.namespace}/leases/${nodeLockFor(node).lease}`,
        )
        .catch((error: unknown) => {
          if (isNotFound(error)) return undefined;
          throw error;
        });

    const restart = await h.workflows.apply(
      'held-restart',
      specWith([
        {
          stepNumber: 1,
          name: 'restart-node-api-pod',
          action: 'restart-pod',
          parameters: { restartPod: { namespace: h.namespace, podName: pod.metadata.name } },
        },
      ]),
    );
    const restartChild = await childOf(h, 'held-restart');
    expect((await nodeLease())?.spec.holderIdentity).toBe(
      `${h.namespace}/held-restart/${restart.metadata.uid ?? ''}`,
    );

    await h.workflows.apply(
      'cordon',
      specWith([
        {
          stepNumber: 1,
          name: 'cordon',
          action: 'cordon-node',
          parameters: { cordonNode: { nodeName: node } },
        },
      ]),
    );
    const waiting = await h.workflows.waitFor('cordon', blockedBy('TargetBusy'), 'Blocked/TargetBusy');
    expect(conditionOf(waiting, 'Blocked')?.message).toBe(
      `waiting to execute: Node ${node} is locked by WorkflowExecution ${h.namespace}/held-restart`,
    );
    expect(await h.workflows.childrenOf('cordon')).toEqual([]);

    const restartDone = await finish(h, restartChild, 'completed');
    await h.workflows.waitFor('held-restart', (w) => ['completed', 'failed'].includes(w.status?.phase ?? ''));
    const cordonChild = await childOf(h, 'cordon');
    expect(h.executor.timeline.get(cordonChild.metadata.name ?? '')?.seen).toBeGreaterThan(restartDone);
    // The cordon holds the Node now, as a target of its own; the restart holds nothing.
    await eventually('the Node held by the cordon', async () =>
      (await nodeLease())?.spec.holderIdentity?.includes('/cordon/') ? true : undefined,
    );
  });

  it('releases the lock when the holder fails, and when it is deleted', async () => {
    await deployment(h, 'api');
    const failing = await childOf(
      h,
      (await h.workflows.apply('held-fails', specWith([scale(h.namespace, 'api')]))).metadata.name ?? '',
    );
    await h.workflows.apply('after-failure', specWith([scale(h.namespace, 'api')]));
    await h.workflows.waitFor('after-failure', blockedBy('TargetBusy'), 'Blocked/TargetBusy');
    await finish(h, failing, 'failed');
    await h.workflows.waitFor('held-fails', inPhase('failed'));
    await h.workflows.waitFor('after-failure', inPhase('completed'), 'completed', 60_000);

    await h.workflows.apply('held-deleted', specWith([scale(h.namespace, 'api')]));
    await childOf(h, 'held-deleted');
    await h.workflows.apply('after-deletion', specWith([scale(h.namespace, 'api')]));
    await h.workflows.waitFor('after-deletion', blockedBy('TargetBusy'), 'Blocked/TargetBusy');
    await h.client.request(
      `/apis/workflowexecution.kubernaut.io/v1/namespaces/${h.namespace}/workflowexecutions/held-deleted`,
      { method: 'DELETE' },
    );
    await h.workflows.waitFor('after-deletion', inPhase('completed'), 'completed', 60_000);
  });

  it('reclaims a lock whose holder no longer exists', async () => {
    await deployment(h, 'cache');
    const [lock] = lockTargetsOf(specWith([scale(h.namespace, 'cache')]));
    await h.client.request(`/apis/coordination.k8s.io/v1/namespaces/${h.namespace}/leases`, {
      body: {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: lock?.lease, labels: { [LOCK_LABEL]: 'true' } },
        spec: { holderIdentity: `${h.namespace}/gone/0000-gone`, leaseDurationSeconds: 15 },
      },
    });
    const reclaimed = () =>
      h.operator.metrics.targetLockOperationsTotal
        .get()
        .then((m) =>
          m.values.filter((v) => v.labels['operation'] === 'reclaimed').reduce((n, v) => n + v.value, 0),
        );
    const before = await reclaimed();
    await h.workflows.apply('takes-over', specWith([scale(h.namespace, 'cache')]));
    await h.workflows.waitFor('takes-over', inPhase('completed'), 'completed', 60_000);
    expect(await reclaimed()).toBe(before + 1);
  });

  it('holds across two operator replicas reconciling the same runs', async () => {
    const replica = await startOperatorFor(sharedControlPlane().kubeconfigPath, h.namespace, h.clock);
    try {
      await deployment(h, 'queue');
      await h.workflows.apply('held-two', specWith([scale(h.namespace, 'queue')]));
      const held = await childOf(h, 'held-two');
      await h.workflows.apply('two-second', specWith([scale(h.namespace, 'queue')]));
      const waiting = await h.workflows.waitFor('two-second', blockedBy('TargetBusy'), 'Blocked/TargetBusy');
      expect(conditionOf(waiting, 'Blocked')?.message).toContain(`${h.namespace}/held-two`);
      const heldDone = await finish(h, held, 'completed');
      await h.workflows.waitFor('two-second', inPhase('completed'), 'completed', 60_000);
      const child = (await h.workflows.childrenOf('two-second'))[0]?.metadata.name ?? '';
      expect(h.executor.timeline.get(child)?.seen).toBeGreaterThan(heldDone);
      expect(h.executor.duplicates()).toEqual([]);
    } finally {
      await replica.stop();
    }
  });

  it('holds a retry (wfx retry) of a failed run while another run holds its target, until released', async () => {
    await deployment(h, 'retried');
    const first = await childOf(
      h,
      (await h.workflows.apply('held-retry', specWith([scale(h.namespace, 'retried')]))).metadata.name ?? '',
    );
    await finish(h, first, 'failed');
    await h.workflows.waitFor('held-retry', inPhase('failed'));
    const blocker = await childOf(
      h,
      (await h.workflows.apply('held-blocker', specWith([scale(h.namespace, 'retried')]))).metadata.name ??
        '',
    );

    await h.workflows.annotate('held-retry', RETRY_REQUESTED_BY, `${h.username}/r1`);
    const waiting = await h.workflows.waitFor(
      'held-retry',
      blockedBy('TargetBusy'),
      'retry Blocked/TargetBusy',
    );
    expect(waiting.status?.phase).toBe('validating');
    expect(conditionOf(waiting, 'Blocked')?.message).toBe(
      `waiting to execute: Deployment ${h.namespace}/retried is locked by WorkflowExecution ${h.namespace}/held-blocker`,
    );
    expect(waiting.status?.retries?.history?.map((r) => r.request)).toEqual(['r1']);
    expect((await h.workflows.childrenOf('held-retry')).map((c) => c.spec.attempt)).toEqual([1]);

    const released = await finish(h, blocker, 'completed');
    await h.workflows.waitFor('held-blocker', inPhase('completed'));
    const second = await until('the retry attempt', async () =>
      (await h.workflows.childrenOf('held-retry')).find((c) => c.spec.attempt === 2),
    );
    expect(h.executor.timeline.get(second.metadata.name ?? '')?.seen).toBeGreaterThan(released);
    await finish(h, second, 'completed');
    await h.workflows.waitFor('held-retry', inPhase('completed'), 'completed', 60_000);
  });

  it('holds a requested rollback (wfx rollback) while another run holds its target, until released', async () => {
    await deployment(h, 'undone');
    const spec = specWith(
      [
        { ...scale(h.namespace, 'undone'), criticalStep: false },
        { ...customStep(2), criticalStep: true },
      ],
      { rollbackStrategy: 'manual' },
    );
    await h.workflows.apply('held-rollback', spec);
    await finish(h, await childOf(h, 'held-rollback'), 'completed');
    const critical = await until('step 2', async () =>
      (await h.workflows.childrenOf('held-rollback')).find((c) => c.spec.stepNumber === 2),
    );
    await finish(h, critical, 'failed');
    await h.workflows.waitFor('held-rollback', inPhase('failed'));
    const blocker = await childOf(
      h,
      (await h.workflows.apply('held-rb-blocker', specWith([scale(h.namespace, 'undone')]))).metadata.name ??
        '',
    );

    await h.workflows.annotate('held-rollback', ROLLBACK_REQUESTED_BY, h.username);
    const waiting = await h.workflows.waitFor(
      'held-rollback',
      blockedBy('TargetBusy'),
      'rollback Blocked/TargetBusy',
    );
    expect(conditionOf(waiting, 'Blocked')?.message).toContain(`${h.namespace}/held-rb-blocker`);
    expect((await h.workflows.childrenOf('held-rollback')).filter((c) => c.spec.kind === 'rollback')).toEqual(
      [],
    );

    const released = await finish(h, blocker, 'completed');
    const rollback = await until('the rollback child', async () =>
      (await h.workflows.childrenOf('held-rollback')).find((c) => c.spec.kind === 'rollback'),
    );
    expect(h.executor.timeline.get(rollback.metadata.name ?? '')?.seen).toBeGreaterThan(released);
    expect(await h.workflows.get('held-rollback')).toMatchObject({ status: { phase: 'rolling_back' } });
    await finish(h, rollback, 'completed');
    const done = await h.workflows.waitFor(
      'held-rollback',
      (wf) => wf.status?.stepStatuses?.find((st) => st.stepNumber === 1)?.status === 'rolled_back',
      'step 1 rolled back',
      60_000,
    );
    expect(done.status?.phase).toBe('failed');
  });

  it('leaves runs of custom actions alone: they lock nothing', async () => {
    await h.workflows.apply('held-custom', specWith([customStep(1)]));
    await childOf(h, 'held-custom');
    await h.workflows.apply('custom-too', specWith([customStep(1)]));
    await h.workflows.waitFor('custom-too', inPhase('completed'), 'completed', 60_000);
  });
});

describe('the storm limit', () => {
  const limited = harnessForSuite(holdFirst, { admission: { limits: { perNamespace: 1, cluster: 0 } } });

  it('with one per namespace, keeps the second of two unrelated runs waiting until the first finished', async () => {
    await limited.workflows.apply('held-storm', specWith([customStep(1)]));
    const held = await childOf(limited, 'held-storm');
    await limited.workflows.apply('storm-second', specWith([customStep(1)]));
    const waiting = await limited.workflows.waitFor(
      'storm-second',
      blockedBy('ExecutionLimit'),
      'Blocked/ExecutionLimit',
    );
    expect(conditionOf(waiting, 'Blocked')?.message).toContain('--max-executing-per-namespace');
    const gauge = await limited.operator.metrics.workflowsBlocked.get();
    expect(gauge.values).toContainEqual(
      expect.objectContaining({
        labels: { namespace: limited.namespace, reason: 'ExecutionLimit' },
        value: 1,
      }),
    );
    await finish(limited, held, 'completed');
    await limited.workflows.waitFor('storm-second', inPhase('completed'), 'completed', 60_000);
  });
});
