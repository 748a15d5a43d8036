/**
 * `npm run bench`: every benchmark of the project, printing figures and ratios (never assertions).
 * Pass names to run a subset: `npm run bench -- chains concurrency`; `operator` names all four that
 * run the operator. The measurements that need a cluster share one control plane, started on first
 * use and stopped at the end. `peers` (it builds Tekton) runs only when named.
 */
import { stopBenchCluster } from './support/cluster.ts';

type Bench = () => Promise<void>;

/** name -> [module beside this file, exported function]; each module is loaded only when run. */
const suites: Record<string, [string, string]> = {
  plan: ['./plan.ts', 'benchPlan'],
  statechart: ['./statechart.ts', 'benchStatechart'],
  controlplane: ['./controlplane.ts', 'benchControlPlane'],
  chains: ['./chains.ts', 'benchChains'],
  concurrency: ['./concurrency.ts', 'benchConcurrency'],
  'write-cost': ['./write-cost.ts', 'benchWriteCost'],
  memory: ['./memory.ts', 'benchMemory'],
  'status-write': ['./status-write.ts', 'benchStatusWrite'],
  shards: ['./shards.ts', 'benchShards'],
  executor: ['./executor.ts', 'benchExecutor'],
  peers: ['./peers.ts', 'benchPeers'],
};
/** Run only when named. */
const ON_REQUEST = new Set(['peers']);
/** Names that stand for several suites. */
const groups: Record<string, string[]> = { operator: ['chains', 'concurrency', 'write-cost', 'memory'] };

const asked = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const wanted = new Set(asked.flatMap((name) => groups[name] ?? [name]));
const unknown = [...wanted].filter((name) => !(name in suites));
if (unknown.length > 0) {
  console.error(
    `unknown benchmark ${unknown.join(', ')}: choose from ${[...Object.keys(suites), ...Object.keys(groups)].join(', ')}`,
  );
  process.exit(2);
}
try {
  for (const [name, [file, exported]] of Object.entries(suites)) {
    if (wanted.size > 0 ? !wanted.has(name) : ON_REQUEST.has(name)) continue;
    let run: Bench | undefined;
    try {
      const module = (await import(file)) as Record<string, Bench | undefined>;
      run = module[exported];
    } catch (error) {
      console.log(`\n## ${name}: not available (${(error as Error).message.split('\n')[0] ?? ''})`);
      continue;
    }
    if (run) await run();
  }
} finally {
  await stopBenchCluster();
}
