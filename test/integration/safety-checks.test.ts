// The four safety checks against the real apiserver, kwok nodes and Deployments the
// controller-manager rolls: for each, a case that passes and one that fails, the reason naming the
// check and the target. They run for every workflow; `required: false` only turns a failure into a
// warning, shown in the SafetyChecks condition.
import { describe, expect, it, jest } from '@jest/globals';
import type { WorkflowExecution, WorkflowStep } from '../../src/api/generated/types.ts';
import { customStep, specWith } from '../fixtures/specs.ts';
import { createDeployment as createDeploymentIn } from './support/actions.ts';
import { conditionOf, createNamespace, deleteNamespace, inPhase } from './support/harness.ts';
import { harnessForSuite } from './support/suite.ts';

jest.setTimeout(120_000);

const h = harnessForSuite();

const checked = (wf: WorkflowExecution): boolean =>
  (wf.status?.validationResults?.safetyCheckResults?.length ?? 0) === 4;
const resultOf = (wf: WorkflowExecution, type: string) =>
  wf.status?.validationResults?.safetyCheckResults?.find((r) => r.type === type);

/** A Deployment whose pods request `cpu` (the capacity check adds requests up). */
const createDeployment = (namespace: string, name: string, replicas: number, cpu = '10m'): Promise<void> =>
  createDeploymentIn(h.client, namespace, name, replicas, {
    containers: [{ name, image: 'nginx', resources: { requests: { cpu, memory: '16Mi' } } }],
  });

async function createService(namespace: string, name: string, app: string): Promise<void> {
  await h.client.request(`/api/v1/namespaces/${namespace}/services`, {
    body: {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name },
      spec: { selector: { app }, ports: [{ port: 80 }] },
    },
  });
}

async function waitAvailable(namespace: string, name: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const d = await h.client.request<{ status?: { conditions?: { type: string; status: string }[] } }>(
      `/apis/apps/v1/namespaces/${namespace}/deployments/${name}`,
    );
    if (d.status?.conditions?.some((c) => c.type === 'Available' && c.status === 'True')) return;
    if (Date.now() > deadline) throw new Error(`Deployment ${namespace}/${name} never became Available`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const scale = (n: number, namespace: string, deployment: string, replicas: number): WorkflowStep => ({
  stepNumber: n,
  name: `scale-${deployment}`,
  action: 'scale-deployment',
  parameters: { scaleDeployment: { namespace, deployment, replicas } },
});

describe('safety checks run for every workflow', () => {
  it('passes rbac, health and capacity for a permitted executor scaling an Available Deployment; network has nothing to probe', async () => {
    await createDeployment(h.namespace, 'web', 1);
    await waitAvailable(h.namespace, 'web');
    await h.workflows.apply('all-pass', specWith([scale(1, h.namespace, 'web', 2)]));
    const wf = await h.workflows.waitFor('all-pass', checked, 'checked', 60_000);
    for (const type of ['rbac', 'health', 'capacity'])
      expect(resultOf(wf, type)).toMatchObject({ type, required: true, result: 'passed' });
    expect(resultOf(wf, 'health')?.message).toContain(`Deployment ${h.namespace}/web`);
    expect(resultOf(wf, 'network')).toMatchObject({ result: 'not_applicable' });
    expect(conditionOf(wf, 'SafetyChecks')).toMatchObject({ status: 'True', reason: 'Passed' });
  });

  it('fails network for a target Deployment whose Service has no ready endpoint', async () => {
    await createDeployment(h.namespace, 'api', 1);
    await createService(h.namespace, 'api', 'api');
    await waitAvailable(h.namespace, 'api');
    await h.workflows.apply('unreachable', specWith([scale(1, h.namespace, 'api', 1)]));
    const wf = await h.workflows.waitFor('unreachable', inPhase('failed'));
    expect(resultOf(wf, 'network')?.message).toContain(
      `Service ${h.namespace}/api in front of Deployment ${h.namespace}/api has no ready endpoint`,
    );
  });

  it('fails health for a missing target, naming it, with no safetyChecks listed, and creates no child', async () => {
    await h.workflows.apply('missing', specWith([scale(1, h.namespace, 'does-not-exist', 2)]));
    const wf = await h.workflows.waitFor('missing', inPhase('failed'));
    expect(resultOf(wf, 'health')).toMatchObject({ required: true, result: 'failed' });
    expect(resultOf(wf, 'health')?.message).toContain(
      `health: step 1: Deployment ${h.namespace}/does-not-exist does not exist`,
    );
    expect(conditionOf(wf, 'Ready')).toMatchObject({ reason: 'SafetyCheckFailed' });
    expect(conditionOf(wf, 'SafetyChecks')).toMatchObject({ status: 'False', reason: 'Failed' });
    expect(await h.workflows.childrenOf('missing')).toEqual([]);
  });

  it('fails rbac where the executor is not permitted, naming the call and the rollback that needs it', async () => {
    const elsewhere = await createNamespace(h.client, 'unpermitted', false);
    try {
      await createDeployment(elsewhere, 'api', 1);
      await h.workflows.apply('forbidden', specWith([scale(1, elsewhere, 'api', 1)]));
      const wf = await h.workflows.waitFor('forbidden', inPhase('failed'));
      const rbac = resultOf(wf, 'rbac');
      expect(rbac).toMatchObject({ result: 'failed' });
      expect(rbac?.message).toContain(`patch apps/deployments/scale in namespace ${elsewhere}`);
      expect(rbac?.message).toContain('rollback of step 1 (scale-to-previous)');
      expect(await h.workflows.childrenOf('forbidden')).toEqual([]);
    } finally {
      await deleteNamespace(h.client, elsewhere);
    }
  });

  it('fails capacity for a scale-up whose requests fit no schedulable node, naming the Deployment', async () => {
    await createDeployment(h.namespace, 'big', 1, '20');
    await waitAvailable(h.namespace, 'big');
    await h.workflows.apply('too-big', specWith([scale(1, h.namespace, 'big', 40)]));
    const wf = await h.workflows.waitFor('too-big', inPhase('failed'));
    expect(resultOf(wf, 'capacity')).toMatchObject({ result: 'failed' });
    expect(resultOf(wf, 'capacity')?.message).toContain(
      `capacity: step 1: scaling Deployment ${h.namespace}/big up by 39`,
    );
  });

  it('fails network for a step on a cluster the operator cannot reach; not_applicable without a Service', async () => {
    await h.workflows.apply('remote', specWith([customStep(1, { targetCluster: 'east' })]));
    const remote = await h.workflows.waitFor('remote', inPhase('failed'));
    expect(resultOf(remote, 'network')?.message).toContain('step 1: targetCluster east is not reachable');
    await h.workflows.apply('local', specWith([customStep(1)]));
    const local = await h.workflows.waitFor('local', checked, 'checked');
    expect(resultOf(local, 'network')).toMatchObject({ result: 'not_applicable' });
    expect(resultOf(local, 'health')).toMatchObject({ result: 'not_applicable' });
    expect(resultOf(local, 'rbac')).toMatchObject({ result: 'passed' });
  });

  it('goes on past a failure relaxed by required: false, and says so in the SafetyChecks condition', async () => {
    await h.workflows.apply(
      'relaxed',
      specWith([customStep(1, { targetCluster: 'east' })], {
        safetyChecks: [{ type: 'network', required: false }],
      }),
    );
    const wf = await h.workflows.waitFor('relaxed', inPhase('completed', 'monitoring'));
    expect(resultOf(wf, 'network')).toMatchObject({ required: false, result: 'failed' });
    expect(conditionOf(wf, 'SafetyChecks')).toMatchObject({ status: 'True', reason: 'PassedWithWarnings' });
    expect(conditionOf(wf, 'SafetyChecks')?.message).toContain('targetCluster east');
  });
});
