// The executor service against the real apiserver, children created directly (no operator): claims
// keep replicas from carrying one child out twice, and a replica SIGKILLed mid-action is replaced
// once its claim lapses; spec.timeout and stop requests end an action, saying what it had done;
// target clusters come from kubeconfig Secrets; dry runs go to the apiserver with dryRun=All; the
// test hooks and fault annotations exist only with --development.
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { KubernetesExecution, KubernetesExecutionSpec } from '../../src/api/generated/types.ts';
import { STOP_REQUESTED_ANNOTATION } from '../../src/api/stop-request.ts';
import { CLUSTER_LABEL } from '../../src/executor/clusters.ts';
import { startExecutor, type RunningExecutor } from '../../src/executor/executor.ts';
import { createExecutorMetrics } from '../../src/executor/metrics.ts';
import { FAULT_ANNOTATIONS } from '../../src/executor/faults.ts';
import { LABELS } from '../../src/shell/children.ts';
import type { KubeClient } from '../../src/shell/kube/client.ts';
import {
  DEPLOYMENTS,
  KUBERNETES_EXECUTIONS,
  SECRETS,
  WORKFLOW_EXECUTIONS,
  resourcePath,
} from '../../src/shell/kube/resources.ts';
import { createLogger } from '../../src/shell/logger.ts';
import { sharedControlPlane } from '../support/shared-control-plane.ts';
import { customStep, specWith } from '../fixtures/specs.ts';
import { spawnOperator, stopOperators } from '../support/operator-process.ts';
import { adminClient, createNamespace, deleteNamespace } from './support/harness.ts';

jest.setTimeout(120_000);

let client: KubeClient;
let namespace: string;
const executors: RunningExecutor[] = [];
const log = createLogger(process.env['WFE_TEST_LOG'] ?? 'error');
let counter = 0;

beforeAll(async () => {
  ({ client } = await adminClient());
  namespace = await createNamespace(client, 'exec');
});

afterAll(async () => {
  await Promise.all(executors.map((e) => e.stop()));
  await stopOperators();
  await deleteNamespace(client, namespace);
  client.close();
});

async function executor(
  identity: string,
  options: { development?: boolean; metrics?: ReturnType<typeof createExecutorMetrics> } = {},
): Promise<RunningExecutor> {
  const started = await startExecutor({
    client,
    log,
    namespace,
    identity,
    leaseDurationSeconds: 2,
    resyncMs: 200,
    clusterNamespace: namespace,
    development: options.development ?? true,
    metrics: options.metrics,
  });
  executors.push(started);
  return started;
}

async function stopExecutor(running: RunningExecutor): Promise<void> {
  executors.splice(executors.indexOf(running), 1);
  await running.stop();
}

const childPath = (name?: string, sub?: string) => resourcePath(KUBERNETES_EXECUTIONS, namespace, name, sub);

/** A child for the executor, of a workflow that need not exist (its faults are then none). */
async function createChild(
  spec: Partial<KubernetesExecutionSpec>,
  annotations?: Record<string, string>,
): Promise<KubernetesExecution> {
  const name = `child-${String(++counter)}`;
  return client.request<KubernetesExecution>(childPath(), {
    body: {
      apiVersion: 'kubernetesexecution.kubernaut.io/v1',
      kind: 'KubernetesExecution',
      metadata: {
        name,
        namespace,
        labels: { [LABELS.workflowUid]: 'no-workflow' },
        ...(annotations ? { annotations } : {}),
      },
      spec: {
        workflowExecutionRef: { name: 'no-workflow', namespace },
        kind: 'step',
        stepNumber: 1,
        attempt: 1,
        action: 'custom',
        parameters: { custom: { actionType: 'sleep', config: { duration: '100ms' } } },
        ...spec,
      },
    },
  });
}

const hook = (actionType: string, config: Record<string, string> = {}): Partial<KubernetesExecutionSpec> => ({
  action: 'custom',
  parameters: { custom: { actionType, config } },
});

const getChild = (name: string) => client.request<KubernetesExecution>(childPath(name));

async function waitForChild(
  name: string,
  done: (child: KubernetesExecution) => boolean,
  what: string,
): Promise<KubernetesExecution> {
  let last: KubernetesExecution | undefined;
  for (let i = 0; i < 600; i++) {
    last = await getChild(name);
    if (done(last)) return last;
    await sleep(100);
  }
  throw new Error(`${name} never became ${what}: ${JSON.stringify(last?.status)}`);
}

const inPhase = (phase: string) => (c: KubernetesExecution) => c.status?.phase === phase;

async function createDeployment(name: string, replicas: number): Promise<void> {
  await client.request(resourcePath(DEPLOYMENTS, namespace), {
    body: {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace },
      spec: {
        replicas,
        selector: { matchLabels: { app: name } },
        template: {
          metadata: { labels: { app: name } },
          spec: { containers: [{ name: 'app', image: 'registry.invalid/app:1' }] },
        },
      },
    },
  });
}

const replicasOf = async (name: string) =>
  (await client.request<{ spec: { replicas: number } }>(resourcePath(DEPLOYMENTS, namespace, name))).spec
    .replicas;

const scale = (deployment: string, replicas: number): Partial<KubernetesExecutionSpec> => ({
  action: 'scale-deployment',
  parameters: { scaleDeployment: { namespace, deployment, replicas } },
});

describe('executor claims', () => {
  it('two replicas carry out every child exactly once between them, each claimed once, with its pick-up time', async () => {
    const metrics = createExecutorMetrics();
    const children = await Promise.all(
      Array.from({ length: 12 }, () => createChild(hook('sleep', { duration: '200ms' }))),
    );
    const a = await executor('replica-a', { metrics });
    const b = await executor('replica-b', { metrics });
    const finished = await Promise.all(
      children.map((c) => waitForChild(c.metadata.name ?? '', inPhase('completed'), 'completed')),
    );
    for (const child of finished) {
      const uid = child.metadata.uid ?? '';
      expect((a.started.get(uid) ?? 0) + (b.started.get(uid) ?? 0)).toBe(1);
      expect(child.status?.claim).toMatchObject({ claims: 1, leaseDurationSeconds: 2 });
      expect(['replica-a', 'replica-b']).toContain(child.status?.claim?.holder);
      expect(child.status?.startTime).toBeDefined();
    }
    const actions = await metrics.executorActionsTotal.get();
    expect(actions.values.find((v) => v.labels['result'] === 'completed')?.value).toBe(12);
    expect(
      (await metrics.executorPickupLatency.get()).values.find((v) => v.metricName?.endsWith('_count'))?.value,
    ).toBe(12);
    await stopExecutor(a);
    await stopExecutor(b);
  });

  it('keeps other replicas off a child while its holder renews, and hands it over when the holder is SIGKILLed mid-action: the child finishes', async () => {
    const child = await createChild(hook('sleep', { duration: '8s' }));
    const name = child.metadata.name ?? '';
    const killed = await spawnOperator({
      command: 'executor',
      kubeconfig: sharedControlPlane().kubeconfigPath,
      args: ['-n', namespace, '--development', '--identity', 'doomed-replica', '--lease-duration', '2'],
    });
    await killed.ready();
    // Its metrics sit behind the operator's TokenReview filter: no bearer token, no metrics.
    expect((await killed.get('metrics', '/metrics')).status).toBe(401);
    const claimed = await waitForChild(name, (c) => c.status?.claim?.holder === 'doomed-replica', 'claimed');
    const a = await executor('replica-c');
    const b = await executor('replica-d');
    // Two renewals later (each a new claim record, observed by c and d), the doomed replica still holds it.
    const firstRenewal = claimed.status?.claim?.renewTime;
    const renewed = await waitForChild(
      name,
      (c) => c.status?.claim?.renewTime !== firstRenewal,
      'renewed by its holder',
    );
    await waitForChild(
      name,
      (c) => c.status?.claim?.renewTime !== renewed.status?.claim?.renewTime,
      'renewed again',
    );
    expect((await getChild(name)).status?.claim?.holder).toBe('doomed-replica');
    expect(a.started.size + b.started.size).toBe(0);

    await killed.kill('SIGKILL');
    const done = await waitForChild(name, inPhase('completed'), 'completed by a replica that took over');
    expect(done.status?.claim?.claims).toBe(2);
    expect(['replica-c', 'replica-d']).toContain(done.status?.claim?.holder);
    expect(done.status?.startTime).toBe(claimed.status?.startTime);
    expect(
      (a.started.get(child.metadata.uid ?? '') ?? 0) + (b.started.get(child.metadata.uid ?? '') ?? 0),
    ).toBe(1);
    await stopExecutor(a);
    await stopExecutor(b);
  });
});

describe('the executor contract', () => {
  let running: RunningExecutor;
  beforeAll(async () => {
    running = await executor('contract-replica');
  });
  afterAll(async () => {
    await stopExecutor(running);
  });

  it('fails an attempt that outlives spec.timeout, saying it timed out before changing anything', async () => {
    const child = await createChild({ ...hook('hang'), timeout: '1s' });
    const failed = await waitForChild(child.metadata.name ?? '', inPhase('failed'), 'failed');
    expect(failed.status?.message).toBe('timed out after 1s before changing anything');
    expect(failed.status?.executionResult?.success).toBe(false);
  });

  it('stops an attempt the operator asks to stop, with phase stopped and what it did', async () => {
    const child = await createChild(hook('hang'));
    const name = child.metadata.name ?? '';
    await waitForChild(name, inPhase('executing'), 'executing');
    await client.request(childPath(name), {
      method: 'PATCH',
      patchType: 'merge',
      body: { metadata: { annotations: { [STOP_REQUESTED_ANNOTATION]: 'WorkflowCancelled' } } },
    });
    const stopped = await waitForChild(name, inPhase('stopped'), 'stopped');
    expect(stopped.status?.message).toBe('stopped (WorkflowCancelled) before changing anything');
  });

  it('acknowledges a stop request on a child nobody picked up yet without acting', async () => {
    await createDeployment('untouched', 1);
    const child = await createChild(scale('untouched', 3), {
      [STOP_REQUESTED_ANNOTATION]: 'RollbackStarting',
    });
    const stopped = await waitForChild(child.metadata.name ?? '', inPhase('stopped'), 'stopped');
    expect(stopped.status?.message).toBe('stopped (RollbackStarting) before acting');
    expect(await replicasOf('untouched')).toBe(1);
  });

  it('fails a child whose targetCluster is not registered, naming it and where it was looked for', async () => {
    const child = await createChild({ ...hook('sleep'), targetCluster: 'nowhere' });
    const failed = await waitForChild(child.metadata.name ?? '', inPhase('failed'), 'failed');
    expect(failed.status?.message).toBe(
      `target cluster "nowhere" is not registered: there is no Secret labelled ${CLUSTER_LABEL}=nowhere in namespace ${namespace}`,
    );
  });

  it('acts on a registered target cluster through the kubeconfig in its Secret', async () => {
    await client.request(resourcePath(SECRETS, namespace), {
      body: {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'cluster-mirror', namespace, labels: { [CLUSTER_LABEL]: 'mirror' } },
        data: { kubeconfig: readFileSync(sharedControlPlane().kubeconfigPath).toString('base64') },
      },
    });
    await createDeployment('remote', 1);
    const child = await createChild({ ...scale('remote', 2), targetCluster: 'mirror' });
    const done = await waitForChild(child.metadata.name ?? '', inPhase('completed'), 'completed');
    expect(done.status?.executionResult?.scaleResult).toMatchObject({ previousReplicas: 1, newReplicas: 2 });
    expect(await replicasOf('remote')).toBe(2);
  });

  it('sends a dry run’s writes with dryRun=All: nothing changes, and the message says what would', async () => {
    await createDeployment('dry', 1);
    const child = await createChild({ ...scale('dry', 5), kind: 'dryRun' });
    const done = await waitForChild(child.metadata.name ?? '', inPhase('completed'), 'completed');
    expect(done.status?.wouldSucceed).toBe(true);
    expect(done.status?.message).toContain('dry run (dryRun=All)');
    expect(done.status?.message).toContain(`PATCH namespaces/${namespace}/deployments/dry`);
    expect(await replicasOf('dry')).toBe(1);
  });
});

describe('the development flag', () => {
  it('without it, a test hook is an unregistered custom action and fault annotations are ignored', async () => {
    const production = await executor('production-replica', { development: false });
    const hooked = await createChild(hook('sleep'));
    const failed = await waitForChild(hooked.metadata.name ?? '', inPhase('failed'), 'failed');
    expect(failed.status?.message).toBe(
      'custom action type "sleep" is not registered (the test hooks fail, sleep, hang exist only when the executor runs with --development)',
    );

    await client.request(resourcePath(WORKFLOW_EXECUTIONS, namespace), {
      body: {
        apiVersion: 'workflowexecution.kubernaut.io/v1',
        kind: 'WorkflowExecution',
        metadata: { name: 'faulty', namespace, annotations: { [FAULT_ANNOTATIONS.failSteps]: '1' } },
        spec: specWith([customStep(1)]),
      },
    });
    await createDeployment('faulty-target', 1);
    const faulted = await createChild({
      ...scale('faulty-target', 2),
      workflowExecutionRef: { name: 'faulty', namespace },
    });
    await waitForChild(faulted.metadata.name ?? '', inPhase('completed'), 'completed');
    expect(await replicasOf('faulty-target')).toBe(2);
    await stopExecutor(production);

    const development = await executor('development-replica');
    const faultedInDev = await createChild({
      ...scale('faulty-target', 3),
      workflowExecutionRef: { name: 'faulty', namespace },
    });
    const devFailed = await waitForChild(faultedInDev.metadata.name ?? '', inPhase('failed'), 'failed');
    expect(devFailed.status?.message).toContain(FAULT_ANNOTATIONS.failSteps);
    expect(await replicasOf('faulty-target')).toBe(2);
    await stopExecutor(development);
  });
});
