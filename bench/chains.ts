/**
 * Whether a step's cost grows with its workflow: sequential chains of 10, 60 and 150 steps and a
 * 1 -> 40 fan-out, one workflow at a time (figures and ratios, never assertions). Per shape: the
 * handoff (a step's last dependency completed -> its child seen by the executor) p50/p99, the whole
 * run, apiserver CPU per step, the operator's writes per step by kind, status bytes per step; then
 * the 150-step / 10-step ratio of each per-step cost. `--steps=10,60` runs only the shapes of those
 * sizes (a busy machine can skip the 150-step chain).
 */
import { loadavg } from 'node:os';
import { benchCluster } from './support/cluster.ts';
import { percentile, printTable, round1, round2 } from './support/measure.ts';
import { chain, fanOut, type Shape } from './support/shapes.ts';
import { printCpuPerStep, printWritesPerStep } from './support/workload-tables.ts';
import { runWorkload, type WorkloadResult } from './support/workload.ts';

/** Shape -> workflows run one after another: enough handoffs for a p99 at every size. */
export const CHAIN_CASES: readonly (readonly [Shape, number])[] = [
  [chain(10), 6],
  [chain(60), 2],
  [fanOut(40), 3],
  [chain(150), 1],
];

/** The cases whose step count `--steps=a,b` names, or all of them. */
function chosenCases(argv: readonly string[]): readonly (readonly [Shape, number])[] {
  const flag = argv.find((a) => a.startsWith('--steps='));
  if (flag === undefined) return CHAIN_CASES;
  const sizes = new Set(flag.slice('--steps='.length).split(',').map(Number));
  return CHAIN_CASES.filter(([shape]) => sizes.has(shape.steps));
}

const apiserverCpuPerStep = (r: WorkloadResult) => (r.cpu.get('kube-apiserver') ?? 0) / r.steps;
const runPerStep = (r: WorkloadResult) => percentile(r.runs, 50) / r.shape.steps;

export async function benchChains(): Promise<void> {
  const cluster = await benchCluster();
  const load = () =>
    loadavg()
      .map((l) => l.toFixed(2))
      .join(' ');
  console.log(`\n## chains: load average at start ${load()} (other work on this machine skews every figure)`);
  const results: WorkloadResult[] = [];
  // Each row as soon as its shape has run, so a shape that does not finish loses only itself.
  for (const [shape, rounds] of chosenCases(process.argv)) {
    try {
      const r = await runWorkload(cluster, { shape, concurrent: 1, rounds });
      results.push(r);
      printTable(`chains: ${shape.name}, ${rounds} workflow(s) one after another, instant executor`, [
        {
          'handoff p50 ms': round1(percentile(r.handoffs, 50)),
          'handoff p99 ms': round1(percentile(r.handoffs, 99)),
          'run s (p50)': round2(percentile(r.runs, 50) / 1000),
          'run ms/step': round1(runPerStep(r)),
          'apiserver CPU ms/step': round1(apiserverCpuPerStep(r)),
          'writes/step': round2(r.requests.writes / r.steps),
          'status B/step': Math.round(r.statusBytes.status / r.shape.steps),
          'snapshot B/step': Math.round(r.statusBytes.snapshot / r.shape.steps),
        },
      ]);
    } catch (error) {
      console.log(`\n## chains: ${shape.name} did not finish: ${(error as Error).message}`);
    }
  }
  console.log(
    "  handoff: the executor's completing status write of a step's last dependency returns -> its watch delivers the step's child.",
  );
  printCpuPerStep('chains', results);
  printWritesPerStep('chains', results);

  const ten = results.find((r) => r.shape.name === chain(10).name);
  const long = results.find((r) => r.shape.name === chain(150).name);
  if (ten && long) {
    const ratio = (f: (r: WorkloadResult) => number) => round2(f(long) / f(ten));
    console.log(
      `  per-step cost, chain of 150 / chain of 10: handoff p50 ${ratio((r) => percentile(r.handoffs, 50))}x, ` +
        `run time per step ${ratio(runPerStep)}x, apiserver CPU per step ${ratio(apiserverCpuPerStep)}x, ` +
        `writes per step ${ratio((r) => r.requests.writes / r.steps)}x, status bytes per step ${ratio((r) => r.statusBytes.status / r.shape.steps)}x (goal: <= 1.3)`,
    );
  }
  console.log(`  load average now ${load()}`);
}
