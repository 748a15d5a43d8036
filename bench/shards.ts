/**
 * Scale past one replica (figures, never assertions): the same batch of workflows (1,000 concurrent
 * 10-step workflows by default; `--workflows=N --steps=M` for others) run by 1 and by 3 operator
 * processes sharing 6 shards, carried out by two replicas of the project's own executor (`wfx
 * executor`, custom `sleep 0s` test hooks: the action costs nothing, so what is measured is the
 * orchestration). Per case: steps/s, handoff p50/p99 (a child seen completed by this process's watch
 * -> the next step's child seen created), the CPU and peak RSS of every process, and which one is the
 * limit (the busiest, as a share of the machine's cores).
 */
import { availableParallelism, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';

import { KubeConfig } from '@kubernetes/client-node';

import type { KubernetesExecution, WorkflowExecution } from '../src/api/generated/types.ts';
import { startControlPlane } from '../tooling/controlplane/launcher.ts';
import { controlPlaneTuning } from '../tooling/controlplane/environment.ts';
import { createInformer } from '../src/shell/informer.ts';
import { createKubeClient, type KubeClient } from '../src/shell/kube/client.ts';
import {
  KUBERNETES_EXECUTIONS,
  WORKFLOW_EXECUTIONS,
  core,
  resourcePath,
} from '../src/shell/kube/resources.ts';
import { SHARD_LABELS } from '../src/shell/shards.ts';
import { customStep, specWith } from '../test/fixtures/specs.ts';
import { permitExecutorIn } from '../test/support/executor-permissions.ts';
import { spawnOperator, type OperatorProcess } from '../test/support/operator-process.ts';
import { cpuMs, rssKiB } from '../test/support/proc.ts';
import { percentile, printTable } from './support/measure.ts';

const SHARDS = 6;
const REPLICAS = [1, 3] as const;
const EXECUTORS = 2;
const GROUP = 'bench-shards';

/** `--name=N` from the command line, or the default. */
function flag(name: string, fallback: number): number {
  const value = process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const parsed = value === undefined ? Number.NaN : Number(value);
  return Number.isInteger(parsed) && parsed > 0 ? parsed : fallback;
}
const WORKFLOWS = flag('workflows', 1000);
const STEPS = flag('steps', 10);

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
  failed: number;
  handoffs: number[];
  cpu: Map<string, number>;
  /** Peak resident memory per process, KiB. */
  rss: Map<string, number>;
}

/** When this process's watch first saw each step's child created, and completed. */
class ChildTimes {
  readonly created = new Map<string, number>();
  readonly completed = new Map<string, number>();

  seen(child: KubernetesExecution): void {
    if (child.spec.kind !== 'step') return;
    const key = `${child.spec.workflowExecutionRef.name}/${String(child.spec.stepNumber)}`;
    const now = performance.now();
    if (!this.created.has(key)) this.created.set(key, now);
    if (child.status?.phase === 'completed' && !this.completed.has(key)) this.completed.set(key, now);
  }

  /** Per workflow and step after the first: its child created - the step before it completed. */
  handoffs(workflows: number, steps: number): number[] {
    const out: number[] = [];
    for (let w = 0; w < workflows; w++)
      for (let n = 2; n <= steps; n++) {
        const done = this.completed.get(`wf-${String(w)}/${String(n - 1)}`);
        const next = this.created.get(`wf-${String(w)}/${String(n)}`);
        if (done !== undefined && next !== undefined) out.push(Math.max(0, next - done));
      }
    return out.sort((a, b) => a - b);
  }
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
  await permitExecutorIn(client, namespace);
  const finished = new Set<string>();
  const failed = new Set<string>();
  const watcher = createInformer<WorkflowExecution>(client, WORKFLOW_EXECUTIONS, {
    namespace,
    onChange: (w) => {
      if (w.status?.phase === 'completed' || w.status?.phase === 'failed')
        finished.add(w.metadata.name ?? '');
      // Custom steps have no target to verify: a run of them that did all it should ends `unknown`.
      const outcome = w.status?.workflowResult?.outcome;
      if (
        w.status?.phase === 'failed' ||
        (outcome !== undefined && outcome !== 'success' && outcome !== 'unknown')
      )
        failed.add(w.metadata.name ?? '');
    },
  });
  const times = new ChildTimes();
  const children = createInformer<KubernetesExecution>(client, KUBERNETES_EXECUTIONS, {
    namespace,
    onChange: (c) => {
      times.seen(c);
    },
  });
  await Promise.all([watcher.start(), children.start()]);
  // The project's executor, as its Deployment runs it: separate processes sharing children by claims.
  const executors = await Promise.all(
    Array.from({ length: EXECUTORS }, (_, i) =>
      spawnOperator({
        command: 'executor',
        kubeconfig,
        logLevel: 'warn',
        args: ['-n', namespace, '--development', '--identity', `bench-executor-${String(i + 1)}`],
      }),
    ),
  );
  const processes = await Promise.all(
    Array.from({ length: replicas }, () => startReplica(kubeconfig, namespace)),
  );
  const rss = new Map<string, number>();
  let sampling: NodeJS.Timeout | undefined;
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
      pids[`operator ${String(i + 1)}`] = p.pid;
    });
    executors.forEach((p, i) => {
      pids[`executor ${String(i + 1)}`] = p.pid;
    });
    const sampleRss = async () => {
      for (const [name, pid] of Object.entries(pids))
        if (name.startsWith('operator') || name.startsWith('executor')) {
          const kib = await rssKiB(pid).catch(() => Number.NaN);
          if (kib > (rss.get(name) ?? 0)) rss.set(name, kib);
        }
    };
    sampling = setInterval(() => void sampleRss(), 1000);
    const cpu = async () => {
      const snapshot = new Map<string, number>();
      for (const [name, pid] of Object.entries(pids)) snapshot.set(name, await cpuMs(pid));
      const self = process.cpuUsage();
      snapshot.set('bench (watches)', (self.user + self.system) / 1000);
      return snapshot;
    };
    const before = await cpu();
    const t0 = performance.now();
    const spec = specWith(
      Array.from({ length: STEPS }, (_, i) =>
        customStep(i + 1, { parameters: { custom: { actionType: 'sleep', config: { duration: '0s' } } } }),
      ),
    );
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
    const bound = 300_000 + WORKFLOWS * STEPS * 100;
    while (finished.size < WORKFLOWS) {
      if (performance.now() - t0 > bound)
        throw new Error(`only ${String(finished.size)} of ${String(WORKFLOWS)} finished`);
      await sleep(50);
    }
    const seconds = (performance.now() - t0) / 1000;
    const after = await cpu();
    await sampleRss();
    return {
      replicas,
      seconds,
      stepsPerSecond: (WORKFLOWS * STEPS) / seconds,
      balance,
      failed: failed.size,
      handoffs: times.handoffs(WORKFLOWS, STEPS),
      cpu: new Map([...after].map(([name, ms]) => [name, ms - (before.get(name) ?? 0)])),
      rss,
    };
  } finally {
    clearInterval(sampling);
    await Promise.all([...processes, ...executors].map((p) => p.stop()));
    await Promise.all([watcher.stop(), children.stop()]);
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
        `shards: ${String(WORKFLOWS)} workflows x ${String(STEPS)} sequential custom steps created at once, ${String(SHARDS)} shards, ${String(EXECUTORS)} executor replicas (wfx executor, sleep 0s)`,
        results.map((r) => ({
          replicas: r.replicas,
          'shards per replica': r.balance,
          seconds: round1(r.seconds),
          'steps/s': round1(r.stepsPerSecond),
          'vs 1 replica': Math.round((r.stepsPerSecond / base) * 100) / 100,
          'handoff p50 ms': round1(percentile(r.handoffs, 50)),
          'handoff p99 ms': round1(percentile(r.handoffs, 99)),
          'failed or partial': r.failed,
        })),
      );
      const processes = [...new Set(results.flatMap((r) => [...r.rss.keys()]))];
      printTable(
        'shards: peak RSS MiB by process',
        processes.map((name) => ({
          process: name,
          ...Object.fromEntries(
            results.map((r) => [
              `${String(r.replicas)} replica${r.replicas > 1 ? 's' : ''}`,
              r.rss.has(name) ? round1((r.rss.get(name) ?? 0) / 1024) : '',
            ]),
          ),
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
      const cores = availableParallelism();
      for (const r of results) {
        const total = [...r.cpu.values()].reduce((a, b) => a + b, 0);
        const [busiest = '', busiestMs = 0] = [...r.cpu].sort((a, b) => b[1] - a[1])[0] ?? [];
        console.log(
          `  ${String(r.replicas)} replica(s): all processes together used ${String(round1(total / 1000 / r.seconds))} of ${String(cores)} cores over ${String(round1(r.seconds))} s; ` +
            `the limit: ${busiest} (${String(round1(busiestMs / 1000 / r.seconds))} cores, ${String(Math.round((busiestMs / total) * 100))} % of all CPU)` +
            (total / 1000 / r.seconds > cores * 0.9 ? ', with the machine saturated' : ''),
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
