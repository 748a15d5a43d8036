/**
 * The operator's memory (figures, never assertions): its RSS, and after a full GC forced through
 * the inspector its heap, idle, then with N finished workflows, then with M more running; and the
 * RSS and heap each finished workflow adds. The operator runs as the image runs it: this checkout's
 * sources compiled to JavaScript, with the image's node flags and environment. N is 1,000 and M 100 unless BENCH_MEMORY_FINISHED and
 * BENCH_MEMORY_RUNNING say otherwise; issue 13's figure (10,000 finished, 100 running) is
 *   BENCH_MEMORY_FINISHED=10000 nice npm run bench -- memory
 * (about 5 minutes on a quiet 2-core machine, 40 workflows/s; an hour on a loaded one).
 */
import { cpSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { OPERATOR_ENV, OPERATOR_NODE_FLAGS, compileStaged } from '../tooling/image/build.ts';
import { REPO_ROOT } from '../tooling/controlplane/binaries.ts';
import { ScriptedExecutor } from '../test/support/executor.ts';
import { Workflows } from '../test/integration/support/harness.ts';
import type { OperatorProcess } from '../test/support/operator-process.ts';
import { benchCluster } from './support/cluster.ts';
import { printTable, round1 } from './support/measure.ts';
import { chain, specOf } from './support/shapes.ts';
import { startBenchOperator, until, watchFinished } from './support/workload.ts';

/** A positive count from the environment, or the default. */
function countFrom(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0)
    throw new Error(`${name}=${raw} is not a positive whole number`);
  return value;
}

/** This checkout's src/ and machines/ compiled as the image build compiles them; its wfx.js. */
function compiledWfx(): string {
  const dir = mkdtempSync(join(tmpdir(), 'wfe-compiled-'));
  for (const entry of ['src', 'machines', 'package.json'])
    cpSync(join(REPO_ROOT, entry), join(dir, entry), { recursive: true });
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(dir, 'node_modules'));
  compileStaged(dir);
  return join(dir, 'src', 'cli', 'wfx.js');
}

const FINISHED = countFrom('BENCH_MEMORY_FINISHED', 1000);
/**
 * Steps of the finished workflows: 1, because 1,000 x 10 steps would take the apiserver alone
 * ~10 minutes of CPU on 2 cores (see the chains' CPU table).
 */
const FINISHED_SHAPE = chain(1);
const RUNNING = countFrom('BENCH_MEMORY_RUNNING', 100);
const RUNNING_SHAPE = chain(10);
const HANG_PREFIX = 'hang-';

interface MemorySample {
  state: string;
  rssKiB: number;
  /** After a full GC forced through the inspector. */
  rssAfterGcKiB: number;
  heapUsed: number;
  external: number;
}

/** Up to `limit` calls of `fn` at a time, over `items`. */
async function pool<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

export async function benchMemory(): Promise<void> {
  const cluster = await benchCluster();
  const { kc, client } = cluster;
  const namespace = await cluster.namespace('bench-memory');
  const workflows = new Workflows({ client, namespace });
  // Children of workflows named hang-* are left running.
  const executor = new ScriptedExecutor(
    kc,
    client,
    (child) =>
      child.spec.workflowExecutionRef.name.startsWith(HANG_PREFIX)
        ? { phase: 'hang' }
        : { phase: 'completed' },
    namespace,
  );
  const { finishedAt: finished, informer: watcher } = watchFinished(cluster, namespace);
  let operator: OperatorProcess | undefined;
  const samples: MemorySample[] = [];
  const sample = async (state: string) => {
    if (!operator) return;
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
  let finishSeconds = Number.NaN;
  try {
    await Promise.all([executor.start(), watcher.start()]);
    // As the image runs it: the sources compiled to JavaScript (no type stripper loaded), with the
    // image's node flags and environment.
    operator = await startBenchOperator(cluster, namespace, {
      inspect: true,
      entry: compiledWfx(),
      nodeArgs: OPERATOR_NODE_FLAGS,
      env: OPERATOR_ENV,
    });
    await sample('idle, caches synced');
    const t0 = performance.now();
    const done = Array.from({ length: FINISHED }, (_, i) => `wf-${i}`);
    await pool(done, 20, (name) => workflows.apply(name, specOf(FINISHED_SHAPE)));
    // ~2.5 finished workflows a second at worst on 2 cores, plus a margin.
    await until(`${FINISHED} workflows finished`, () => finished.size >= FINISHED, 120_000 + FINISHED * 400);
    finishSeconds = (performance.now() - t0) / 1000;
    await sample(`${FINISHED} finished ${FINISHED_SHAPE.name} workflows`);
    const running = Array.from({ length: RUNNING }, (_, i) => `${HANG_PREFIX}${i}`);
    await pool(running, 20, (name) => workflows.apply(name, specOf(RUNNING_SHAPE)));
    const started = () => new Set([...executor.timeline.values()].map((c) => c.workflow));
    await until(`${RUNNING} workflows running`, () => running.every((n) => started().has(n)), 120_000);
    await sample(`+ ${RUNNING} running ${RUNNING_SHAPE.name} workflows (step 1 hangs)`);
  } finally {
    await operator?.stop();
    await Promise.all([executor.stop(), watcher.stop()]);
  }

  const mib = (bytes: number) => round1(bytes / 1024 / 1024);
  printTable('memory: the operator process (VmRSS; then after a full GC via the inspector)', [
    ...samples.map((m) => ({
      state: m.state,
      'RSS MiB': mib(m.rssKiB * 1024),
      'RSS after GC MiB': mib(m.rssAfterGcKiB * 1024),
      'heap used MiB': mib(m.heapUsed),
      'external MiB': mib(m.external),
    })),
  ]);
  const [idle, afterFinished, afterRunning] = samples;
  if (idle && afterFinished && afterRunning) {
    const kib = (bytes: number, count: number) => round1(bytes / 1024 / count);
    console.log(
      `  per finished workflow: RSS ${kib((afterFinished.rssAfterGcKiB - idle.rssAfterGcKiB) * 1024, FINISHED)} KiB (after GC), heap ${kib(afterFinished.heapUsed - idle.heapUsed, FINISHED)} KiB; ` +
        `per running workflow: heap ${kib(afterRunning.heapUsed - afterFinished.heapUsed, RUNNING)} KiB`,
    );
    console.log(
      `  RSS with ${FINISHED} finished and ${RUNNING} running: ${mib(afterRunning.rssKiB * 1024)} MiB (goal at 10,000 finished and 100 running: <= 200 MB)`,
    );
  }
  console.log(
    `  ${FINISHED} workflows of ${FINISHED_SHAPE.name} finished in ${round1(finishSeconds)} s (${round1(FINISHED / finishSeconds)} workflows/s)`,
  );
}
