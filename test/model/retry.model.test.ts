/**
 * Retrying a failed run (`wfx retry`): which runs are retried, what a retry re-runs and keeps, and
 * that one request retries once, whatever is replayed or restored.
 */
import { describe, expect, it } from '@jest/globals';
import type { RetryRequestedEvent } from '../../machines/events.ts';
import { LIMITS } from '../../src/api/schema/workflowexecution.ts';
import { desiredEffects } from '../../src/core/effects.ts';
import { advance, persist, rehydrate } from '../../src/core/statechart.ts';
import { projectStatus } from '../../src/core/status.ts';
import { consequencesOf } from '../../src/core/outcomes.ts';
import { transitions } from '../../src/core/transitions.ts';
import { sequentialSpec, specWith, step } from '../fixtures/specs.ts';
import { T0, world, type World } from './workflow-world.ts';

const S = 1000;
const rollbackSpec = {
  action: 'scale-to-previous' as const,
  parameters: { scaleToPrevious: { namespace: 'shop', deployment: 'web', previousReplicas: 2 } },
};
const retryBy = (who: string, request: string, now: number): RetryRequestedEvent => ({
  type: 'RETRY_REQUESTED',
  now,
  by: who,
  request,
});

/** 1 -> 2 (critical, one retry) -> 3; step 2 fails both attempts, so 3 is skipped. */
const failedAtStep2 = (strategy: 'automatic' | 'manual' | 'none' = 'none'): World =>
  world(
    specWith(
      [
        step(1, { rollbackSpec }),
        step(2, { dependsOn: [1], criticalStep: true, maxRetries: 1 }),
        step(3, { dependsOn: [2] }),
      ],
      { rollbackStrategy: strategy },
    ),
  )
    .tick(T0)
    .succeed(1, T0 + S)
    .failStep(2, T0 + 2 * S)
    .tick(T0 + 20 * S)
    .failStep(2, T0 + 21 * S);

describe('a retry of a failed run', () => {
  it('re-runs the failed and skipped steps with the next attempt numbers and keeps the completed ones', () => {
    const w = failedAtStep2();
    expect([w.phase, w.status(1), w.status(2), w.status(3)]).toEqual([
      'failed',
      'succeeded',
      'failed',
      'skipped',
    ]);
    const step1 = w.run(1);
    const failed = w.snapshot;
    w.send(retryBy('frank', 'r1', T0 + 60 * S));
    expect(w.phase).toBe('executing');
    const { notices, metrics, progress } = consequencesOf(
      transitions(failed, w.snapshot),
      w.snapshot,
      w.plan,
    );
    expect(notices.map((n) => [n.reason, n.note])).toEqual([
      ['RetryStarted', 'retry 1 requested by frank (run segment 2) re-runs steps 2, 3'],
      ['ExecutionStarted', 'phase failed -> executing'],
    ]);
    // The re-run step's start is step progress, announced with the next batch of it.
    expect(progress).toEqual([{ step: 2, name: 'step-2', attempt: 3, outcome: 'started' }]);
    expect(metrics).toContainEqual({ metric: 'retriesTotal', result: 'accepted' });
    expect(w.run(1)).toEqual(step1);
    expect(w.run(2)).toMatchObject({ status: 'running', attempt: 3, startedAt: T0 + 60 * S });
    expect(w.status(3)).toBe('pending');
    expect(w.snapshot.context.retries).toEqual([
      {
        request: 'r1',
        by: 'frank',
        at: T0 + 60 * S,
        steps: [
          { step: 2, attemptsBefore: 2 },
          { step: 3, attemptsBefore: 0 },
        ],
      },
    ]);
    expect(desiredEffects(w.snapshot, w.plan, 'wf').children.map((c) => c.name)).toEqual(['wf-step-2-a3']);
  });

  it('gives a re-run step its retries again and completes when the re-run steps succeed', () => {
    const w = failedAtStep2().send(retryBy('frank', 'r1', T0 + 60 * S));
    w.failStep(2, T0 + 61 * S);
    expect(w.run(2)).toMatchObject({ status: 'backoff', attempt: 3, retryAt: T0 + 71 * S });
    w.tick(T0 + 71 * S);
    expect(w.run(2)).toMatchObject({ status: 'running', attempt: 4 });
    w.succeed(2, T0 + 72 * S);
    expect(w.run(3)).toMatchObject({ status: 'running', attempt: 1 });
    w.succeed(3, T0 + 73 * S);
    expect(w.phase).toBe('monitoring');
    w.observe(T0 + 74 * S);
    expect(w.phase).toBe('completed');
    expect(w.snapshot.context.outcome).toBe('success');
    const status = projectStatus(w.snapshot, w.plan, { generation: 1, previousConditions: [] });
    expect(status.retries).toEqual({
      count: 1,
      history: [
        {
          segment: 2,
          requestedBy: 'frank',
          request: 'r1',
          startTime: new Date(T0 + 60 * S).toISOString(),
          steps: [2, 3],
        },
      ],
    });
    expect(status.stepStatuses?.find((s) => s.stepNumber === 2)?.k8sExecutionRef?.name).toBe(
      'remediate-web-step-2-a4',
    );
  });

  it('fails again like a first run when a re-run critical step fails for good', () => {
    const w = failedAtStep2().send(retryBy('frank', 'r1', T0 + 60 * S));
    w.failStep(2, T0 + 61 * S)
      .tick(T0 + 71 * S)
      .failStep(2, T0 + 72 * S);
    expect([w.phase, w.status(1), w.status(2), w.status(3)]).toEqual([
      'failed',
      'succeeded',
      'failed',
      'skipped',
    ]);
    expect(w.snapshot.context.failure?.code).toBe('CriticalStepFailed');
    expect(w.snapshot.context.times.finished).toBe(T0 + 72 * S);
    w.send(retryBy('frank', 'r2', T0 + 80 * S));
    expect(w.run(2)).toMatchObject({ status: 'running', attempt: 5 });
    expect(w.snapshot.context.retries.map((r) => r.request)).toEqual(['r1', 'r2']);
  });

  it('retries a run waiting for a manual rollback, which was never rolled back', () => {
    const w = failedAtStep2('manual');
    expect(w.sub).toBe('awaitingRollback');
    w.send(retryBy('frank', 'r1', T0 + 60 * S));
    expect(w.phase).toBe('executing');
    w.failStep(2, T0 + 61 * S)
      .tick(T0 + 71 * S)
      .failStep(2, T0 + 72 * S);
    expect(w.sub).toBe('awaitingRollback');
  });
});

describe('one retry request', () => {
  it('retries once: sent again, replayed after a restore, it changes nothing', () => {
    const w = failedAtStep2().send(retryBy('frank', 'r1', T0 + 60 * S));
    w.failStep(2, T0 + 61 * S)
      .tick(T0 + 71 * S)
      .failStep(2, T0 + 72 * S);
    const failedAgain = persist(w.snapshot, 'h');
    w.send(retryBy('frank', 'r1', T0 + 80 * S));
    expect(persist(w.snapshot, 'h')).toEqual(failedAgain);
    const restored = rehydrate(JSON.parse(JSON.stringify(failedAgain)) as typeof failedAgain, {
      machine: w.machine,
      hash: 'h',
      plan: w.plan,
    });
    if (!restored.ok) throw new Error(restored.message);
    const replayed = advance(w.machine, restored.snapshot, [retryBy('frank', 'r1', T0 + 90 * S)]);
    expect(persist(replayed, 'h')).toEqual(failedAgain);
  });

  it('refused once is not decided again, and a new request is decided on its own', () => {
    const w = failedAtStep2();
    w.send(retryBy('frank', 'r1', T0 + 60 * S));
    const early = retryBy('grace', 'early', T0 + 61 * S);
    w.send(early);
    expect(w.snapshot.context.retryRefusal).toMatchObject({
      request: 'early',
      code: 'InFlight',
      at: T0 + 61 * S,
    });
    w.send({ ...early, now: T0 + 62 * S });
    expect(w.snapshot.context.retryRefusal?.at).toBe(T0 + 61 * S);
    w.failStep(2, T0 + 63 * S)
      .tick(T0 + 73 * S)
      .failStep(2, T0 + 74 * S);
    expect(w.phase).toBe('failed');
    w.send({ ...early, now: T0 + 80 * S });
    expect(w.phase).toBe('failed');
    w.send(retryBy('grace', 'r2', T0 + 81 * S));
    expect(w.phase).toBe('executing');
    expect(w.snapshot.context.retries.map((r) => [r.request, r.by])).toEqual([
      ['r1', 'frank'],
      ['r2', 'grace'],
    ]);
  });
});

describe('a retry that makes no sense is refused, with no change but the refusal', () => {
  const refusalOf = (w: World, now: number) => {
    const before = w.snapshot;
    w.send(retryBy('frank', `at-${now}`, now));
    const { retryRefusal, ...rest } = w.snapshot.context;
    const { retryRefusal: _none, ...restBefore } = before.context;
    expect(w.snapshot.value).toEqual(before.value);
    expect(rest).toEqual(restBefore);
    const happened = transitions(before, w.snapshot);
    const { notices, metrics } = consequencesOf(happened, w.snapshot, w.plan);
    expect(notices.map((n) => [n.type, n.reason])).toEqual([['Warning', 'RetryRefused']]);
    expect(metrics).toEqual([{ metric: 'retriesTotal', result: 'refused' }]);
    const status = projectStatus(w.snapshot, w.plan, { generation: 1, previousConditions: [] });
    const condition = status.conditions?.find((c) => c.type === 'RetryRequest');
    expect(condition).toMatchObject({ status: 'False', reason: retryRefusal?.code });
    return retryRefusal;
  };

  it('a completed run', () => {
    const w = world(sequentialSpec(1))
      .tick(T0)
      .succeed(1, T0 + S);
    w.observe(T0 + 2 * S);
    expect(w.phase).toBe('completed');
    expect(refusalOf(w, T0 + 3 * S)).toMatchObject({
      code: 'Completed',
      message: 'the run completed (success): there is nothing to retry',
    });
  });

  it('a run still in flight', () => {
    const w = world(sequentialSpec(2)).tick(T0);
    expect(refusalOf(w, T0 + S)?.code).toBe('InFlight');
  });

  it('a run whose completed steps were rolled back', () => {
    const w = failedAtStep2('automatic');
    expect(w.phase).toBe('rolling_back');
    w.send({ type: 'ROLLBACK_RESULT', now: T0 + 22 * S, step: 1, outcome: 'succeeded' });
    expect(w.phase).toBe('failed');
    expect(refusalOf(w, T0 + 30 * S)).toMatchObject({
      code: 'RolledBack',
      message: expect.stringContaining('step 1 was rolled back') as unknown as string,
    });
  });

  it('a run that failed before executing (rejected at its approval gate)', () => {
    const w = world(specWith([step(1)], { approvalRequired: true }))
      .tick(T0)
      .send({ type: 'REJECTED', now: T0 + S, by: 'bob' });
    expect(w.phase).toBe('failed');
    expect(refusalOf(w, T0 + 2 * S)?.code).toBe('NotRetryable');
  });

  it(`a run retried ${LIMITS.runRetries} times already`, () => {
    const w = failedAtStep2();
    for (let i = 1; i <= LIMITS.runRetries; i++) {
      const t = T0 + i * 1000 * S;
      w.send(retryBy('frank', `r${i}`, t));
      w.failStep(2, t + S)
        .tick(t + 20 * S)
        .failStep(2, t + 21 * S);
    }
    expect(w.snapshot.context.retries).toHaveLength(LIMITS.runRetries);
    expect(refusalOf(w, T0 + 100_000 * S)?.code).toBe('TooManyRetries');
  });
});
