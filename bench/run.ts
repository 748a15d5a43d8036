/**
 * `npm run bench`: every benchmark of the project, printing figures and ratios. Pass names to run
 * a subset: `npm run bench -- plan statechart`. `peers` (it builds Tekton) runs only when named.
 */
type Bench = () => Promise<void>;

/** name -> [module beside this file, exported function]; each module is loaded only when run. */
const suites: Record<string, [string, string]> = {
  plan: ['./plan.ts', 'benchPlan'],
  statechart: ['./statechart.ts', 'benchStatechart'],
  controlplane: ['./controlplane.ts', 'benchControlPlane'],
  operator: ['./operator.ts', 'benchOperator'],
  'status-write': ['./status-write.ts', 'benchStatusWrite'],
  peers: ['./peers.ts', 'benchPeers'],
};
const ON_REQUEST = new Set(['peers']);

const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
for (const [name, [file, exported]] of Object.entries(suites)) {
  if (wanted.length > 0 ? !wanted.includes(name) : ON_REQUEST.has(name)) continue;
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
