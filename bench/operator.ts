/**
 * The operator against a local control plane with an instant executor (figures, never assertions):
 * - steps per second and the step-to-step latency (the executor's status write of step k returns ->
 *   the executor's informer first sees step k+1) for 1, 10 and 100 concurrent workflows of 10
 *   sequential custom steps;
 * - apiserver writes per step by the operator (from the apiserver's own apiserver_request_total, so
 *   the executor's and the bench's writes are told apart by resource and verb);
 * - status bytes of a finished 10-step workflow, and of its statechart envelope;
 * - the operator's RSS with 1,000 finished and 100 running workflows;
 * - beside them, the control plane's floor measured in the same run, and ratios to it.
 *
 * The operator runs as its own process (`wfx operator`), one per case, so its event loop, CPU and
 * RSS are its own; the executor and the bench run here.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

import { KubeConfig } from '@kubernetes/client-node';

import type {
  KubernetesExecution,
  KubernetesExecutionStatus,
  WorkflowExecution,
  WorkflowExecutionSpec,
} from '../src/api/generated/types.ts';
import { LABELS } from '../src/shell/children.ts';
import { startControlPlane } from '../src/shell/controlplane/launcher.ts';
import { createInformer, type ResourceInformer } from '../src/shell/informer.ts';
import { createKubeClient, type KubeClient } from '../src/shell/kube/client.ts';
import {
  KUBERNETES_EXECUTIONS,
  WORKFLOW_EXECUTIONS,
  core,
  resourcePath,
} from '../src/shell/kube/resources.ts';
import { customStep, specWith } from '../test/fixtures/specs.ts';
import { cpuMs, measureFloor, measureWithCpu, type Floor, type FloorStats } from './floor.ts';
import { percentile, printTable } from './measure.ts';

const STEPS = 10;
const FLOOR_RUNS = 100;
/** Concurrency -> rounds: enough step transitions for a p99 in every case. */
const CASES: readonly (readonly [concurrent: number, rounds: number])[] = [
  [1, 12],
  [10, 2],
  [100, 1],
];
const RSS_FINISHED = 1000;
/**
 * Steps of the finished workflows of the RSS case: 1, because 1,000 x 10 steps would take the
 * apiserver alone ~10 minutes of CPU on 2 cores (see the CPU table).
 */
const RSS_FINISHED_STEPS = 1;
const RSS_RUNNING = 100;
const HANG_PREFIX = 'hang-';
const WFX = fileURLToPath(new URL('../src/cli/wfx.ts', import.meta.url));

/** CPU ms of each control-plane component, the operator and this process (the executor). */
async function cpuSnapshot(components: Readonly<Record<string, number>>): Promise<Map<string, number>> {
  const snapshot = new Map<string, number>();
  for (const [name, pid] of Object.entries(components)) snapshot.set(name, await cpuMs(pid));
  const self = process.cpuUsage();
  snapshot.set('bench + executor', (self.user + self.system) / 1000);
  return snapshot;
}

const specOf = (steps: number): WorkflowExecutionSpec =>
  specWith(Array.from({ length: steps }, (_, i) => customStep(i + 1)));
const SPEC = specOf(STEPS);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(what: string, done: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!done()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** Up to `limit` calls of `fn` at a time, over `items`. */
async function pool<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

interface StepTimes {
  /** When this executor's informer first saw the child. */
  seen: number;
  /** When its status write (completed) returned. */
  completed?: number;
}

/**
 * An instant executor that notes, per workflow and step, when it first saw the child and when its
 * completing status write returned. Children of workflows named `hang-*` are left running.
 */
class TimedExecutor {
  readonly steps = new Map<string, Map<number, StepTimes>>();
  completedCount = 0;
  private readonly handled = new Set<string>();
  private readonly informer: ResourceInformer<KubernetesExecution>;
  private readonly client: KubeClient;

  constructor(kc: KubeConfig, client: KubeClient, namespace: string) {
    this.client = client;
    this.informer = createInformer<KubernetesExecution>(kc, client, KUBERNETES_EXECUTIONS, {
      namespace,
      labelSelector: LABELS.workflowUid,
      onChange: (child, kind) => {
        if (kind !== 'delete') void this.handle(child);
      },
    });
  }

  start(): Promise<void> {
    return this.informer.start();
  }

  stop(): Promise<void> {
    return this.informer.stop();
  }

  private async handle(child: KubernetesExecution): Promise<void> {
    const now = performance.now();
    const workflow = child.metadata.labels?.[LABELS.workflow] ?? '';
    const byStep = this.steps.get(workflow) ?? new Map<number, StepTimes>();
    this.steps.set(workflow, byStep);
    const times = byStep.get(child.spec.stepNumber) ?? { seen: now };
    byStep.set(child.spec.stepNumber, times);
    const uid = child.metadata.uid ?? '';
    if (child.status?.phase === 'completed' || child.status?.phase === 'failed') return;
    if (this.handled.has(uid) || workflow.startsWith(HANG_PREFIX)) return;
    this.handled.add(uid);
    const at = new Date().toISOString();
    const status: KubernetesExecutionStatus = { phase: 'completed', startTime: at, completionTime: at };
    await this.client.request(
      resourcePath(KUBERNETES_EXECUTIONS, child.metadata.namespace, child.metadata.name, 'status'),
      { method: 'PATCH', patchType: 'merge', body: { status } },
    );
    times.completed = performance.now();
    this.completedCount++;
  }
}

/** Watches workflows in a namespace and counts those in a terminal phase. */
function finishedWatcher(kc: KubeConfig, client: KubeClient, namespace: string) {
  const finishedAt = new Map<string, number>();
  const informer = createInformer<WorkflowExecution>(kc, client, WORKFLOW_EXECUTIONS, {
    namespace,
    onChange: (wf) => {
      const phase = wf.status?.phase;
      const name = wf.metadata.name ?? '';
      if ((phase === 'completed' || phase === 'failed') && !finishedAt.has(name))
        finishedAt.set(name, performance.now());
    },
  });
  return { informer, finishedAt };
}

/** apiserver_request_total from the apiserver's /metrics, keyed `VERB resource[/sub] code`. */
async function requestTotals(client: KubeClient): Promise<Map<string, number>> {
  const text = await client.request<string>('/metrics');
  const totals = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    const labels = Object.fromEntries(
      [...line.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1] ?? '', m[2] ?? '']),
    );
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    const resource = `${labels['resource'] ?? ''}${labels['subresource'] ? `/${labels['subresource']}` : ''}`;
    const key = `${labels['verb'] ?? ''} ${resource} ${labels['code'] ?? ''}`;
    totals.set(key, (totals.get(key) ?? 0) + value);
  }
  return totals;
}

/** The operator's requests between two snapshots: what neither the bench nor the executor sends. */
const OPERATOR_WRITES: Record<string, string> = {
  'PUT workflowexecutions/status': 'status PUT',
  'POST kubernetesexecutions': 'child create',
  'POST events': 'event create',
  'PATCH events': 'event patch',
  'PATCH workflowexecutions': 'metadata patch (finalizer)',
  'POST subjectaccessreviews': 'SubjectAccessReview',
};
const OPERATOR_READS: Record<string, string> = { 'GET workflowexecutions': 'live GET (stale cache)' };

interface RequestDelta {
  byKind: Map<string, number>;
  writes: number;
  conflicts: number;
  reads: number;
}

function operatorRequests(before: Map<string, number>, after: Map<string, number>): RequestDelta {
  const byKind = new Map<string, number>();
  let writes = 0;
  let conflicts = 0;
  let reads = 0;
  for (const [key, value] of after) {
    const delta = value - (before.get(key) ?? 0);
    if (delta === 0) continue;
    const [verb = '', resource = '', code = ''] = key.split(' ');
    const write = OPERATOR_WRITES[`${verb} ${resource}`];
    const read = OPERATOR_READS[`${verb} ${resource}`];
    if (write) {
      writes += delta;
      if (code === '409') conflicts += delta;
      const label = code.startsWith('2') ? write : `${write} (${code})`;
      byKind.set(label, (byKind.get(label) ?? 0) + delta);
    } else if (read) reads += delta;
  }
  return { byKind, writes, conflicts, reads };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => {
        resolve(port);
      });
    });
  });
}

interface OperatorProcess {
  pid: number;
  rssKiB(): Promise<number>;
  /** A full GC through the inspector, then the process's memoryUsage() (needs `inspect`). */
  collectGarbage(): Promise<NodeJS.MemoryUsage>;
  stop(): Promise<void>;
}

/** Calls DevTools protocol methods in order over one inspector connection; returns their results. */
async function inspectorCalls(url: string, calls: readonly [string, object?][]): Promise<unknown[]> {
  const ws = new WebSocket(url);
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = reject;
  });
  const pending = new Map<number, (result: unknown) => void>();
  ws.onmessage = (event) => {
    const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown };
    if (message.id !== undefined) pending.get(message.id)?.(message.result);
  };
  const results: unknown[] = [];
  try {
    for (const [i, [method, params]] of calls.entries()) {
      results.push(
        await new Promise((resolve) => {
          pending.set(i, resolve);
          ws.send(JSON.stringify({ id: i, method, params: params ?? {} }));
        }),
      );
    }
  } finally {
    ws.close();
  }
  return results;
}

/** `wfx operator` as a child process, watching one namespace; resolves once /readyz says so. */
async function startOperatorProcess(
  kubeconfig: string,
  namespace: string,
  inspect = false,
): Promise<OperatorProcess> {
  const [healthPort, metricsPort] = [await freePort(), await freePort()];
  const child: ChildProcess = spawn(
    process.execPath,
    [
      ...(inspect ? ['--inspect=127.0.0.1:0'] : []),
      WFX,
      'operator',
      `--kubeconfig=${kubeconfig}`,
      `--namespaces=${namespace}`,
      `--health-port=${healthPort}`,
      `--metrics-port=${metricsPort}`,
      '--bind-address=127.0.0.1',
      '--log-level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const pid = child.pid;
  if (pid === undefined) throw new Error('operator process did not start');
  let inspectorUrl: string | undefined;
  if (child.stderr)
    createInterface({ input: child.stderr }).on('line', (line) => {
      const url = /Debugger listening on (ws:\/\/\S+)/.exec(line)?.[1];
      if (url) inspectorUrl = url;
      else if (!/^(Debugger |For help|Waiting for the debugger)/.test(line))
        console.error(`operator: ${line}`);
    });
  const state = { exited: false };
  const exit = new Promise<void>((resolve) => {
    child.once('exit', () => {
      state.exited = true;
      resolve();
    });
  });
  const deadline = performance.now() + 60_000;
  for (;;) {
    if (state.exited) throw new Error('operator process exited during start');
    if (performance.now() > deadline) throw new Error('operator process not ready after 60 s');
    try {
      const res = await fetch(`http://127.0.0.1:${healthPort}/readyz`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  return {
    pid,
    async rssKiB() {
      const status = await readFile(`/proc/${pid}/status`, 'utf8');
      return Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? Number.NaN);
    },
    async collectGarbage() {
      if (!inspectorUrl) throw new Error('the operator was not started with the inspector');
      const [, evaluated] = await inspectorCalls(inspectorUrl, [
        ['HeapProfiler.collectGarbage'],
        ['Runtime.evaluate', { expression: 'JSON.stringify(process.memoryUsage())' }],
      ]);
      return JSON.parse((evaluated as { result: { value: string } }).result.value) as NodeJS.MemoryUsage;
    },
    async stop() {
      if (!state.exited) child.kill('SIGTERM');
      await exit;
    },
  };
}

async function createNamespace(client: KubeClient, name: string): Promise<void> {
  await client.request(resourcePath(core('namespaces', 'Namespace', false)), {
    body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name } },
  });
}

async function createWorkflow(
  client: KubeClient,
  namespace: string,
  name: string,
  spec: WorkflowExecutionSpec = SPEC,
): Promise<void> {
  await client.request(resourcePath(WORKFLOW_EXECUTIONS, namespace), {
    body: {
      apiVersion: `${WORKFLOW_EXECUTIONS.group}/${WORKFLOW_EXECUTIONS.version}`,
      kind: WORKFLOW_EXECUTIONS.kind,
      metadata: { name },
      spec,
    },
  });
}

interface CaseResult {
  concurrent: number;
  steps: number;
  stepsPerSecond: number;
  gaps: number[];
  firstChild: number[];
  requests: RequestDelta;
  /** CPU ms by process over the case. */
  cpu: Map<string, number>;
}

/**
 * `rounds` rounds of `concurrent` workflows created at once, each round waiting for the previous
 * one to finish; a fresh operator process per case.
 */
async function runCase(
  kc: KubeConfig,
  kubeconfig: string,
  client: KubeClient,
  controlPlanePids: Readonly<Record<string, number>>,
  concurrent: number,
  rounds: number,
): Promise<CaseResult> {
  const namespace = `bench-op-${concurrent}`;
  await createNamespace(client, namespace);
  const executor = new TimedExecutor(kc, client, namespace);
  const watcher = finishedWatcher(kc, client, namespace);
  await Promise.all([executor.start(), watcher.informer.start()]);
  const operator = await startOperatorProcess(kubeconfig, namespace);
  const created = new Map<string, number>();
  let activeMs = 0;
  const pids = { ...controlPlanePids, operator: operator.pid };
  const before = await requestTotals(client);
  const cpuBefore = await cpuSnapshot(pids);
  let cpuAfter = cpuBefore;
  try {
    for (let round = 0; round < rounds; round++) {
      const names = Array.from({ length: concurrent }, (_, i) => `wf-r${round}-${i}`);
      const t0 = performance.now();
      await Promise.all(
        names.map(async (name) => {
          await createWorkflow(client, namespace, name);
          created.set(name, performance.now());
        }),
      );
      const total = (round + 1) * concurrent;
      await waitFor(
        `${total} workflows finished`,
        () => watcher.finishedAt.size >= total,
        120_000 + concurrent * 2_000,
      );
      // Steps per second: from the first create to the last step's completion.
      const lastStep = Math.max(
        ...names.map((n) => executor.steps.get(n)?.get(STEPS)?.completed ?? Number.NaN),
      );
      activeMs += lastStep - t0;
    }
    // Let trailing reconciles (the last status writes, events) land before counting.
    await sleep(1000);
    cpuAfter = await cpuSnapshot(pids);
  } finally {
    await operator.stop();
  }
  const after = await requestTotals(client);
  await Promise.all([executor.stop(), watcher.informer.stop()]);

  const gaps: number[] = [];
  const firstChild: number[] = [];
  for (const [name, createdAt] of created) {
    const byStep = executor.steps.get(name);
    const first = byStep?.get(1)?.seen;
    if (first !== undefined) firstChild.push(first - createdAt);
    for (let k = 2; k <= STEPS; k++) {
      const done = byStep?.get(k - 1)?.completed;
      const next = byStep?.get(k)?.seen;
      if (done !== undefined && next !== undefined) gaps.push(next - done);
    }
  }
  gaps.sort((a, b) => a - b);
  firstChild.sort((a, b) => a - b);
  const steps = created.size * STEPS;
  return {
    concurrent,
    steps,
    stepsPerSecond: steps / (activeMs / 1000),
    gaps,
    firstChild,
    requests: operatorRequests(before, after),
    cpu: new Map([...cpuAfter].map(([name, ms]) => [name, ms - (cpuBefore.get(name) ?? 0)])),
  };
}

/** Status size of one finished workflow of the last case. */
async function statusBytes(client: KubeClient, namespace: string, name: string) {
  const wf = await client.request<WorkflowExecution>(resourcePath(WORKFLOW_EXECUTIONS, namespace, name));
  const bytes = (v: unknown) => Buffer.byteLength(JSON.stringify(v ?? null));
  return {
    phase: wf.status?.phase ?? '',
    status: bytes(wf.status),
    statechart: bytes(wf.status?.statechart),
    snapshot: bytes(wf.status?.statechart?.snapshot),
    object: bytes(wf),
  };
}

/** A stored object made creatable again under a new name (server-set metadata dropped). */
function copyOf(object: object, name: string): object {
  const { metadata, ...rest } = object as { metadata?: Record<string, unknown> };
  const {
    uid: _u,
    resourceVersion: _r,
    creationTimestamp: _c,
    managedFields: _m,
    generation: _g,
    ...meta
  } = metadata ?? {};
  return { ...rest, metadata: { ...meta, name } };
}

/**
 * Floors for the operator's own writes, on a finished workflow of the 1-concurrent case (its operator
 * stopped): PUT /status of the whole object as the reconciler sends it (one condition message
 * changed each time, so every PUT writes), and creates of copies of one of its children and of one
 * of its Events.
 */
async function operatorWriteFloors(
  client: KubeClient,
  namespace: string,
  name: string,
  apiserverPid: number | undefined,
): Promise<{ statusPut: FloorStats; childCreate: FloorStats; eventCreate: FloorStats }> {
  const path = resourcePath(WORKFLOW_EXECUTIONS, namespace, name, 'status');
  let wf = await client.request<WorkflowExecution>(resourcePath(WORKFLOW_EXECUTIONS, namespace, name));
  let n = 0;
  const statusPut = await measureWithCpu(
    async () => {
      const conditions = (wf.status?.conditions ?? []).map((c, i) =>
        i === 0 ? { ...c, message: `floor ${n++}` } : c,
      );
      wf = await client.request<WorkflowExecution>(path, {
        method: 'PUT',
        body: { ...wf, status: { ...wf.status, conditions } },
      });
    },
    FLOOR_RUNS,
    apiserverPid,
  );
  const children = await client.request<{ items: KubernetesExecution[] }>(
    resourcePath(KUBERNETES_EXECUTIONS, namespace),
    { query: { labelSelector: `${LABELS.workflow}=${name}` } },
  );
  const child = children.items[0];
  if (!child) throw new Error(`no child of ${name}`);
  const childCreate = await measureWithCpu(
    () =>
      client.request(resourcePath(KUBERNETES_EXECUTIONS, namespace), {
        body: copyOf(child, `floor-child-${n++}`),
      }),
    FLOOR_RUNS,
    apiserverPid,
  );
  const eventsPath = `/apis/events.k8s.io/v1/namespaces/${namespace}/events`;
  const events = await client.request<{ items: object[] }>(eventsPath);
  const event = events.items[0];
  if (!event) throw new Error(`no event in ${namespace}`);
  const eventCreate = await measureWithCpu(
    () => client.request(eventsPath, { body: copyOf(event, `floor-event-${n++}`) }),
    FLOOR_RUNS,
    apiserverPid,
  );
  return { statusPut, childCreate, eventCreate };
}

interface MemorySample {
  state: string;
  rssKiB: number;
  /** After a full GC forced through the inspector. */
  rssAfterGcKiB: number;
  heapUsed: number;
  external: number;
}

interface RssResult {
  samples: MemorySample[];
  finishSeconds: number;
}

/** The operator's RSS idle, with RSS_FINISHED finished workflows, then with RSS_RUNNING more running. */
async function runRss(kc: KubeConfig, kubeconfig: string, client: KubeClient): Promise<RssResult> {
  const namespace = 'bench-op-rss';
  await createNamespace(client, namespace);
  const executor = new TimedExecutor(kc, client, namespace);
  const watcher = finishedWatcher(kc, client, namespace);
  await Promise.all([executor.start(), watcher.informer.start()]);
  const operator = await startOperatorProcess(kubeconfig, namespace, true);
  const samples: MemorySample[] = [];
  const sample = async (state: string) => {
    await sleep(3000);
    const rssKiB = await operator.rssKiB();
    const usage = await operator.collectGarbage();
    samples.push({
      state,
      rssKiB,
      rssAfterGcKiB: await operator.rssKiB(),
      heapUsed: usage.heapUsed,
      external: usage.external + usage.arrayBuffers,
    });
  };
  try {
    await sample('idle, caches synced');
    const t0 = performance.now();
    const finished = Array.from({ length: RSS_FINISHED }, (_, i) => `wf-${i}`);
    const short = specOf(RSS_FINISHED_STEPS);
    await pool(finished, 20, (name) => createWorkflow(client, namespace, name, short));
    await waitFor(
      `${RSS_FINISHED} workflows finished`,
      () => watcher.finishedAt.size >= RSS_FINISHED,
      400_000,
    );
    const finishSeconds = (performance.now() - t0) / 1000;
    await sample(`${RSS_FINISHED} finished ${RSS_FINISHED_STEPS}-step workflows`);
    const running = Array.from({ length: RSS_RUNNING }, (_, i) => `${HANG_PREFIX}${i}`);
    await pool(running, 20, (name) => createWorkflow(client, namespace, name));
    await waitFor(
      `${RSS_RUNNING} workflows running`,
      () => running.every((n) => executor.steps.get(n)?.has(1)),
      120_000,
    );
    await sample(`+ ${RSS_RUNNING} running ${STEPS}-step workflows (step 1 hangs)`);
    return { samples, finishSeconds };
  } finally {
    await operator.stop();
    await Promise.all([executor.stop(), watcher.informer.stop()]);
  }
}

const round1 = (v: number) => Math.round(v * 10) / 10;

export async function benchOperator(): Promise<void> {
  const benchStart = performance.now();
  const load = () =>
    loadavg()
      .map((l) => l.toFixed(2))
      .join(' ');
  console.log(
    `\n## operator: load average at start ${load()} (other work on this machine skews every figure)`,
  );
  const cp = await startControlPlane({ workloads: false });
  try {
    const kubeconfig = cp.kubeconfigPath;
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfig);
    const client = await createKubeClient(kc);
    try {
      await createNamespace(client, 'bench-floor');
      const apiserverPid = cp.pids['kube-apiserver'];
      const floor: Floor = await measureFloor(kc, 'bench-floor', FLOOR_RUNS, apiserverPid);
      const statusFloor = floor.statusUpdate.medianMs;

      const results: CaseResult[] = [];
      for (const [concurrent, rounds] of CASES)
        results.push(await runCase(kc, kubeconfig, client, cp.pids, concurrent, rounds));
      const size = await statusBytes(client, 'bench-op-1', 'wf-r0-0');
      const writes = await operatorWriteFloors(client, 'bench-op-1', 'wf-r0-0', apiserverPid);
      const rss = await runRss(kc, kubeconfig, client);

      const floorRow = (operation: string, f: FloorStats) => ({
        operation,
        medianMs: f.medianMs,
        p99Ms: f.p99Ms,
        minMs: f.minMs,
        'apiserver CPU ms/req': round1(f.cpuMsPerRequest),
      });
      printTable(
        `operator: control plane floor, same run (${FLOOR_RUNS} runs each, client-node then the operator's client)`,
        [
          floorRow('create ConfigMap', floor.create),
          floorRow('update WorkflowExecution /status (JSON patch, tiny status)', floor.statusUpdate),
          floorRow(
            `PUT /status of a finished ${STEPS}-step workflow (${size.object} B object)`,
            writes.statusPut,
          ),
          floorRow('create a copy of one of its children', writes.childCreate),
          floorRow('create a copy of one of its Events', writes.eventCreate),
        ],
      );
      printTable(
        `operator: ${STEPS} sequential custom steps per workflow, instant executor, operator in its own process`,
        results.map((r) => ({
          concurrent: r.concurrent,
          steps: r.steps,
          'steps/s': round1(r.stepsPerSecond),
          'step gap p50 ms': round1(percentile(r.gaps, 50)),
          'step gap p99 ms': round1(percentile(r.gaps, 99)),
          'p50 / status floor': round1(percentile(r.gaps, 50) / statusFloor),
          'create -> 1st child p50 ms': round1(percentile(r.firstChild, 50)),
          'writes/step': Math.round((r.requests.writes / r.steps) * 100) / 100,
          'conflicts/step': Math.round((r.requests.conflicts / r.steps) * 100) / 100,
          'live GETs/step': Math.round((r.requests.reads / r.steps) * 100) / 100,
        })),
      );
      console.log(
        "  step gap: the executor's completing status write of step k returns -> its informer sees step k+1.",
      );
      const processes = [...new Set(results.flatMap((r) => [...r.cpu.keys()]))];
      printTable(
        'operator: CPU ms per step by process (user + system, whole case incl. 1 s settle)',
        processes.map((name) => ({
          process: name,
          ...Object.fromEntries(
            results.map((r) => [`${r.concurrent} concurrent`, round1((r.cpu.get(name) ?? 0) / r.steps)]),
          ),
        })),
      );
      const kinds = [...new Set(results.flatMap((r) => [...r.requests.byKind.keys()]))].sort();
      printTable(
        'operator: apiserver writes by the operator per step (apiserver_request_total)',
        kinds.map((kind) => ({
          write: kind,
          ...Object.fromEntries(
            results.map((r) => [
              `${r.concurrent} concurrent`,
              Math.round(((r.requests.byKind.get(kind) ?? 0) / r.steps) * 100) / 100,
            ]),
          ),
        })),
      );
      printTable(`operator: status bytes of a finished ${STEPS}-step workflow (${size.phase})`, [
        { part: '.status (JSON)', bytes: size.status },
        { part: '.status.statechart', bytes: size.statechart },
        { part: '.status.statechart.snapshot', bytes: size.snapshot },
        { part: 'whole object', bytes: size.object },
      ]);
      const mib = (bytes: number) => round1(bytes / 1024 / 1024);
      printTable('operator: memory of the operator process (VmRSS; then after a full GC via the inspector)', [
        ...rss.samples.map((m) => ({
          state: m.state,
          'RSS MiB': mib(m.rssKiB * 1024),
          'RSS after GC MiB': mib(m.rssAfterGcKiB * 1024),
          'heap used MiB': mib(m.heapUsed),
          'external MiB': mib(m.external),
        })),
      ]);
      const [idle, done, running] = rss.samples;
      if (idle && done && running)
        console.log(
          `  heap per finished workflow: ${round1((done.heapUsed - idle.heapUsed) / 1024 / RSS_FINISHED)} KiB; per running workflow: ${round1((running.heapUsed - done.heapUsed) / 1024 / RSS_RUNNING)} KiB`,
        );
      console.log(
        `  ${RSS_FINISHED} workflows x ${RSS_FINISHED_STEPS} step finished in ${round1(rss.finishSeconds)} s (${round1(RSS_FINISHED / rss.finishSeconds)} workflows/s); bench total ${round1((performance.now() - benchStart) / 1000)} s; load average now ${load()}`,
      );
    } finally {
      client.close();
    }
  } finally {
    await cp.stop();
  }
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) await benchOperator();
