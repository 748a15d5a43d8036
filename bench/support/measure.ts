/** Timing helpers for benchmarks: medians and percentiles over repeated runs, printed as a table. */
import { performance } from 'node:perf_hooks';

export interface Stats {
  runs: number;
  medianMs: number;
  p99Ms: number;
  minMs: number;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)] ?? Number.NaN;
}

export async function measure(fn: () => unknown, runs: number, warmup = Math.min(10, runs)): Promise<Stats> {
  for (let i = 0; i < warmup; i++) await fn();
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await fn();
    samples.push(performance.now() - start);
  }
  samples.sort((a, b) => a - b);
  return {
    runs,
    medianMs: percentile(samples, 50),
    p99Ms: percentile(samples, 99),
    minMs: samples[0] ?? Number.NaN,
  };
}

export function printTable(title: string, rows: readonly Record<string, string | number>[]): void {
  console.log(`\n## ${title}`);
  const format = (v: string | number) =>
    typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(3)) : v;
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => format(r[c] ?? '').length)));
  const line = (cells: string[]) => '  ' + cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ');
  console.log(line(columns));
  for (const row of rows) console.log(line(columns.map((c) => format(row[c] ?? ''))));
}

/** One decimal. */
export const round1 = (v: number): number => Math.round(v * 10) / 10;
/** Two decimals. */
export const round2 = (v: number): number => Math.round(v * 100) / 100;
