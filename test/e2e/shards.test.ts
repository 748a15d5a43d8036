// Shards across operator replicas, as real processes: 3 operators with --shards 6 end with 2 shards
// each; a SIGKILLed one's shards move to the others within the lease duration + 2 s; every workflow
// (created before, during and after the kill) ends right, and no child is ever created twice.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { KubeConfig } from '@kubernetes/client-node';
import type { KubernetesExecution, WorkflowExecution } from '../../src/api/generated/types.ts';
import { shardOf } from '../../src/core/shards.ts';
import { sharedControlPlane } from '../support/shared-control-plane.ts';
import type { KubeClient } from '../../src/shell/kube/client.ts';
import { KUBERNETES_EXECUTIONS, WORKFLOW_EXECUTIONS, resourcePath } from '../../src/shell/kube/resources.ts';
import { SHARD_LABELS } from '../../src/shell/shards.ts';
import { customStep, specWith } from '../fixtures/specs.ts';
import { ScriptedExecutor } from '../support/executor.ts';
import { spawnOperator, stopOperators, type OperatorProcess } from '../support/operator-process.ts';
import { until } from '../support/cluster.ts';
import { Workflows, adminClient, createNamespace, deleteNamespace } from '../integration/support/harness.ts';

jest.setTimeout(240_000);

const SHARDS = 6;
const GROUP = 'wfe-shards';
/** Shorter leases than the default keep the test short; the rule under test is relative to them. */
const LEASE_DURATION_S = 10;
const RENEW_DEADLINE_S = 7;
const RETRY_PERIOD_S = 2;

/** The `wfx operator` flags of every replica: the shard group's lease timings. */
const LEASE_TIMINGS = [
  '--lease-duration',
  String(LEASE_DURATION_S),
  '--renew-deadline',
  String(RENEW_DEADLINE_S),
  '--retry-period',
  String(RETRY_PERIOD_S),
];

const spawnReplica = (kubeconfig: string, namespace: string): Promise<OperatorProcess> =>
  spawnOperator({
    kubeconfig,
    namespaces: [namespace],
    leaseName: GROUP,
    shards: SHARDS,
    args: LEASE_TIMINGS,
  });

interface LeaseList {
  items: {
    metadata: { labels?: Record<string, string> };
    spec: { holderIdentity?: string; renewTime?: string; leaseDurationSeconds?: number };
  }[];
}

let client: KubeClient;
let kc: KubeConfig;
let namespace: string;
let workflows: Workflows;
let executor: ScriptedExecutor;

/** Shard -> holder identity, from the shard Leases whose holder is current. */
async function holders(): Promise<Map<number, string>> {
  const list = await client.request<LeaseList>(
    `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases`,
    { query: { labelSelector: `${SHARD_LABELS.group}=${GROUP},${SHARD_LABELS.role}=shard` } },
  );
  const now = Date.now();
  const result = new Map<number, string>();
  for (const l of list.items) {
    const renewed = Date.parse(l.spec.renewTime ?? '') || 0;
    const holder = l.spec.holderIdentity ?? '';
    if (holder && renewed + (l.spec.leaseDurationSeconds ?? 0) * 1000 >= now)
      result.set(Number(l.metadata.labels?.[SHARD_LABELS.shard]), holder);
  }
  return result;
}

const countsOf = (h: Map<number, string>): number[] =>
  [...new Set(h.values())].map((id) => [...h.values()].filter((v) => v === id).length).sort();

const identityOf = (r: OperatorProcess): string | undefined =>
  r.lines.find((l) => l.message === 'shard acquired')?.identity;

async function allWorkflows(): Promise<WorkflowExecution[]> {
  return (await client.request<{ items: WorkflowExecution[] }>(resourcePath(WORKFLOW_EXECUTIONS, namespace)))
    .items;
}

const STEPS = 3;
const spec = () => specWith([customStep(1), customStep(2), customStep(3)]);

beforeAll(async () => {
  ({ client, kc } = await adminClient());
  namespace = await createNamespace(client, 'shards');
  workflows = new Workflows({ client, namespace });
  // Each child takes a little while, so workflows are in flight when a replica dies.
  executor = new ScriptedExecutor(kc, client, undefined, namespace, () => 150);
  await executor.start();
});

afterAll(async () => {
  await stopOperators();
  await executor.stop();
  await deleteNamespace(client, namespace);
  client.close();
});

describe('three operator replicas with six shards', () => {
  it('balance 2 shards each, take over a killed one’s shards within the lease duration + 2 s, and finish every workflow once', async () => {
    const kubeconfig = sharedControlPlane().kubeconfigPath;
    const [a, b, c] = await Promise.all([0, 1, 2].map(() => spawnReplica(kubeconfig, namespace)));
    if (!a || !b || !c) throw new Error('three replicas');

    const balanced = await until('6 shards held 2 by each of 3 replicas', async () => {
      const h = await holders();
      return h.size === SHARDS && countsOf(h).join() === '2,2,2' ? h : undefined;
    });
    expect(new Set(balanced.values()).size).toBe(3);
    const linesAtBalance = new Map([a, b, c].map((r) => [r, r.lines.length] as const));

    // Work before the kill: each workflow is reconciled by the holder of its shard only.
    const before = Array.from({ length: 12 }, (_, i) => `before-${i}`);
    for (const name of before) await workflows.apply(name, spec());
    await until('the first workflows completed', async () => {
      const done = (await allWorkflows()).filter((w) => w.status?.phase === 'completed');
      return done.length >= before.length ? true : undefined;
    });
    const ids = new Map([a, b, c].map((r) => [identityOf(r), r] as const));
    // A shard that changed hands since the balance (a renewal missed on a loaded machine) may have
    // had a workflow reconciled by its old and new holder; without such a move, only by its holder.
    const moved = [a, b, c].some((r) =>
      r.lines
        .slice(linesAtBalance.get(r))
        .some((l) => l.message === 'shard lost' || l.message === 'shard released'),
    )
      ? 'after balance'
      : 'never';
    for (const name of before) {
      const holder = ids.get(balanced.get(shardOf(namespace, name, SHARDS)));
      const reconcilers = [a, b, c].filter((r) =>
        r.lines.some((l) => l.workflow === name && l.reconcileId !== undefined),
      );
      if (moved === 'never')
        expect({ name, only: reconcilers.length === 1 && reconcilers[0] === holder }).toEqual({
          name,
          only: true,
        });
      else expect(reconcilers.length).toBeGreaterThan(0);
    }

    // Workflows in flight, then one replica dies without a word.
    const during = Array.from({ length: 12 }, (_, i) => `during-${i}`);
    for (const name of during) await workflows.apply(name, spec());
    const victim = identityOf(a);
    const killedAt = Date.now();
    await a.kill();
    const after = Array.from({ length: 6 }, (_, i) => `after-${i}`);
    for (const name of after) await workflows.apply(name, spec());

    const takenOver = await until(
      'the killed replica’s shards held by the others',
      async () => {
        const h = await holders();
        return h.size === SHARDS && ![...h.values()].includes(victim ?? '') ? h : undefined;
      },
      (LEASE_DURATION_S + 10) * 1000,
    );
    const takeoverMs = Date.now() - killedAt;
    process.stdout.write(`shard takeover after SIGKILL: ${takeoverMs} ms (lease ${LEASE_DURATION_S} s)\n`);
    expect(takeoverMs).toBeLessThanOrEqual((LEASE_DURATION_S + 2) * 1000 + 1500);
    expect(countsOf(takenOver)).toEqual([3, 3]);

    const all = [...before, ...during, ...after];
    const finished = await until('every workflow completed', async () => {
      const list = await allWorkflows();
      return list.filter((w) => w.status?.phase === 'completed').length === all.length ? list : undefined;
    });
    for (const w of finished) {
      expect(w.status?.stepStatuses?.map((s) => s.status)).toEqual(['completed', 'completed', 'completed']);
    }
    // No child twice: one child per step, first attempt, none ever recreated.
    const children = (
      await client.request<{ items: KubernetesExecution[] }>(resourcePath(KUBERNETES_EXECUTIONS, namespace))
    ).items;
    expect(children).toHaveLength(all.length * STEPS);
    expect(children.every((c) => c.spec.attempt === 1)).toBe(true);
    expect(executor.duplicates()).toEqual([]);
  });
});
