/**
 * The plan a workflow's statechart is built from: the machine's vocabulary, with its events. The
 * planner (src/core/plan.ts) produces it from a validated spec.
 */
import type { RollbackAction, StepAction } from '../src/api/actions.ts';
import type { SafetyCheck } from '../src/api/generated/types.ts';

export type ExecutionStrategyName = 'sequential' | 'parallel' | 'sequential-with-parallel';
export type RollbackStrategy = 'automatic' | 'manual' | 'none';

export interface PlannedRollback {
  action: RollbackAction;
  timeoutMs: number;
}

export interface PlannedStep {
  number: number;
  name: string;
  action: StepAction;
  critical: boolean;
  /** Step numbers this step waits for, ascending. */
  dependsOn: number[];
  /** 0-based topological level: the parallel group it belongs to. */
  level: number;
  timeoutMs: number;
  maxRetries: number;
  rollback: PlannedRollback | null;
}

/** What the planner did with an AI suggestion: typed, so metrics never read the prose. */
export type AdjustmentKind = 'applied' | 'confirmed' | 'ignored';

export interface PlannedAdjustment {
  kind: AdjustmentKind;
  adjustment: string;
  reason: string;
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
  timeouts: { planningMs: number; validationMs: number; monitoringMs: number };
  backoff: { baseMs: number; maxMs: number };
}
