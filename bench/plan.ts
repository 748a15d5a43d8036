/** Planning time for 10, 100 and 1,000 steps (figures, not assertions). */
import { planWorkflow } from '../src/core/plan.ts';
import { specWith, step } from '../test/fixtures/specs.ts';
import { measure, printTable } from './support/measure.ts';

/** A layered DAG: each step waits for up to three steps of the previous layer of ten. */
function layeredSpec(count: number) {
  return specWith(
    Array.from({ length: count }, (_, i) => {
      const layerStart = Math.floor(i / 10) * 10;
      const deps =
        layerStart === 0
          ? []
          : [layerStart - 10 + 1, layerStart - 10 + 1 + (i % 10), layerStart - 1 + 1].filter(
              (d, j, all) => all.indexOf(d) === j,
            );
      return step(i + 1, { dependsOn: deps });
    }),
  );
}

export async function benchPlan(): Promise<void> {
  const rows = [];
  for (const count of [10, 100, 1000]) {
    const spec = layeredSpec(count);
    const stats = await measure(
      () => {
        const result = planWorkflow(spec);
        if (!result.ok) throw new Error(JSON.stringify(result.issues[0]));
      },
      count >= 1000 ? 30 : 200,
    );
    rows.push({ case: `plan ${count} steps`, ...stats });
  }
  printTable('planner', rows);
  const [ten, , thousand] = rows;
  if (ten && thousand)
    console.log(
      `  ratio 1000/10 steps (median): ${(thousand.medianMs / ten.medianMs).toFixed(1)}x for 100x the steps`,
    );
}
