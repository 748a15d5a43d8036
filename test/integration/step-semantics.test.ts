// The specification's step semantics on the real control plane (issue 19, DESIGN 12): steps without
// declared dependencies form a sequence that a non-critical failure does not break, and an attempt
// that timed out or whose workflow was cancelled is asked to stop (src/api/stop-request.ts) before its
// step is attempted again or a rollback starts. The executor is scripted per workflow (it answers a
// stop request, or never does); deadlines are reached by moving the operator's clock, never by waiting.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { KubernetesExecution, WorkflowExecution } from '../../src/api/generated/types.ts';
import { STOP_REQUESTED_ANNOTATION, STOP_REQUESTED_AT_ANNOTATION } from '../../src/api/stop-request.ts';
import { STARTED_AT_ANNOTATION } from '../../src/core/timeline.ts';
import { CANCEL_REQUESTED_BY } from '../../src/core/observe.ts';
import { customRollback, customStep, specWith } from '../fixtures/specs.ts';
import type { Verdict } from '../support/executor.ts';
import { startExecutor } from '../../src/executor/executor.ts';
import { Cleanup } from '../../src/shell/cleanup.ts';
import { createLogger } from '../../src/shell/logger.ts';
import { sharedControlPlane } from '../support/shared-control-plane.ts';
import {
  SkewClock,
  Workflows,
  adminInNamespace,
  conditionOf,
  inPhase,
  startOperatorFor,
  whoAmI,
} from './support/harness.ts';
import { SUCCEEDS, scriptedSuite } from './support/suite.ts';

jest.setTimeout(90_000);

const { h, scripts, statusOfStep } = scriptedSuite();
const ok = SUCCEEDS;
const childNames = async (name: string) =>
  (await h.workflows.childrenOf(name)).map((c) => c.metadata.name).sort();

describe('steps without declared dependencies', () => {
  it('run in step order, and a non-critical failure does not skip the next step', async () => {
    scripts.set('sequence', (c) =>
      c.spec.stepNumber === 2 ? { phase: 'failed', message: 'pod stuck terminating' } : ok,
    );
    await h.workflows.apply('sequence', specWith([customStep(1), customStep(2), customStep(3)]));
    const wf = await h.workflows.waitFor('sequence', inPhase('completed'));
    // Custom steps name nothing to verify: unknown (issue 19); the step statuses say step 2 failed.
    expect(wf.status?.workflowResult?.outcome).toBe('unknown');
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

const MINUTE = 60_000;
/** Asked to stop: acknowledge, as the executor does (src/executor/carry-out.ts). */
const stopIfAsked = (c: KubernetesExecution): Verdict => {
  const reason = c.metadata.annotations?.[STOP_REQUESTED_ANNOTATION];
  return reason === undefined
    ? { phase: 'hang' }
    : { phase: 'stopped', message: `stopped (${reason}) before acting` };
};
const childOf = async (workflow: string, name: string): Promise<KubernetesExecution | undefined> =>
  (await h.workflows.childrenOf(workflow)).find((c) => c.metadata.name === name);
const waitForChild = async (
  workflow: string,
  name: string,
  done: (c: KubernetesExecution) => boolean,
): Promise<KubernetesExecution> => {
  let found: KubernetesExecution | undefined;
  for (let i = 0; i < 600; i++) {
    found = await childOf(workflow, name);
    if (found && done(found)) return found;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`child ${name} never reached the expected state: ${JSON.stringify(found?.status)}`);
};
const ms = (iso: string | undefined): number => Date.parse(iso ?? '');
const stepStatus = (wf: WorkflowExecution, n: number) =>
  wf.status?.stepStatuses?.find((s) => s.stepNumber === n);

interface EventObject {
  reason: string;
  note: string;
  regarding: { name: string };
}
async function eventReasons(name: string, prefix: string): Promise<string[]> {
  for (let i = 0; ; i++) {
    const list = await h.client.request<{ items: EventObject[] }>(
      `/apis/events.k8s.io/v1/namespaces/${h.namespace}/events`,
    );
    const reasons = list.items.filter((e) => e.regarding.name === name && e.reason.startsWith(prefix));
    // Events are written after the status: give the last one a moment.
    if (reasons.length >= 2 || i >= 50) return reasons.map((e) => e.reason).sort();
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('an attempt that timed out', () => {
  it('is asked to stop, and its retry is created only once it stopped', async () => {
    scripts.set('retry-stop', (c) => (c.spec.attempt === 1 ? stopIfAsked(c) : ok));
    await h.workflows.apply('retry-stop', specWith([customStep(1, { timeout: '1m', maxRetries: 1 })]));
    await waitForChild('retry-stop', 'retry-stop-step-1-a1', () => true);
    h.travel(MINUTE + 1000, 'retry-stop');
    // Asked, with the reason and when; it acknowledges by ending `stopped`.
    const first = await waitForChild(
      'retry-stop',
      'retry-stop-step-1-a1',
      (c) => c.status?.phase === 'stopped',
    );
    expect(first.metadata.annotations?.[STOP_REQUESTED_ANNOTATION]).toBe('AttemptTimedOut');
    const askedAt = ms(first.metadata.annotations?.[STOP_REQUESTED_AT_ANNOTATION]);
    const answered = await h.workflows.waitFor(
      'retry-stop',
      (wf) => stepStatus(wf, 1)?.stopRequest?.answer === 'stopped',
    );
    expect(stepStatus(answered, 1)?.stopRequest).toMatchObject({
      attempt: 1,
      reason: 'AttemptTimedOut',
      requestTime: new Date(askedAt).toISOString(),
    });
    // The backoff (10 s) is over: the retry runs and completes.
    h.travel(10_000, 'retry-stop');
    const wf = await h.workflows.waitFor('retry-stop', inPhase('completed'));
    const second = await childOf('retry-stop', 'retry-stop-step-1-a2');
    // The second attempt started (the operator's clock) after the answer was seen.
    const answerTime = ms(stepStatus(wf, 1)?.stopRequest?.answerTime);
    expect(ms(second?.metadata.annotations?.[STARTED_AT_ANNOTATION])).toBeGreaterThanOrEqual(answerTime);
    expect(answerTime).toBeGreaterThanOrEqual(askedAt);
    expect(stepStatus(wf, 1)).toMatchObject({ status: 'completed', retriesAttempted: 1 });
    expect(await eventReasons('retry-stop', 'Stop')).toEqual(['StopAcknowledged', 'StopRequested']);
  });

  it('that never answers is waited for until the grace period (30 s) passed, not longer', async () => {
    scripts.set('unanswered', (c) => (c.spec.attempt === 1 ? { phase: 'hang' } : ok));
    await h.workflows.apply('unanswered', specWith([customStep(1, { timeout: '1m', maxRetries: 1 })]));
    await waitForChild('unanswered', 'unanswered-step-1-a1', () => true);
    h.travel(MINUTE + 1000, 'unanswered');
    await waitForChild(
      'unanswered',
      'unanswered-step-1-a1',
      (c) => c.metadata.annotations?.[STOP_REQUESTED_ANNOTATION] === 'AttemptTimedOut',
    );
    // The backoff is over, but the stop is not answered: no second attempt, whatever reconciles.
    h.travel(10_000, 'unanswered');
    const waiting = await h.reconcileNow(await h.workflows.get('unanswered'));
    expect(stepStatus(waiting, 1)).toMatchObject({ status: 'retrying', stopRequest: { attempt: 1 } });
    expect(stepStatus(waiting, 1)?.stopRequest?.answer).toBeUndefined();
    expect(conditionOf(waiting, 'Ready')?.message).toContain('step 1 attempt 1 to stop (AttemptTimedOut)');
    expect(await childOf('unanswered', 'unanswered-step-1-a2')).toBeUndefined();
    // The grace period ends 30 s after the request.
    h.travel(20_000, 'unanswered');
    const wf = await h.workflows.waitFor('unanswered', inPhase('completed'));
    expect(stepStatus(wf, 1)?.stopRequest).toMatchObject({ answer: 'gracePassed' });
    expect(await childNames('unanswered')).toEqual(['unanswered-step-1-a1', 'unanswered-step-1-a2']);
    expect(await eventReasons('unanswered', 'Stop')).toEqual(['StopRequested', 'StopUnanswered']);
  });
});

describe('a critical step that timed out', () => {
  it('is stopped before the rollback of the step before it begins', async () => {
    scripts.set('rollback-stop', (c) =>
      c.spec.kind === 'step' && c.spec.stepNumber === 2 ? stopIfAsked(c) : ok,
    );
    await h.workflows.apply(
      'rollback-stop',
      specWith([
        customStep(1, { rollbackSpec: customRollback(1) }),
        customStep(2, { timeout: '1m', criticalStep: true }),
      ]),
    );
    await waitForChild('rollback-stop', 'rollback-stop-step-2-a1', () => true);
    h.travel(MINUTE + 1000, 'rollback-stop');
    const wf = await h.workflows.waitFor(
      'rollback-stop',
      (w) => inPhase('failed')(w) && conditionOf(w, 'Ready')?.reason === 'CriticalStepFailed',
    );
    expect(stepStatus(wf, 1)?.status).toBe('rolled_back');
    expect(stepStatus(wf, 2)).toMatchObject({
      status: 'failed',
      stopRequest: { reason: 'AttemptTimedOut', answer: 'stopped' },
    });
    const stopped = await childOf('rollback-stop', 'rollback-stop-step-2-a1');
    const rollback = await childOf('rollback-stop', 'rollback-stop-rollback-1');
    expect(stopped?.status?.phase).toBe('stopped');
    // The rollback started (the operator's clock) once the stop was answered.
    expect(ms(rollback?.metadata.annotations?.[STARTED_AT_ANNOTATION])).toBeGreaterThanOrEqual(
      ms(stepStatus(wf, 2)?.stopRequest?.answerTime),
    );
  });
});

describe('cancelling a workflow', () => {
  it('asks every running attempt to stop; the stopped ones fail and the completed steps are rolled back', async () => {
    scripts.set('cancel-stop', (c) =>
      c.spec.kind === 'step' && (c.spec.stepNumber === 2 || c.spec.stepNumber === 3) ? stopIfAsked(c) : ok,
    );
    await h.workflows.apply(
      'cancel-stop',
      specWith([
        customStep(1, { rollbackSpec: customRollback(1) }),
        customStep(2, { dependsOn: [1] }),
        customStep(3, { dependsOn: [1] }),
        customStep(4, { dependsOn: [2, 3] }),
      ]),
    );
    await waitForChild('cancel-stop', 'cancel-stop-step-3-a1', () => true);
    await waitForChild('cancel-stop', 'cancel-stop-step-2-a1', () => true);
    await h.workflows.annotate('cancel-stop', CANCEL_REQUESTED_BY, h.username);
    const wf = await h.workflows.waitFor(
      'cancel-stop',
      (w) => inPhase('failed')(w) && conditionOf(w, 'Ready')?.reason === 'Cancelled',
    );
    const children = await h.workflows.childrenOf('cancel-stop');
    const asked = children.filter((c) => c.metadata.annotations?.[STOP_REQUESTED_ANNOTATION] !== undefined);
    expect(
      asked.map((c) => [
        c.metadata.name,
        c.metadata.annotations?.[STOP_REQUESTED_ANNOTATION],
        c.status?.phase,
      ]),
    ).toEqual([
      ['cancel-stop-step-2-a1', 'WorkflowCancelled', 'stopped'],
      ['cancel-stop-step-3-a1', 'WorkflowCancelled', 'stopped'],
    ]);
    expect(await statusOfStep('cancel-stop')).toEqual(
      new Map([
        [1, 'rolled_back'],
        [2, 'failed'],
        [3, 'failed'],
        [4, 'skipped'],
      ]),
    );
    expect(stepStatus(wf, 2)?.errorMessage).toBe('stopped (WorkflowCancelled) before acting');
    expect(children.map((c) => c.metadata.name)).not.toContain('cancel-stop-step-4-a1');
  });
});

/**
 * The same contract between the operator and the real executor (src/executor/, its `hang` test hook
 * acting until stopped): the operator's request is what ends the attempt, the executor's `stopped` is
 * what the run waits for.
 */
describe('with the real executor', () => {
  const cleanup = new Cleanup();
  const clock = new SkewClock();
  let workflows: Workflows;
  let poke: (name: string) => void;
  beforeAll(async () => {
    const { client, namespace } = await adminInNamespace(cleanup, 'stops');
    const log = createLogger(process.env['WFE_TEST_LOG'] ?? 'error');
    const operator = await startOperatorFor(sharedControlPlane().kubeconfigPath, namespace, clock);
    cleanup.add('the operator', () => operator.stop());
    const executor = await startExecutor({
      client,
      log,
      namespace,
      identity: 'stops-executor',
      leaseDurationSeconds: 5,
      clusterNamespace: namespace,
      development: true,
    });
    cleanup.add('the executor', () => executor.stop());
    workflows = new Workflows({ client, namespace });
    poke = (name) => {
      operator.controller.queue.add(`${namespace}/${name}`);
    };
  });
  afterAll(() => cleanup.run());

  const hanging = (n: number, overrides: Parameters<typeof customStep>[1] = {}) =>
    customStep(n, { parameters: { custom: { actionType: 'hang' } }, ...overrides });
  const executing = (n: number) => (wf: WorkflowExecution) => stepStatus(wf, n)?.status === 'executing';

  it('stops an attempt that timed out, and the run fails only once it stopped', async () => {
    await workflows.apply(
      'real-timeout',
      specWith([hanging(1, { timeout: '1m', criticalStep: true })], { rollbackStrategy: 'none' }),
    );
    await workflows.waitFor('real-timeout', executing(1));
    // The executor has claimed it (its own deadline, a real minute away, is far off).
    for (let i = 0; i < 100; i++) {
      const [child] = await workflows.childrenOf('real-timeout');
      if (child?.status?.phase === 'executing') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    clock.advance(MINUTE + 1000);
    poke('real-timeout');
    const wf = await workflows.waitFor('real-timeout', inPhase('failed'));
    const [child] = await workflows.childrenOf('real-timeout');
    expect(child?.metadata.annotations?.[STOP_REQUESTED_ANNOTATION]).toBe('AttemptTimedOut');
    expect(child?.status?.phase).toBe('stopped');
    expect(child?.status?.message).toMatch(/^stopped \(AttemptTimedOut\)/);
    expect(stepStatus(wf, 1)).toMatchObject({
      status: 'failed',
      stopRequest: { reason: 'AttemptTimedOut', answer: 'stopped' },
    });
  });

  it('stops every running attempt of a cancelled workflow', async () => {
    await workflows.apply(
      'real-cancel',
      specWith([
        hanging(1, { dependsOn: [] }),
        hanging(2, { dependsOn: [] }),
        customStep(3, { dependsOn: [1, 2] }),
      ]),
    );
    await workflows.waitFor('real-cancel', (wf) => executing(1)(wf) && executing(2)(wf));
    await workflows.annotate('real-cancel', CANCEL_REQUESTED_BY, await whoAmI(workflows.client));
    const wf = await workflows.waitFor(
      'real-cancel',
      (w) => inPhase('failed')(w) && conditionOf(w, 'Ready')?.reason === 'Cancelled',
    );
    const children = await workflows.childrenOf('real-cancel');
    expect(
      children.map((c) => [
        c.metadata.name,
        c.metadata.annotations?.[STOP_REQUESTED_ANNOTATION],
        c.status?.phase,
      ]),
    ).toEqual([
      ['real-cancel-step-1-a1', 'WorkflowCancelled', 'stopped'],
      ['real-cancel-step-2-a1', 'WorkflowCancelled', 'stopped'],
    ]);
    expect(wf.status?.stepStatuses?.map((s) => [s.status, s.stopRequest?.answer])).toEqual([
      ['failed', 'stopped'],
      ['failed', 'stopped'],
      ['skipped', undefined],
    ]);
    expect(stepStatus(wf, 1)?.errorMessage).toMatch(/^stopped \(WorkflowCancelled\)/);
  });
});
