/**
 * A timeline as plain text, for a terminal and CI logs: one line per row with its bars drawn to
 * scale in fixed-width characters, then every bar and moment with its offset from the start, its
 * length and its outcome.
 */
import { formatDuration } from './duration.ts';
import { isoOf } from './time.ts';
import type { Timeline, TimelineBar, TimelineRow } from './timeline.ts';

const WIDTH = 60;

/** The character a bar is drawn with: its kind, and for attempts and rollbacks its outcome. */
export function barGlyph(b: TimelineBar): string {
  switch (b.kind) {
    case 'phase':
      return b.label.charAt(0).toUpperCase();
    case 'checks':
      return 'c';
    case 'dryRun':
      return 'd';
    case 'approval':
      return 'a';
    case 'backoff':
      return '.';
    case 'rollback':
      return b.outcome === 'rollbackFailed' ? '!' : b.outcome === 'running' ? '<' : 'r';
    case 'attempt':
      return b.outcome === 'succeeded'
        ? '='
        : b.outcome === 'failed'
          ? 'x'
          : b.outcome === 'running'
            ? '>'
            : '~';
  }
}

export const LEGEND =
  'V validating  E executing  M monitoring  R rolling back  c checks  d dry run  a approval wait\n' +
  '= attempt succeeded  x failed  > running  ~ unfinished  . backoff  r rolled back  ! rollback failed  < rolling back';

function chartLine(row: TimelineRow, timeline: Timeline, labelWidth: number): string {
  const span = Math.max(1, timeline.end - timeline.start);
  const cells = Array.from({ length: WIDTH }, () => ' ');
  const column = (t: number) =>
    Math.min(WIDTH, Math.max(0, Math.round(((t - timeline.start) / span) * WIDTH)));
  // Each bar keeps at least one cell: a bar shorter than a column is not drawn over by the next one.
  let drawnUntil = 0;
  for (const b of row.bars) {
    const from = Math.min(WIDTH - 1, Math.max(column(b.start), drawnUntil));
    const to = Math.max(from + 1, column(b.end ?? timeline.end));
    for (let i = from; i < to; i++) cells[i] = barGlyph(b);
    drawnUntil = to;
  }
  return `  ${row.label.slice(0, labelWidth).padEnd(labelWidth)} |${cells.join('')}|`;
}

const offset = (t: number, start: number) => `+${((t - start) / 1000).toFixed(1)}s`;

function describeBar(b: TimelineBar): string {
  const what = b.outcome === 'succeeded' && b.kind !== 'attempt' && b.kind !== 'dryRun' ? '' : b.outcome;
  const detail = [what, b.message].filter((p) => p !== null && p !== '').join(': ');
  return detail;
}

export function timelineText(timeline: Timeline): string {
  const { start, end } = timeline;
  const labelWidth = Math.min(24, Math.max(...timeline.rows.map((r) => r.label.length)));
  const lines = [
    `Timeline:     ${isoOf(start)} to ${isoOf(end)} (${formatDuration(end - start)}${timeline.live ? ', still running' : ''})`,
    ...timeline.rows.map((r) => chartLine(r, timeline, labelWidth)),
    ...LEGEND.split('\n').map((l) => `  ${l}`),
    '',
  ];
  for (const row of timeline.rows) {
    const items = [
      ...row.bars.map((b) => ({
        at: b.start,
        text: `${b.label.padEnd(14)} ${(b.end === null ? 'ongoing' : formatDuration(b.end - b.start)).padStart(9)}  ${describeBar(b)}`,
      })),
      ...row.marks.map((m) => ({ at: m.at, text: m.label })),
    ].sort((a, b) => a.at - b.at);
    if (items.length === 0) continue;
    lines.push(`  ${row.label}:`);
    for (const item of items) lines.push(`    ${offset(item.at, start).padStart(9)}  ${item.text}`.trimEnd());
  }
  return lines.join('\n');
}
