/**
 * Learning from history, the shell's half (DESIGN 11): with `learningFromHistory`, a workflow about
 * to be planned for the first time gets its steps' history from the audit store, and the pure rules
 * (src/core/adaptive.ts) decide. Once its status records the decisions, they are read back from
 * there (src/core/load.ts `plannedDecisions`) and never taken again, so a restart or new history cannot change a running plan. No store,
 * an unreachable store or too little history plan as declared, and the status says which.
 */
import type { WorkflowExecution } from '../api/generated/types.ts';
import type { AuditStore } from '../audit/record.ts';
import { MIN_HISTORY_RUNS, decideAdjustments, declared, type AdaptiveDecision } from '../core/adaptive.ts';
import { historyTargetOf, type StepHistory } from '../core/history.ts';
import type { ExecutionPlan } from '../../machines/plan.ts';

/** Fetch the history of the declared plan's steps and decide. Never throws: a failure is a decision too. */
export async function learnFromHistory(
  audit: AuditStore | undefined,
  workflow: WorkflowExecution,
  plan: ExecutionPlan,
  now: number,
): Promise<AdaptiveDecision[]> {
  if (!audit) return [declared('no audit store is configured (--audit-db or --audit-postgres-url)')];
  const definition = workflow.spec.workflowDefinition;
  const window = { now };
  try {
    const byStep = await audit.workflowHistory(definition.name, definition.version ?? '', window);
    const byTarget = new Map<number, StepHistory>();
    for (const step of definition.steps) {
      // This workflow's own history wins when there is enough of it: no need to ask for the target's.
      if ((byStep.get(step.stepNumber)?.runs ?? 0) >= MIN_HISTORY_RUNS) continue;
      byTarget.set(step.stepNumber, await audit.targetHistory(step.action, historyTargetOf(step), window));
    }
    return decideAdjustments(plan, { byStep, byTarget });
  } catch (error) {
    return [declared(`the audit store could not be read: ${(error as Error).message}`)];
  }
}
