// Every path of the lifecycle on the real control plane, each asserting the final status and the
// children that exist. The executor is scripted per workflow; deadlines are reached by moving the
// operator's clock (time is data in this design), never by waiting for them.
import { describe, expect, it, jest } from '@jest/globals';
import type { KubernetesExecution } from '../../src/api/generated/types.ts';
import {
  APPROVED_BY,
  CANCEL_REQUESTED_BY,
  REJECTED_BY,
  ROLLBACK_REQUESTED_BY,
} from '../../src/core/observe.ts';
import { STOP_REQUESTED_ANNOTATION } from '../../src/api/stop-request.ts';
import { customRollback, customStep, specWith } from '../fixtures/specs.ts';
import { awaitingApproval, conditionOf, inPhase } from './support/harness.ts';
import { SUCCEEDS, scriptedSuite } from './support/suite.ts';

jest.setTimeout(90_000);

const { h, scripts, statusOfStep } = scriptedSuite();
const ok = SUCCEEDS;
const childNames = async (name: string) => (await h.workflows.childrenOf(name)).map((c) => c.metadata.name);
const MINUTE = 60_000;

describe('approval', () => {
  it('waits for the approved-by annotation, records who approved, then executes', async () => {
    await h.workflows.apply('approved', specWith([customStep(1)], { approvalRequired: true }));
    const waiting = await h.workflows.waitFor('approved', awaitingApproval);
    expect(waiting.status?.phase).toBe('validating');
    expect(conditionOf(waiting, 'Ready')?.message).toContain(APPROVED_BY);
    expect(await childNames('approved')).toEqual([]);

    await h.workflows.annotate('approved', APPROVED_BY, h.username);
    const wf = await h.workflows.waitFor('approved', inPhase('completed'));
    expect(wf.status?.validationResults).toMatchObject({ approvalReceived: true, approvedBy: h.username });
    expect(await childNames('approved')).toEqual(['approved-step-1-a1']);
  });

  it('refuses an approval annotation that names someone else', async () => {
    await h.workflows.apply('impostor', specWith([customStep(1)], { approvalRequired: true }));
    await expect(h.workflows.annotate('impostor', APPROVED_BY, 'somebody-else')).rejects.toThrow(
      /must name the requesting user/,
    );
  });

  it('ends failed when rejected, running nothing', async () => {
    await h.workflows.apply('rejected', specWith([customStep(1)], { approvalRequired: true }));
    await h.workflows.waitFor('rejected', awaitingApproval);
    await h.workflows.annotate('rejected', REJECTED_BY, h.username);
    const wf = await h.workflows.waitFor('rejected', inPhase('failed'));
    expect(conditionOf(wf, 'Ready')).toMatchObject({ status: 'False', reason: 'Rejected' });
    expect(wf.status?.failureReason).toContain(h.username);
    expect(await childNames('rejected')).toEqual([]);
  });

  it('ends failed when nobody approves within the validation deadline (5 minutes)', async () => {
    await h.workflows.apply('unanswered', specWith([customStep(1)], { approvalRequired: true }));
    await h.workflows.waitFor('unanswered', awaitingApproval);
    h.travel(5 * MINUTE + 1000, 'unanswered');
    const wf = await h.workflows.waitFor('unanswered', inPhase('failed'));
    expect(conditionOf(wf, 'Ready')).toMatchObject({ reason: 'ValidationTimeout' });
    expect(await childNames('unanswered')).toEqual([]);
  });
});

describe('validation', () => {
  it('fails a workflow whose required safety check fails, naming the check', async () => {
    const spec = specWith(
      [
        {
          stepNumber: 1,
          name: 'scale-missing',
          action: 'scale-deployment',
          parameters: {
            scaleDeployment: { namespace: h.namespace, deployment: 'does-not-exist', replicas: 2 },
          },
        },
      ],
      {
        safetyChecks: [
          { type: 'health', required: true, description: 'targets exist' },
          { type: 'network', required: false },
        ],
      },
    );
    await h.workflows.apply('unsafe', spec);
    const wf = await h.workflows.waitFor('unsafe', inPhase('failed'));
    expect(conditionOf(wf, 'Ready')).toMatchObject({ reason: 'SafetyCheckFailed' });
    expect(wf.status?.failureReason).toContain('health');
    expect(wf.status?.validationResults?.safetyChecksPassed).toBe(false);
    expect(wf.status?.validationResults?.safetyCheckResults).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          type: 'health',
          result: 'failed',
          message: expect.stringContaining('does-not-exist does not exist'),
        }),
        expect.objectContaining({ type: 'network', result: 'not_applicable' }),
      ]),
    );
    expect(await childNames('unsafe')).toEqual([]);
  });

  it('dry-runs every step first and fails when one would not succeed', async () => {
    scripts.set('dry-fail', (c) =>
      c.spec.kind === 'dryRun' && c.spec.stepNumber === 2
        ? { phase: 'failed', message: 'quota exceeded', wouldSucceed: false }
        : ok,
    );
    await h.workflows.apply('dry-fail', specWith([customStep(1), customStep(2)], { dryRunFirst: true }));
    const wf = await h.workflows.waitFor('dry-fail', inPhase('failed'));
    expect(conditionOf(wf, 'Ready')).toMatchObject({ reason: 'DryRunFailed' });
    expect(wf.status?.failureReason).toContain('quota exceeded');
    expect(wf.status?.validationResults?.dryRunPerformed).toBe(true);
    const names = await childNames('dry-fail');
    expect(names.filter((n) => n?.includes('-step-'))).toEqual([]);
    expect(names).toContain('dry-fail-dryrun-2');
  });

  it('executes after a dry run that passes', async () => {
    await h.workflows.apply('dry-ok', specWith([customStep(1), customStep(2)], { dryRunFirst: true }));
    await h.workflows.waitFor('dry-ok', inPhase('completed'));
    expect(await childNames('dry-ok')).toEqual([
      'dry-ok-dryrun-1',
      'dry-ok-dryrun-2',
      'dry-ok-step-1-a1',
      'dry-ok-step-2-a1',
    ]);
  });
});

describe('step failures and retries', () => {
  it('lets independent branches go on after a non-critical failure and ends partial_success', async () => {
    scripts.set('partial', (c) =>
      c.spec.stepNumber === 2 ? { phase: 'failed', message: 'pod stuck terminating' } : ok,
    );
    const spec = specWith([
      customStep(1),
      customStep(2, { dependsOn: [1] }),
      customStep(3, { dependsOn: [1] }),
      customStep(4, { dependsOn: [2] }),
    ]);
    await h.workflows.apply('partial', spec);
    const wf = await h.workflows.waitFor('partial', inPhase('completed'));
    // Custom steps name nothing to verify: unknown, not partial_success (issue 19).
    expect(wf.status?.workflowResult?.outcome).toBe('unknown');
    expect(await statusOfStep('partial')).toEqual(
      new Map([
        [1, 'completed'],
        [2, 'failed'],
        [3, 'completed'],
        [4, 'skipped'],
      ]),
    );
    expect(wf.status?.stepStatuses?.find((s) => s.stepNumber === 2)?.errorMessage).toContain(
      'pod stuck terminating',
    );
    expect(await childNames('partial')).toEqual([
      'partial-step-1-a1',
      'partial-step-2-a1',
      'partial-step-3-a1',
    ]);
  });

  it('retries a failed attempt after its backoff and succeeds', async () => {
    scripts.set('flaky', (c) =>
      c.spec.attempt < 3 ? { phase: 'failed', message: `attempt ${c.spec.attempt} failed` } : ok,
    );
    await h.workflows.apply('flaky', specWith([customStep(1, { maxRetries: 3 })]));
    for (const attempt of [1, 2]) {
      await h.workflows.waitFor(
        'flaky',
        (wf) =>
          wf.status?.stepStatuses?.[0]?.status === 'retrying' &&
          (wf.status.stepStatuses[0].retriesAttempted ?? 0) === attempt - 1,
        `retrying after attempt ${attempt}`,
      );
      h.travel(5 * MINUTE, 'flaky');
    }
    const wf = await h.workflows.waitFor('flaky', inPhase('completed'));
    expect(wf.status?.stepStatuses?.[0]).toMatchObject({ status: 'completed', retriesAttempted: 2 });
    expect(await childNames('flaky')).toEqual(['flaky-step-1-a1', 'flaky-step-1-a2', 'flaky-step-1-a3']);
  });

  it('fails the workflow when a critical step exhausts its retries', async () => {
    scripts.set('exhausted', () => ({ phase: 'failed', message: 'image pull backoff' }));
    await h.workflows.apply(
      'exhausted',
      specWith([customStep(1, { maxRetries: 1, criticalStep: true })], { rollbackStrategy: 'none' }),
    );
    await h.workflows.waitFor('exhausted', (wf) => wf.status?.stepStatuses?.[0]?.status === 'retrying');
    h.travel(5 * MINUTE, 'exhausted');
    const wf = await h.workflows.waitFor('exhausted', inPhase('failed'));
    expect(conditionOf(wf, 'Ready')).toMatchObject({ reason: 'CriticalStepFailed' });
    expect(wf.status?.stepStatuses?.[0]).toMatchObject({ status: 'failed', retriesAttempted: 1 });
    expect(await childNames('exhausted')).toEqual(['exhausted-step-1-a1', 'exhausted-step-1-a2']);
  });

  it('fails an attempt that outlives its timeout, once it stopped as asked', async () => {
    // It acts until asked to stop (src/api/stop-request.ts), then acknowledges.
    scripts.set('slow', (c) =>
      c.metadata.annotations?.[STOP_REQUESTED_ANNOTATION] === undefined
        ? { phase: 'hang' }
        : { phase: 'stopped', message: 'stopped (AttemptTimedOut) before acting' },
    );
    await h.workflows.apply(
      'slow',
      specWith([customStep(1, { timeout: '30s', criticalStep: true })], { rollbackStrategy: 'none' }),
    );
    await h.workflows.waitFor('slow', (wf) => wf.status?.stepStatuses?.[0]?.status === 'executing');
    h.travel(31_000, 'slow');
    const wf = await h.workflows.waitFor('slow', inPhase('failed'));
    expect(wf.status?.stepStatuses?.[0]?.status).toBe('failed');
    expect(wf.status?.stepStatuses?.[0]?.errorMessage).toMatch(/tim(ed|e) ?out/i);
    expect(wf.status?.stepStatuses?.[0]?.stopRequest).toMatchObject({
      reason: 'AttemptTimedOut',
      answer: 'stopped',
    });
  });
});

describe('rollback', () => {
  const diamondWithRollbacks = (failing: number) =>
    specWith(
      [
        customStep(1, { rollbackSpec: customRollback(1) }),
        customStep(2, { dependsOn: [1], rollbackSpec: customRollback(2) }),
        customStep(3, { dependsOn: [1], rollbackSpec: customRollback(3) }),
        customStep(4, { dependsOn: [2, 3], criticalStep: true, rollbackSpec: customRollback(4) }),
      ].map((s) => (s.stepNumber === failing ? { ...s, criticalStep: true } : s)),
    );

  it('rolls back the succeeded steps automatically, in reverse topological order', async () => {
    const order: number[] = [];
    scripts.set('auto-rollback', (c) => {
      if (c.spec.kind === 'rollback') order.push(c.spec.stepNumber);
      return c.spec.kind === 'step' && c.spec.stepNumber === 4
        ? { phase: 'failed', message: 'health check failed' }
        : ok;
    });
    await h.workflows.apply('auto-rollback', diamondWithRollbacks(4));
    const wf = await h.workflows.waitFor('auto-rollback', (w) => inPhase('failed')(w) && order.length === 3);
    expect(order).toEqual([3, 2, 1]);
    expect(await statusOfStep('auto-rollback')).toEqual(
      new Map([
        [1, 'rolled_back'],
        [2, 'rolled_back'],
        [3, 'rolled_back'],
        [4, 'failed'],
      ]),
    );
    expect(wf.status?.rollbackReason).toContain('4');
    expect(wf.status?.executionMetrics?.rollbacksPerformed).toBe(3);
    expect(await childNames('auto-rollback')).toEqual(
      expect.arrayContaining([
        'auto-rollback-rollback-1',
        'auto-rollback-rollback-2',
        'auto-rollback-rollback-3',
      ]),
    );
    expect(await childNames('auto-rollback')).not.toContain('auto-rollback-rollback-4');
  });

  it('waits for a rollback request when the strategy is manual, then rolls back', async () => {
    scripts.set('manual', (c) =>
      c.spec.kind === 'step' && c.spec.stepNumber === 2 ? { phase: 'failed', message: 'broken' } : ok,
    );
    await h.workflows.apply(
      'manual',
      specWith([customStep(1, { rollbackSpec: customRollback(1) }), customStep(2, { criticalStep: true })], {
        rollbackStrategy: 'manual',
      }),
    );
    const waiting = await h.workflows.waitFor(
      'manual',
      (wf) => conditionOf(wf, 'Ready')?.reason === 'AwaitingManualRollback',
    );
    expect(waiting.status?.phase).toBe('failed');
    expect(conditionOf(waiting, 'Ready')?.message).toContain(ROLLBACK_REQUESTED_BY);
    expect(await childNames('manual')).not.toContain('manual-rollback-1');

    await h.workflows.annotate('manual', ROLLBACK_REQUESTED_BY, h.username);
    await h.workflows.waitFor('manual', stepIs(1, 'rolled_back'));
    const wf = await h.workflows.get('manual');
    expect(wf.status?.phase).toBe('failed');
    expect(await childNames('manual')).toContain('manual-rollback-1');
  });

  it('ends RollbackFailed when a rollback step fails, and stops rolling back', async () => {
    scripts.set('bad-rollback', (c) =>
      c.spec.kind === 'step' && c.spec.stepNumber === 3
        ? { phase: 'failed', message: 'boom' }
        : c.spec.kind === 'rollback' && c.spec.stepNumber === 2
          ? { phase: 'failed', message: 'cannot restore' }
          : ok,
    );
    await h.workflows.apply(
      'bad-rollback',
      specWith([
        customStep(1, { rollbackSpec: customRollback(1) }),
        customStep(2, { rollbackSpec: customRollback(2) }),
        customStep(3, { criticalStep: true }),
      ]),
    );
    const wf = await h.workflows.waitFor(
      'bad-rollback',
      (w) => conditionOf(w, 'Ready')?.reason === 'RollbackFailed',
    );
    expect(wf.status?.phase).toBe('failed');
    expect(await statusOfStep('bad-rollback')).toEqual(
      new Map([
        [1, 'completed'],
        [2, 'rollback_failed'],
        [3, 'failed'],
      ]),
    );
    expect(await childNames('bad-rollback')).not.toContain('bad-rollback-rollback-1');
  });
});

describe('cancellation', () => {
  it('stops new launches, lets the running step finish, then rolls back per strategy', async () => {
    let release = false;
    scripts.set('cancelled', (c) =>
      c.spec.kind === 'step' && c.spec.stepNumber === 2 && !release ? { phase: 'hang' } : ok,
    );
    await h.workflows.apply(
      'cancelled',
      specWith([
        customStep(1, { rollbackSpec: customRollback(1) }),
        customStep(2, { rollbackSpec: customRollback(2) }),
        customStep(3),
      ]),
    );
    await h.workflows.waitFor('cancelled', stepIs(2, 'executing'));
    await h.workflows.annotate('cancelled', CANCEL_REQUESTED_BY, h.username);
    await h.workflows.waitFor('cancelled', (wf) => conditionOf(wf, 'Ready')?.reason === 'Stopping');
    release = true;
    // The executor finishes step 2 now: poke it by touching the child.
    const child = (await h.workflows.childrenOf('cancelled')).find(
      (c) => c.metadata.name === 'cancelled-step-2-a1',
    )!;
    await h.client.request(
      `/apis/kubernetesexecution.kubernaut.io/v1/namespaces/${h.namespace}/kubernetesexecutions/${child.metadata.name}/status`,
      {
        method: 'PATCH',
        patchType: 'merge',
        body: { status: { phase: 'completed' } },
      },
    );
    const wf = await h.workflows.waitFor(
      'cancelled',
      (w) => inPhase('failed')(w) && conditionOf(w, 'Ready')?.reason === 'Cancelled',
    );
    expect(await statusOfStep('cancelled')).toEqual(
      new Map([
        [1, 'rolled_back'],
        [2, 'rolled_back'],
        [3, 'skipped'],
      ]),
    );
    expect(wf.status?.failureReason).toContain(h.username);
    expect(await childNames('cancelled')).not.toContain('cancelled-step-3-a1');
  });
});

describe('monitoring', () => {
  const scaleTo = (deployment: string, replicas: number) => ({
    stepNumber: 1,
    name: `scale-${deployment}`,
    action: 'scale-deployment' as const,
    parameters: { scaleDeployment: { namespace: h.namespace, deployment, replicas } },
  });

  it('completes with success once the scaled Deployment really has its replicas available', async () => {
    // The executor does what a real one would: scale the Deployment (kwok makes the pods ready).
    await createDeployment('api', 1);
    scripts.set('effective', (c) => {
      void h.client.request(`/apis/apps/v1/namespaces/${h.namespace}/deployments/api`, {
        method: 'PATCH',
        patchType: 'merge',
        body: { spec: { replicas: 3 } },
      });
      return c.spec.kind === 'step'
        ? {
            phase: 'completed',
            result: {
              success: true,
              scaleResult: {
                previousReplicas: 1,
                newReplicas: 3,
                scaledNamespace: h.namespace,
                scaledDeployment: 'api',
              },
            },
          }
        : ok;
    });
    await h.workflows.apply('effective', specWith([scaleTo('api', 3)]));
    const wf = await h.workflows.waitFor('effective', inPhase('completed'), 'completed', 60_000);
    expect(wf.status?.workflowResult).toMatchObject({
      outcome: 'success',
      effectivenessScore: 1,
      resourceHealth: 'healthy',
      alertsChecked: false,
    });
    expect(wf.status?.stepStatuses?.[0]?.result?.scaleResult).toMatchObject({ newReplicas: 3 });
    const deployment = await h.client.request<{ status?: { availableReplicas?: number } }>(
      `/apis/apps/v1/namespaces/${h.namespace}/deployments/api`,
    );
    expect(deployment.status?.availableReplicas).toBe(3);
  });

  it('completes with an unknown outcome when the target is still not healthy at the monitoring deadline', async () => {
    await createDeployment('stuck', 1);
    // The executor claims success but never scales: the Deployment never reaches 5 replicas.
    await h.workflows.apply('unverified', specWith([scaleTo('stuck', 5)]));
    await h.workflows.waitFor('unverified', inPhase('monitoring'));
    h.travel(10 * MINUTE + 1000, 'unverified');
    const wf = await h.workflows.waitFor('unverified', inPhase('completed'));
    expect(wf.status?.workflowResult?.outcome).toBe('unknown');
    expect(conditionOf(wf, 'Ready')).toMatchObject({ status: 'True', reason: 'TargetsUnhealthy' });
  });
});

async function createDeployment(name: string, replicas: number): Promise<void> {
  await h.client.request(`/apis/apps/v1/namespaces/${h.namespace}/deployments`, {
    body: {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name },
      spec: {
        replicas,
        selector: { matchLabels: { app: name } },
        template: { metadata: { labels: { app: name } }, spec: { containers: [{ name, image: 'nginx' }] } },
      },
    },
  });
  // The health check acts only on a healthy target: wait until the controller-manager (and kwok's
  // ready pods) make the Deployment Available, as it is on a cluster before a remediation.
  const deadline = Date.now() + 60_000;
  for (;;) {
    const d = await h.client.request<{ status?: { conditions?: { type: string; status: string }[] } }>(
      `/apis/apps/v1/namespaces/${h.namespace}/deployments/${name}`,
    );
    if (d.status?.conditions?.some((c) => c.type === 'Available' && c.status === 'True')) return;
    if (Date.now() > deadline) throw new Error(`Deployment ${name} did not become Available in 60 s`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

describe('deletion', () => {
  it('removes the finalizer mid-run, and the children go with the workflow', async () => {
    scripts.set('deleted', () => ({ phase: 'hang' }));
    await h.workflows.apply('deleted', specWith([customStep(1)]));
    await h.workflows.waitFor('deleted', stepIs(1, 'executing'));
    expect(await childNames('deleted')).toEqual(['deleted-step-1-a1']);
    await h.client.request(
      `/apis/workflowexecution.kubernaut.io/v1/namespaces/${h.namespace}/workflowexecutions/deleted`,
      {
        method: 'DELETE',
        body: { propagationPolicy: 'Background' },
      },
    );
    const deadline = Date.now() + 30_000;
    for (;;) {
      const list = await h.client.request<{ items: { metadata: { name: string } }[] }>(
        `/apis/workflowexecution.kubernaut.io/v1/namespaces/${h.namespace}/workflowexecutions`,
      );
      if (!list.items.some((w) => w.metadata.name === 'deleted')) break;
      if (Date.now() > deadline) throw new Error('workflow still present');
      await new Promise((r) => setTimeout(r, 100));
    }
    for (;;) {
      const kids = await h.client.request<{ items: KubernetesExecution[] }>(
        `/apis/kubernetesexecution.kubernaut.io/v1/namespaces/${h.namespace}/kubernetesexecutions`,
      );
      if (!kids.items.some((k) => k.metadata.name === 'deleted-step-1-a1')) break;
      if (Date.now() > deadline) throw new Error('child not garbage collected');
      await new Promise((r) => setTimeout(r, 200));
    }
    const audit = (await h.audit.list()).find((r) => r.name === 'deleted');
    expect(audit).toMatchObject({ status: 'deleted', namespace: h.namespace });
  });
});

describe('the audit trail', () => {
  it('holds one record per finished run', async () => {
    const records = await h.audit.list(1000);
    const sequential = records.filter((r) => r.name === 'approved');
    expect(sequential).toHaveLength(1);
    expect(sequential[0]).toMatchObject({
      status: 'completed',
      // A custom step names nothing to verify (issue 19).
      outcome: 'unknown',
      totalSteps: 1,
      stepsCompleted: 1,
    });
  });
});

function stepIs(step: number, status: string) {
  return (wf: { status?: { stepStatuses?: { stepNumber: number; status: string }[] } }) =>
    wf.status?.stepStatuses?.find((s) => s.stepNumber === step)?.status === status;
}
