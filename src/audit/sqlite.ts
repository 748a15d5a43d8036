/** The embedded audit store: a SQLite file through node:sqlite, for local runs and small installs. */
import { DatabaseSync } from 'node:sqlite';
import { summarizeByStep, summarizeStepRuns } from '../core/history.ts';
import {
  SQLITE_DIALECT,
  historyParams,
  historyRowValues,
  historyRowsOf,
  historySql,
  insertHistorySql,
  stepHistorySchema,
  stepRunOf,
  type HistoryRow,
} from './history.ts';
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
${stepHistorySchema(SQLITE_DIALECT)}`;

export const HISTORY_SQL = historySql(SQLITE_DIALECT);

/** node:sqlite hands rows back untyped; these are the history queries' rows. */
const toStepRun = (row: unknown) => stepRunOf(row as HistoryRow);

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
  const insertHistory = db.prepare(insertHistorySql(SQLITE_DIALECT, 1));
  const byWorkflow = db.prepare(HISTORY_SQL.byWorkflow);
  const byTarget = db.prepare(HISTORY_SQL.byTarget);
  const byId = db.prepare('SELECT record FROM workflow_execution_audit WHERE id = ?');
  const recent = db.prepare('SELECT record FROM workflow_execution_audit ORDER BY completed_at DESC LIMIT ?');
  const parse = (row: unknown): WorkflowExecutionAudit =>
    JSON.parse((row as { record: string }).record) as WorkflowExecutionAudit;
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
      const rows = byWorkflow.all(...historyParams(workflowName, workflowVersion, window));
      return Promise.resolve(summarizeByStep(rows.map(toStepRun)));
    },
    targetHistory(action, target, window) {
      const rows = byTarget.all(...historyParams(action, target, window));
      return Promise.resolve(summarizeStepRuns(rows.map(toStepRun)));
    },
    close() {
      // Idempotent: the operator's stop and its owner may both close the store.
      if (db.isOpen) db.close();
      return Promise.resolve();
    },
  };
}
