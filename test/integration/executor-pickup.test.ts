// The operator notices a step no executor picks up: past the bound (--pickup-timeout; 2 s here) the
// workflow carries the ExecutorPickup condition (False, ExecutorMissing) naming the step, a Warning
// Event says the same, and the workflows-awaiting-executor metric counts it; once an executor claims
// the child the condition goes, and the run goes on.
import { describe, expect, it, jest } from '@jest/globals';
import type { KubernetesExecution } from '../../src/api/generated/types.ts';
import { KUBERNETES_EXECUTIONS, resourcePath } from '../../src/shell/kube/resources.ts';
import { customStep, specWith } from '../fixtures/specs.ts';
import { conditionOf, inPhase } from './support/harness.ts';
import { harnessForSuite } from './support/suite.ts';
import { until } from '../support/cluster.ts';

jest.setTimeout(90_000);

// The scripted executor leaves every child alone: as far as the operator can tell, no executor runs.
const h = harnessForSuite(() => ({ phase: 'hang' }), { pickupTimeoutMs: 2000 });

const awaiting = async (namespace: string): Promise<number | undefined> => {
  const metric = h.operator.metrics.workflowsAwaitingExecutor;
  return (await metric.get()).values.find((v) => v.labels['namespace'] === namespace)?.value;
};

describe('a step no executor picks up', () => {
  it('is reported on the workflow, in an Event and a metric, until an executor claims it', async () => {
    await h.workflows.apply('unattended', specWith([customStep(1)]));
    const reported = await h.workflows.waitFor(
      'unattended',
      (wf) => conditionOf(wf, 'ExecutorPickup')?.status === 'False',
      'the ExecutorPickup condition',
    );
    const condition = conditionOf(reported, 'ExecutorPickup');
    expect(condition?.reason).toBe('ExecutorMissing');
    expect(condition?.message).toContain(
      'no executor has picked up step 1 (child unattended-step-1-a1) within 2s',
    );
    expect(reported.status?.phase).toBe('executing');

    // The Event is recorded after the status write that set the condition: wait for it.
    const warning = await until('the ExecutorMissing Event', async () => {
      const events = await h.client.request<{
        items: { reason?: string; note?: string; regarding?: { name?: string } }[];
      }>(`/apis/events.k8s.io/v1/namespaces/${h.namespace}/events`);
      return events.items.find((e) => e.reason === 'ExecutorMissing' && e.regarding?.name === 'unattended');
    });
    expect(warning.note).toBe(condition?.message);
    expect(await awaiting(h.namespace)).toBe(1);

    // An executor claims the child: the condition goes; it finishes it: the run completes.
    const [child] = await h.workflows.childrenOf('unattended');
    const childStatus = (status: KubernetesExecution['status']) =>
      h.client.request(resourcePath(KUBERNETES_EXECUTIONS, h.namespace, child?.metadata.name, 'status'), {
        method: 'PATCH',
        patchType: 'merge',
        body: { status },
      });
    const now = new Date().toISOString();
    await childStatus({
      phase: 'executing',
      startTime: now,
      claim: { holder: 'late-executor', renewTime: now, leaseDurationSeconds: 15, claims: 1 },
    });
    const pickedUp = await h.workflows.waitFor(
      'unattended',
      (wf) => conditionOf(wf, 'ExecutorPickup') === undefined,
      'the condition removed',
    );
    expect(pickedUp.status?.phase).toBe('executing');
    expect(await awaiting(h.namespace)).toBeUndefined();
    await childStatus({ phase: 'completed', completionTime: new Date().toISOString() });
    await h.workflows.waitFor('unattended', inPhase('completed'), 'completed');
  });
});
