/**
 * The apiserver enforces a ValidatingAdmissionPolicy a moment after it is created; tests that rely on
 * the spec policy (manifests/admission/) wait until a spec only it refuses is refused.
 */
import { setTimeout as sleep } from 'node:timers/promises';

import { ApiError, type KubeClient } from '../../../src/shell/kube/client.ts';
import { WORKFLOW_EXECUTIONS, resourcePath } from '../../../src/shell/kube/resources.ts';
import { customStep, specWith } from '../../fixtures/specs.ts';

export async function untilSpecPolicyEnforced(
  client: KubeClient,
  namespace: string,
  timeoutMs = 30_000,
): Promise<void> {
  const selfDependent = specWith([customStep(1, { dependsOn: [1] })]);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await client.request(resourcePath(WORKFLOW_EXECUTIONS, namespace), {
        query: { dryRun: 'All' },
        body: {
          apiVersion: 'workflowexecution.kubernaut.io/v1',
          kind: 'WorkflowExecution',
          metadata: { name: 'policy-probe' },
          spec: selfDependent,
        },
      });
    } catch (error) {
      if (error instanceof ApiError && error.status === 422) return;
      throw error;
    }
    if (Date.now() > deadline)
      throw new Error(`the spec admission policy is not enforced after ${timeoutMs} ms`);
    await sleep(100);
  }
}
