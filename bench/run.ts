/**
 * `npm run bench`: every benchmark of the project, printing figures and ratios. Pass names to run
 * a subset: `npm run bench -- plan statechart`.
 */
type Bench = () => Promise<void>;

/** name -> [module beside this file, exported function]; each module is loaded only when run. */
const suites: Record<string, [string, string]> = {
  plan: ['./plan.ts', 'benchPlan'],
  statechart: ['./statechart.ts', 'benchStatechart'],
  controlplane: ['./controlplane.ts', 'benchControlPlane'],
  operator: ['./operator.ts', 'benchOperator'],
};

const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
for (const [name, [file, exported]] of Object.entries(suites)) {
  if (wanted.length > 0 && !wanted.includes(name)) continue;
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
