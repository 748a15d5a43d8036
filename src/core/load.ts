/**
 * The load step (DESIGN 3), once for every reader of a workflow (the reconciler, the CLI, the
 * inspector): compile its spec, with the planning decisions its status records, into plan, hash and
 * machine, or the issues that refuse it; then rehydrate its persisted statechart, or say why it
 * cannot be trusted. `loadExecution` is that one function: a reader that compiled otherwise would
 * read another machine (a step whose retries history raised from 0 has a backoff state only in the
 * machine compiled with that decision).
 */
import type { WorkflowExecution } from '../api/generated/types.ts';
import type { SpecIssue } from '../api/issues.ts';
import { validateSpec } from '../api/validation.ts';
import type { ExecutionPlan } from '../../machines/plan.ts';
import {
  createWorkflowMachine,
  type WorkflowMachine,
  type WorkflowSnapshot,
} from '../../machines/workflow.ts';
import { WORKFLOW_TEXT } from './machine-text.ts';
import { RUN_TIME_RULES, decisionsOf, withLearning, type AdaptiveDecision } from './adaptive.ts';
import { planWorkflow } from './plan.ts';
import { specHash } from './spec-hash.ts';
import { rehydrate, type RehydrateRefusal, type StatechartEnvelope } from './statechart.ts';

export interface Compiled {
  plan: ExecutionPlan;
  /** The spec's hash: it names the machine and binds the persisted snapshot to this spec. */
  hash: string;
  machine: WorkflowMachine;
}

export type Compilation = ({ ok: true } & Compiled) | { ok: false; issues: SpecIssue[] };

/** The workflow statechart of a plan, worded by the core, with the core's run-time rules. */
export const machineOf = (plan: ExecutionPlan): WorkflowMachine =>
  createWorkflowMachine(plan, WORKFLOW_TEXT, RUN_TIME_RULES);

/**
 * spec -> validate -> hash -> plan (with the decisions learned from history, if any) -> machine.
 * Pure: the same spec and decisions always compile the same way.
 */
export function compileWorkflow(spec: unknown, learned: readonly AdaptiveDecision[] = []): Compilation {
  const validated = validateSpec(spec);
  if (!validated.ok) return { ok: false, issues: validated.issues };
  const planned = planWorkflow(validated.value);
  if (!planned.ok) return { ok: false, issues: planned.issues };
  const plan = withLearning(planned.plan, learned);
  return { ok: true, plan, hash: specHash(validated.value), machine: machineOf(plan) };
}

/** Where a workflow stands once loaded: running (its snapshot), refused (its spec), or stalled. */
export type Loaded =
  | {
      kind: 'running';
      compiled: Compiled;
      snapshot: WorkflowSnapshot;
      /** Whether the snapshot was persisted before (false: this is the initial one). */
      persisted: boolean;
    }
  | { kind: 'invalid'; issues: SpecIssue[] }
  | { kind: 'stalled'; reason: RehydrateRefusal; message: string };

export function loadWorkflow(
  compilation: Compilation,
  envelope: StatechartEnvelope | undefined,
  now: number,
): Loaded {
  if (!compilation.ok) return { kind: 'invalid', issues: compilation.issues };
  const restored = rehydrate(envelope, compilation, now);
  if (!restored.ok) return { kind: 'stalled', reason: restored.reason, message: restored.message };
  return {
    kind: 'running',
    compiled: compilation,
    snapshot: restored.snapshot,
    persisted: envelope !== undefined,
  };
}

/**
 * The planning decisions a workflow compiles with: none unless it learns from history; once planned,
 * the ones its status records (never taken again, so a restart or new history cannot change a running
 * plan). `undefined`: not planned yet, when the operator asks history (src/shell/learning.ts).
 */
export function plannedDecisions(workflow: WorkflowExecution): AdaptiveDecision[] | undefined {
  if (workflow.spec.adaptiveOrchestration?.learningFromHistory !== true) return [];
  return workflow.status?.statechart ? decisionsOf(workflow.status.adaptiveAdjustments) : undefined;
}

/** How a workflow is compiled with decisions: directly, or through a cache (src/shell/compiled-workflows.ts). */
export type CompileWith = (workflow: WorkflowExecution, learned: readonly AdaptiveDecision[]) => Compilation;

export interface LoadOptions {
  compile?: CompileWith;
  /**
   * The decisions history led to, for a workflow not planned yet (the operator's first reconcile of
   * it); ignored once its status records its own. A reader passes none: before the first planning
   * nothing was decided, and there is no statechart to read.
   */
  firstPlanning?: readonly AdaptiveDecision[];
}

/** The load of a WorkflowExecution, the same for the operator and every reader. */
export function loadExecution(workflow: WorkflowExecution, now: number, options: LoadOptions = {}): Loaded {
  const learned = plannedDecisions(workflow) ?? options.firstPlanning ?? [];
  const compiled = options.compile
    ? options.compile(workflow, learned)
    : compileWorkflow(workflow.spec, learned);
  return loadWorkflow(compiled, workflow.status?.statechart, now);
}
