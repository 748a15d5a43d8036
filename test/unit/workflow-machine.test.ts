import { describe, expect, it } from '@jest/globals';
import { PHASES } from '../../machines/workflow.ts';
import { machineOf } from '../../src/core/load.ts';
import { diamondSpec, sequentialSpec, specWith, step } from '../fixtures/specs.ts';
import { HEALTHY, T0, admitted, planOf, world } from '../model/workflow-world.ts';

const S = 1000;
const M = 60 * S;
const rollbackSpec = {
  action: 'scale-to-previous' as const,
  parameters: { scaleToPrevious: { namespace: 'shop', deployment: 'web', previousReplicas: 2 } },
};

describe('the workflow statechart', () => {
  it('has the phases as its top-level states', () => {
    const machine = machineOf(planOf(sequentialSpec(2)));
    expect(Object.keys(machine.root.states).sort()).toEqual([...PHASES].sort());
  });

  it('starts in planning and moves to validating and executing on the first event', () => {
    const w = world(sequentialSpec(2));
    expect(w.phase).toBe('planning');
    expect(w.snapshot.context.times.planning).toBe(T0);
    w.tick(T0 + S);
    expect(w.phase).toBe('executing');
    expect(w.snapshot.context.times.validating).toBe(T0 + S);
    expect(w.run(1)).toMatchObject({ status: 'running', attempt: 1, startedAt: T0 + S });
    expect(w.status(2)).toBe('pending');
  });

  it('runs a sequential workflow step after step, through monitoring to success', () => {
    const w = world(sequentialSpec(3)).tick(T0 + S);
    w.succeed(1, T0 + 2 * S);
    expect(w.run(2)).toMatchObject({ status: 'running', attempt: 1, startedAt: T0 + 2 * S });
    expect(w.status(3)).toBe('pending');
    w.succeed(2, T0 + 3 * S).succeed(3, T0 + 4 * S);
    expect(w.phase).toBe('monitoring');
    w.observe(T0 + 5 * S, { ...HEALTHY, score: 0.9 });
    expect(w.phase).toBe('completed');
    expect(w.snapshot.context.outcome).toBe('success');
    expect(w.snapshot.status).toBe('done');
  });

  it('starts both branches of a diamond together and the join when both succeeded', () => {
    const w = world(diamondSpec())
      .tick(T0)
      .succeed(1, T0 + S);
    expect([w.status(2), w.status(3), w.status(4)]).toEqual(['running', 'running', 'pending']);
    w.succeed(2, T0 + 2 * S);
    expect(w.status(4)).toBe('pending');
    w.succeed(3, T0 + 3 * S);
    expect(w.run(4)).toMatchObject({ status: 'running', startedAt: T0 + 3 * S });
  });

  describe('deadlines', () => {
    it('fails planning after 30 s without an event', () => {
      const w = world(sequentialSpec(1)).tick(T0 + 30 * S);
      expect(w.phase).toBe('failed');
      expect(w.snapshot.context.failure?.code).toBe('PlanningTimeout');
    });

    it('fails validation after 5 minutes waiting for approval, approval or not', () => {
      const w = world(specWith([step(1)], { approvalRequired: true }), T0).tick(T0);
      expect(w.sub).toBe('approval');
      w.send({ type: 'APPROVED', now: T0 + 5 * M, by: 'alice' });
      expect(w.phase).toBe('failed');
      expect(w.snapshot.context.failure?.code).toBe('ValidationTimeout');
    });

    it('counts a timed-out attempt as a failed attempt', () => {
      const w = world(specWith([step(1, { timeout: '1m', maxRetries: 1 })])).tick(T0);
      w.tick(T0 + M);
      expect(w.run(1)).toMatchObject({ status: 'backoff', attempt: 1, retryAt: T0 + M + 10 * S });
      expect(w.run(1).message).toContain('timed out');
    });

    it('completes with an unknown outcome when monitoring sees nothing for 10 minutes', () => {
      const w = world(sequentialSpec(1))
        .tick(T0)
        .succeed(1, T0 + S);
      w.tick(T0 + S + 10 * M - 1);
      expect(w.phase).toBe('monitoring');
      w.tick(T0 + S + 10 * M);
      expect(w.phase).toBe('completed');
      expect(w.snapshot.context.outcome).toBe('unknown');
    });
  });

  describe('retries', () => {
    it('retries a failed attempt after an exponential backoff, capped', () => {
      const spec = specWith([step(1, { maxRetries: 6 })]);
      const w = world(spec).tick(T0);
      const delays: number[] = [];
      let now = T0;
      for (let attempt = 1; attempt <= 6; attempt++) {
        now += S;
        w.failStep(1, now);
        const retryAt = w.run(1).retryAt ?? 0;
        delays.push(retryAt - now);
        w.tick(retryAt - 1);
        expect(w.run(1)).toMatchObject({ status: 'backoff', attempt });
        now = retryAt;
        w.tick(now);
        expect(w.run(1)).toMatchObject({ status: 'running', attempt: attempt + 1, startedAt: now });
      }
      expect(delays).toEqual([10, 20, 40, 80, 160, 300].map((s) => s * S));
      w.failStep(1, now + S);
      expect(w.status(1)).toBe('failed');
    });

    it('ignores results for attempts it is not waiting for', () => {
      const w = world(specWith([step(1, { maxRetries: 1 })]))
        .tick(T0)
        .failStep(1, T0 + S);
      w.tick(T0 + S + 10 * S);
      const before = w.snapshot;
      w.send({ type: 'STEP_RESULT', now: T0 + 12 * S, step: 1, attempt: 1, outcome: 'succeeded' });
      expect(w.snapshot.value).toEqual(before.value);
      expect(w.snapshot.context).toEqual(before.context);
      expect(w.run(1)).toMatchObject({ status: 'running', attempt: 2 });
    });

    it('gives the same snapshot when the same event is sent twice', () => {
      const w = world(diamondSpec())
        .tick(T0)
        .succeed(1, T0 + S);
      const once = w.snapshot;
      w.succeed(1, T0 + S, 1);
      expect(w.snapshot.context).toEqual(once.context);
      expect(w.snapshot.value).toEqual(once.value);
    });
  });

  describe("admission: the target locks and storm limits, validation's last gate", () => {
    const busy = {
      admitted: false as const,
      block: { reason: 'TargetBusy' as const, target: 'Deployment shop/web', holder: 'shop/first/uid-1' },
    };
    const limit = {
      admitted: false as const,
      block: { reason: 'ExecutionLimit' as const, scope: 'cluster' as const, limit: 3 },
    };
    const blocked = () => world(sequentialSpec(1), T0, { admission: 'manual' }).tick(T0);

    it('waits in validating after the checks pass, until admitted', () => {
      const w = blocked();
      expect([w.phase, w.sub]).toEqual(['validating', 'admission']);
      w.send({ type: 'ADMISSION_RESULT', now: T0 + S, verdict: { admitted: true } });
      expect(w.phase).toBe('executing');
      expect(w.run(1)).toMatchObject({ status: 'running', startedAt: T0 + S });
      expect(w.snapshot.context.admission).toBeNull();
    });

    it('records what blocks it, since the first block of the wait, and stays', () => {
      const w = blocked().send({ type: 'ADMISSION_RESULT', now: T0 + S, verdict: busy });
      expect([w.phase, w.sub]).toEqual(['validating', 'admission']);
      expect(w.snapshot.context.admission).toEqual({ block: busy.block, since: T0 + S });
      w.send({ type: 'ADMISSION_RESULT', now: T0 + 9 * S, verdict: limit });
      expect(w.snapshot.context.admission).toEqual({ block: limit.block, since: T0 + S });
      expect(w.status(1)).toBe('pending');
    });

    it('fails Blocked at the validation deadline, naming what held it', () => {
      const w = blocked()
        .send({ type: 'ADMISSION_RESULT', now: T0 + S, verdict: busy })
        .tick(T0 + 5 * M);
      expect(w.phase).toBe('failed');
      expect(w.snapshot.context.failure).toEqual({
        code: 'Blocked',
        message:
          'validation did not finish within 5m: still waiting to execute, Deployment shop/web is locked by WorkflowExecution shop/first',
      });
    });

    it('fails ValidationTimeout at the deadline when admission was never answered', () => {
      const w = blocked().tick(T0 + 5 * M);
      expect(w.snapshot.context.failure?.code).toBe('ValidationTimeout');
    });

    it('holds an accepted retry in admission until admitted; its failed step then starts its next attempt', () => {
      const w = world(specWith([step(1, { criticalStep: true })], { rollbackStrategy: 'none' }), T0, {
        admission: 'manual',
      })
        .tick(T0)
        .send(admitted(T0))
        .failStep(1, T0 + S);
      expect(w.phase).toBe('failed');
      w.send({ type: 'RETRY_REQUESTED', now: T0 + 2 * S, by: 'erin', request: 'r1' });
      expect([w.phase, w.sub]).toEqual(['validating', 'admission']);
      expect(w.snapshot.context.retries.map((r) => r.request)).toEqual(['r1']);
      w.send({ type: 'ADMISSION_RESULT', now: T0 + 3 * S, verdict: busy });
      expect(w.snapshot.context.admission).toEqual({ block: busy.block, since: T0 + 3 * S });
      expect(w.status(1)).toBe('pending');
      w.send(admitted(T0 + 4 * S));
      expect(w.phase).toBe('executing');
      expect(w.run(1)).toMatchObject({ status: 'running', attempt: 2, startedAt: T0 + 4 * S });
    });

    it('can be cancelled while it waits', () => {
      const w = blocked()
        .send({ type: 'ADMISSION_RESULT', now: T0 + S, verdict: busy })
        .send({ type: 'CANCEL_REQUESTED', now: T0 + 2 * S, by: 'carol' });
      expect(w.phase).toBe('failed');
      expect(w.snapshot.context.failure?.code).toBe('Cancelled');
    });
  });

  describe('validation', () => {
    const checks = [
      { type: 'rbac' as const, required: true },
      { type: 'capacity' as const, required: false },
    ];
    it('runs the four checks for every workflow: one not listed blocks, required: false only warns', () => {
      const w = world(specWith([step(1)], { safetyChecks: checks })).tick(T0);
      expect(w.sub).toBe('safety');
      expect(w.plan.safetyChecks).toEqual([
        { type: 'rbac', required: true },
        { type: 'capacity', required: false },
        { type: 'health', required: true },
        { type: 'network', required: true },
      ]);
    });

    it('waits for safety results and goes on when required checks pass', () => {
      const w = world(specWith([step(1)], { safetyChecks: checks })).tick(T0);
      expect(w.sub).toBe('safety');
      w.send({
        type: 'SAFETY_RESULT',
        now: T0 + S,
        results: [
          { type: 'rbac', required: true, result: 'passed', message: 'ok' },
          { type: 'capacity', required: false, result: 'failed', message: 'tight' },
        ],
      });
      expect(w.phase).toBe('executing');
      expect(w.snapshot.context.safety).toHaveLength(2);
    });

    it('fails when a required safety check fails, naming it', () => {
      const w = world(specWith([step(1)], { safetyChecks: checks })).tick(T0);
      w.send({
        type: 'SAFETY_RESULT',
        now: T0 + S,
        results: [{ type: 'rbac', required: true, result: 'failed', message: 'may not scale' }],
      });
      expect(w.phase).toBe('failed');
      expect(w.snapshot.context.failure).toMatchObject({ code: 'SafetyCheckFailed' });
      expect(w.snapshot.context.failure?.message).toContain('rbac failed (may not scale)');
    });

    it('takes an errored check as no verdict: it waits for one until the validation deadline', () => {
      const w = world(specWith([step(1)], { safetyChecks: checks })).tick(T0);
      const errored = {
        type: 'SAFETY_RESULT' as const,
        results: [
          { type: 'rbac' as const, required: true, result: 'error' as const, message: 'no access review' },
        ],
      };
      w.send({ ...errored, now: T0 + S });
      expect([w.phase, w.sub, w.snapshot.context.safety]).toEqual(['validating', 'safety', null]);
      w.send({ ...errored, now: T0 + 5 * M });
      expect(w.phase).toBe('failed');
      expect(w.snapshot.context.failure).toMatchObject({ code: 'ValidationTimeout' });
    });

    it('dry-runs every step before approval, and fails on a failing dry run', () => {
      const spec = specWith([step(1), step(2)], { dryRunFirst: true, approvalRequired: true });
      const ok = world(spec).tick(T0);
      expect(ok.sub).toBe('dryRun');
      ok.send({ type: 'DRYRUN_RESULT', now: T0 + S, step: 1, outcome: 'succeeded' });
      expect(ok.sub).toBe('dryRun');
      ok.send({ type: 'DRYRUN_RESULT', now: T0 + S, step: 2, outcome: 'succeeded' });
      expect(ok.sub).toBe('approval');
      ok.send({ type: 'APPROVED', now: T0 + 2 * S, by: 'alice' });
      expect(ok.phase).toBe('executing');
      expect(ok.snapshot.context.approval).toEqual({ by: 'alice', at: T0 + 2 * S });

      const bad = world(spec).tick(T0);
      bad.send({
        type: 'DRYRUN_RESULT',
        now: T0 + S,
        step: 2,
        outcome: 'failed',
        message: 'no such deployment',
      });
      expect(bad.phase).toBe('failed');
      expect(bad.snapshot.context.failure).toMatchObject({ code: 'DryRunFailed' });
    });

    it('fails on rejection and records who rejected', () => {
      const w = world(specWith([step(1)], { approvalRequired: true })).tick(T0);
      w.send({ type: 'REJECTED', now: T0 + S, by: 'bob' });
      expect(w.phase).toBe('failed');
      expect(w.snapshot.context.failure).toEqual({ code: 'Rejected', message: 'rejected by bob' });
    });

    it('fails when cancelled while validating', () => {
      const w = world(specWith([step(1)], { approvalRequired: true })).tick(T0);
      w.send({ type: 'CANCEL_REQUESTED', now: T0 + S, by: 'carol' });
      expect(w.snapshot.context.failure?.code).toBe('Cancelled');
    });
  });

  describe('failures and rollback', () => {
    /** 1 -> (2 critical, 3 with retries) -> 4; 1 and 3 can be rolled back. */
    type Strategy = 'automatic' | 'manual' | 'none';
    const spec = (strategy: Strategy) =>
      specWith(
        [
          step(1, { rollbackSpec }),
          step(2, { dependsOn: [1], criticalStep: true }),
          step(3, { dependsOn: [1], maxRetries: 2, rollbackSpec }),
          step(4, { dependsOn: [2, 3], rollbackSpec }),
        ],
        { rollbackStrategy: strategy },
      );
    /** Step 1 done at T0 + 1 s: 2 and 3 running. */
    const afterFirstStep = (strategy: Strategy) =>
      world(spec(strategy))
        .tick(T0)
        .succeed(1, T0 + S);
    /** Then the critical step 2 failed at T0 + 2 s: 3 still running. */
    const afterCriticalFailure = (strategy: Strategy) => afterFirstStep(strategy).failStep(2, T0 + 2 * S);

    it('stops new launches on a critical failure, lets running steps finish, then rolls back in order', () => {
      const w = afterFirstStep('automatic');
      w.failStep(3, T0 + 2 * S); // step 3 waits for its retry
      w.failStep(2, T0 + 3 * S, 1, 'quota exceeded'); // critical, no retries
      expect(w.snapshot.context.abort?.code).toBe('CriticalStepFailed');
      expect(w.status(3)).toBe('failed'); // not retried
      expect(w.status(4)).toBe('skipped');
      expect(w.phase).toBe('rolling_back');
      expect(w.run(1).rollback).toMatchObject({ status: 'running', startedAt: T0 + 3 * S });
      expect(w.run(3).rollback).toBeNull();
      w.send({ type: 'ROLLBACK_RESULT', now: T0 + 4 * S, step: 1, outcome: 'succeeded' });
      expect(w.phase).toBe('failed');
      expect(w.run(1).rollback?.status).toBe('rolledBack');
      expect(w.snapshot.context.failure?.code).toBe('CriticalStepFailed');
      expect(w.snapshot.context.rollbackReason).toContain('quota exceeded');
    });

    it('waits for running steps to finish before rolling back', () => {
      const w = afterCriticalFailure('automatic');
      expect(w.phase).toBe('executing');
      expect(w.status(3)).toBe('running');
      w.succeed(3, T0 + 3 * S);
      expect(w.phase).toBe('rolling_back');
      expect(w.run(3).rollback?.status).toBe('running'); // 3 comes before 1 in reverse order
      w.send({ type: 'ROLLBACK_RESULT', now: T0 + 4 * S, step: 1, outcome: 'succeeded' }); // not its turn
      expect(w.run(1).rollback).toBeNull();
      w.send({ type: 'ROLLBACK_RESULT', now: T0 + 4 * S, step: 3, outcome: 'succeeded' });
      expect(w.run(1).rollback?.status).toBe('running');
    });

    it('fails with RollbackFailed when a rollback step fails or times out', () => {
      const w = afterCriticalFailure('automatic');
      w.failStep(3, T0 + 3 * S);
      w.tick(T0 + 3 * S + 10 * S); // the retry of 3 is not started: a critical step failed
      expect(w.status(3)).toBe('failed');
      expect(w.phase).toBe('rolling_back');
      w.send({ type: 'ROLLBACK_RESULT', now: T0 + 20 * S, step: 1, outcome: 'failed', message: 'gone' });
      expect(w.phase).toBe('failed');
      expect(w.snapshot.context.failure?.code).toBe('RollbackFailed');
      expect(w.run(1).rollback).toMatchObject({ status: 'failed', message: 'gone' });

      const slow = afterCriticalFailure('automatic');
      slow.failStep(3, T0 + 3 * S).tick(T0 + 3 * S + 5 * M);
      expect(slow.snapshot.context.failure?.code).toBe('RollbackFailed');
    });

    it('waits for a rollback request with the manual strategy', () => {
      const w = afterCriticalFailure('manual').failStep(3, T0 + 3 * S);
      w.tick(T0 + 4 * S);
      expect(w.snapshot.value).toEqual({ failed: 'awaitingRollback' });
      w.send({ type: 'ROLLBACK_REQUESTED', now: T0 + 5 * S, by: 'dave' });
      expect(w.phase).toBe('rolling_back');
      expect(w.snapshot.context.rollbackReason).toContain('dave');
    });

    it('holds a requested rollback in admission while another run holds a target, then rolls back', () => {
      const w = world(spec('manual'), T0, { admission: 'manual' })
        .tick(T0)
        .send(admitted(T0))
        .succeed(1, T0 + S)
        .failStep(2, T0 + 2 * S)
        .failStep(3, T0 + 3 * S)
        .tick(T0 + 4 * S);
      expect(w.snapshot.value).toEqual({ failed: 'awaitingRollback' });
      w.send({ type: 'ROLLBACK_REQUESTED', now: T0 + 5 * S, by: 'dave' });
      expect([w.phase, w.sub]).toEqual(['validating', 'admission']);
      w.send({
        type: 'ADMISSION_RESULT',
        now: T0 + 6 * S,
        verdict: {
          admitted: false,
          block: { reason: 'TargetBusy', target: 'Deployment shop/web', holder: 'a/b/c' },
        },
      });
      expect([w.phase, w.snapshot.context.admission?.block.reason]).toEqual(['validating', 'TargetBusy']);
      expect(w.run(1).rollback).toBeNull();
      w.send(admitted(T0 + 7 * S));
      expect(w.phase).toBe('rolling_back');
      expect(w.run(1).rollback).toMatchObject({ status: 'running', startedAt: T0 + 7 * S });
      expect(w.snapshot.context.rollbackReason).toContain('dave');
      expect(w.snapshot.context.times.rollingBack).toBe(T0 + 7 * S);
    });

    it('fails without rollback with the none strategy', () => {
      const w = afterCriticalFailure('none').failStep(3, T0 + 3 * S);
      w.tick(T0 + 4 * S);
      expect(w.snapshot.value).toEqual({ failed: 'terminal' });
      expect(w.run(1).rollback).toBeNull();
    });

    it('lets independent branches go on after a non-critical failure: partial success', () => {
      const w = world(diamondSpec())
        .tick(T0)
        .succeed(1, T0 + S)
        .failStep(2, T0 + 2 * S);
      expect(w.status(4)).toBe('skipped');
      expect(w.status(3)).toBe('running');
      w.succeed(3, T0 + 3 * S);
      expect(w.phase).toBe('monitoring');
      w.observe(T0 + 4 * S, { ...HEALTHY, score: 0.7, resourceHealth: 'degraded', newAlertsTriggered: null });
      expect(w.snapshot.context.outcome).toBe('partial_success');
    });

    it('runs the next step of an implicit sequence after a non-critical failure: partial success', () => {
      // Three steps, no dependsOn: the order is a sequence, not a data dependency (DESIGN 12).
      const w = world(sequentialSpec(3))
        .tick(T0)
        .succeed(1, T0 + S)
        .failStep(2, T0 + 2 * S);
      expect(w.status(2)).toBe('failed');
      expect(w.run(3)).toMatchObject({ status: 'running', attempt: 1, startedAt: T0 + 2 * S });
      w.succeed(3, T0 + 3 * S);
      expect(w.phase).toBe('monitoring');
      w.observe(T0 + 4 * S);
      expect(w.phase).toBe('completed');
      expect(w.snapshot.context.outcome).toBe('partial_success');
      expect(w.status(3)).toBe('succeeded');
    });

    it('waits in an implicit sequence for the step before to settle, retries included', () => {
      const w = world(specWith([step(1, { maxRetries: 1 }), step(2)]))
        .tick(T0)
        .failStep(1, T0 + S);
      expect(w.status(1)).toBe('backoff');
      expect(w.status(2)).toBe('pending');
      w.tick(T0 + 11 * S).failStep(1, T0 + 12 * S);
      expect(w.status(1)).toBe('failed');
      expect(w.run(2)).toMatchObject({ status: 'running', startedAt: T0 + 12 * S });
    });

    it('skips the rest of an implicit sequence after a critical failure', () => {
      const w = world(
        specWith([step(1), step(2, { criticalStep: true }), step(3)], { rollbackStrategy: 'none' }),
      )
        .tick(T0)
        .succeed(1, T0 + S)
        .failStep(2, T0 + 2 * S);
      expect(w.status(3)).toBe('skipped');
      expect(w.phase).toBe('failed');
    });

    it('fails as ineffective when new alerts fire', () => {
      const w = world(sequentialSpec(1))
        .tick(T0)
        .succeed(1, T0 + S);
      w.observe(T0 + 2 * S, {
        effective: false,
        score: 0.1,
        resourceHealth: 'unhealthy',
        newAlertsTriggered: true,
        alert: null,
        alertmanager: 'notConfigured',
        stabilityWindowMs: 0,
      });
      expect(w.snapshot.context.failure?.code).toBe('Ineffective');
      expect(w.snapshot.context.outcome).toBe('ineffective');
    });

    it('aborts on cancellation while executing: running steps finish, then rollback per strategy', () => {
      const w = afterFirstStep('automatic');
      w.send({ type: 'CANCEL_REQUESTED', now: T0 + 2 * S, by: 'erin' });
      expect(w.phase).toBe('executing');
      w.succeed(2, T0 + 3 * S);
      w.send({ type: 'CANCEL_REQUESTED', now: T0 + 3 * S, by: 'erin' });
      w.succeed(3, T0 + 4 * S);
      expect(w.status(4)).toBe('skipped');
      expect(w.phase).toBe('rolling_back');
      expect(w.snapshot.context.failure).toEqual({ code: 'Cancelled', message: 'cancelled by erin' });
    });
  });

  describe('stopping attempts (src/api/stop-request.ts)', () => {
    const stopped = (step: number, attempt: number, now: number, message?: string) => ({
      type: 'STEP_STOPPED' as const,
      now,
      step,
      attempt,
      ...(message === undefined ? {} : { message }),
    });
    /** Step 1 (5 m timeout, one retry) timed out at T0 + 5 m: backing off, its attempt asked to stop. */
    const timedOut = () => {
      const w = world(specWith([step(1, { maxRetries: 1 }), step(2)]))
        .tick(T0)
        .tick(T0 + 5 * M);
      return w;
    };

    it('asks a timed-out attempt to stop and starts the retry only once it stopped', () => {
      const w = timedOut();
      expect(w.status(1)).toBe('backoff');
      expect(w.snapshot.context.stops).toEqual([
        { step: 1, attempt: 1, reason: 'AttemptTimedOut', at: T0 + 5 * M, ended: null, endedAt: null },
      ]);
      w.tick(T0 + 5 * M + 10 * S); // the backoff is over, the stop is not answered
      expect(w.run(1)).toMatchObject({ status: 'backoff', attempt: 1 });
      w.send(stopped(1, 1, T0 + 5 * M + 12 * S, 'stopped (AttemptTimedOut) after 0 changes'));
      expect(w.snapshot.context.stops[0]).toMatchObject({ ended: 'stopped', endedAt: T0 + 5 * M + 12 * S });
      expect(w.run(1)).toMatchObject({ status: 'running', attempt: 2, startedAt: T0 + 5 * M + 12 * S });
    });

    it('starts the retry after the grace period when the attempt never answers', () => {
      const w = timedOut().tick(T0 + 5 * M + 29 * S);
      expect(w.status(1)).toBe('backoff');
      w.tick(T0 + 5 * M + 30 * S);
      expect(w.snapshot.context.stops[0]).toMatchObject({
        ended: 'gracePassed',
        endedAt: T0 + 5 * M + 30 * S,
      });
      expect(w.run(1)).toMatchObject({ status: 'running', attempt: 2, startedAt: T0 + 5 * M + 30 * S });
    });

    it('takes a result of the stopped attempt as its answer, and not as the step result', () => {
      const w = timedOut().succeed(1, T0 + 5 * M + S, 1);
      expect(w.snapshot.context.stops[0]).toMatchObject({ ended: 'completed', endedAt: T0 + 5 * M + S });
      expect(w.run(1)).toMatchObject({ status: 'backoff', attempt: 1 });
      w.tick(T0 + 5 * M + 10 * S);
      expect(w.run(1)).toMatchObject({ status: 'running', attempt: 2 });
      // An answer for an attempt not asked to stop, or asked and answered, changes nothing.
      const before = JSON.stringify(w.snapshot.context);
      w.send(stopped(1, 1, T0 + 5 * M + 11 * S)).send(stopped(2, 1, T0 + 5 * M + 11 * S));
      expect(JSON.stringify(w.snapshot.context)).toBe(before);
    });

    it('starts the next step of a sequence only once the timed-out step before it stopped', () => {
      const w = world(sequentialSpec(2))
        .tick(T0)
        .tick(T0 + 5 * M);
      expect(w.status(1)).toBe('failed');
      expect(w.status(2)).toBe('pending');
      w.send(stopped(1, 1, T0 + 5 * M + S));
      expect(w.run(2)).toMatchObject({ status: 'running', startedAt: T0 + 5 * M + S });
    });

    it('begins the rollback after a critical step timed out only once that attempt stopped', () => {
      const w = world(
        specWith([step(1, { rollbackSpec }), step(2, { criticalStep: true })], {
          rollbackStrategy: 'automatic',
        }),
      )
        .tick(T0)
        .succeed(1, T0 + S)
        .tick(T0 + S + 5 * M);
      expect(w.status(2)).toBe('failed');
      expect(w.snapshot.context.abort?.code).toBe('CriticalStepFailed');
      expect(w.phase).toBe('executing');
      expect(w.run(1).rollback).toBeNull();
      w.send(stopped(2, 1, T0 + S + 5 * M + 2 * S));
      expect(w.phase).toBe('rolling_back');
      expect(w.run(1).rollback).toMatchObject({ status: 'running', startedAt: T0 + S + 5 * M + 2 * S });
    });

    it('asks every running attempt to stop on cancel; a stopped one fails, then rollback per strategy', () => {
      const w = world(
        specWith([step(1, { rollbackSpec }), step(2, { dependsOn: [1] }), step(3, { dependsOn: [1] })]),
      )
        .tick(T0)
        .succeed(1, T0 + S);
      w.send({ type: 'CANCEL_REQUESTED', now: T0 + 2 * S, by: 'erin' });
      expect(w.snapshot.context.stops).toEqual([
        { step: 2, attempt: 1, reason: 'WorkflowCancelled', at: T0 + 2 * S, ended: null, endedAt: null },
        { step: 3, attempt: 1, reason: 'WorkflowCancelled', at: T0 + 2 * S, ended: null, endedAt: null },
      ]);
      w.send(stopped(2, 1, T0 + 3 * S, 'stopped (WorkflowCancelled) before acting'));
      expect(w.run(2)).toMatchObject({
        status: 'failed',
        message: 'stopped (WorkflowCancelled) before acting',
      });
      w.succeed(3, T0 + 4 * S); // it finished before it could stop
      expect(w.snapshot.context.stops.map((s) => s.ended)).toEqual(['stopped', 'completed']);
      expect(w.phase).toBe('rolling_back');
      expect(w.snapshot.context.failure?.code).toBe('Cancelled');
    });
  });

  it('never keeps the values of an updated secret', () => {
    const secret = step(1, {
      action: 'update-secret',
      parameters: { updateSecret: { namespace: 'shop', name: 'db', data: { password: 'hunter2' } } },
    } as never);
    const w = world(specWith([secret])).tick(T0);
    w.send({
      type: 'STEP_RESULT',
      now: T0 + S,
      step: 1,
      attempt: 1,
      outcome: 'succeeded',
      result: { updateResult: { resourceName: 'db', previousValue: 'hunter1', newValue: 'hunter2' } },
    });
    expect(JSON.stringify(w.snapshot.context)).not.toContain('hunter');
    expect(w.run(1).result?.updateResult?.resourceName).toBe('db');
  });
});
