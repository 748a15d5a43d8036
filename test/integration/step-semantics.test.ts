// The specification's step semantics on the real control plane (issue 19, DESIGN 12): steps without
// declared dependencies form a sequence that a non-critical failure does not break. The executor is
// scripted per workflow; deadlines are reached by moving the operator's clock, never by waiting.
import { describe, expect, it, jest } from '@jest/globals';
import type { KubernetesExecution } from '../../src/api/generated/types.ts';
import { customStep, specWith } from '../fixtures/specs.ts';
import type { Script, Verdict } from '../support/executor.ts';
import { inPhase } from './support/harness.ts';
import { harnessForSuite } from './support/suite.ts';

jest.setTimeout(90_000);

/** Per-workflow scripts; a workflow without one has every child succeed. */
const scripts = new Map<string, (child: KubernetesExecution) => Verdict>();
const script: Script = (child) =>
  scripts.get(child.spec.workflowExecutionRef.name)?.(child) ?? { phase: 'completed', wouldSucceed: true };
const ok: Verdict = { phase: 'completed', wouldSucceed: true };

const h = harnessForSuite(script);

const statusOfStep = async (name: string) =>
  new Map((await h.workflows.get(name)).status?.stepStatuses?.map((s) => [s.stepNumber, s.status]));
const childNames = async (name: string) =>
  (await h.workflows.childrenOf(name)).map((c) => c.metadata.name).sort();

describe('steps without declared dependencies', () => {
  it('run in step order, and a non-critical failure does not skip the next step: partial_success', async () => {
    scripts.set('sequence', (c) =>
      c.spec.stepNumber === 2 ? { phase: 'failed', message: 'pod stuck terminating' } : ok,
    );
    await h.workflows.apply('sequence', specWith([customStep(1), customStep(2), customStep(3)]));
    const wf = await h.workflows.waitFor('sequence', inPhase('completed'));
    expect(wf.status?.workflowResult?.outcome).toBe('partial_success');
    expect(await statusOfStep('sequence')).toEqual(
      new Map([
        [1, 'completed'],
        [2, 'failed'],
        [3, 'completed'],
      ]),
    );
    expect(await childNames('sequence')).toEqual([
      'sequence-step-1-a1',
      'sequence-step-2-a1',
      'sequence-step-3-a1',
    ]);
    // The plan in status says what ran: one step after another.
    expect(wf.status?.executionPlan).toMatchObject({
      strategy: 'sequential',
      parallelGroups: [[1], [2], [3]],
    });
    // Step 3 started only once step 2 had failed.
    const children = await h.workflows.childrenOf('sequence');
    const created = (n: number) =>
      Date.parse(children.find((c) => c.spec.stepNumber === n)?.metadata.creationTimestamp ?? '');
    const step2 = wf.status?.stepStatuses?.find((s) => s.stepNumber === 2);
    expect(created(3)).toBeGreaterThanOrEqual(created(2));
    expect(step2?.errorMessage).toContain('pod stuck terminating');
  });
});
