// Per-target locks under chaos: three operator replicas as real processes (shards, so all reconcile at
// once), several workflows on one Deployment created together, and the replica that just took the
// lock for a run SIGKILLed while that run holds it, again and again, a new replica started each
// time. The real executor carries the children out; the start and end times it records on them
// (KubernetesExecution status) show the runs one after another, never interleaved, and every run
// completes.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { KubernetesExecution, WorkflowStep } from '../../src/api/generated/types.ts';
import { startExecutor, type RunningExecutor } from '../../src/executor/executor.ts';
import type { KubeClient } from '../../src/shell/kube/client.ts';
import { KUBERNETES_EXECUTIONS, resourcePath } from '../../src/shell/kube/resources.ts';
import { LOCK_LABEL } from '../../src/core/target-locks.ts';
import { createLogger } from '../../src/shell/logger.ts';
import { specWith } from '../fixtures/specs.ts';
import { until } from '../support/cluster.ts';
import { spawnOperator, stopOperators, type OperatorProcess } from '../support/operator-process.ts';
import { sharedControlPlane } from '../support/shared-control-plane.ts';
import { createDeployment, waitAvailable } from '../integration/support/actions.ts';
import { Workflows, adminClient, createNamespace, deleteNamespace } from '../integration/support/harness.ts';

jest.setTimeout(600_000);

const RUNS = 6;
/** Replicas SIGKILLed, each right after it took the lock for a run that still holds it. */
const KILLS = 3;
const GROUP = 'wfe-lock-chaos';

/**
 * Every replica: three shards between them, short shard leases, no cooldown between the runs, and
 * no stability window (a run holds its lock through monitoring: six runs of 60 s windows one after
 * another outlast the last one's validation deadline).
 */
const FLAGS = [
  '--stability-window',
  '0',
  '--lease-duration',
  '6',
  '--renew-deadline',
  '4',
  '--retry-period',
  '1',
  '--target-cooldown',
  '0',
  '--target-backoff',
  '0',
  '--target-failure-threshold',
  '0',
];

let client: KubeClient;
let namespace: string;
let workflows: Workflows;
let executor: RunningExecutor;
const replicas: OperatorProcess[] = [];

const spawnReplica = async (): Promise<OperatorProcess> => {
  const replica = await spawnOperator({
    kubeconfig: sharedControlPlane().kubeconfigPath,
    namespaces: [namespace],
    leaseName: GROUP,
    shards: 3,
    args: FLAGS,
  });
  replicas.push(replica);
  return replica;
};

/** Scale the contended Deployment, then hold it for a while (the executor's `sleep` test hook). */
const contending = (i: number): WorkflowStep[] => [
  {
    stepNumber: 1,
    name: 'scale-contended',
    action: 'scale-deployment',
    parameters: { scaleDeployment: { namespace, deployment: 'contended', replicas: 1 + (i % 2) } },
  },
  {
    stepNumber: 2,
    name: 'hold',
    action: 'custom',
    parameters: { custom: { actionType: 'sleep', config: { duration: '2s' } } },
  },
];

beforeAll(async () => {
  ({ client } = await adminClient());
  namespace = await createNamespace(client, 'lockchaos');
  workflows = new Workflows({ client, namespace });
  await createDeployment(client, namespace, 'contended', 1);
  await waitAvailable(client, namespace, 'contended', 1);
  executor = await startExecutor({
    client,
    log: createLogger(process.env['WFE_TEST_LOG'] ?? 'error'),
    namespace,
    clusterNamespace: namespace,
    identity: 'lock-chaos-executor',
    development: true,
    leaseDurationSeconds: 5,
    resyncMs: 200,
  });
  await Promise.all([spawnReplica(), spawnReplica(), spawnReplica()]);
  await Promise.all(replicas.map((r) => r.ready()));
});

afterAll(async () => {
  await executor.stop();
  await stopOperators();
  await deleteNamespace(client, namespace);
  client.close();
});

describe('two runs on one target, with operator replicas SIGKILLed while holding its lock', () => {
  it('never interleave their children, and every run completes', async () => {
    const names = Array.from({ length: RUNS }, (_, i) => `contend-${String(i)}`);
    await Promise.all(names.map((name, i) => workflows.apply(name, specWith(contending(i)))));

    const killedFor: string[] = [];
    const seen: string[] = [];
    while (killedFor.length < KILLS) {
      // The replica that took the lock last for a run not yet killed for: killed while that run holds it.
      const taken = await until(
        'a replica taking the lock for another run',
        () => {
          for (const replica of replicas.filter((r) => r.running))
            for (const line of replica.lines)
              if (
                line.message === 'target locks taken' &&
                typeof line.workflow === 'string' &&
                !seen.includes(line.workflow)
              )
                return { replica, workflow: line.workflow };
          return undefined;
        },
        240_000,
        50,
      );
      seen.push(taken.workflow);
      // Finished before the kill could land: the next holder, then.
      if ((await workflows.get(taken.workflow)).status?.phase === 'completed') continue;
      killedFor.push(taken.workflow);
      await taken.replica.kill('SIGKILL');
      await spawnReplica();
    }

    const done = await until(
      'every run completed',
      async () => {
        const all = await Promise.all(names.map((name) => workflows.get(name)));
        const failed = all.filter((wf) => wf.status?.phase === 'failed');
        if (failed.length > 0)
          throw new Error(
            `failed: ${failed.map((wf) => `${wf.metadata.name ?? ''} ${JSON.stringify(wf.status?.conditions)}`).join('; ')}`,
          );
        return all.every((wf) => wf.status?.phase === 'completed') ? all : undefined;
      },
      300_000,
      500,
    );
    expect(done).toHaveLength(RUNS);

    // The executor's times, per run: from its first child's start to its last child's end.
    const children = (
      await client.request<{ items: KubernetesExecution[] }>(resourcePath(KUBERNETES_EXECUTIONS, namespace))
    ).items.filter((c) => c.spec.kind === 'step');
    const spans = names.map((name) => {
      const own = children.filter((c) => c.spec.workflowExecutionRef.name === name);
      expect({ name, steps: own.map((c) => [c.spec.stepNumber, c.status?.phase]).sort() }).toEqual({
        name,
        steps: [
          [1, 'completed'],
          [2, 'completed'],
        ],
      });
      return {
        name,
        start: Math.min(...own.map((c) => Date.parse(c.status?.startTime ?? ''))),
        end: Math.max(...own.map((c) => Date.parse(c.status?.completionTime ?? ''))),
      };
    });
    spans.sort((a, b) => a.start - b.start);
    const overlaps = spans.flatMap((span, i) => {
      const previous = spans[i - 1];
      return previous && span.start < previous.end
        ? [`${span.name} started before ${previous.name} ended`]
        : [];
    });
    expect(spans.every((s) => Number.isFinite(s.start) && Number.isFinite(s.end))).toBe(true);
    expect(overlaps).toEqual([]);
    // Settled runs hand their locks back: nothing holds the Deployment now.
    await until('the lock released', async () => {
      const now = await client.request<{ items: { spec: { holderIdentity?: string } }[] }>(
        `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases`,
        { query: { labelSelector: LOCK_LABEL } },
      );
      return now.items.every((l) => (l.spec.holderIdentity ?? '') === '') ? true : undefined;
    });
  });
});
