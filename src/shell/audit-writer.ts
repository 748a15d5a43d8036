/**
 * The audit rows of finished runs: one per run segment of a workflow, written once per process
 * (the store's upsert makes a repeat harmless), and a last one when a workflow is deleted. A row that
 * could not be written is tried again by the next reconcile of the finished workflow.
 */
import type { WorkflowExecution } from '../api/generated/types.ts';
import type { AuditStore } from '../audit/record.ts';
import { auditIdOf, auditIdsOf, auditRecordOf } from '../audit/from-status.ts';
import type { Logger } from './logger.ts';
import type { OperatorMetrics } from './metrics.ts';

export class AuditWriter {
  /** Audit rows written, by id. */
  private readonly audited = new Set<string>();

  private readonly store: AuditStore | undefined;
  private readonly metrics: OperatorMetrics | undefined;

  constructor(store: AuditStore | undefined, metrics: OperatorMetrics | undefined) {
    this.store = store;
    this.metrics = metrics;
  }

  /** Whether a finished workflow needs no more from this process: no store, or its row is written. */
  done(id: string): boolean {
    return this.store === undefined || this.audited.has(id);
  }

  /** The finished run's row, once; a failure is logged and tried again on a later reconcile. */
  async once(workflow: WorkflowExecution, phase: string, log: Logger, now: number): Promise<void> {
    const id = auditIdOf(workflow);
    if (!this.store || this.audited.has(id)) return;
    try {
      await this.store.upsert(auditRecordOf(workflow, phase, now));
      this.audited.add(id);
      this.metrics?.auditWritesTotal.inc({ result: 'success' });
    } catch (error) {
      this.metrics?.auditWritesTotal.inc({ result: 'failure' });
      log.warn('audit record not written', { error: (error as Error).message });
    }
  }

  /** The row of a workflow being deleted, best effort and never blocking: deletion must not wait on the audit database. */
  async final(workflow: WorkflowExecution, log: Logger, now: number): Promise<void> {
    if (this.store && !this.audited.has(auditIdOf(workflow))) {
      const phase = workflow.status?.phase ?? 'planning';
      const finished = phase === 'completed' || phase === 'failed';
      await this.store
        .upsert(auditRecordOf(workflow, finished ? phase : 'deleted', now))
        .then(() => this.metrics?.auditWritesTotal.inc({ result: 'success' }))
        .catch((error: unknown) => {
          this.metrics?.auditWritesTotal.inc({ result: 'failure' });
          log.warn('final audit record not written', { error: (error as Error).message });
        });
    }
  }

  /** A deleted workflow: its segments' ids, not a scan of every workflow audited (the same cost at 10,000). */
  forget(workflow: WorkflowExecution): void {
    for (const id of auditIdsOf(workflow)) this.audited.delete(id);
  }
}
