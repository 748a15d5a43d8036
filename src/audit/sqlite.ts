/** The embedded audit store: a SQLite file through node:sqlite, for local runs and small installs. */
import { DatabaseSync } from 'node:sqlite';
import {
  SQLITE_DIALECT,
  auditTableSchema,
  historyReads,
  stepHistoryTable,
  type HistoryRow,
} from './history.ts';
import type { AuditStore, WorkflowExecutionAudit } from './record.ts';

const HISTORY_TABLE = stepHistoryTable(SQLITE_DIALECT);

const SCHEMA = `
${auditTableSchema(SQLITE_DIALECT, ['record TEXT NOT NULL'])}
${HISTORY_TABLE.schema}`;

export function openSqliteAuditStore(path: string): AuditStore {
  const db = new DatabaseSync(path);
  db.exec('PRAGMA journal_mode=WAL');
  // Durable once upsert returns: the WAL is synced at every commit (retention deletes a finished
  // WorkflowExecution only after its row is written, so a row must survive a crash).
  db.exec('PRAGMA synchronous=FULL');
  db.exec(SCHEMA);
  const upsert = db.prepare(
    `INSERT INTO workflow_execution_audit (id, namespace, name, outcome, status, completed_at, record)
     VALUES (?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT(id) DO UPDATE SET outcome = excluded.outcome, status = excluded.status,
       completed_at = excluded.completed_at, record = excluded.record`,
  );
  const history = {
    byWorkflow: db.prepare(HISTORY_TABLE.queries.byWorkflow),
    byTarget: db.prepare(HISTORY_TABLE.queries.byTarget),
  };
  const byId = db.prepare('SELECT record FROM workflow_execution_audit WHERE id = ?');
  const recent = db.prepare('SELECT record FROM workflow_execution_audit ORDER BY completed_at DESC LIMIT ?');
  // Rows written before run segments (wfx retry) are the first segment.
  const parse = (row: unknown): WorkflowExecutionAudit => ({
    segment: 1,
    ...(JSON.parse((row as { record: string }).record) as Omit<WorkflowExecutionAudit, 'segment'>),
  });
  return {
    // node:sqlite hands rows back untyped; these are the history queries' rows.
    ...historyReads((query, params) =>
      Promise.resolve(history[query].all(...params) as unknown as HistoryRow[]),
    ),
    upsert(r) {
      db.exec('BEGIN');
      try {
        upsert.run(r.id, r.namespace, r.name, r.outcome, r.status, r.completedAt, JSON.stringify(r));
        for (const { sql, params } of HISTORY_TABLE.rewrite(r)) db.prepare(sql).run(...params);
        db.exec('COMMIT');
      } catch (error) {
        db.exec('ROLLBACK');
        throw error;
      }
      return Promise.resolve();
    },
    prune(before) {
      db.exec('BEGIN');
      try {
        db.prepare(
          'DELETE FROM workflow_step_history WHERE run_id IN (SELECT id FROM workflow_execution_audit WHERE completed_at < ?)',
        ).run(before);
        const result = db.prepare('DELETE FROM workflow_execution_audit WHERE completed_at < ?').run(before);
        db.exec('COMMIT');
        return Promise.resolve(Number(result.changes));
      } catch (error) {
        db.exec('ROLLBACK');
        return Promise.reject(error instanceof Error ? error : new Error(String(error)));
      }
    },
    get(id) {
      const row = byId.get(id);
      return Promise.resolve(row ? parse(row) : undefined);
    },
    list(limit = 100) {
      return Promise.resolve(recent.all(limit).map(parse));
    },
    close() {
      // Idempotent: the operator's stop and its owner may both close the store.
      if (db.isOpen) db.close();
      return Promise.resolve();
    },
  };
}
