// What a faulty executor can write into KubernetesExecution children, and what then happens, each
// outcome stated in the test's name: an unknown phase is refused by the apiserver; a result for an
// attempt that does not exist is ignored; a child flipping from completed to failed changes nothing
// already decided; a child deleted by someone else is created again under the same name; a child
// whose owner reference is removed no longer counts for the workflow, whose step then times out.
import { describe, expect, it, jest } from '@jest/globals';
import type { KubernetesExecution } from '../../src/api/generated/types.ts';
import { ApiError } from '../../src/shell/kube/client.ts';
import { KUBERNETES_EXECUTIONS, resourcePath } from '../../src/shell/kube/resources.ts';
import { customStep, specWith } from '../fixtures/specs.ts';
import type { Verdict } from '../support/executor.ts';
import { inPhase } from './support/harness.ts';
import { harnessForSuite } from './support/suite.ts';

jest.setTimeout(90_000);

/** Children the executor leaves alone (the test writes their status itself); the rest succeed. */
const untouched = new Set<string>();
const h = harnessForSuite((child): Verdict =>
  untouched.has(child.metadata.name ?? '') ? { phase: 'hang' } : { phase: 'completed', wouldSucceed: true },
);

const childPath = (name: string, sub?: string) => resourcePath(KUBERNETES_EXECUTIONS, h.namespace, name, sub);
const writeChildStatus = (name: string, status: Record<string, unknown>) =>
  h.client.request(childPath(name, 'status'), { method: 'PATCH', patchType: 'merge', body: { status } });
const stepStatus = async (name: string, step: number) =>
  (await h.workflows.get(name)).status?.stepStatuses?.find((s) => s.stepNumber === step)?.status;
const waitForChild = async (name: string) =>
  h.workflows
    .waitFor(name.replace(/-step-\d+-a\d+$/, ''), () => true)
    .then(async () => {
      for (let i = 0; i < 300; i++) {
        const found = (await h.workflows.childrenOf(name.replace(/-step-\d+-a\d+$/, ''))).find(
          (c) => c.metadata.name === name,
        );
        if (found) return found;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      throw new Error(`child ${name} never appeared`);
    });

describe('a faulty executor', () => {
  it('cannot write an unknown phase: the apiserver refuses it naming status.phase, and the step still runs', async () => {
    untouched.add('unknown-phase-step-1-a1');
    await h.workflows.apply('unknown-phase', specWith([customStep(1)]));
    await waitForChild('unknown-phase-step-1-a1');
    const refusal = await writeChildStatus('unknown-phase-step-1-a1', { phase: 'exploded' }).catch(
      (error: unknown) => error,
    );
    expect(refusal).toBeInstanceOf(ApiError);
    expect((refusal as ApiError).status).toBe(422);
    expect((refusal as ApiError).message).toContain('status.phase');
    expect(await stepStatus('unknown-phase', 1)).toBe('executing');
    await writeChildStatus('unknown-phase-step-1-a1', { phase: 'completed' });
    await h.workflows.waitFor('unknown-phase', inPhase('completed'));
  });

  it('reporting a result for an attempt that does not exist is ignored: the workflow waits for the real one', async () => {
    untouched.add('phantom-step-1-a1').add('phantom-step-1-a7');
    await h.workflows.apply('phantom', specWith([customStep(1, { maxRetries: 2 })]));
    const real = await waitForChild('phantom-step-1-a1');
    // A child for attempt 7, owned by the workflow like a real one, that claims to have failed.
    const phantom: KubernetesExecution = {
      apiVersion: real.apiVersion,
      kind: real.kind,
      metadata: {
        name: 'phantom-step-1-a7',
        namespace: h.namespace,
        labels: real.metadata.labels ?? {},
        ownerReferences: real.metadata.ownerReferences ?? [],
      },
      spec: { ...real.spec, attempt: 7 },
    };
    await h.client.request(resourcePath(KUBERNETES_EXECUTIONS, h.namespace), { body: phantom });
    await writeChildStatus('phantom-step-1-a7', { phase: 'failed', message: 'a result for attempt 7' });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const waiting = await h.workflows.get('phantom');
    expect(waiting.status?.phase).toBe('executing');
    // No retry was spent on the phantom result (retriesAttempted is left out while it is 0).
    expect(waiting.status?.stepStatuses?.[0]).toMatchObject({ status: 'executing' });
    expect(waiting.status?.stepStatuses?.[0]?.retriesAttempted ?? 0).toBe(0);
    await writeChildStatus('phantom-step-1-a1', { phase: 'completed' });
    const done = await h.workflows.waitFor('phantom', inPhase('completed'));
    expect(done.status?.workflowResult?.outcome).toBe('unknown'); // custom steps: nothing verifiable
    expect(done.status?.stepStatuses?.[0]).toMatchObject({ status: 'completed' });
    expect(done.status?.stepStatuses?.[0]?.retriesAttempted ?? 0).toBe(0);
  });

  it('flipping a child from completed to failed changes nothing already decided', async () => {
    untouched.add('flip-step-1-a1').add('flip-step-2-a1');
    await h.workflows.apply('flip', specWith([customStep(1), customStep(2, { dependsOn: [1] })]));
    await waitForChild('flip-step-1-a1');
    await writeChildStatus('flip-step-1-a1', { phase: 'completed' });
    await waitForChild('flip-step-2-a1');
    // Mid-run: step 1 "fails" after having completed, while step 2 runs.
    await writeChildStatus('flip-step-1-a1', { phase: 'failed', message: 'changed my mind' });
    await writeChildStatus('flip-step-2-a1', { phase: 'completed' });
    const done = await h.workflows.waitFor('flip', inPhase('completed'));
    // And again after the end.
    await writeChildStatus('flip-step-2-a1', { phase: 'failed', message: 'changed my mind too' });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const after = await h.workflows.get('flip');
    expect(after.status?.phase).toBe('completed');
    expect(after.status?.workflowResult?.outcome).toBe('unknown'); // custom steps: nothing verifiable
    expect(after.status?.stepStatuses?.map((s) => s.status)).toEqual(['completed', 'completed']);
    expect(after.status?.stepStatuses).toEqual(done.status?.stepStatuses);
  });

  it('deleted by someone else while running: the child is created again under the same name and the run completes', async () => {
    untouched.add('deleted-step-1-a1');
    await h.workflows.apply('deleted', specWith([customStep(1)]));
    const first = await waitForChild('deleted-step-1-a1');
    await h.client.request(childPath('deleted-step-1-a1'), { method: 'DELETE' });
    let again: KubernetesExecution | undefined;
    for (let i = 0; i < 100 && !again; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      again = (await h.workflows.childrenOf('deleted')).find((c) => c.metadata.uid !== first.metadata.uid);
    }
    expect(again?.metadata.name).toBe('deleted-step-1-a1');
    expect(again?.spec.attempt).toBe(1);
    await writeChildStatus('deleted-step-1-a1', { phase: 'completed' });
    await h.workflows.waitFor('deleted', inPhase('completed'));
    expect((await h.workflows.childrenOf('deleted')).map((c) => c.metadata.name)).toEqual([
      'deleted-step-1-a1',
    ]);
  });

  it('with its owner reference removed, the child no longer counts: its result is not taken and the step times out', async () => {
    untouched.add('orphaned-step-1-a1');
    await h.workflows.apply(
      'orphaned',
      specWith([customStep(1, { timeout: '30s', criticalStep: true })], { rollbackStrategy: 'none' }),
    );
    await waitForChild('orphaned-step-1-a1');
    await h.client.request(childPath('orphaned-step-1-a1'), {
      method: 'PATCH',
      patchType: 'merge',
      body: { metadata: { ownerReferences: null } },
    });
    await writeChildStatus('orphaned-step-1-a1', { phase: 'completed' });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await stepStatus('orphaned', 1)).toBe('executing');
    h.travel(31_000, 'orphaned');
    // The timed-out attempt is asked to stop; its child is no longer the workflow's, so nothing
    // answers, and the run goes on once the grace period (30 s) has passed.
    await h.workflows.waitFor('orphaned', (w) => w.status?.stepStatuses?.[0]?.stopRequest !== undefined);
    h.travel(30_000, 'orphaned');
    const wf = await h.workflows.waitFor('orphaned', inPhase('failed'));
    expect(wf.status?.stepStatuses?.[0]?.stopRequest).toMatchObject({ answer: 'gracePassed' });
    expect(wf.status?.stepStatuses?.[0]?.status).toBe('failed');
    expect(wf.status?.stepStatuses?.[0]?.errorMessage).toMatch(/tim(ed|e) ?out/i);
  });
});
