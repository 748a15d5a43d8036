/** The embedded audit store: a SQLite file through node:sqlite, for local runs and small installs. */
import { DatabaseSync } from 'node:sqlite';
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
)`;

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
  const byId = db.prepare('SELECT record FROM workflow_execution_audit WHERE id = ?');
  const recent = db.prepare('SELECT record FROM workflow_execution_audit ORDER BY completed_at DESC LIMIT ?');
  const parse = (row: unknown): WorkflowExecutionAudit =>
    JSON.parse((row as { record: string }).record) as WorkflowExecutionAudit;
  return {
    upsert(r) {
      upsert.run(r.id, r.namespace, r.name, r.outcome, r.status, r.completedAt, JSON.stringify(r));
      return Promise.resolve();
    },
    get(id) {
      const row = byId.get(id);
      return Promise.resolve(row ? parse(row) : undefined);
    },
    list(limit = 100) {
      return Promise.resolve(recent.all(limit).map(parse));
    },
    close() {
      db.close();
      return Promise.resolve();
    },
  };
}
