/**
 * Throughput under concurrency: 1, 10 and 100 concurrent workflows of 10 sequential steps (figures
 * and ratios, never assertions): steps per second, handoff p50/p99, create -> first child, CPU by
 * process and the operator's writes per step.
 */
import { loadavg } from 'node:os';
import { benchCluster } from './support/cluster.ts';
import { percentile, printTable, round1, round2 } from './support/measure.ts';
import { chain } from './support/shapes.ts';
import { printCpuPerStep, printWritesPerStep } from './support/workload-tables.ts';
import { runWorkload, type WorkloadResult } from './support/workload.ts';

export const CONCURRENT_SHAPE = chain(10);
/** Concurrency -> rounds: enough step transitions for a p99 in every case. */
export const CONCURRENCY_CASES: readonly (readonly [concurrent: number, rounds: number])[] = [
  [1, 12],
  [10, 2],
  [100, 1],
];

export async function benchConcurrency(): Promise<void> {
  const cluster = await benchCluster();
  const results: WorkloadResult[] = [];
  for (const [concurrent, rounds] of CONCURRENCY_CASES)
    try {
      results.push(await runWorkload(cluster, { shape: CONCURRENT_SHAPE, concurrent, rounds }));
    } catch (error) {
      console.log(`\n## concurrency: ${concurrent} concurrent did not finish: ${(error as Error).message}`);
    }
  printTable(
    `concurrency: ${CONCURRENT_SHAPE.name} custom steps per workflow, instant executor, operator in its own process (load average ${loadavg()[0]?.toFixed(2) ?? '?'})`,
    results.map((r) => ({
      concurrent: r.concurrent,
      steps: r.steps,
      'steps/s': round1(r.stepsPerSecond),
      'handoff p50 ms': round1(percentile(r.handoffs, 50)),
      'handoff p99 ms': round1(percentile(r.handoffs, 99)),
      'create -> 1st child p50 ms': round1(percentile(r.firstChild, 50)),
      'writes/step': round2(r.requests.writes / r.steps),
      'conflicts/step': round2(r.requests.conflicts / r.steps),
    })),
  );
  const one = results.find((r) => r.concurrent === 1);
  const hundred = results.find((r) => r.concurrent === 100);
  if (one && hundred)
    console.log(
      `  steps/s at 100 concurrent / at 1: ${round2(hundred.stepsPerSecond / one.stepsPerSecond)}x (goal: >= 100 steps/s at 100 concurrent)`,
    );
  printCpuPerStep('concurrency', results);
  printWritesPerStep('concurrency', results);
}
