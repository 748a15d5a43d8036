/** Reads a workflow's statechart back from its status, as the operator does, for the inspector and the CLI. */
import type { WorkflowExecution } from '../api/generated/types.ts';
import { describeIssues } from '../api/issues.ts';
import type { ExecutionPlan } from '../../machines/plan.ts';
import type { WorkflowMachine, WorkflowSnapshot } from '../../machines/workflow.ts';
import { CompiledWorkflows } from '../shell/compiled-workflows.ts';

export type Inspected =
  | { ok: true; plan: ExecutionPlan; machine: WorkflowMachine; snapshot: WorkflowSnapshot | undefined }
  | { ok: false; problem: string };

const compiled = new CompiledWorkflows();

export function inspectWorkflow(workflow: WorkflowExecution): Inspected {
  const loaded = compiled.load(workflow, 0);
  switch (loaded.kind) {
    case 'invalid':
      return { ok: false, problem: `invalid spec: ${describeIssues(loaded.issues)}` };
    case 'stalled':
      return { ok: false, problem: `statechart cannot be read: ${loaded.reason}: ${loaded.message}` };
    case 'running': {
      const { plan, machine } = loaded.compiled;
      return { ok: true, plan, machine, snapshot: loaded.persisted ? loaded.snapshot : undefined };
    }
  }
}
