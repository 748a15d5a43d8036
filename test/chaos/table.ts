/** The chaos suites' measurements (.cache/chaos/*.json) as the table the README copies. */
import { readResults } from './support/chaos.ts';

const s = (n: number | null | undefined): string => (n === null || n === undefined ? '-' : n.toFixed(1));

export async function printChaosTable(
  write: (text: string) => void = (t) => process.stdout.write(t),
): Promise<void> {
  const { faults, fuzz } = await readResults();
  const lines: string[] = [];
  if (faults && faults.length > 0) {
    lines.push(
      '| fault | length (s) | workflows (through it) | /ready false during | ready again after (s) | all finished after (s) | reconciles during (bound) | duplicates | lost transitions |',
      '|---|---|---|---|---|---|---|---|---|---|',
    );
    for (const r of faults)
      lines.push(
        `| ${r.fault} | ${s(r.durationS)} | ${r.workflows} (${r.throughFault}) | ${r.readyFalseDuring ? 'yes' : 'no'} | ${s(r.readyAgainS)} | ${s(r.finishedS)} | ${r.reconcilesDuring} (≤ ${r.reconcileBound}) | ${r.duplicates} | ${r.lost} |`,
      );
  }
  if (fuzz) {
    lines.push(
      '',
      '| fuzz: specs tried | refused by the apiserver (without a field name) | refused by the planner (without a path) | refused by a safety check | accepted and running | crashes | canaries stalled | idle reconciles/min | heap baseline → after (MiB) | seconds |',
      '|---|---|---|---|---|---|---|---|---|---|',
      `| ${fuzz.specsTried} | ${fuzz.refusedByApiserver} (${fuzz.refusedWithoutFieldName}) | ${fuzz.refusedByPlanner} (${fuzz.plannerWithoutPath}) | ${fuzz.refusedBySafetyChecks} | ${fuzz.ran} | ${fuzz.crashes} | ${fuzz.stalledOthers} | ${fuzz.idleReconcilesPerMinute} | ${fuzz.heapBaselineMiB} → ${fuzz.heapAfterMiB} | ${fuzz.seconds} |`,
    );
  }
  write(lines.length > 0 ? `\n${lines.join('\n')}\n` : 'no chaos results in .cache/chaos/\n');
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) await printChaosTable();
