/**
 * The step history rows of a finished run, as both stores keep them (one row per step and run,
 * indexed by workflow name/version and by action/target, each with its completion time), and the
 * window a query reads.
 */
import {
  DEFAULT_HISTORY_WINDOW_MS,
  MAX_HISTORY_ROWS,
  stepRunOutcome,
  summarizeByStep,
  summarizeStepRuns,
  type HistoryWindow,
  type StepRunOutcome,
  type StepRunRecord,
} from '../core/history.ts';
import type { AuditStore, WorkflowExecutionAudit } from './record.ts';

export interface StepHistoryRow extends StepRunRecord {
  runId: string;
  workflowName: string;
  workflowVersion: string;
  action: string;
  target: string;
  completedAt: string;
}

/** Only finished runs teach anything: a run deleted while unfinished leaves no history. */
const FINISHED = new Set(['completed', 'failed']);

export function historyRowsOf(record: WorkflowExecutionAudit): StepHistoryRow[] {
  if (!FINISHED.has(record.status)) return [];
  return record.stepExecutions.map((s) => {
    const outcome = stepRunOutcome(s.status);
    return {
      runId: record.id,
      workflowName: record.workflowName,
      workflowVersion: record.workflowVersion,
      stepNumber: s.stepNumber,
      action: s.action,
      target: s.target ?? '',
      outcome,
      attempts: outcome === 'skipped' ? 0 : s.retriesAttempted + 1,
      // A rolled-back step's recorded end is its rollback's: its attempt's duration is not known.
      durationMs: s.status === 'completed' || s.status === 'failed' ? s.durationMs : null,
      completedAt: record.completedAt,
    };
  });
}

/** A row's values in the tables' column order (HISTORY_COLUMNS). */
const HISTORY_COLUMNS = [
  'run_id',
  'step_number',
  'workflow_name',
  'workflow_version',
  'action',
  'target',
  'outcome',
  'attempts',
  'duration_ms',
  'completed_at',
] as const;

const historyRowValues = (h: StepHistoryRow): (string | number | null)[] => [
  h.runId,
  h.stepNumber,
  h.workflowName,
  h.workflowVersion,
  h.action,
  h.target,
  h.outcome,
  h.attempts,
  h.durationMs,
  h.completedAt,
];

/** The oldest completion time a query reads, as an ISO timestamp. */
export const windowStart = (window: HistoryWindow): string =>
  new Date(window.now - (window.windowMs ?? DEFAULT_HISTORY_WINDOW_MS)).toISOString();

/** What the two stores' SQL differs in: how a parameter is written and two column types. */
export interface SqlDialect {
  /** The n-th parameter of a statement, counted from 1. */
  param(n: number): string;
  /** A 64-bit whole number (milliseconds). */
  bigint: string;
  /** A point in time. */
  timestamp: string;
}

export const POSTGRES_DIALECT: SqlDialect = {
  param: (n) => `$${String(n)}`,
  bigint: 'BIGINT',
  timestamp: 'TIMESTAMPTZ',
};
/** Times are ISO strings in SQLite: they sort as the times they name. */
export const SQLITE_DIALECT: SqlDialect = { param: () => '?', bigint: 'INTEGER', timestamp: 'TEXT' };

/**
 * The audit table in one dialect: the columns both stores keep (what a run is found and listed by),
 * then the store's own (SQLite keeps the whole record as JSON, PostgreSQL a column per field).
 */
export function auditTableSchema(d: SqlDialect, ownColumns: readonly string[]): string {
  const columns = [
    'id TEXT PRIMARY KEY',
    'namespace TEXT NOT NULL',
    'name TEXT NOT NULL',
    'outcome TEXT NOT NULL',
    'status TEXT NOT NULL',
    `completed_at ${d.timestamp} NOT NULL`,
    ...ownColumns,
  ];
  return `CREATE TABLE IF NOT EXISTS workflow_execution_audit (\n  ${columns.join(',\n  ')}\n);`;
}

export interface Statement {
  sql: string;
  params: (string | number | null)[];
}

export type HistoryQuery = 'byWorkflow' | 'byTarget';

/** The step history table in one dialect: its schema, its two queries, and a run's rewrite. */
export interface StepHistoryTable {
  /** The table and its two indexes, newest first (what every query reads). */
  readonly schema: string;
  /** An index range scan over the window, newest first, bounded; parameters from historyParams. */
  readonly queries: Readonly<Record<HistoryQuery, string>>;
  /** Replaces a run's rows: a delete, then one insert of them all (none for an unfinished run). */
  rewrite(record: WorkflowExecutionAudit): Statement[];
}

export function stepHistoryTable(d: SqlDialect): StepHistoryTable {
  const query = (first: string, second: string) =>
    `SELECT step_number, outcome, attempts, duration_ms FROM workflow_step_history
    WHERE ${first} = ${d.param(1)} AND ${second} = ${d.param(2)} AND completed_at >= ${d.param(3)}
    ORDER BY completed_at DESC LIMIT ${d.param(4)}`;
  const insert = (rows: number) =>
    `INSERT INTO workflow_step_history (${HISTORY_COLUMNS.join(', ')}) VALUES ${Array.from(
      { length: rows },
      (_, i) => `(${HISTORY_COLUMNS.map((_, c) => d.param(i * HISTORY_COLUMNS.length + c + 1)).join(', ')})`,
    ).join(', ')}`;
  return {
    schema: `
CREATE TABLE IF NOT EXISTS workflow_step_history (
  run_id           TEXT NOT NULL,
  step_number      INTEGER NOT NULL,
  workflow_name    TEXT NOT NULL,
  workflow_version TEXT NOT NULL,
  action           TEXT NOT NULL,
  target           TEXT NOT NULL,
  outcome          TEXT NOT NULL,
  attempts         INTEGER NOT NULL,
  duration_ms      ${d.bigint},
  completed_at     ${d.timestamp} NOT NULL,
  PRIMARY KEY (run_id, step_number)
);
CREATE INDEX IF NOT EXISTS workflow_step_history_by_workflow
  ON workflow_step_history (workflow_name, workflow_version, completed_at DESC);
CREATE INDEX IF NOT EXISTS workflow_step_history_by_target
  ON workflow_step_history (action, target, completed_at DESC);
`,
    queries: {
      byWorkflow: query('workflow_name', 'workflow_version'),
      byTarget: query('action', 'target'),
    },
    rewrite(record) {
      const rows = historyRowsOf(record);
      const clear = {
        sql: `DELETE FROM workflow_step_history WHERE run_id = ${d.param(1)}`,
        params: [record.id],
      };
      return rows.length === 0
        ? [clear]
        : [clear, { sql: insert(rows.length), params: rows.flatMap(historyRowValues) }];
    },
  };
}

/** A history row as either driver returns it (PostgreSQL returns a BIGINT as a string). */
export interface HistoryRow {
  step_number: number;
  outcome: StepRunOutcome;
  attempts: number;
  duration_ms: number | string | null;
}

const stepRunOf = (r: HistoryRow): StepRunRecord => ({
  stepNumber: r.step_number,
  outcome: r.outcome,
  attempts: r.attempts,
  durationMs: r.duration_ms === null ? null : Number(r.duration_ms),
});

/** The two history reads of an audit store, given how the store runs one of the history queries. */
export function historyReads(
  run: (query: HistoryQuery, params: (string | number)[]) => Promise<readonly HistoryRow[]>,
): Pick<AuditStore, 'workflowHistory' | 'targetHistory'> {
  const read = async (query: HistoryQuery, first: string, second: string, window: HistoryWindow) =>
    (await run(query, [first, second, windowStart(window), MAX_HISTORY_ROWS])).map(stepRunOf);
  return {
    async workflowHistory(workflowName, workflowVersion, window) {
      return summarizeByStep(await read('byWorkflow', workflowName, workflowVersion, window));
    },
    async targetHistory(action, target, window) {
      return summarizeStepRuns(await read('byTarget', action, target, window));
    },
  };
}
