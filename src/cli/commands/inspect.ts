/** Reads a workflow's statechart back from its status, as the operator would, for the CLI. */
import type { WorkflowExecution } from '../../api/generated/types.ts';
import { validateSpec } from '../../api/validation.ts';
import { describeIssues } from '../../api/issues.ts';
import { machineFor } from '../../core/machine-cache.ts';
import { planWorkflow, type ExecutionPlan } from '../../core/plan.ts';
import { specHash } from '../../core/spec-hash.ts';
import { rehydrate } from '../../core/statechart.ts';
import type { WorkflowMachine, WorkflowSnapshot } from '../../../machines/workflow.ts';

export type Inspected =
  | { ok: true; plan: ExecutionPlan; machine: WorkflowMachine; snapshot: WorkflowSnapshot | undefined }
  | { ok: false; problem: string };

export function inspectWorkflow(workflow: WorkflowExecution): Inspected {
  const validated = validateSpec(workflow.spec);
  if (!validated.ok) return { ok: false, problem: `invalid spec: ${describeIssues(validated.issues)}` };
  const planned = planWorkflow(validated.value);
  if (!planned.ok) return { ok: false, problem: `invalid spec: ${describeIssues(planned.issues)}` };
  const hash = specHash(validated.value);
  const machine = machineFor(planned.plan, hash);
  const envelope = workflow.status?.statechart;
  if (!envelope) return { ok: true, plan: planned.plan, machine, snapshot: undefined };
  const restored = rehydrate(envelope, machine, hash);
  if (!restored.ok)
    return { ok: false, problem: `statechart cannot be read: ${restored.reason}: ${restored.message}` };
  return { ok: true, plan: planned.plan, machine, snapshot: restored.snapshot };
}
