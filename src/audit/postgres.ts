/**
 * The production audit store: PostgreSQL (the specification's workflow_execution_audit table).
 * Upserts by the run's uid, so writing a record again (a retried reconcile, a restarted operator)
 * never duplicates it.
 */
import pg from 'pg';
import {
  POSTGRES_DIALECT,
  auditTableSchema,
  historyReads,
  stepHistoryTable,
  type HistoryRow,
} from './history.ts';
import type { AuditStore, WorkflowExecutionAudit } from './record.ts';

const HISTORY_TABLE = stepHistoryTable(POSTGRES_DIALECT);

const SCHEMA = `
${auditTableSchema(POSTGRES_DIALECT, [
  'remediation_id TEXT NOT NULL',
  'workflow_name TEXT NOT NULL',
  'workflow_version TEXT NOT NULL',
  'total_steps INTEGER NOT NULL',
  'steps_completed INTEGER NOT NULL',
  'steps_failed INTEGER NOT NULL',
  'total_duration_ms BIGINT NOT NULL',
  'effectiveness_score DOUBLE PRECISION NOT NULL',
  'rollbacks_performed INTEGER NOT NULL',
  'step_executions JSONB NOT NULL',
  'adaptive_adjustments JSONB NOT NULL',
  'error_message TEXT',
])}
-- Run segments (wfx retry): tables made before them get the column, their rows are segment 1.
ALTER TABLE workflow_execution_audit ADD COLUMN IF NOT EXISTS segment INTEGER NOT NULL DEFAULT 1;
CREATE INDEX IF NOT EXISTS workflow_execution_audit_completed_at ON workflow_execution_audit (completed_at DESC);
${HISTORY_TABLE.schema}`;

const COLUMNS = [
  'id',
  'namespace',
  'name',
  'remediation_id',
  'workflow_name',
  'workflow_version',
  'total_steps',
  'steps_completed',
  'steps_failed',
  'total_duration_ms',
  'outcome',
  'effectiveness_score',
  'rollbacks_performed',
  'step_executions',
  'adaptive_adjustments',
  'completed_at',
  'status',
  'error_message',
  'segment',
] as const;

interface Row {
  id: string;
  namespace: string;
  name: string;
  remediation_id: string;
  workflow_name: string;
  workflow_version: string;
  total_steps: number;
  steps_completed: number;
  steps_failed: number;
  total_duration_ms: string;
  outcome: string;
  effectiveness_score: number;
  rollbacks_performed: number;
  step_executions: WorkflowExecutionAudit['stepExecutions'];
  adaptive_adjustments: WorkflowExecutionAudit['adaptiveAdjustments'];
  completed_at: Date;
  status: string;
  error_message: string | null;
  segment: number;
}

const toRecord = (r: Row): WorkflowExecutionAudit => ({
  id: r.id,
  segment: r.segment,
  namespace: r.namespace,
  name: r.name,
  remediationId: r.remediation_id,
  workflowName: r.workflow_name,
  workflowVersion: r.workflow_version,
  totalSteps: r.total_steps,
  stepsCompleted: r.steps_completed,
  stepsFailed: r.steps_failed,
  totalDurationMs: Number(r.total_duration_ms),
  outcome: r.outcome,
  effectivenessScore: r.effectiveness_score,
  rollbacksPerformed: r.rollbacks_performed,
  stepExecutions: r.step_executions,
  adaptiveAdjustments: r.adaptive_adjustments,
  completedAt: r.completed_at.toISOString(),
  status: r.status,
  ...(r.error_message === null ? {} : { errorMessage: r.error_message }),
});

export async function openPostgresAuditStore(connectionString: string): Promise<AuditStore> {
  const pool = new pg.Pool({ connectionString, max: 4, connectionTimeoutMillis: 5000 });
  // An idle connection the server drops (a restart, a failover) is reported here; unhandled, it
  // would end the process. The next query opens a new connection or fails on its own.
  pool.on('error', () => undefined);
  await pool.query(SCHEMA);
  const placeholders = COLUMNS.map((_, i) => `$${i + 1}`).join(', ');
  const updates = COLUMNS.filter((c) => c !== 'id')
    .map((c) => `${c} = excluded.${c}`)
    .join(', ');
  const upsertSql = `INSERT INTO workflow_execution_audit (${COLUMNS.join(', ')}) VALUES (${placeholders})
    ON CONFLICT (id) DO UPDATE SET ${updates}`;
  return {
    ...historyReads(
      async (query, params) => (await pool.query<HistoryRow>(HISTORY_TABLE.queries[query], params)).rows,
    ),
    async upsert(r) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        await client.query(upsertSql, [
          r.id,
          r.namespace,
          r.name,
          r.remediationId,
          r.workflowName,
          r.workflowVersion,
          r.totalSteps,
          r.stepsCompleted,
          r.stepsFailed,
          r.totalDurationMs,
          r.outcome,
          r.effectivenessScore,
          r.rollbacksPerformed,
          JSON.stringify(r.stepExecutions),
          JSON.stringify(r.adaptiveAdjustments),
          r.completedAt,
          r.status,
          r.errorMessage ?? null,
          r.segment,
        ]);
        for (const { sql, params } of HISTORY_TABLE.rewrite(r)) await client.query(sql, params);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        client.release();
      }
    },
    // A committed transaction is durable (synchronous_commit on, the server's default).
    async prune(before) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        await client.query(
          'DELETE FROM workflow_step_history WHERE run_id IN (SELECT id FROM workflow_execution_audit WHERE completed_at < $1)',
          [before],
        );
        const result = await client.query('DELETE FROM workflow_execution_audit WHERE completed_at < $1', [
          before,
        ]);
        await client.query('COMMIT');
        return result.rowCount ?? 0;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        client.release();
      }
    },
    async get(id) {
      const result = await pool.query<Row>('SELECT * FROM workflow_execution_audit WHERE id = $1', [id]);
      const row = result.rows[0];
      return row ? toRecord(row) : undefined;
    },
    async list(limit = 100) {
      const result = await pool.query<Row>(
        'SELECT * FROM workflow_execution_audit ORDER BY completed_at DESC LIMIT $1',
        [limit],
      );
      return result.rows.map(toRecord);
    },
    async close() {
      await pool.end();
    },
  };
}
