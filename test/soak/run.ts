/**
 * `npm run test:soak`: a steady stream of workflows of every shape for SOAK_MINUTES (default 30),
 * a fault from the chaos catalogue every SOAK_FAULT_EVERY_MINUTES (default 3), and every
 * SOAK_SAMPLE_SECONDS (default 10) a sample of the operator's RSS and heap, event-loop lag and
 * reconcile latency. At the end: the samples as a table, the trend of each (growth per hour, by
 * least squares), and whether every workflow finished with no child created twice. Exits non-zero
 * when a workflow did not finish or a child was created twice.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { faultCatalog } from '../chaos/support/faults.ts';
import { startRig } from '../chaos/support/rig.ts';
import { SHAPES, duplicateLaunches, isFinished } from '../chaos/support/workloads.ts';
import { WORKFLOW_EXECUTIONS, resourcePath } from '../../src/shell/kube/resources.ts';

const minutes = Number(process.env['SOAK_MINUTES'] ?? '30');
const faultEveryMs = Number(process.env['SOAK_FAULT_EVERY_MINUTES'] ?? '3') * 60_000;
const sampleMs = Number(process.env['SOAK_SAMPLE_SECONDS'] ?? '10') * 1000;
/** A new batch (one workflow of each shape) this often. */
const batchEveryMs = Number(process.env['SOAK_BATCH_SECONDS'] ?? '15') * 1000;
/** Faults in the soak last about a third of the chaos suite's full length. */
const FAULT_SCALE = 0.33;

interface Sample {
  t: number;
  rssMiB: number;
  heapMiB: number;
  lagP99Ms: number;
  lagMaxMs: number;
  reconcileMeanMs: number;
  reconciles: number;
  active: number;
  fault: string;
}

function slopePerHour(points: readonly [number, number][]): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const sxx = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  const sxy = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0);
  return sxx === 0 ? 0 : (sxy / sxx) * 3_600_000;
}

const pad = (v: string | number, width: number): string => String(v).padStart(width);

async function main(): Promise<number> {
  const rig = await startRig('soak');
  const started = Date.now();
  const endAt = started + minutes * 60_000;
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  const samples: Sample[] = [];
  const faults = faultCatalog(() => rig, FAULT_SCALE);
  let currentFault = '';
  let faultsRun = 0;
  let batches = 0;
  let finished = 0;
  const duplicates = new Set<string>();
  const { reconcileDuration } = rig.operator.metrics;
  const histogramTotals = async (): Promise<{ sum: number; count: number }> => {
    const values = (await reconcileDuration.get()).values;
    const pick = (suffix: string) =>
      values.filter((v) => v.metricName?.endsWith(suffix)).reduce((s, v) => s + v.value, 0);
    return { sum: pick('_sum'), count: pick('_count') };
  };

  const stream = (async () => {
    while (Date.now() < endAt) {
      const prefix = `s${String(batches++)}`;
      await rig.startBatch(prefix).catch((error: unknown) => {
        process.stderr.write(`soak: batch ${prefix} not created: ${(error as Error).message}\n`);
      });
      // Keep the namespace steady: finished workflows are checked and deleted.
      const all = await rig.listWorkflows();
      const done = all.filter(isFinished);
      const children = await rig.listChildren();
      duplicateLaunches(children).forEach((d) => duplicates.add(d));
      rig.executor.duplicates().forEach((d) => duplicates.add(d));
      for (const wf of done) {
        await rig.client
          .request(resourcePath(WORKFLOW_EXECUTIONS, rig.namespace, wf.metadata.name), { method: 'DELETE' })
          .then(() => finished++)
          .catch(() => undefined);
      }
      await sleep(batchEveryMs);
    }
  })();

  const chaos = (async () => {
    for (let next = started + faultEveryMs; next < endAt - 60_000; next += faultEveryMs) {
      await sleep(Math.max(0, next - Date.now()));
      const fault = faults[faultsRun++ % faults.length];
      if (!fault) continue;
      currentFault = fault.name;
      process.stderr.write(`soak: ${new Date().toISOString()} fault: ${fault.name}\n`);
      await fault.inject();
      const until = Date.now() + fault.durationMs;
      if (fault.during) await fault.during(until);
      else await sleep(Math.max(0, until - Date.now()));
      await fault.heal();
      currentFault = '';
    }
  })();

  let last = await histogramTotals();
  while (Date.now() < endAt) {
    await sleep(Math.min(sampleMs, Math.max(0, endAt - Date.now())));
    const totals = await histogramTotals();
    const count = totals.count - last.count;
    const memory = process.memoryUsage();
    const active = (await rig.listWorkflows()).filter((w) => !isFinished(w)).length;
    samples.push({
      t: Date.now() - started,
      rssMiB: memory.rss / 2 ** 20,
      heapMiB: memory.heapUsed / 2 ** 20,
      lagP99Ms: lag.percentile(99) / 1e6,
      lagMaxMs: lag.max / 1e6,
      reconcileMeanMs: count > 0 ? ((totals.sum - last.sum) / count) * 1000 : 0,
      reconciles: count,
      active,
      fault: currentFault,
    });
    lag.reset();
    last = totals;
  }
  await Promise.all([stream, chaos]);

  // Drain: everything still running must finish.
  let unfinished: string[] = [];
  const drainUntil = Date.now() + 5 * 60_000;
  for (;;) {
    const all = await rig.listWorkflows();
    unfinished = all.filter((w) => !isFinished(w)).map((w) => w.metadata.name ?? '');
    if (unfinished.length === 0 || Date.now() > drainUntil) break;
    await sleep(1000);
  }
  const remaining = await rig.listWorkflows();
  finished += remaining.filter(isFinished).length;
  duplicateLaunches(await rig.listChildren()).forEach((d) => duplicates.add(d));
  rig.executor.duplicates().forEach((d) => duplicates.add(d));
  lag.disable();
  await rig.stop();

  const header = `${pad('t (s)', 6)} ${pad('RSS MiB', 8)} ${pad('heap MiB', 9)} ${pad('lag p99 ms', 11)} ${pad('lag max ms', 11)} ${pad('reconcile ms', 13)} ${pad('reconciles', 11)} ${pad('active', 7)}  fault`;
  const lines = [header, '-'.repeat(header.length + 10)];
  for (const s of samples)
    lines.push(
      `${pad(Math.round(s.t / 1000), 6)} ${pad(s.rssMiB.toFixed(1), 8)} ${pad(s.heapMiB.toFixed(1), 9)} ${pad(s.lagP99Ms.toFixed(1), 11)} ${pad(s.lagMaxMs.toFixed(1), 11)} ${pad(s.reconcileMeanMs.toFixed(1), 13)} ${pad(s.reconciles, 11)} ${pad(s.active, 7)}  ${s.fault}`,
    );
  // The trend over the second half: the first minutes are warm-up (JIT, caches filling).
  const steady = samples.slice(Math.floor(samples.length / 2));
  const trend = (pick: (s: Sample) => number) => slopePerHour(steady.map((s) => [s.t, pick(s)]));
  const mean = (pick: (s: Sample) => number) =>
    steady.reduce((a, s) => a + pick(s), 0) / Math.max(1, steady.length);
  lines.push(
    '',
    `soak: ${minutes} min, ${batches} batches of ${SHAPES.length} shapes, ${faultsRun} faults, ${finished} workflows finished, ${unfinished.length} unfinished, ${duplicates.size} children created twice`,
    '',
    '| measure (second half) | mean | trend per hour |',
    '|---|---|---|',
    `| RSS (MiB) | ${mean((s) => s.rssMiB).toFixed(1)} | ${trend((s) => s.rssMiB).toFixed(1)} |`,
    `| heap used (MiB) | ${mean((s) => s.heapMiB).toFixed(1)} | ${trend((s) => s.heapMiB).toFixed(1)} |`,
    `| event-loop lag p99 (ms) | ${mean((s) => s.lagP99Ms).toFixed(1)} | ${trend((s) => s.lagP99Ms).toFixed(1)} |`,
    `| reconcile latency, mean (ms) | ${mean((s) => s.reconcileMeanMs).toFixed(1)} | ${trend((s) => s.reconcileMeanMs).toFixed(1)} |`,
  );
  process.stdout.write(`${lines.join('\n')}\n`);
  if (unfinished.length > 0) process.stderr.write(`soak: unfinished: ${unfinished.join(', ')}\n`);
  return unfinished.length === 0 && duplicates.size === 0 ? 0 : 1;
}

process.exit(await main());
