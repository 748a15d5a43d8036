/**
 * `npm run bench -- peers`: the same shapes run by the Tekton Pipelines controller and by this
 * operator, on the same control plane, one after the other, figures and ratios only (never CI):
 * chains of 10, 60 and 150 steps and a 1 -> 40 fan-out. Tekton runs them as Pipelines of Custom
 * Tasks (the pipeline controller creates one CustomRun per task and learns completion from its
 * Succeeded condition); we run them as WorkflowExecutions of custom steps. One instant executor
 * completes both kinds of child with one status write and notes when its watch first saw each one.
 *
 * Per shape and side: handoff p50/p99 (a child's completing status write returned -> the watch sees
 * the child that waited for it), steps/s and run time (create -> the watch sees the run finished),
 * and the CPU of kube-apiserver and of the controller per step (less their idle CPU).
 *
 * Tekton is built on first use from its published module (`go mod download`, then `go build
 * ./cmd/controller` inside the module, the way v1.15.0 builds: `go install` is refused) into the
 * control plane's cache, and runs lighter than a real install: no webhook (no defaulting or
 * validation round trip at admission), no high availability (-disable-ha), all namespaces.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, cp as copyTree, mkdir, readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

import { KubeConfig, type KubernetesObject } from '@kubernetes/client-node';

import type { WorkflowExecution, WorkflowExecutionSpec } from '../src/api/generated/types.ts';
import { defaultBinDir } from '../tooling/controlplane/binaries.ts';
import { freePorts } from '../tooling/controlplane/ports.ts';
import { applyAll, parseManifests, waitForCrdsEstablished } from '../tooling/controlplane/manifests.ts';
import { LABELS } from '../src/shell/children.ts';
import { createInformer, type CachedObject, type ResourceInformer } from '../src/shell/informer.ts';
import type { KubeClient } from '../src/shell/kube/client.ts';
import {
  KUBERNETES_EXECUTIONS,
  WORKFLOW_EXECUTIONS,
  core,
  resourcePath,
  type ResourceType,
} from '../src/shell/kube/resources.ts';
import { customStep, specWith } from '../test/fixtures/specs.ts';
import { spawnOperator } from '../test/support/operator-process.ts';
import { cpuDuring, idleRate } from './support/apiserver-cpu.ts';
import { withBenchCluster } from './support/fresh-cluster.ts';
import { percentile, printTable } from './support/measure.ts';

const TEKTON_MODULE = 'github.com/tektoncd/pipeline';
const TEKTON_VERSION = 'v1.15.0';
const TEKTON_NAMESPACE = 'tekton-pipelines';
const NAMESPACE = 'bench-peers';
const RUN_TIMEOUT_MS = 600_000;

const CUSTOM_RUNS: ResourceType = {
  group: 'tekton.dev',
  version: 'v1beta1',
  plural: 'customruns',
  kind: 'CustomRun',
  namespaced: true,
};
const PIPELINE_RUNS: ResourceType = {
  group: 'tekton.dev',
  version: 'v1',
  plural: 'pipelineruns',
  kind: 'PipelineRun',
  namespaced: true,
};

/** A shape: for each step (1..n), the steps it waits for. */
interface Shape {
  name: string;
  steps: number;
  dependsOn: (step: number) => number[];
}
const chain = (n: number): Shape => ({
  name: `chain of ${n}`,
  steps: n,
  dependsOn: (k) => (k === 1 ? [] : [k - 1]),
});
const fanOut = (n: number): Shape => ({
  name: `1 -> ${n} fan-out`,
  steps: n + 1,
  dependsOn: (k) => (k === 1 ? [] : [1]),
});
const SHAPES: readonly Shape[] = [chain(10), chain(60), chain(150), fanOut(40)];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function run(command: string, args: string[], cwd?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code === 0) resolve(out);
      else reject(new Error(`${command} ${args.join(' ')} exited with ${String(code)}`));
    });
  });
}

/** The controller binary and the module's config/, built into the control plane's cache once. */
async function ensureTekton(): Promise<{ controller: string; config: string }> {
  const home = join(defaultBinDir(), '..', '..', `tekton-pipelines-${TEKTON_VERSION}`);
  const controller = join(home, 'bin', 'controller');
  const source = join(home, 'src');
  if (!existsSync(controller)) {
    console.log(`peers: building the Tekton Pipelines controller ${TEKTON_VERSION} into ${home} (minutes)`);
    const info = JSON.parse(
      await run('go', ['mod', 'download', '-json', `${TEKTON_MODULE}@${TEKTON_VERSION}`]),
    ) as { Dir?: string; Error?: string };
    if (!info.Dir) throw new Error(`go mod download: ${info.Error ?? 'no module directory'}`);
    // The module cache is read-only, and building inside the module needs its go.mod as the main one.
    await rm(source, { recursive: true, force: true });
    await copyTree(info.Dir, source, { recursive: true });
    await chmodTree(source);
    await mkdir(join(home, 'bin'), { recursive: true });
    const started = performance.now();
    await run('nice', ['-n', '10', 'go', 'build', '-o', controller, './cmd/controller'], source);
    console.log(`peers: built in ${Math.round((performance.now() - started) / 1000)} s`);
  }
  return { controller, config: join(source, 'config') };
}

async function chmodTree(dir: string): Promise<void> {
  await chmod(dir, 0o755);
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    const path = join(entry.parentPath, entry.name);
    await chmod(path, entry.isDirectory() ? 0o755 : 0o644);
  }
}

/**
 * v1.34 refuses a schema node without `type` even under x-kubernetes-preserve-unknown-fields (the
 * CustomRun CRD's status.extraFields and retriesStatus): such a node is an object.
 */
function typeFreeFields(node: unknown): void {
  if (typeof node !== 'object' || node === null) return;
  const record = node as Record<string, unknown>;
  if (record['x-kubernetes-preserve-unknown-fields'] === true && record['type'] === undefined)
    record['type'] = 'object';
  for (const value of Object.values(record)) typeFreeFields(value);
}

async function yamlObjects(file: string): Promise<KubernetesObject[]> {
  return parseManifests(await readFile(file, 'utf8'));
}

const freePort = async (): Promise<number> => (await freePorts(1))[0] ?? 0;

interface Process {
  pid: number;
  stop(): Promise<void>;
}

function managed(child: ChildProcess, what: string): Process {
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${what} did not start`);
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      resolve();
    }),
  );
  return {
    pid,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Tekton's CRDs (conversion off: no webhook), its namespace and config maps, then its controller. */
async function startTekton(kc: KubeConfig, client: KubeClient, kubeconfig: string): Promise<Process> {
  const { controller, config } = await ensureTekton();
  const crdDir = join(config, '300-crds');
  const crds = (await Promise.all((await readdir(crdDir)).map((f) => yamlObjects(join(crdDir, f))))).flat();
  for (const crd of crds) {
    (crd as { spec: { conversion?: unknown } }).spec.conversion = { strategy: 'None' };
    typeFreeFields(crd);
  }
  await applyAll(kc, crds);
  await waitForCrdsEstablished(
    kc,
    crds.map((c) => c.metadata?.name ?? ''),
  );
  await client.request(resourcePath(core('namespaces', 'Namespace', false)), {
    body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: TEKTON_NAMESPACE } },
  });
  const configFiles = (await readdir(config)).filter((f) => /^config-.*\.yaml$/.test(f));
  await applyAll(kc, (await Promise.all(configFiles.map((f) => yamlObjects(join(config, f))))).flat());

  // The controller Deployment's arguments (image flags: any value, no pod is ever made) and env.
  const deployment = (await yamlObjects(join(config, 'controller.yaml'))).find(
    (o) => o.kind === 'Deployment',
  );
  const container = (
    deployment as {
      spec: {
        template: { spec: { containers: { args: string[]; env: { name: string; value?: string }[] }[] } };
      };
    }
  ).spec.template.spec.containers[0];
  if (!container) throw new Error('config/controller.yaml has no controller container');
  const env: Record<string, string> = { ...(process.env as Record<string, string>) };
  for (const { name, value } of container.env)
    if (value !== undefined && !name.startsWith('SSL_')) env[name] = value;
  env['SYSTEM_NAMESPACE'] = TEKTON_NAMESPACE;
  env['PROBES_PORT'] = String(await freePort());
  env['PROFILING_PORT'] = String(await freePort());
  env['METRICS_PROMETHEUS_PORT'] = String(await freePort());
  const child = spawn(controller, [...container.args, '-kubeconfig', kubeconfig, '-disable-ha'], {
    env,
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  return managed(child, 'the Tekton controller');
}

/** `wfx operator` as a process watching the bench namespace; resolves once /readyz says so. */
async function startOperator(kubeconfig: string): Promise<Process> {
  const operator = await spawnOperator({ kubeconfig, namespaces: [NAMESPACE], logLevel: 'warn' });
  await operator.ready();
  return {
    pid: operator.pid,
    async stop() {
      await operator.stop();
    },
  };
}

interface Child extends CachedObject {
  metadata: { name: string; namespace: string; uid?: string; labels?: Record<string, string> };
  spec?: { stepNumber?: number };
  status?: { phase?: string; conditions?: { type: string; status: string }[] };
}

/** How one side's children look to the instant executor. */
interface ChildKind {
  type: ResourceType;
  labelSelector?: string;
  /** (run, step) of a child, or undefined when it is not one of ours. */
  identify(child: Child): [run: string, step: number] | undefined;
  done(child: Child): boolean;
  /** The merge patch of /status that completes it. */
  completion(at: string): object;
}

const TEKTON_CHILD: ChildKind = {
  type: CUSTOM_RUNS,
  identify: (child) => {
    const run = child.metadata.labels?.['tekton.dev/pipelineRun'];
    const task = child.metadata.labels?.['tekton.dev/pipelineTask'];
    return run && task ? [run, Number(task.slice(1))] : undefined;
  },
  done: (child) =>
    child.status?.conditions?.some((c) => c.type === 'Succeeded' && c.status !== 'Unknown') ?? false,
  completion: (at) => ({
    status: {
      conditions: [
        {
          type: 'Succeeded',
          status: 'True',
          reason: 'Succeeded',
          message: 'instant',
          lastTransitionTime: at,
        },
      ],
      startTime: at,
      completionTime: at,
    },
  }),
};

const OUR_CHILD: ChildKind = {
  type: KUBERNETES_EXECUTIONS,
  labelSelector: LABELS.workflowUid,
  identify: (child) => {
    const run = child.metadata.labels?.[LABELS.workflow];
    return run && child.spec?.stepNumber !== undefined ? [run, child.spec.stepNumber] : undefined;
  },
  done: (child) => child.status?.phase === 'completed' || child.status?.phase === 'failed',
  completion: (at) => ({ status: { phase: 'completed', startTime: at, completionTime: at } }),
};

interface StepTimes {
  seen: number;
  completed?: number;
}

/** Completes every child it sees with one status write; notes when it saw and completed each. */
class InstantExecutor {
  readonly times = new Map<string, Map<number, StepTimes>>();
  private readonly handled = new Set<string>();
  private readonly informer: ResourceInformer<Child>;

  private readonly client: KubeClient;
  private readonly kind: ChildKind;

  constructor(kc: KubeConfig, client: KubeClient, kind: ChildKind) {
    this.client = client;
    this.kind = kind;
    this.informer = createInformer<Child>(client, kind.type, {
      namespace: NAMESPACE,
      labelSelector: kind.labelSelector,
      onChange: (child, change) => {
        if (change !== 'delete') void this.handle(child);
      },
    });
  }

  start = () => this.informer.start();
  stop = () => this.informer.stop();

  private async handle(child: Child): Promise<void> {
    const now = performance.now();
    const id = this.kind.identify(child);
    if (!id) return;
    const [runName, step] = id;
    const byStep = this.times.get(runName) ?? new Map<number, StepTimes>();
    this.times.set(runName, byStep);
    const times = byStep.get(step) ?? { seen: now };
    byStep.set(step, times);
    const uid = child.metadata.uid ?? child.metadata.name;
    if (this.kind.done(child) || this.handled.has(uid)) return;
    this.handled.add(uid);
    await this.client.request(
      resourcePath(this.kind.type, child.metadata.namespace, child.metadata.name, 'status'),
      { method: 'PATCH', patchType: 'merge', body: this.kind.completion(new Date().toISOString()) },
    );
    times.completed = performance.now();
  }
}

interface Run extends CachedObject {
  metadata: { name: string };
  status?: { phase?: string; conditions?: { type: string; status: string }[] };
}

/** One side: how to start a run of a shape, and whether a run has finished. */
interface Side {
  label: string;
  runs: ResourceType;
  children: ChildKind;
  create(client: KubeClient, name: string, shape: Shape): Promise<void>;
  finished(run: Run): boolean;
}

const TEKTON: Side = {
  label: 'Tekton',
  runs: PIPELINE_RUNS,
  children: TEKTON_CHILD,
  async create(client, name, shape) {
    const tasks = Array.from({ length: shape.steps }, (_, i) => ({
      name: `t${i + 1}`,
      taskRef: { apiVersion: 'bench.kubernaut.io/v1', kind: 'Instant' },
      ...(shape.dependsOn(i + 1).length > 0 ? { runAfter: shape.dependsOn(i + 1).map((d) => `t${d}`) } : {}),
    }));
    await client.request(resourcePath(PIPELINE_RUNS, NAMESPACE), {
      body: {
        apiVersion: 'tekton.dev/v1',
        kind: 'PipelineRun',
        metadata: { name },
        spec: { pipelineSpec: { tasks } },
      },
    });
  },
  finished: (run) =>
    run.status?.conditions?.some((c) => c.type === 'Succeeded' && c.status !== 'Unknown') ?? false,
};

const US: Side = {
  label: 'us',
  runs: WORKFLOW_EXECUTIONS,
  children: OUR_CHILD,
  async create(client, name, shape) {
    const spec: WorkflowExecutionSpec = specWith(
      Array.from({ length: shape.steps }, (_, i) => {
        const deps = shape.dependsOn(i + 1);
        return customStep(i + 1, deps.length > 0 ? { dependsOn: deps } : {});
      }),
    );
    await client.request(resourcePath(WORKFLOW_EXECUTIONS, NAMESPACE), {
      body: {
        apiVersion: 'workflowexecution.kubernaut.io/v1',
        kind: 'WorkflowExecution',
        metadata: { name },
        spec,
      },
    });
  },
  finished: (run) => ['completed', 'failed'].includes((run as WorkflowExecution).status?.phase ?? ''),
};

interface Result {
  handoffs: number[];
  runMs: number;
  apiserverMs: number;
  controllerMs: number;
}

/** One run of `shape` on `side`: create, wait for the watch to see it finished, collect the times. */
async function runShape(
  kc: KubeConfig,
  client: KubeClient,
  side: Side,
  shape: Shape,
  name: string,
  pids: { apiserver: number; controller: number },
  idle: { apiserver: number; controller: number },
): Promise<Result> {
  const executor = new InstantExecutor(kc, client, side.children);
  const finishedAt = new Map<string, number>();
  const watcher = createInformer<Run>(client, side.runs, {
    namespace: NAMESPACE,
    onChange: (r) => {
      if (side.finished(r) && !finishedAt.has(r.metadata.name))
        finishedAt.set(r.metadata.name, performance.now());
    },
  });
  await Promise.all([executor.start(), watcher.start()]);
  let createdAt = 0;
  let controllerMs = 0;
  try {
    const apiserverMs = await cpuDuring(pids.apiserver, idle.apiserver, async () => {
      controllerMs = await cpuDuring(pids.controller, idle.controller, async () => {
        createdAt = performance.now();
        await side.create(client, name, shape);
        const deadline = performance.now() + RUN_TIMEOUT_MS;
        while (!finishedAt.has(name)) {
          if (performance.now() > deadline) throw new Error(`${side.label}: ${name} did not finish`);
          await sleep(10);
        }
      });
    });
    const byStep = executor.times.get(name) ?? new Map<number, StepTimes>();
    const handoffs: number[] = [];
    for (let k = 2; k <= shape.steps; k++) {
      for (const d of shape.dependsOn(k)) {
        const done = byStep.get(d)?.completed;
        const seen = byStep.get(k)?.seen;
        if (done !== undefined && seen !== undefined) handoffs.push(seen - done);
      }
    }
    handoffs.sort((a, b) => a - b);
    return { handoffs, runMs: (finishedAt.get(name) ?? Number.NaN) - createdAt, apiserverMs, controllerMs };
  } finally {
    await Promise.all([executor.stop(), watcher.stop()]);
  }
}

const round = (v: number, digits = 1) => Math.round(v * 10 ** digits) / 10 ** digits;

export async function benchPeers(): Promise<void> {
  await ensureTekton();
  await withBenchCluster(NAMESPACE, async ({ cp, kc, client, apiserverPid: apiserver }) => {
    const processes: Process[] = [];
    try {
      const tekton = await startTekton(kc, client, cp.kubeconfigPath);
      processes.push(tekton);
      const operator = await startOperator(cp.kubeconfigPath);
      processes.push(operator);
      const sides = [
        { side: TEKTON, pid: tekton.pid },
        { side: US, pid: operator.pid },
      ];
      // A warm-up run each (informers synced, code paths hot), then the idle rates with both up.
      for (const { side, pid } of sides) {
        await runShape(
          kc,
          client,
          side,
          chain(3),
          `warmup-${side.label.toLowerCase()}`,
          { apiserver, controller: pid },
          { apiserver: 0, controller: 0 },
        );
      }
      await sleep(2000);
      const results = new Map<string, Result>();
      for (const [i, shape] of SHAPES.entries()) {
        for (const { side, pid } of sides) {
          const idle = { apiserver: await idleRate(apiserver, 2000), controller: await idleRate(pid, 2000) };
          const name = `run-${i}-${side.label.toLowerCase()}`;
          results.set(
            `${shape.name} ${side.label}`,
            await runShape(kc, client, side, shape, name, { apiserver, controller: pid }, idle),
          );
        }
      }
      const rows = SHAPES.flatMap((shape) =>
        sides.map(({ side }) => {
          const r = results.get(`${shape.name} ${side.label}`);
          const steps = shape.steps;
          return {
            shape: shape.name,
            side: side.label,
            'handoff p50 ms': round(percentile(r?.handoffs ?? [], 50)),
            'handoff p99 ms': round(percentile(r?.handoffs ?? [], 99)),
            'run s': round((r?.runMs ?? Number.NaN) / 1000, 2),
            'steps/s': round(steps / ((r?.runMs ?? Number.NaN) / 1000)),
            'apiserver CPU ms/step': round((r?.apiserverMs ?? Number.NaN) / steps),
            'controller CPU ms/step': round((r?.controllerMs ?? Number.NaN) / steps),
          };
        }),
      );
      printTable(
        `peers: Tekton Pipelines ${TEKTON_VERSION} (Custom Tasks) and us, same control plane, same instant executor`,
        rows,
      );
      const ratio = (shape: Shape, f: (r: Result) => number) => {
        const t = results.get(`${shape.name} Tekton`);
        const u = results.get(`${shape.name} us`);
        return t && u ? round(f(u) / f(t), 2) : Number.NaN;
      };
      printTable(
        'peers: us / Tekton (below 1: we are faster or cheaper)',
        SHAPES.map((shape) => ({
          shape: shape.name,
          'handoff p50': ratio(shape, (r) => percentile(r.handoffs, 50)),
          'handoff p99': ratio(shape, (r) => percentile(r.handoffs, 99)),
          'run time': ratio(shape, (r) => r.runMs),
          'apiserver CPU': ratio(shape, (r) => r.apiserverMs),
        })),
      );
      console.log(
        '  Tekton runs lighter here than installed: no webhook (no admission round trip), -disable-ha, no pods (Custom Tasks only).',
      );
    } finally {
      for (const p of processes.reverse()) await p.stop();
    }
  });
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) await benchPeers();
