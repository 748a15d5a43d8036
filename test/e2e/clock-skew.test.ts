// Two operator replicas whose clocks disagree by more than the lease duration (one runs under
// libfaketime, its clock 60 s ahead): leases are judged by when each replica saw them change, so
// neither takes a live lease from the other. With leader election, the first leader leads on and the
// other waits until it dies; with shards, they share the shards once and keep them. Every workflow
// ends right, and no child is ever created twice.
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { KubeConfig } from '@kubernetes/client-node';
import type { KubernetesExecution, WorkflowExecution } from '../../src/api/generated/types.ts';
import { shardOf } from '../../src/core/shards.ts';
import type { KubeClient } from '../../src/shell/kube/client.ts';
import { KUBERNETES_EXECUTIONS, WORKFLOW_EXECUTIONS, resourcePath } from '../../src/shell/kube/resources.ts';
import type { Lease } from '../../src/shell/leases.ts';
import { SHARD_LABELS } from '../../src/shell/shards.ts';
import { sharedControlPlane } from '../support/shared-control-plane.ts';
import { customStep, specWith } from '../fixtures/specs.ts';
import { until } from '../support/cluster.ts';
import { ScriptedExecutor } from '../support/executor.ts';
import {
  spawnOperator,
  stopOperators,
  type LogLine,
  type OperatorProcess,
} from '../support/operator-process.ts';
import { Workflows, adminClient, createNamespace, deleteNamespace } from '../integration/support/harness.ts';

jest.setTimeout(600_000);

/** Debian's libfaketime (`apt-get install libfaketime`). */
const LIBFAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';
/** client-go's timings (15 s, 10 s, 2 s): a shorter renew deadline is missed on a loaded machine. */
const LEASE_DURATION_S = 15;
const SKEW_S = 60;
const LEASE_FLAGS = ['--lease-duration', '15', '--renew-deadline', '10', '--retry-period', '2'];
/** Several lease durations: long enough for a flapping lease to change hands many times. */
const WATCH_MS = 3 * LEASE_DURATION_S * 1000;

const skewed = { LD_PRELOAD: LIBFAKETIME, FAKETIME: `+${SKEW_S}s` };

let client: KubeClient;
let kc: KubeConfig;
let namespace: string;
let workflows: Workflows;
let executor: ScriptedExecutor;

const STEPS = 2;
const spec = () => specWith([customStep(1), customStep(2)]);

beforeAll(async () => {
  if (!existsSync(LIBFAKETIME)) throw new Error(`${LIBFAKETIME} is missing: apt-get install libfaketime`);
  ({ client, kc } = await adminClient());
  namespace = await createNamespace(client, 'skew');
  workflows = new Workflows({ client, namespace });
  executor = new ScriptedExecutor(kc, client, undefined, namespace, () => 100);
  await executor.start();
});

afterAll(async () => {
  await stopOperators();
  await executor.stop();
  await deleteNamespace(client, namespace);
  client.close();
});

const leasePath = () => `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases`;
const named = (message: string) => (l: LogLine) => l.message === message;
const timestampOf = (l: LogLine | undefined) =>
  typeof l?.['timestamp'] === 'string' ? Date.parse(l['timestamp']) : Number.NaN;

async function allWorkflows(): Promise<WorkflowExecution[]> {
  return (await client.request<{ items: WorkflowExecution[] }>(resourcePath(WORKFLOW_EXECUTIONS, namespace)))
    .items;
}

/** Every workflow completed, each step once, each child created once. */
async function expectAllEndedRight(names: readonly string[]): Promise<void> {
  const finished = await until(
    'every workflow completed',
    async () => {
      const list = (await allWorkflows()).filter((w) => names.includes(w.metadata.name ?? ''));
      return list.filter((w) => w.status?.phase === 'completed').length === names.length ? list : undefined;
    },
    240_000,
  );
  for (const w of finished)
    expect(w.status?.stepStatuses?.map((s) => s.status)).toEqual(Array<string>(STEPS).fill('completed'));
  const children = (
    await client.request<{ items: KubernetesExecution[] }>(resourcePath(KUBERNETES_EXECUTIONS, namespace))
  ).items.filter((c) => names.includes(c.spec.workflowExecutionRef.name));
  expect(children).toHaveLength(names.length * STEPS);
  expect(children.every((c) => c.spec.attempt === 1)).toBe(true);
  expect(executor.duplicates()).toEqual([]);
}

/** Runs `check`; when it fails, the replicas' last log lines go with the error. Stops them after. */
async function withLogs(replicas: () => OperatorProcess[], check: () => Promise<void>): Promise<void> {
  try {
    await check();
  } catch (error) {
    const logs = replicas()
      .map((r, i) => `--- replica ${String(i)} (running: ${String(r.running)}):\n${r.tail(40)}`)
      .join('\n');
    (error as Error).message += `\n${logs}`;
    throw error;
  } finally {
    await stopOperators();
  }
}

async function applyAll(prefix: string, count: number): Promise<string[]> {
  const names = Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
  for (const name of names) await workflows.apply(name, spec());
  return names;
}

describe(`two replicas whose clocks are ${SKEW_S} s apart (lease ${LEASE_DURATION_S} s)`, () => {
  it('run under libfaketime: the skewed replica’s clock is ahead by the skew', async () => {
    const kubeconfig = sharedControlPlane().kubeconfigPath;
    const probe = await spawnOperator({
      kubeconfig,
      namespaces: [namespace],
      env: skewed,
      args: ['--workers', '1'],
    });
    const line = await probe.waitForLog(named('controller started'), 'controller started');
    // Read the local clock when the line arrives, not after the stop (which may take seconds).
    const seenAt = Date.now();
    await probe.stop();
    expect(timestampOf(line) - seenAt).toBeGreaterThan((SKEW_S - 10) * 1000);
  });

  it('with leader election: the leader leads on, the other never takes its lease, and takes over only once it died', async () => {
    const kubeconfig = sharedControlPlane().kubeconfigPath;
    const options = { kubeconfig, namespaces: [namespace], leaseName: 'skew-leader', args: LEASE_FLAGS };
    const replicas: OperatorProcess[] = [];
    await withLogs(
      () => replicas,
      async () => {
        const a = await spawnOperator(options);
        replicas.push(a);
        await a.waitForLog(named('became leader'), 'a leading');
        const b = await spawnOperator({ ...options, env: skewed });
        replicas.push(b);
        // Whether the one ahead ever leads while the first still runs: two leaders acting.
        const bLeads = b
          .waitForLog(named('became leader'), 'b leading', 600_000)
          .then(() => ({ whileARan: a.running }));
        bLeads.catch(() => undefined);
        await b.ready();

        const first = await applyAll('leader-before', 8);
        await expectAllEndedRight(first);
        await new Promise((resolve) => setTimeout(resolve, WATCH_MS));
        // No flapping: the lease changed hands only if the leader stopped by itself (a renew
        // deadline missed on a loaded machine: it exits), never taken while it was live.
        const aStopped = a.lines.filter(named('leader lease lost; exiting')).length;
        const lease = await client.request<Lease>(`${leasePath()}/skew-leader`);
        expect({ transitions: lease.spec.leaseTransitions, aStopped }).toEqual({
          transitions: aStopped,
          aStopped,
        });
        if (aStopped === 0) {
          expect(b.lines.some(named('became leader'))).toBe(false);
          // The leader dies; the other takes over once the lease it saw last has run out.
          await a.kill('SIGKILL');
        }
        expect(await bLeads).toEqual({ whileARan: false });
        const second = await applyAll('leader-after', 8);
        await expectAllEndedRight([...first, ...second]);
      },
    );
  });

  it('with shards: they share the shards once and keep them; each workflow is reconciled by its shard’s holder only', async () => {
    const kubeconfig = sharedControlPlane().kubeconfigPath;
    const SHARDS = 4;
    const options = {
      kubeconfig,
      namespaces: [namespace],
      leaseName: 'skew-shards',
      shards: SHARDS,
      args: LEASE_FLAGS,
    };
    const replicas: OperatorProcess[] = [];
    await withLogs(
      () => replicas,
      async () => {
        const a = await spawnOperator(options);
        replicas.push(a);
        await until('a holds every shard', () =>
          Promise.resolve(a.lines.filter(named('shard acquired')).length === SHARDS ? true : undefined),
        );
        const b = await spawnOperator({ ...options, env: skewed });
        replicas.push(b);
        const shardHolders = async () =>
          (
            await client.request<{ items: Lease[] }>(leasePath(), {
              query: { labelSelector: `${SHARD_LABELS.group}=skew-shards,${SHARD_LABELS.role}=shard` },
            })
          ).items;
        const balanced = await until('2 shards each', async () => {
          const leases = await shardHolders();
          const held = leases.map((l) => l.spec.holderIdentity ?? '').filter(Boolean);
          const counts = [...new Set(held)].map((h) => held.filter((x) => x === h).length);
          return held.length === SHARDS && counts.join() === '2,2' ? leases : undefined;
        });
        const transitionsAtBalance = balanced.map((l) => l.spec.leaseTransitions);

        const names = await applyAll('shards', 12);
        await expectAllEndedRight(names);
        await new Promise((resolve) => setTimeout(resolve, WATCH_MS));

        // No flapping: no shard changed hands after the balance, none was lost.
        const after = await shardHolders();
        expect(after.map((l) => l.spec.leaseTransitions)).toEqual(transitionsAtBalance);
        // Each replica's log tells the same: the first took all 4 and gave 2 back, the one ahead
        // took those 2, and nobody lost one. (Counted over the whole run: a log line may come a
        // moment after the Lease write the balance was seen by.)
        const count = (r: OperatorProcess, message: string) => r.lines.filter(named(message)).length;
        expect(
          [a, b].map((r) => [count(r, 'shard acquired'), count(r, 'shard released'), count(r, 'shard lost')]),
        ).toEqual([
          [SHARDS, SHARDS / 2, 0],
          [SHARDS / 2, 0, 0],
        ]);
        // Never two holders acting: each workflow's reconciles came from its shard's holder only.
        const holderOf = new Map(
          after.map((l) => [Number(l.metadata.labels?.[SHARD_LABELS.shard]), l.spec.holderIdentity ?? '']),
        );
        const identity = (r: OperatorProcess) => r.lines.find(named('shard acquired'))?.identity;
        for (const name of names) {
          const reconcilers = [a, b]
            .filter((r) => r.lines.some((l) => l.workflow === name && l.reconcileId !== undefined))
            .map(identity);
          expect({ name, reconcilers }).toEqual({
            name,
            reconcilers: [holderOf.get(shardOf(namespace, name, SHARDS))],
          });
        }
      },
    );
  });
});
