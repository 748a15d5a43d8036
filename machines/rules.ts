/**
 * The run-time rules a workflow machine consults as a step is about to start its first attempt
 * (`dynamicStepAdjustment`). The machine applies what they decide; the core (src/core/adaptive.ts)
 * decides, from this run's context alone, so the decision is pure and taken inside the transition.
 */
import type { RunTimeAdjustment, WorkflowContext } from './context.ts';
import type { ExecutionPlan, PlannedStep } from './plan.ts';

export interface RunTimeRules {
  /** What this run so far teaches about `step`, which has not started; empty: nothing changes. */
  beforeFirstAttempt(
    step: PlannedStep,
    plan: ExecutionPlan,
    context: WorkflowContext,
  ): Omit<RunTimeAdjustment, 'at'>[];
}
