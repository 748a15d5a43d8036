/**
 * One measured workload: `rounds` rounds of `concurrent` workflows of one shape, created at once,
 * each round after the previous one finished; the operator as its own process (`wfx operator`,
 * fresh for the workload, so its CPU and memory are its own), the instant scripted executor here.
 * Gives the handoffs (a step's last dependency completed -> the executor sees the step's child),
 * run times, steps per second, CPU by process, the operator's writes, and the status size.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { WorkflowExecution } from '../../src/api/generated/types.ts';
import { createInformer, type ResourceInformer } from '../../src/shell/informer.ts';
import { WORKFLOW_EXECUTIONS, resourcePath } from '../../src/shell/kube/resources.ts';
import { ScriptedExecutor, succeedAll, type ChildTimes, type Script } from '../../test/support/executor.ts';
import { Workflows } from '../../test/integration/support/harness.ts';
import {
  spawnOperator,
  type OperatorProcess,
  type OperatorProcessOptions,
} from '../../test/support/operator-process.ts';
import { cpuMs } from '../../test/support/proc.ts';
import { operatorRequests, requestTotals, type RequestDelta } from './apiserver-requests.ts';
import type { BenchCluster } from './cluster.ts';
import { specOf, type Shape } from './shapes.ts';

export interface WorkloadOptions {
  shape: Shape;
  concurrent: number;
  rounds: number;
  /** The executor's script (default: complete every child at once). */
  script?: Script;
}

export interface StatusBytes {
  status: number;
  statechart: number;
  snapshot: number;
  object: number;
}

export interface WorkloadResult {
  shape: Shape;
  concurrent: number;
  workflows: number;
  steps: number;
  /** Sorted ms: a step's last dependency completed -> its child seen, over every step with one. */
  handoffs: number[];
  /** Sorted ms: the workflow created -> its first child seen. */
  firstChild: number[];
  /** Sorted ms: the workflow created -> it was seen finished. */
  runs: number[];
  /** Steps per second over the rounds (first create -> last step completed, summed). */
  stepsPerSecond: number;
  requests: RequestDelta;
  /** CPU ms by process over the workload (control plane components, operator, bench + executor). */
  cpu: Map<string, number>;
  /** One finished workflow's size. */
  statusBytes: StatusBytes;
}

/** CPU ms of each named process so far, and of this one (the bench and the executor). */
async function cpuByProcess(pids: Readonly<Record<string, number>>): Promise<Map<string, number>> {
  const snapshot = new Map<string, number>();
  for (const [name, pid] of Object.entries(pids)) snapshot.set(name, await cpuMs(pid));
  const self = process.cpuUsage();
  snapshot.set('bench + executor', (self.user + self.system) / 1000);
  return snapshot;
}

/** Polls `done` until it holds. */
export async function until(what: string, done: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!done()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** When each workflow in a namespace was first seen in a terminal phase, from a watch. */
export function watchFinished(
  cluster: Pick<BenchCluster, 'kc' | 'client'>,
  namespace: string,
): { finishedAt: Map<string, number>; informer: ResourceInformer<WorkflowExecution> } {
  const finishedAt = new Map<string, number>();
  const informer = createInformer<WorkflowExecution>(cluster.client, WORKFLOW_EXECUTIONS, {
    namespace,
    onChange: (wf) => {
      const name = wf.metadata.name ?? '';
      if ((wf.status?.phase === 'completed' || wf.status?.phase === 'failed') && !finishedAt.has(name))
        finishedAt.set(name, performance.now());
    },
  });
  return { finishedAt, informer };
}

/** `wfx operator` watching one namespace, quiet (log level warn), once it is ready. */
export async function startBenchOperator(
  cluster: BenchCluster,
  namespace: string,
  options: Pick<OperatorProcessOptions, 'inspect' | 'entry' | 'nodeArgs' | 'env'> = {},
): Promise<OperatorProcess> {
  const operator = await spawnOperator({
    kubeconfig: cluster.kubeconfigPath,
    namespaces: [namespace],
    logLevel: 'warn',
    ...options,
  });
  await operator.ready();
  return operator;
}

/** The handoffs of one workflow's steps (children of kind `step`), by the shape's dependencies. */
export function handoffsOf(shape: Shape, steps: ReadonlyMap<number, ChildTimes>): number[] {
  const gaps: number[] = [];
  for (let step = 1; step <= shape.steps; step++) {
    const deps = shape.dependsOn(step);
    const seen = steps.get(step)?.seen;
    const ready = deps.map((d) => steps.get(d)?.done);
    if (deps.length === 0 || seen === undefined || ready.some((t) => t === undefined)) continue;
    gaps.push(seen - Math.max(...(ready as number[])));
  }
  return gaps;
}

const bytes = (v: unknown) => Buffer.byteLength(JSON.stringify(v ?? null));

export function statusBytesOf(wf: WorkflowExecution): StatusBytes {
  return {
    status: bytes(wf.status),
    statechart: bytes(wf.status?.statechart),
    snapshot: bytes(wf.status?.statechart?.snapshot),
    object: bytes(wf),
  };
}

/** Runs the workload in a namespace of its own; returns the figures and the namespace. */
export async function runWorkload(
  cluster: BenchCluster,
  options: WorkloadOptions,
): Promise<WorkloadResult & { namespace: string }> {
  const { shape, concurrent, rounds } = options;
  const { kc, client } = cluster;
  const namespace = await cluster.namespace(`bench-${shape.steps}x${concurrent}`);
  const workflows = new Workflows({ client, namespace });
  const executor = new ScriptedExecutor(kc, client, options.script ?? succeedAll, namespace);
  const { finishedAt, informer: watcher } = watchFinished(cluster, namespace);
  let operator: OperatorProcess | undefined;
  try {
    await Promise.all([executor.start(), watcher.start()]);
    operator = await startBenchOperator(cluster, namespace);
    const pids = { ...cluster.pids, operator: operator.pid };
    const spec = specOf(shape);
    const created = new Map<string, number>();
    let activeMs = 0;
    const before = await requestTotals(client);
    const cpuBefore = await cpuByProcess(pids);
    for (let round = 0; round < rounds; round++) {
      const names = Array.from({ length: concurrent }, (_, i) => `wf-r${round}-${i}`);
      const t0 = performance.now();
      await Promise.all(
        names.map(async (name) => {
          await workflows.apply(name, spec);
          created.set(name, performance.now());
        }),
      );
      const total = (round + 1) * concurrent;
      await until(
        `${total} workflows of ${shape.name} finished`,
        () => finishedAt.size >= total,
        120_000 + concurrent * shape.steps * 2_000,
      );
      const done = [...executor.timeline.values()]
        .filter((c) => names.includes(c.workflow))
        .map((c) => c.done ?? 0);
      activeMs += Math.max(...done) - t0;
    }
    // Let trailing reconciles (the last status writes, Events) land before counting.
    await sleep(1000);
    const cpuAfter = await cpuByProcess(pids);
    const after = await requestTotals(client);

    const byWorkflow = new Map<string, Map<number, ChildTimes>>();
    for (const child of executor.timeline.values()) {
      if (child.kind !== 'step') continue;
      const steps = byWorkflow.get(child.workflow) ?? new Map<number, ChildTimes>();
      steps.set(child.step, child);
      byWorkflow.set(child.workflow, steps);
    }
    const handoffs: number[] = [];
    const firstChild: number[] = [];
    const runs: number[] = [];
    for (const [name, createdAt] of created) {
      const steps = byWorkflow.get(name) ?? new Map<number, ChildTimes>();
      handoffs.push(...handoffsOf(shape, steps));
      const first = steps.get(1)?.seen;
      if (first !== undefined) firstChild.push(first - createdAt);
      const end = finishedAt.get(name);
      if (end !== undefined) runs.push(end - createdAt);
    }
    const sorted = (values: number[]) => values.sort((a, b) => a - b);
    const [firstName = ''] = created.keys();
    const finished = await client.request<WorkflowExecution>(
      resourcePath(WORKFLOW_EXECUTIONS, namespace, firstName),
    );
    const steps = created.size * shape.steps;
    return {
      namespace,
      shape,
      concurrent,
      workflows: created.size,
      steps,
      handoffs: sorted(handoffs),
      firstChild: sorted(firstChild),
      runs: sorted(runs),
      stepsPerSecond: steps / (activeMs / 1000),
      requests: operatorRequests(before, after),
      cpu: new Map([...cpuAfter].map(([name, ms]) => [name, ms - (cpuBefore.get(name) ?? 0)])),
      statusBytes: statusBytesOf(finished),
    };
  } finally {
    await operator?.stop();
    await Promise.all([executor.stop(), watcher.stop()]);
  }
}
