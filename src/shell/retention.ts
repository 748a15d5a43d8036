/**
 * Retention (DESIGN 12): a finished WorkflowExecution is deleted once its retention has passed
 * (`spec.retention`, else the operator's --retention, 24h by default; "forever" keeps it), and only
 * after its audit row is durably written (the store's upsert returned: SQLite commits with a synced
 * WAL, PostgreSQL with synchronous commit). An audit store that does not answer postpones the
 * deletion to the next sweep; no record is lost. Audit rows older than --audit-retention (90 days)
 * are pruned. Deletions are counted by object and reason.
 */
import type { WorkflowExecution } from '../api/generated/types.ts';
import type { AuditStore } from '../audit/record.ts';
import { auditRecordOf } from '../audit/from-status.ts';
import { parseDuration } from '../core/duration.ts';
import { isNotFound, type KubeClient } from './kube/client.ts';
import { WORKFLOW_EXECUTIONS, resourcePath } from './kube/resources.ts';
import type { Logger } from './logger.ts';
import type { OperatorMetrics } from './metrics.ts';

export const DEFAULT_RETENTION = '24h';
export const DEFAULT_AUDIT_RETENTION_MS = 90 * 24 * 3_600_000;
export const SWEEP_INTERVAL_MS = 60_000;

export interface RetentionConfig {
  client: KubeClient;
  /** Namespaces watched; empty: all. */
  namespaces: readonly string[];
  audit?: AuditStore | undefined;
  /** The operator's default, a duration or "forever". */
  retention: string;
  auditRetentionMs: number;
  metrics?: OperatorMetrics | undefined;
  log: Logger;
  clock: () => number;
  /** Whether this replica sweeps (the leader, or the holder of shard 0). */
  active: () => boolean;
}

/** Milliseconds to keep a finished run, or null for forever; an unreadable value keeps it (safe). */
export function retentionMs(value: string): number | null {
  if (value === 'forever') return null;
  return parseDuration(value) ?? null;
}

const finished = (wf: WorkflowExecution): boolean =>
  wf.status?.phase === 'completed' || wf.status?.phase === 'failed';

/** When a finished run may be deleted, or null when never (forever, or not finished). */
export function deletableAt(wf: WorkflowExecution, operatorDefault: string): number | null {
  if (!finished(wf) || !wf.status?.completionTime) return null;
  const keep = retentionMs(wf.spec.retention ?? operatorDefault);
  return keep === null ? null : Date.parse(wf.status.completionTime) + keep;
}

export class RetentionSweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  private readonly c: RetentionConfig;

  constructor(config: RetentionConfig) {
    this.c = config;
  }

  start(intervalMs = SWEEP_INTERVAL_MS): void {
    this.timer = setInterval(() => {
      if (!this.running && this.c.active())
        // A sweep that cannot reach the apiserver is the next one's to do: logged, never left as a
        // rejection nobody handles (which ends the process).
        this.running = this.sweep()
          .catch((error: unknown) => {
            this.c.log.warn('retention sweep failed; the next one tries again', {
              error: (error as Error).message,
            });
          })
          .finally(() => (this.running = undefined));
    }, intervalMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  private async list(): Promise<WorkflowExecution[]> {
    const scopes = this.c.namespaces.length === 0 ? [undefined] : this.c.namespaces;
    const lists = await Promise.all(
      scopes.map((ns) =>
        this.c.client.request<{ items: WorkflowExecution[] }>(resourcePath(WORKFLOW_EXECUTIONS, ns)),
      ),
    );
    return lists.flatMap((l) => l.items);
  }

  /** One pass: delete what is due (audit row first), then prune old audit rows. */
  async sweep(): Promise<void> {
    const now = this.c.clock();
    const due = (await this.list()).filter((wf) => {
      const at = deletableAt(wf, this.c.retention);
      return at !== null && at <= now && !wf.metadata.deletionTimestamp;
    });
    for (const wf of due) await this.retire(wf, now);
    if (this.c.audit) {
      try {
        const pruned = await this.c.audit.prune(new Date(now - this.c.auditRetentionMs).toISOString());
        if (pruned > 0)
          this.c.metrics?.retentionDeletionsTotal.inc(
            { object: 'audit_row', reason: 'audit_retention_expired' },
            pruned,
          );
      } catch (error) {
        this.c.log.warn('audit rows not pruned', { error: (error as Error).message });
      }
    }
  }

  private async retire(wf: WorkflowExecution, now: number): Promise<void> {
    const { namespace = '', name = '', uid = '' } = wf.metadata;
    if (this.c.audit) {
      try {
        await this.c.audit.upsert(auditRecordOf(wf, wf.status?.phase ?? 'completed', now));
      } catch (error) {
        this.c.metrics?.retentionPostponedTotal.inc({ reason: 'audit_unavailable' });
        this.c.log.warn('retention postponed: the audit row could not be written', {
          workflow: name,
          namespace,
          error: (error as Error).message,
        });
        return;
      }
    }
    try {
      await this.c.client.request(resourcePath(WORKFLOW_EXECUTIONS, namespace, name), {
        method: 'DELETE',
        body: { preconditions: { uid }, propagationPolicy: 'Background' },
      });
      this.c.metrics?.retentionDeletionsTotal.inc({
        object: 'workflowexecution',
        reason: 'retention_expired',
      });
      this.c.log.info('deleted after its retention', { workflow: name, namespace });
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }
}
