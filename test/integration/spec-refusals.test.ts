// Every spec the CRD refused before its rules moved off the status-write path (DESIGN 11; its CEL rules and its list-map key) is
// still refused, as clearly: by the apiserver at admission (schema or the spec policy in
// manifests/admission/) with the JSON path and what is wrong, or by the operator, which ends the
// workflow `failed` with reason InvalidSpec and the path. A spec change is still refused; status and
// metadata writes are not.
import { beforeAll, describe, expect, it, jest } from '@jest/globals';

import type { WorkflowExecution, WorkflowExecutionSpec } from '../../src/api/generated/types.ts';
import { ApiError } from '../../src/shell/kube/client.ts';
import { WORKFLOW_EXECUTIONS, resourcePath } from '../../src/shell/kube/resources.ts';
import { customRollback, customStep, specWith, step } from '../fixtures/specs.ts';
import { untilSpecPolicyEnforced } from './support/admission.ts';
import { conditionOf, inPhase } from './support/harness.ts';
import { harnessForSuite } from './support/suite.ts';

jest.setTimeout(60_000);

const STEPS = 'spec.workflowDefinition.steps';

type Refusal =
  { by: 'apiserver'; says: string[] } | { by: 'operator'; reason: string; path: string; says: string };

/** Each rule the CRD stated in CEL, broken once, and who refuses it now. */
const cases: [string, () => WorkflowExecutionSpec, Refusal][] = [
  [
    'parameters with two members',
    () =>
      specWith([
        step(1, {
          parameters: {
            scaleDeployment: { namespace: 'shop', deployment: 'web', replicas: 1 },
            cordonNode: { nodeName: 'n1' },
          },
        }),
      ]),
    { by: 'apiserver', says: [`${STEPS}[0].parameters`, 'Too many: 2: must have at most 1 item'] },
  ],
  [
    'parameters with no member',
    () => specWith([customStep(1), step(2, { parameters: {} })]),
    { by: 'apiserver', says: [`${STEPS}[1].parameters`, 'should have at least 1 properties'] },
  ],
  [
    'parameters that do not match the action',
    () => specWith([step(1, { parameters: { cordonNode: { nodeName: 'n1' } } })]),
    {
      by: 'apiserver',
      says: [
        `${STEPS}[0].parameters: parameters of action scale-deployment must be set in the member named after its action`,
      ],
    },
  ],
  [
    'rollback parameters that do not match the rollback action',
    () =>
      specWith([
        customStep(1),
        customStep(2, { rollbackSpec: { ...customRollback(2), action: 'uncordon-node' } }),
      ]),
    {
      by: 'apiserver',
      says: [
        `${STEPS}[1].rollbackSpec.parameters: parameters of rollback action uncordon-node must be set in the member named after its action`,
      ],
    },
  ],
  [
    'a restartPod with neither pod name nor selector',
    () => specWith([step(1, { action: 'restart-pod', parameters: { restartPod: { namespace: 'shop' } } })]),
    {
      by: 'apiserver',
      says: [`${STEPS}[0].parameters.restartPod: restartPod needs a podName or a selector`],
    },
  ],
  [
    'a step that depends on itself',
    () => specWith([customStep(1), customStep(2, { dependsOn: [1, 2] })]),
    { by: 'apiserver', says: [`${STEPS}[1].dependsOn: a step cannot depend on itself`] },
  ],
  [
    'a dependsOn naming a step that does not exist',
    () => specWith([customStep(1), customStep(2, { dependsOn: [1] }), customStep(3, { dependsOn: [2, 9] })]),
    { by: 'apiserver', says: [`${STEPS}[2].dependsOn[1]: step 9 does not exist in this workflow`] },
  ],
  [
    'two steps with the same name',
    () => specWith([customStep(1), customStep(2, { name: 'step-1' })]),
    {
      by: 'operator',
      reason: 'DuplicateStepName',
      path: `${STEPS}[1].name`,
      says: 'step name "step-1" is already used by steps[0]',
    },
  ],
  [
    // Refused by the schema before (steps was a list-map keyed by stepNumber), the planner's now.
    'two steps with the same number',
    () => specWith([customStep(1), customStep(2, { stepNumber: 1 })]),
    {
      by: 'operator',
      reason: 'DuplicateStepNumber',
      path: `${STEPS}[1].stepNumber`,
      says: 'step number 1 is already used by steps[0]',
    },
  ],
];

const h = harnessForSuite();
beforeAll(async () => {
  await untilSpecPolicyEnforced(h.client, h.namespace);
});

async function refusal(promise: Promise<unknown>): Promise<ApiError | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
}

describe('a spec the CRD refused before', () => {
  it.each(cases)('with %s is still refused, with its path', async (what, specOf, expected) => {
    const name = `refused-${cases.findIndex(([w]) => w === what)}`;
    const refused = await refusal(h.workflows.apply(name, specOf()));
    if (expected.by === 'apiserver') {
      expect(refused?.status).toBe(422);
      for (const text of expected.says) expect(refused?.message).toContain(text);
      return;
    }
    expect(refused).toBeUndefined();
    const wf = await h.workflows.waitFor(name, inPhase('failed'), 'failed');
    expect(conditionOf(wf, 'Ready')).toMatchObject({ status: 'False', reason: 'InvalidSpec' });
    expect(conditionOf(wf, 'Ready')?.message).toContain(
      `${expected.path}: ${expected.says} (${expected.reason})`,
    );
    expect(wf.status?.stepStatuses ?? []).toEqual([]);
  });
});

describe('a spec change', () => {
  const path = () => resourcePath(WORKFLOW_EXECUTIONS, h.namespace, 'immutable');

  beforeAll(async () => {
    await h.workflows.apply('immutable', specWith([customStep(1)]));
    await h.workflows.waitFor('immutable', inPhase('completed'), 'completed');
  });

  it('is refused by a merge patch and by a PUT, naming the spec', async () => {
    const patched = await refusal(
      h.client.request(path(), {
        method: 'PATCH',
        patchType: 'merge',
        body: { spec: { workflowDefinition: { version: '2' } } },
      }),
    );
    expect(patched?.status).toBe(422);
    expect(patched?.message).toContain('spec: spec is immutable after creation');

    const wf = await h.workflows.get('immutable');
    const replaced = await refusal(
      h.client.request(path(), {
        method: 'PUT',
        body: { ...wf, spec: { ...wf.spec, executionStrategy: { rollbackStrategy: 'none' } } },
      }),
    );
    expect(replaced?.status).toBe(422);
    expect(replaced?.message).toContain('spec: spec is immutable after creation');
    expect((await h.workflows.get('immutable')).spec).toEqual(wf.spec);
  });

  it('leaves metadata and status writes alone', async () => {
    const labelled = await h.client.request<WorkflowExecution>(path(), {
      method: 'PATCH',
      patchType: 'merge',
      body: { metadata: { labels: { team: 'sre' } } },
    });
    expect(labelled.metadata.labels).toMatchObject({ team: 'sre' });
    const status = await h.client.request<WorkflowExecution>(`${path()}/status`, {
      method: 'PATCH',
      patchType: 'merge',
      body: { status: { failureReason: 'noted by a person' } },
    });
    expect(status.status?.failureReason).toBe('noted by a person');
  });
});
