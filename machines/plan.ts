/**
 * The plan a workflow's statechart is built from: the machine's vocabulary, with its events. The
 * planner (src/core/plan.ts) produces it from a validated spec.
 */
import type { RollbackAction, StepAction } from '../src/api/actions.ts';
import type { SafetyCheck } from '../src/api/generated/types.ts';
import type { ADJUSTMENT_KINDS, LEARNED_KINDS } from '../src/api/schema/workflowexecution.ts';

export type ExecutionStrategyName = 'sequential' | 'parallel' | 'sequential-with-parallel';
export type RollbackStrategy = 'automatic' | 'manual' | 'none';

export interface PlannedRollback {
  action: RollbackAction;
  /** Written in the step, or the inverse of its action from the action catalogue. */
  source: 'rollbackSpec' | 'inverse';
  timeoutMs: number;
}

export interface PlannedStep {
  number: number;
  name: string;
  action: StepAction;
  critical: boolean;
  /** Step numbers this step waits for, ascending. */
  dependsOn: number[];
  /**
   * What waiting for them means. `data`: declared (`dependsOn`, `dependencies`), the step needs their
   * results, so one that failed or was skipped skips it. `order`: nothing was declared and the steps
   * run in step order (DESIGN 12), so it waits for them to settle and runs after a non-critical
   * failure; only an abort (a critical failure, a cancel) skips it.
   */
  dependencyKind: 'data' | 'order';
  /** 0-based topological level: the parallel group it belongs to. */
  level: number;
  timeoutMs: number;
  maxRetries: number;
  rollback: PlannedRollback | null;
  /** What it acts on, as history names it (`Deployment shop/web`, `custom noop`). */
  target: string;
}

/**
 * What the planner did with an AI suggestion, `learned` for a decision taken from history, or
 * `runTime` for one taken from this run's earlier steps: typed, so metrics never read the prose.
 */
export type AdjustmentKind = (typeof ADJUSTMENT_KINDS)[number];

/** What learning from history decided (src/core/adaptive.ts); `declared` changes nothing and says why. */
export type LearnedKind = (typeof LEARNED_KINDS)[number];

export interface LearnedAdjustment {
  kind: LearnedKind;
  /** The step it concerns; null for the plan's estimate or the plan as a whole. */
  step: number | null;
  /** Before: retries, milliseconds, or for a flag the success rate. */
  from: number;
  /** After; null when nothing changes (a flag, the plan as declared). */
  to: number | null;
  /** Runs of history it rests on. */
  runs: number;
  /**
   * Whose history: this workflow's name/version, the same action on the same target, none, or the
   * steps of this very run (decided at run time, with `dynamicStepAdjustment`).
   */
  source: 'workflow' | 'target' | 'none' | 'run';
}

export interface PlannedAdjustment {
  kind: AdjustmentKind;
  adjustment: string;
  reason: string;
  /** With kind `learned` or `runTime`: the decision itself. */
  learned?: LearnedAdjustment;
}

export interface ExecutionPlan {
  workflowName: string;
  /** Steps in topological order (ties broken by step number). */
  steps: PlannedStep[];
  /** Topological levels: steps of one level have no dependency between them. */
  levels: number[][];
  /** Reverse topological order: the order completed steps are rolled back in. */
  rollbackOrder: number[];
  strategy: ExecutionStrategyName;
  estimatedDurationMs: number;
  rollbackStrategy: RollbackStrategy;
  approvalRequired: boolean;
  dryRunFirst: boolean;
  safetyChecks: SafetyCheck[];
  adaptiveAdjustments: PlannedAdjustment[];
  /** Whether steps not yet started are adjusted from what this run's earlier steps did. */
  dynamicStepAdjustment: boolean;
  timeouts: { planningMs: number; validationMs: number; monitoringMs: number };
  /** Whether the run names the alert it remediates (spec.alertRef): monitoring requires it resolved. */
  remediatesAlert: boolean;
  /**
   * The spec's stability window (executionStrategy.stabilityWindow); null: the operator's
   * (--stability-window). The shell sends the one in force with each effectiveness result.
   */
  stabilityWindowMs: number | null;
  backoff: { baseMs: number; maxMs: number };
  /**
   * How long the run waits for an attempt asked to stop (src/api/stop-request.ts) to acknowledge,
   * before it attempts the step again, starts the steps after it, or ends executing anyway.
   */
  stopGraceMs: number;
}
