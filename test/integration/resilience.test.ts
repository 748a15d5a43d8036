// What the reconcile loop survives: other writers racing it for the same object, a storm of 409
// conflicts, and an apiserver restart that breaks every watch mid-run.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node';
import type { WorkflowExecution } from '../../src/api/generated/types.ts';
import { startControlPlane, type ControlPlane } from '../../tooling/controlplane/launcher.ts';
import { controlPlaneTuning } from '../../tooling/controlplane/environment.ts';
import { Cleanup } from '../../src/shell/cleanup.ts';
import { createKubeClient, isConflict, type KubeClient } from '../../src/shell/kube/client.ts';
import { WORKFLOW_EXECUTIONS, resourcePath } from '../../src/shell/kube/resources.ts';
import { customStep, specWith } from '../fixtures/specs.ts';
import { ScriptedExecutor } from '../support/executor.ts';
import {
  SkewClock,
  Workflows,
  conditionOf,
  createNamespace,
  inPhase,
  startOperatorFor,
  type Harness,
} from './support/harness.ts';
import { harnessForSuite } from './support/suite.ts';

jest.setTimeout(120_000);

const EXTERNAL = {
  type: 'ExternalAudit',
  status: 'True',
  reason: 'Recorded',
  message: 'written by another controller',
};

describe('other writers', () => {
  // A slow executor keeps the run going while the other writers race the operator.
  const h = harnessForSuite();

  it('keeps a condition another client writes to status, and loses none of its own transitions', async () => {
    await h.workflows.apply(
      'shared-status',
      specWith(Array.from({ length: 6 }, (_, i) => customStep(i + 1))),
    );
    await h.workflows.waitFor('shared-status', (wf) => wf.status?.statechart !== undefined);
    // The other client writes its own condition through the status subresource, with a merge
    // patch built on what it read (so it, too, can only add, never roll back the operator's work).
    for (let written = false; !written;) {
      const wf = await h.client.request<WorkflowExecution>(
        resourcePath(WORKFLOW_EXECUTIONS, h.namespace, 'shared-status'),
      );
      const conditions = [
        ...(wf.status?.conditions ?? []).filter((c) => c.type !== EXTERNAL.type),
        { ...EXTERNAL, lastTransitionTime: new Date().toISOString() },
      ];
      try {
        await h.client.request(resourcePath(WORKFLOW_EXECUTIONS, h.namespace, 'shared-status', 'status'), {
          method: 'PATCH',
          patchType: 'merge',
          body: { metadata: { resourceVersion: wf.metadata.resourceVersion }, status: { conditions } },
        });
        written = true;
      } catch (error) {
        if (!isConflict(error)) throw error;
      }
    }
    const wf = await h.workflows.waitFor('shared-status', inPhase('completed'));
    expect(conditionOf(wf, EXTERNAL.type)).toMatchObject({ status: 'True', reason: 'Recorded' });
    expect(wf.status?.stepStatuses?.every((s) => s.status === 'completed')).toBe(true);
    // A custom step names nothing to verify (issue 19).
    expect(wf.status?.workflowResult?.outcome).toBe('unknown');
  });

  it('loses nothing in a storm of 409 conflicts', async () => {
    const before = await conflicts(h);
    await h.workflows.apply(
      'storm',
      specWith(Array.from({ length: 8 }, (_, i) => customStep(i + 1, i > 0 ? { dependsOn: [i] } : {}))),
    );
    // Another client rewrites the object's labels as fast as it can: each write moves the
    // resourceVersion, so the operator's writes keep meeting 409 and must start over.
    const storming = { on: true };
    let stormWrites = 0;
    const storm = (async () => {
      while (storming.on) {
        await h.client
          .request(resourcePath(WORKFLOW_EXECUTIONS, h.namespace, 'storm'), {
            method: 'PATCH',
            patchType: 'merge',
            body: { metadata: { labels: { noise: String(stormWrites++) } } },
          })
          .catch(() => undefined);
      }
    })();
    const wf = await h.workflows.waitFor('storm', inPhase('completed'), 'completed', 90_000);
    storming.on = false;
    await storm;
    expect(wf.status?.stepStatuses?.map((s) => s.status)).toEqual(Array(8).fill('completed'));
    expect((await h.workflows.childrenOf('storm')).map((c) => c.metadata.name)).toEqual(
      Array.from({ length: 8 }, (_, i) => `storm-step-${i + 1}-a1`),
    );
    expect(h.executor.duplicates()).toEqual([]);
    // The storm met the operator's writes: they were refused and redone.
    expect((await conflicts(h)) - before).toBeGreaterThan(0);
  });
});

async function conflicts(h: Harness): Promise<number> {
  const metric = await h.operator.metrics.conflictsTotal.get();
  return metric.values.reduce((sum, v) => sum + v.value, 0);
}

describe('an apiserver restart mid-run', () => {
  const cleanup = new Cleanup();
  let cp: ControlPlane;
  let client: KubeClient;
  beforeAll(async () => {
    // A control plane of its own: restarting the shared one would disturb other suites.
    cp = cleanup.track(
      'the control plane',
      await startControlPlane({ workloads: false, ...controlPlaneTuning(process.env) }),
      (c) => c.stop(),
    );
    const kc = new KubeConfig();
    kc.loadFromFile(cp.kubeconfigPath);
    client = cleanup.track('the client', await createKubeClient(kc), (c) => {
      c.close();
    });
  });
  afterAll(() => cleanup.run());

  it('is survived: the watches recover and the run finishes', async () => {
    const namespace = await createNamespace(client, 'restart');
    const kc = new KubeConfig();
    kc.loadFromFile(cp.kubeconfigPath);
    let hold = true;
    const executor = new ScriptedExecutor(
      kc,
      client,
      (c) => (hold && c.spec.stepNumber === 2 ? { phase: 'hang' } : { phase: 'completed' }),
      namespace,
    );
    cleanup.add('the executor', () => executor.stop());
    await executor.start();
    const operator = await startOperatorFor(cp.kubeconfigPath, namespace, new SkewClock());
    cleanup.add('the operator', () => operator.stop());
    const workflows = new Workflows({ client, namespace });
    await workflows.apply('survivor', specWith([customStep(1), customStep(2), customStep(3)]));
    await workflows.waitFor('survivor', (wf) => wf.status?.stepStatuses?.[1]?.status === 'executing');

    await cp.restartApiserver();
    hold = false;
    // The hung child is finished by hand now that the apiserver is back; the executor's and the
    // operator's watches must both have recovered for the run to go on.
    await client.request(
      `/apis/kubernetesexecution.kubernaut.io/v1/namespaces/${namespace}/kubernetesexecutions/survivor-step-2-a1/status`,
      {
        method: 'PATCH',
        patchType: 'merge',
        body: { status: { phase: 'completed' } },
      },
    );
    const wf = await workflows.waitFor('survivor', inPhase('completed'), 'completed', 60_000);
    expect(wf.status?.stepStatuses?.map((s) => s.status)).toEqual(['completed', 'completed', 'completed']);
    expect((await workflows.childrenOf('survivor')).map((c) => c.metadata.name)).toEqual([
      'survivor-step-1-a1',
      'survivor-step-2-a1',
      'survivor-step-3-a1',
    ]);
    expect(executor.duplicates()).toEqual([]);
  });
});
