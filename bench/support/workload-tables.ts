/** The tables every workload benchmark prints: CPU by process per step, and writes per step by kind. */
import { printTable, round1, round2 } from './measure.ts';
import type { WorkloadResult } from './workload.ts';

export const caseName = (r: WorkloadResult): string =>
  r.concurrent === 1 ? r.shape.name : `${r.concurrent} x ${r.shape.name}`;

export function printCpuPerStep(title: string, results: readonly WorkloadResult[]): void {
  const processes = [...new Set(results.flatMap((r) => [...r.cpu.keys()]))];
  printTable(
    `${title}: CPU ms per step by process (user + system from /proc, whole workload incl. 1 s settle)`,
    processes.map((name) => ({
      process: name,
      ...Object.fromEntries(results.map((r) => [caseName(r), round1((r.cpu.get(name) ?? 0) / r.steps)])),
    })),
  );
}

export function printWritesPerStep(title: string, results: readonly WorkloadResult[]): void {
  const kinds = [...new Set(results.flatMap((r) => [...r.requests.byKind.keys()]))].sort();
  printTable(`${title}: apiserver writes by the operator per step (apiserver_request_total)`, [
    ...kinds.map((kind) => ({
      write: kind,
      ...Object.fromEntries(
        results.map((r) => [caseName(r), round2((r.requests.byKind.get(kind) ?? 0) / r.steps)]),
      ),
    })),
    {
      write: 'all writes',
      ...Object.fromEntries(results.map((r) => [caseName(r), round2(r.requests.writes / r.steps)])),
    },
    {
      write: 'workflow GETs (stale cache, garbage collector)',
      ...Object.fromEntries(results.map((r) => [caseName(r), round2(r.requests.reads / r.steps)])),
    },
  ]);
}
