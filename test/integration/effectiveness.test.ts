// Success that means "fixed" (issue 19), with real parts: the apiserver and controller-manager rolling
// Deployments whose pods kwok makes Ready, the real executor carrying out the steps, and a real
// Alertmanager (built from Go modules) the test posts alerts to and resolves through its v2 API.
// The operator's clock is moved to reach monitoring's deadline and the end of a stability window.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type {
  WorkflowExecution,
  WorkflowExecutionSpec,
  WorkflowStep,
} from '../../src/api/generated/types.ts';
import { startExecutor } from '../../src/executor/executor.ts';
import { Cleanup } from '../../src/shell/cleanup.ts';
import type { KubeClient } from '../../src/shell/kube/client.ts';
import { createLogger } from '../../src/shell/logger.ts';
import { freePorts } from '../../tooling/controlplane/ports.ts';
import { startAlertmanager, type RunningAlertmanager } from '../../tooling/monitoring/alertmanager.ts';
import { ensureMonitoringTools } from '../../tooling/monitoring/tools.ts';
import { customStep } from '../fixtures/specs.ts';
import { sharedControlPlane } from '../support/shared-control-plane.ts';
import { createDeployment, pods, ready, waitAvailable } from './support/actions.ts';
import {
  SkewClock,
  Workflows,
  adminInNamespace,
  conditionOf,
  inPhase,
  startOperatorFor,
} from './support/harness.ts';

jest.setTimeout(180_000);

const cleanup = new Cleanup();
const clock = new SkewClock();
let client: KubeClient;
let namespace: string;
let workflows: Workflows;
let am: RunningAlertmanager;
let travel: (ms: number, name: string) => void;

beforeAll(async () => {
  const tools = await ensureMonitoringTools();
  const [port = 0] = await freePorts(1);
  am = await startAlertmanager({
    binary: tools.alertmanager,
    dir: mkdtempSync(join(tmpdir(), 'wfe-am-')),
    port,
  });
  cleanup.add('alertmanager', () => am.stop());
  ({ client, namespace } = await adminInNamespace(cleanup, 'fixed'));
  const operator = await startOperatorFor(sharedControlPlane().kubeconfigPath, namespace, clock, undefined, {
    alertmanagerUrl: am.url,
  });
  cleanup.add('the operator', () => operator.stop());
  const executor = await startExecutor({
    client,
    log: createLogger(process.env['WFE_TEST_LOG'] ?? 'error'),
    namespace,
    identity: 'fixed-executor',
    leaseDurationSeconds: 5,
    clusterNamespace: namespace,
    development: true,
  });
  cleanup.add('the executor', () => executor.stop());
  workflows = new Workflows({ client, namespace });
  travel = (ms, name) => {
    clock.advance(ms);
    operator.controller.queue.add(`${namespace}/${name}`);
  };
});
afterAll(() => cleanup.run());

const scale = (deployment: string, replicas: number): WorkflowStep => ({
  stepNumber: 1,
  name: `scale-${deployment}`,
  action: 'scale-deployment',
  parameters: { scaleDeployment: { namespace, deployment, replicas } },
});

const spec = (
  steps: WorkflowStep[],
  strategy: Partial<WorkflowExecutionSpec['executionStrategy']> = {},
  alertLabels?: Record<string, string>,
): WorkflowExecutionSpec => ({
  workflowDefinition: { name: 'remediate', version: '1', steps },
  executionStrategy: { rollbackStrategy: 'none', stabilityWindow: '0s', ...strategy },
  ...(alertLabels ? { alertRef: { labels: alertLabels } } : {}),
});

const fire = (labels: Record<string, string>) => am.post([{ labels }]);
const resolve = (labels: Record<string, string>) => am.post([{ labels, endsAt: new Date().toISOString() }]);

const condition = (type: string, reason: string) => (wf: WorkflowExecution) =>
  conditionOf(wf, type)?.reason === reason;

async function deployment(name: string, replicas: number): Promise<void> {
  await createDeployment(client, namespace, name, replicas);
  await waitAvailable(client, namespace, name, replicas);
}

describe('new alerts', () => {
  it('an alert elsewhere in the namespace is not counted; one on the touched Deployment is', async () => {
    await deployment('shop', 1);
    await deployment('other', 1);
    const own = { alertname: 'ShopSaturated', namespace, deployment: 'shop' };
    await fire(own);
    await workflows.apply('unrelated', spec([scale('shop', 2)], {}, own));
    await workflows.waitFor(
      'unrelated',
      condition('AlertResolved', 'AlertStillFiring'),
      'monitoring',
      120_000,
    );
    // Fires after execution started, in the same namespace, on another Deployment.
    await fire({ alertname: 'OtherDown', namespace, deployment: 'other' });
    await fire({ alertname: 'NamespaceQuota', namespace });
    // A few checks see it (they poll every 200 ms) before the run's own alert resolves.
    await new Promise((r) => setTimeout(r, 2000));
    expect((await workflows.get('unrelated')).status?.phase).toBe('monitoring');
    await resolve(own);
    const done = await workflows.waitFor('unrelated', inPhase('completed'), 'completed', 60_000);
    expect(done.status?.workflowResult).toMatchObject({ outcome: 'success', newAlertsTriggered: false });

    // The same again, but the new alert names the Deployment the run scaled: ineffective.
    await deployment('cart', 1);
    const cart = { alertname: 'CartSaturated', namespace, deployment: 'cart' };
    await fire(cart);
    await workflows.apply('related', spec([scale('cart', 2)], {}, cart));
    await workflows.waitFor('related', condition('AlertResolved', 'AlertStillFiring'), 'monitoring', 120_000);
    await fire({ alertname: 'CartErrors', namespace, deployment: 'cart' });
    const failed = await workflows.waitFor('related', inPhase('failed'), 'failed', 60_000);
    expect(failed.status?.failureReason).toMatch(/^Ineffective: /);
    expect(failed.status?.workflowResult).toMatchObject({ outcome: 'ineffective', newAlertsTriggered: true });
    await resolve(cart);
  });
});

describe('the alert the run remediates', () => {
  it('resolved in Alertmanager: the run completes, and not before', async () => {
    await deployment('web', 1);
    const alert = { alertname: 'WebSaturated', namespace, deployment: 'web' };
    await fire(alert);
    await workflows.apply('resolves', spec([scale('web', 2)], {}, alert));
    // Targets healthy, the alert still firing: monitoring waits.
    const waiting = await workflows.waitFor(
      'resolves',
      condition('AlertResolved', 'AlertStillFiring'),
      'the alert seen firing',
      120_000,
    );
    expect(waiting.status?.phase).toBe('monitoring');
    expect(conditionOf(waiting, 'AlertmanagerReachable')).toMatchObject({
      status: 'True',
      reason: 'Reachable',
    });
    await resolve(alert);
    const done = await workflows.waitFor('resolves', inPhase('completed'), 'completed', 60_000);
    expect(done.status?.workflowResult).toMatchObject({
      outcome: 'success',
      resourceHealth: 'healthy',
      effectivenessScore: 1,
      newAlertsTriggered: false,
      alertsChecked: true,
    });
    expect(conditionOf(done, 'AlertResolved')).toMatchObject({ status: 'True', reason: 'Resolved' });
  });
});

describe('pod actions', () => {
  it('a restart-pod by name is judged by what replaced the pod: its Deployment rolled out', async () => {
    await deployment('queue', 1);
    const [pod] = (await pods(client, namespace, 'app=queue')).filter(ready);
    const podName = pod?.metadata.name ?? '';
    await workflows.apply(
      'restart',
      spec([
        {
          stepNumber: 1,
          name: 'restart-queue-pod',
          action: 'restart-pod',
          parameters: { restartPod: { namespace, podName } },
        },
      ]),
    );
    const done = await workflows.waitFor('restart', inPhase('completed'), 'completed', 120_000);
    expect(done.status?.workflowResult).toMatchObject({
      outcome: 'success',
      resourceHealth: 'healthy',
      effectivenessScore: 1,
    });
    expect(done.status?.stepStatuses?.[0]?.result?.restartResult?.owners?.[0]?.kind).toBe('ReplicaSet');
    // The pod the step named is gone: its replacement was what monitoring judged.
    expect((await pods(client, namespace, 'app=queue')).map((p) => p.metadata.name)).not.toContain(podName);
  });
});

describe('nothing verifiable', () => {
  it('a run of custom steps ends unknown, without a score', async () => {
    await workflows.apply('custom', spec([customStep(1)]));
    const done = await workflows.waitFor('custom', inPhase('completed'), 'completed', 60_000);
    expect(done.status?.workflowResult).toMatchObject({ outcome: 'unknown', resourceHealth: 'unknown' });
    expect(done.status?.workflowResult?.effectivenessScore).toBeUndefined();
    expect(conditionOf(done, 'Ready')).toMatchObject({ reason: 'NoVerifiableTarget' });
  });
});

describe('the alert the run remediates, still firing', () => {
  // Moves the operator's clock: after the tests that compare alert start times with it.
  it('still firing: not completed; at the deadline it fails AlertStillFiring', async () => {
    await deployment('api', 1);
    const alert = { alertname: 'ApiSaturated', namespace, deployment: 'api' };
    await fire(alert);
    await workflows.apply(
      'still-firing',
      spec([scale('api', 2)], { phaseTimeouts: { monitoring: '30s' } }, alert),
    );
    await workflows.waitFor(
      'still-firing',
      condition('AlertResolved', 'AlertStillFiring'),
      'the alert seen firing',
      120_000,
    );
    travel(31_000, 'still-firing');
    const failed = await workflows.waitFor('still-firing', inPhase('failed'), 'failed', 60_000);
    expect(failed.status?.failureReason).toMatch(/^AlertStillFiring: /);
    expect(failed.status?.workflowResult?.outcome).toBe('ineffective');
    expect(conditionOf(failed, 'Ready')).toMatchObject({ status: 'False', reason: 'AlertStillFiring' });
    await resolve(alert);
  });
});

describe('the stability window', () => {
  /** Since when the run is fixed (ms), as its persisted statechart records it; undefined: not now. */
  const fixedSince = (wf: WorkflowExecution): number | undefined => {
    const snapshot = (
      wf.status?.statechart as { snapshot?: { context?: Record<string, unknown> } } | undefined
    )?.snapshot;
    const e = snapshot?.context?.['effectiveness'] as { stableSince?: number | null } | null | undefined;
    return e?.stableSince ?? undefined;
  };

  it('is restarted by an unhealthy check, and the run completes once it is seen through', async () => {
    await deployment('cache', 1);
    await workflows.apply('window', spec([scale('cache', 2)], { stabilityWindow: '60s' }));
    const first = await workflows.waitFor('window', (wf) => fixedSince(wf) !== undefined, 'fixed', 120_000);
    expect(first.status?.phase).toBe('monitoring');
    // Someone scales it away from what the step asked: unhealthy, the window restarts.
    await client.request(`/apis/apps/v1/namespaces/${namespace}/deployments/cache`, {
      method: 'PATCH',
      patchType: 'merge',
      body: { spec: { replicas: 3 } },
    });
    await workflows.waitFor('window', (wf) => fixedSince(wf) === undefined, 'the window restarted', 60_000);
    await client.request(`/apis/apps/v1/namespaces/${namespace}/deployments/cache`, {
      method: 'PATCH',
      patchType: 'merge',
      body: { spec: { replicas: 2 } },
    });
    const again = await workflows.waitFor(
      'window',
      (wf) => fixedSince(wf) !== undefined,
      'fixed again',
      60_000,
    );
    expect(fixedSince(again)).toBeGreaterThan(fixedSince(first) ?? Infinity);
    // The Ready condition says so, and when the window ends.
    expect(conditionOf(again, 'Ready')?.message).toMatch(/^fixed since \S+: completes once still fixed at /);
    expect(again.status?.phase).toBe('monitoring');
    travel(61_000, 'window');
    const done = await workflows.waitFor('window', inPhase('completed'), 'completed', 60_000);
    expect(done.status?.workflowResult?.outcome).toBe('success');
  });
});

describe('Alertmanager not answering', () => {
  it('shows before execution, and the run naming an alert ends unknown with the reason', async () => {
    await am.stop();
    await deployment('search', 1);
    const alert = { alertname: 'SearchSlow', namespace, deployment: 'search' };
    await workflows.apply(
      'no-am',
      spec([scale('search', 2)], { phaseTimeouts: { monitoring: '30s' } }, alert),
    );
    const early = await workflows.waitFor(
      'no-am',
      condition('AlertmanagerReachable', 'Unreachable'),
      'Alertmanager shown unreachable',
      60_000,
    );
    const shown = conditionOf(early, 'AlertmanagerReachable')?.lastTransitionTime ?? '';
    await workflows.waitFor(
      'no-am',
      condition('AlertResolved', 'AlertmanagerUnreachable'),
      'monitoring',
      120_000,
    );
    travel(31_000, 'no-am');
    const done = await workflows.waitFor('no-am', inPhase('completed'), 'completed', 60_000);
    expect(done.status?.workflowResult?.outcome).toBe('unknown');
    expect(conditionOf(done, 'Ready')).toMatchObject({ reason: 'AlertmanagerUnreachable' });
    // Validation asked it: shown before execution started, and it stayed so.
    expect(conditionOf(done, 'AlertmanagerReachable')?.lastTransitionTime).toBe(shown);
    expect(Date.parse(shown)).toBeLessThanOrEqual(Date.parse(done.status?.executionStartTime ?? ''));
  });
});
