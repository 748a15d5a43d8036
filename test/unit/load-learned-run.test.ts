/**
 * One load for every reader: a run whose step 1 had its retries raised from 0 by history, failed
 * once and now backs off, is read by `wfx describe`, `wfx diagram`, `wfx retry` and the inspector
 * from the machine the operator runs, the one compiled with the decisions its status records.
 */
import { describe, expect, it } from '@jest/globals';
import type { WorkflowExecution } from '../../src/api/generated/types.ts';
import { describeWorkflow } from '../../src/cli/commands/describe.ts';
import { diagram } from '../../src/cli/commands/diagram.ts';
import type { AdaptiveDecision } from '../../src/core/adaptive.ts';
import { compileWorkflow, loadExecution, plannedDecisions } from '../../src/core/load.ts';
import { advance } from '../../src/core/statechart.ts';
import { projectWorkflow } from '../../src/core/project.ts';
import { inspectWorkflow } from '../../src/inspect/read-statechart.ts';
import { summarize } from '../../src/inspect/summary.ts';
import { CompiledWorkflows } from '../../src/shell/compiled-workflows.ts';
import { customStep, specWith } from '../fixtures/specs.ts';
import { T0, admitted, checksPassed } from '../model/workflow-world.ts';

const RAISED_RETRIES: AdaptiveDecision = {
  kind: 'retries',
  step: 1,
  from: 0,
  to: 2,
  runs: 6,
  source: 'workflow',
  reason: 'transient failures in 6 runs',
};

const learning: WorkflowExecution = {
  apiVersion: 'workflowexecution.kubernaut.io/v1',
  kind: 'WorkflowExecution',
  metadata: { name: 'learns', namespace: 'shop', uid: 'uid-learns', generation: 1 },
  spec: {
    ...specWith([customStep(1), customStep(2)]),
    adaptiveOrchestration: { learningFromHistory: true },
  },
};

/** The resource as the operator leaves it: planned with the raised retries, step 1 failed once. */
function backingOff(): WorkflowExecution {
  const operator = new CompiledWorkflows();
  const first = operator.load(learning, T0, [RAISED_RETRIES]);
  if (first.kind !== 'running') throw new Error(`the fixture does not load: ${first.kind}`);
  let snapshot = advance(first.compiled.machine, first.snapshot, [
    { type: 'TICK', now: T0 },
    checksPassed(first.compiled.plan, T0),
    admitted(T0),
  ]);
  const attempt = snapshot.context.steps['1']?.attempt ?? 0;
  snapshot = advance(first.compiled.machine, snapshot, [
    { type: 'STEP_RESULT', now: T0 + 1000, step: 1, attempt, outcome: 'failed', message: 'reset' },
  ]);
  const view = { name: 'learns', generation: 1, status: undefined };
  const status = projectWorkflow({ ...first, snapshot }, view, T0 + 1000);
  return { ...learning, status };
}

describe('loading a run whose retries history raised, while its step backs off', () => {
  const workflow = backingOff();

  it('is what the operator runs: the status records the decision, and the step backs off', () => {
    expect(plannedDecisions(workflow)).toEqual([RAISED_RETRIES]);
    const loaded = new CompiledWorkflows().load(workflow, T0 + 2000);
    expect(loaded.kind).toBe('running');
    if (loaded.kind !== 'running') throw new Error(loaded.kind);
    expect(loaded.snapshot.value).toEqual({ executing: { step1: 'backoff', step2: 'pending' } });
    expect(loaded.compiled.plan.steps[0]?.maxRetries).toBe(2);
  });

  it('cannot be read by a machine compiled as declared, which is why readers load as the operator does', () => {
    const declared = loadExecution(workflow, T0, { compile: (w) => compileWorkflow(w.spec) });
    expect(declared.kind === 'stalled' && declared.reason).toBe('StateMismatch');
  });

  it('is read by wfx describe, which says when step 1 is retried', () => {
    const described = describeWorkflow(workflow);
    expect(described).not.toContain('cannot be read');
    expect(described).toMatch(/^Now: +waiting for the retry of step 1 at /m);
  });

  it('is drawn by wfx diagram with the backoff state active', async () => {
    const mermaid = await diagram(workflow, 'mermaid', undefined);
    expect(mermaid).toContain('class workflow_executing_step1_backoff active');
  });

  it('is summarized by the inspector with its active states', () => {
    const inspected = inspectWorkflow(workflow);
    expect(inspected.ok && inspected.snapshot?.context.steps['1']?.status).toBe('backoff');
    const summary = summarize(workflow, inspected);
    expect(summary.problem).toBeNull();
    expect(summary.activeStates).toContain('workflow.executing.step1.backoff');
  });
});
