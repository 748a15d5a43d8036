/** Plain-text output helpers for the CLI: tables as kubectl prints them, ages, times. */

export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd((widths[i] ?? 0) + 3)))
      .join('')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

export function age(timestamp: string | undefined, now: number): string {
  const then = Date.parse(timestamp ?? '');
  if (!Number.isFinite(then)) return '<unknown>';
  const s = Math.max(0, Math.floor((now - then) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

export const time = (iso: string | undefined): string =>
  iso ? iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, 'Z') : '-';
