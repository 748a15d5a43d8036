// Rollback without writing one: the operator plans the inverse of a reversible step that has no
// rollbackSpec, creates its rollback child in the machine's reverse order, and the plan in status
// says which steps are reversible and why not.
import { describe, expect, it, jest } from '@jest/globals';
import type { KubernetesExecution } from '../../src/api/generated/types.ts';
import { customStep, specWith } from '../fixtures/specs.ts';
import type { Script } from '../support/executor.ts';
import { createDeployment, waitAvailable } from './support/actions.ts';
import { inPhase } from './support/harness.ts';
import { harnessForSuite } from './support/suite.ts';

jest.setTimeout(90_000);

/** Step 3 fails; every other child succeeds. */
const script: Script = (child: KubernetesExecution) =>
  child.spec.kind === 'step' && child.spec.stepNumber === 3
    ? { phase: 'failed', message: 'the cache would not flush' }
    : { phase: 'completed', wouldSucceed: true };
const h = harnessForSuite(script);

describe('a failed workflow with steps nobody wrote a rollback for', () => {
  it('rolls back the reversible ones with their inverse and leaves the irreversible', async () => {
    const ns = h.namespace;
    // The targets exist and are healthy, as the mandatory safety checks require before any step.
    await createDeployment(h.client, ns, 'web', 1);
    await h.client.request(`/api/v1/namespaces/${ns}/configmaps`, {
      body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings' }, data: { mode: 'safe' } },
    });
    await waitAvailable(h.client, ns, 'web', 1);
    await h.workflows.apply(
      'inferred',
      specWith([
        {
          stepNumber: 1,
          name: 'scale-web',
          action: 'scale-deployment',
          parameters: { scaleDeployment: { namespace: ns, deployment: 'web', replicas: 5 } },
        },
        {
          stepNumber: 2,
          name: 'tune',
          action: 'update-configmap',
          parameters: { updateConfigMap: { namespace: ns, name: 'settings', dataUpdates: { mode: 'fast' } } },
        },
        customStep(3, { criticalStep: true }),
      ]),
    );
    const wf = await h.workflows.waitFor('inferred', inPhase('failed'));
    expect(wf.status?.executionPlan?.reversibility).toEqual([
      { steps: [1], reversible: true, rollbackAction: 'scale-to-previous', source: 'inverse' },
      { steps: [2], reversible: true, rollbackAction: 'restore-previous-config', source: 'inverse' },
      {
        steps: [3],
        reversible: false,
        source: 'none',
        reason: 'a custom action is undone only by a rollbackSpec',
      },
    ]);
    expect(wf.status?.stepStatuses?.map((s) => [s.stepNumber, s.status])).toEqual([
      [1, 'rolled_back'],
      [2, 'rolled_back'],
      [3, 'failed'],
    ]);
    // One rollback child per reversible step (their order is the machine's rollbackOrder, unchanged).
    const rollbacks = (await h.workflows.childrenOf('inferred'))
      .filter((c) => c.spec.kind === 'rollback')
      .sort((a, b) => b.spec.stepNumber - a.spec.stepNumber);
    expect(rollbacks.map((c) => [c.spec.stepNumber, c.spec.action, c.spec.rollbackParameters])).toEqual([
      [
        2,
        'restore-previous-config',
        { restorePreviousConfig: { namespace: ns, name: 'settings', type: 'ConfigMap' } },
      ],
      [1, 'scale-to-previous', { scaleToPrevious: { namespace: ns, deployment: 'web' } }],
    ]);
  });
});
