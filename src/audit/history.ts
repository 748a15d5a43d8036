/**
 * The step history rows of a finished run, as both stores keep them (one row per step and run,
 * indexed by workflow name/version and by action/target, each with its completion time), and the
 * window a query reads.
 */
import {
  DEFAULT_HISTORY_WINDOW_MS,
  stepRunOutcome,
  type HistoryWindow,
  type StepRunRecord,
} from '../core/history.ts';
import type { WorkflowExecutionAudit } from './record.ts';

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
export const HISTORY_COLUMNS = [
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

export const historyRowValues = (h: StepHistoryRow): (string | number | null)[] => [
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
