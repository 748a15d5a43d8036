/** The embedded audit store: a SQLite file through node:sqlite, for local runs and small installs. */
import { DatabaseSync } from 'node:sqlite';
import {
  MAX_HISTORY_ROWS,
  summarizeByStep,
  summarizeStepRuns,
  type StepRunOutcome,
  type StepRunRecord,
} from '../core/history.ts';
import { HISTORY_COLUMNS, historyRowValues, historyRowsOf, windowStart } from './history.ts';
import type { AuditStore, WorkflowExecutionAudit } from './record.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS workflow_execution_audit (
  id TEXT PRIMARY KEY,
  namespace TEXT NOT NULL,
  name TEXT NOT NULL,
  outcome TEXT NOT NULL,
  status TEXT NOT NULL,
  completed_at TEXT NOT NULL,
  record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS workflow_step_history (
  run_id TEXT NOT NULL,
  step_number INTEGER NOT NULL,
  workflow_name TEXT NOT NULL,
  workflow_version TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT NOT NULL,
  outcome TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  duration_ms INTEGER,
  completed_at TEXT NOT NULL,
  PRIMARY KEY (run_id, step_number)
);
CREATE INDEX IF NOT EXISTS workflow_step_history_by_workflow
  ON workflow_step_history (workflow_name, workflow_version, completed_at);
CREATE INDEX IF NOT EXISTS workflow_step_history_by_target
  ON workflow_step_history (action, target, completed_at);
`;

/** The history queries: an index range scan over the window, newest first, bounded. */
export const HISTORY_SQL = {
  byWorkflow: `SELECT step_number, outcome, attempts, duration_ms FROM workflow_step_history
    WHERE workflow_name = ? AND workflow_version = ? AND completed_at >= ?
    ORDER BY completed_at DESC LIMIT ?`,
  byTarget: `SELECT step_number, outcome, attempts, duration_ms FROM workflow_step_history
    WHERE action = ? AND target = ? AND completed_at >= ?
    ORDER BY completed_at DESC LIMIT ?`,
} as const;

interface HistoryRow {
  step_number: number;
  outcome: StepRunOutcome;
  attempts: number;
  duration_ms: number | null;
}

const toStepRun = (row: unknown): StepRunRecord => {
  const r = row as HistoryRow;
  return { stepNumber: r.step_number, outcome: r.outcome, attempts: r.attempts, durationMs: r.duration_ms };
};

export function openSqliteAuditStore(path: string): AuditStore {
  const db = new DatabaseSync(path);
  db.exec('PRAGMA journal_mode=WAL');
  db.exec(SCHEMA);
  const upsert = db.prepare(
    `INSERT INTO workflow_execution_audit (id, namespace, name, outcome, status, completed_at, record)
     VALUES (?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT(id) DO UPDATE SET outcome = excluded.outcome, status = excluded.status,
       completed_at = excluded.completed_at, record = excluded.record`,
  );
  const clearHistory = db.prepare('DELETE FROM workflow_step_history WHERE run_id = ?');
  const insertHistory = db.prepare(
    `INSERT INTO workflow_step_history (${HISTORY_COLUMNS.join(', ')})
     VALUES (${HISTORY_COLUMNS.map(() => '?').join(', ')})`,
  );
  const byWorkflow = db.prepare(HISTORY_SQL.byWorkflow);
  const byTarget = db.prepare(HISTORY_SQL.byTarget);
  const byId = db.prepare('SELECT record FROM workflow_execution_audit WHERE id = ?');
  const recent = db.prepare('SELECT record FROM workflow_execution_audit ORDER BY completed_at DESC LIMIT ?');
  // Rows written before run segments (wfx retry) are the first segment.
  const parse = (row: unknown): WorkflowExecutionAudit => ({
    segment: 1,
    ...(JSON.parse((row as { record: string }).record) as Omit<WorkflowExecutionAudit, 'segment'>),
  });
  return {
    upsert(r) {
      db.exec('BEGIN');
      try {
        upsert.run(r.id, r.namespace, r.name, r.outcome, r.status, r.completedAt, JSON.stringify(r));
        clearHistory.run(r.id);
        for (const h of historyRowsOf(r)) insertHistory.run(...historyRowValues(h));
        db.exec('COMMIT');
      } catch (error) {
        db.exec('ROLLBACK');
        throw error;
      }
      return Promise.resolve();
    },
    get(id) {
      const row = byId.get(id);
      return Promise.resolve(row ? parse(row) : undefined);
    },
    list(limit = 100) {
      return Promise.resolve(recent.all(limit).map(parse));
    },
    workflowHistory(workflowName, workflowVersion, window) {
      const rows = byWorkflow.all(workflowName, workflowVersion, windowStart(window), MAX_HISTORY_ROWS);
      return Promise.resolve(summarizeByStep(rows.map(toStepRun)));
    },
    targetHistory(action, target, window) {
      const rows = byTarget.all(action, target, windowStart(window), MAX_HISTORY_ROWS);
      return Promise.resolve(summarizeStepRuns(rows.map(toStepRun)));
    },
    close() {
      // Idempotent: the operator's stop and its owner may both close the store.
      if (db.isOpen) db.close();
      return Promise.resolve();
    },
  };
}
