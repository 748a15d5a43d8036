/**
 * Shards across replicas (figures, never assertions): steps per second for the same batch of
 * workflows run by 1 and by 3 operator processes sharing 6 shards, with the CPU each process spent,
 * so it shows where the work went. On a 2-core machine the apiserver and etcd are the limit; the
 * CPU table says how much of it each process took.
 */
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';

import { KubeConfig } from '@kubernetes/client-node';

import type { WorkflowExecution } from '../src/api/generated/types.ts';
import { startControlPlane } from '../tooling/controlplane/launcher.ts';
import { controlPlaneTuning } from '../tooling/controlplane/environment.ts';
import { createInformer } from '../src/shell/informer.ts';
import { createKubeClient, type KubeClient } from '../src/shell/kube/client.ts';
import { WORKFLOW_EXECUTIONS, core, resourcePath } from '../src/shell/kube/resources.ts';
import { SHARD_LABELS } from '../src/shell/shards.ts';
import { customStep, specWith } from '../test/fixtures/specs.ts';
import { ScriptedExecutor } from '../test/support/executor.ts';
import { spawnOperator, type OperatorProcess } from '../test/support/operator-process.ts';
import { cpuMs } from '../test/support/proc.ts';
import { printTable } from './support/measure.ts';

const SHARDS = 6;
const WORKFLOWS = 60;
const STEPS = 5;
const REPLICAS = [1, 3] as const;
const GROUP = 'bench-shards';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const startReplica = (kubeconfig: string, namespace: string): Promise<OperatorProcess> =>
  spawnOperator({ kubeconfig, namespaces: [namespace], leaseName: GROUP, shards: SHARDS, logLevel: 'warn' });

async function holdersOf(client: KubeClient, namespace: string): Promise<string[]> {
  const list = await client.request<{ items: { spec: { holderIdentity?: string } }[] }>(
    `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases`,
    { query: { labelSelector: `${SHARD_LABELS.group}=${GROUP},${SHARD_LABELS.role}=shard` } },
  );
  return list.items.map((l) => l.spec.holderIdentity ?? '');
}

interface CaseResult {
  replicas: number;
  stepsPerSecond: number;
  seconds: number;
  balance: string;
  cpu: Map<string, number>;
}

async function runCase(
  kc: KubeConfig,
  kubeconfig: string,
  client: KubeClient,
  controlPlanePids: Readonly<Record<string, number>>,
  replicas: number,
): Promise<CaseResult> {
  const namespace = `bench-shards-${replicas}`;
  await client.request(resourcePath(core('namespaces', 'Namespace', false)), {
    body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } },
  });
  const executor = new ScriptedExecutor(kc, client, undefined, namespace);
  const finished = new Set<string>();
  const watcher = createInformer<WorkflowExecution>(client, WORKFLOW_EXECUTIONS, {
    namespace,
    onChange: (w) => {
      if (w.status?.phase === 'completed' || w.status?.phase === 'failed')
        finished.add(w.metadata.name ?? '');
    },
  });
  await Promise.all([executor.start(), watcher.start()]);
  const processes = await Promise.all(
    Array.from({ length: replicas }, () => startReplica(kubeconfig, namespace)),
  );
  try {
    // Balanced: every shard held, by as many distinct replicas as run.
    const deadline = performance.now() + 120_000;
    let holders: string[] = [];
    for (;;) {
      holders = await holdersOf(client, namespace);
      const distinct = new Set(holders.filter(Boolean));
      const counts = [...distinct].map((h) => holders.filter((x) => x === h).length);
      if (
        holders.filter(Boolean).length === SHARDS &&
        distinct.size === replicas &&
        Math.max(...counts) <= Math.ceil(SHARDS / replicas)
      )
        break;
      if (performance.now() > deadline) throw new Error(`shards not balanced: ${holders.join(', ')}`);
      await sleep(200);
    }
    const balance = [...new Set(holders)].map((h) => holders.filter((x) => x === h).length).join('/');
    const pids: Record<string, number> = { ...controlPlanePids };
    processes.forEach((p, i) => {
      pids[`operator ${i + 1}`] = p.pid;
    });
    const cpu = async () => {
      const snapshot = new Map<string, number>();
      for (const [name, pid] of Object.entries(pids)) snapshot.set(name, await cpuMs(pid));
      const self = process.cpuUsage();
      snapshot.set('bench + executor', (self.user + self.system) / 1000);
      return snapshot;
    };
    const before = await cpu();
    const t0 = performance.now();
    const spec = specWith(Array.from({ length: STEPS }, (_, i) => customStep(i + 1)));
    await Promise.all(
      Array.from({ length: WORKFLOWS }, (_, i) =>
        client.request(resourcePath(WORKFLOW_EXECUTIONS, namespace), {
          body: {
            apiVersion: `${WORKFLOW_EXECUTIONS.group}/${WORKFLOW_EXECUTIONS.version}`,
            kind: WORKFLOW_EXECUTIONS.kind,
            metadata: { name: `wf-${i}` },
            spec,
          },
        }),
      ),
    );
    while (finished.size < WORKFLOWS) {
      if (performance.now() - t0 > 600_000) throw new Error(`only ${finished.size} of ${WORKFLOWS} finished`);
      await sleep(50);
    }
    const seconds = (performance.now() - t0) / 1000;
    const after = await cpu();
    return {
      replicas,
      seconds,
      stepsPerSecond: (WORKFLOWS * STEPS) / seconds,
      balance,
      cpu: new Map([...after].map(([name, ms]) => [name, ms - (before.get(name) ?? 0)])),
    };
  } finally {
    await Promise.all(processes.map((p) => p.stop()));
    await Promise.all([executor.stop(), watcher.stop()]);
  }
}

const round1 = (v: number) => Math.round(v * 10) / 10;

export async function benchShards(): Promise<void> {
  const load = () =>
    loadavg()
      .map((l) => l.toFixed(2))
      .join(' ');
  console.log(`\n## shards: load average at start ${load()} (other work on this machine skews every figure)`);
  const cp = await startControlPlane({ workloads: false, ...controlPlaneTuning(process.env) });
  try {
    const kc = new KubeConfig();
    kc.loadFromFile(cp.kubeconfigPath);
    const client = await createKubeClient(kc);
    try {
      const results: CaseResult[] = [];
      for (const replicas of REPLICAS)
        results.push(await runCase(kc, cp.kubeconfigPath, client, cp.pids, replicas));
      const base = results[0]?.stepsPerSecond ?? Number.NaN;
      printTable(
        `shards: ${WORKFLOWS} workflows x ${STEPS} sequential custom steps created at once, ${SHARDS} shards, instant executor`,
        results.map((r) => ({
          replicas: r.replicas,
          'shards per replica': r.balance,
          seconds: round1(r.seconds),
          'steps/s': round1(r.stepsPerSecond),
          'vs 1 replica': Math.round((r.stepsPerSecond / base) * 100) / 100,
        })),
      );
      const names = [...new Set(results.flatMap((r) => [...r.cpu.keys()]))];
      printTable(
        'shards: CPU ms per step by process (user + system; 2 cores = 2000 ms per wall second)',
        names.map((name) => ({
          process: name,
          ...Object.fromEntries(
            results.map((r) => [
              `${r.replicas} replica${r.replicas > 1 ? 's' : ''}`,
              r.cpu.has(name) ? round1((r.cpu.get(name) ?? 0) / (WORKFLOWS * STEPS)) : '',
            ]),
          ),
        })),
      );
      for (const r of results) {
        const total = [...r.cpu.values()].reduce((a, b) => a + b, 0);
        console.log(
          `  ${r.replicas} replica(s): all processes together used ${round1(total / 1000 / r.seconds)} of 2 cores over ${round1(r.seconds)} s`,
        );
      }
      console.log(`  load average now ${load()}`);
    } finally {
      client.close();
    }
  } finally {
    await cp.stop();
  }
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) await benchShards();
