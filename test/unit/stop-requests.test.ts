/**
 * The stop contract in the core (src/api/stop-request.ts): what the cluster shows of a child asked to
 * stop becomes the machine's events, the children that must carry the request are derived from the
 * snapshot, and the request and its answer show in the transitions, Events, status and timeline.
 */
import { describe, expect, it } from '@jest/globals';
import type { WorkflowSnapshot } from '../../machines/workflow.ts';
import { desiredEffects } from '../../src/core/effects.ts';
import { consequencesOf } from '../../src/core/outcomes.ts';
import { observe, stillAwaited } from '../../src/core/observe.ts';
import { projectStatus } from '../../src/core/status.ts';
import { buildTimeline } from '../../src/core/timeline.ts';
import { transitions, waitingFor } from '../../src/core/transitions.ts';
import { specWith, step } from '../fixtures/specs.ts';
import { T0, world } from '../model/workflow-world.ts';

const S = 1000;
const M = 60 * S;

/** Step 1 (one retry) timed out at T0 + 5 m: asked to stop, backing off. */
const timedOut = () =>
  world(specWith([step(1, { maxRetries: 1 }), step(2)]))
    .tick(T0)
    .tick(T0 + 5 * M);

describe('observing a child asked to stop', () => {
  it('reports a stopped step child as STEP_STOPPED, with its message and result', () => {
    const events = observe({
      now: T0,
      children: [
        {
          kind: 'step',
          stepNumber: 1,
          attempt: 1,
          phase: 'stopped',
          message: 'stopped (AttemptTimedOut) before acting',
        },
        { kind: 'step', stepNumber: 2, attempt: 1, phase: 'executing' },
      ],
      annotations: {},
    });
    expect(events).toEqual([
      { type: 'TICK', now: T0 },
      {
        type: 'STEP_STOPPED',
        now: T0,
        step: 1,
        attempt: 1,
        message: 'stopped (AttemptTimedOut) before acting',
      },
    ]);
  });

  it('keeps the result of an attempt asked to stop although its step settled, until it answered', () => {
    const w = world(specWith([step(1)]))
      .tick(T0)
      .tick(T0 + 5 * M);
    expect(w.status(1)).toBe('failed');
    const child = { kind: 'step' as const, stepNumber: 1, attempt: 1, phase: 'stopped' as const };
    expect(stillAwaited(w.snapshot.context, child)).toBe(true);
    w.send({ type: 'STEP_STOPPED', now: T0 + 5 * M + S, step: 1, attempt: 1 });
    expect(stillAwaited(w.snapshot.context, child)).toBe(false);
  });
});

describe('desired stops', () => {
  it('wants the stop request on the child of each awaited attempt, and looks again when its grace ends', () => {
    const w = timedOut();
    const effects = desiredEffects(w.snapshot, w.plan, 'wf');
    expect(effects.stops).toEqual([
      { name: 'wf-step-1-a1', stepNumber: 1, attempt: 1, reason: 'AttemptTimedOut', requestedAt: T0 + 5 * M },
    ]);
    expect(effects.children).toEqual([]);
    // The retry waits for the answer, or for the grace period's end (+30 s), whatever its backoff says.
    expect(effects.nextDeadline).toBe(T0 + 5 * M + 30 * S);
    w.send({ type: 'STEP_STOPPED', now: T0 + 5 * M + 4 * S, step: 1, attempt: 1 });
    const answered = desiredEffects(w.snapshot, w.plan, 'wf');
    expect(answered.stops).toEqual([]);
    expect(answered.nextDeadline).toBe(T0 + 5 * M + 10 * S); // now the backoff's end
    w.tick(T0 + 5 * M + 10 * S);
    expect(desiredEffects(w.snapshot, w.plan, 'wf').children.map((c) => c.name)).toEqual(['wf-step-1-a2']);
  });
});

describe('a stop request in transitions, Events, status and timeline', () => {
  const states = (): WorkflowSnapshot[] => {
    const w = timedOut();
    const asked = w.snapshot;
    w.tick(T0 + 5 * M + 30 * S);
    return [asked, w.snapshot];
  };

  it('is a transition when asked and when it ends, each with its Event', () => {
    const w = world(specWith([step(1, { maxRetries: 1 }), step(2)])).tick(T0);
    const before = w.snapshot;
    const [asked, unanswered] = states() as [WorkflowSnapshot, WorkflowSnapshot];
    const askedNow = transitions(before, asked).filter((t) => t.kind === 'stop');
    expect(askedNow).toEqual([
      { kind: 'stop', step: 1, attempt: 1, reason: 'AttemptTimedOut', ended: null, at: T0 + 5 * M },
    ]);
    const ended = transitions(asked, unanswered).filter((t) => t.kind === 'stop');
    expect(ended).toEqual([
      {
        kind: 'stop',
        step: 1,
        attempt: 1,
        reason: 'AttemptTimedOut',
        ended: 'gracePassed',
        at: T0 + 5 * M + 30 * S,
      },
    ]);
    const notices = (from: WorkflowSnapshot, to: WorkflowSnapshot) =>
      consequencesOf(transitions(from, to), to, w.plan).notices.filter((n) => n.reason.startsWith('Stop'));
    expect(notices(before, asked)).toEqual([
      expect.objectContaining({
        type: 'Normal',
        reason: 'StopRequested',
        note: 'asked step 1 (step-1) attempt 1 to stop (AttemptTimedOut); the run waits up to 30s for its answer',
      }),
    ]);
    expect(notices(asked, unanswered)).toEqual([
      expect.objectContaining({ type: 'Warning', reason: 'StopUnanswered' }),
    ]);
  });

  it('shows in the step status, in what the run waits for, and on the timeline', () => {
    const w = timedOut();
    expect(waitingFor(w.snapshot, w.plan)).toContain('step 1 attempt 1 to stop (AttemptTimedOut) until');
    const status = () =>
      projectStatus(w.snapshot, w.plan, { generation: 1, previousConditions: [], name: 'wf' })
        .stepStatuses?.[0];
    expect(status()?.stopRequest).toEqual({
      attempt: 1,
      reason: 'AttemptTimedOut',
      requestTime: new Date(T0 + 5 * M).toISOString(),
    });
    w.send({ type: 'STEP_STOPPED', now: T0 + 5 * M + 3 * S, step: 1, attempt: 1 });
    expect(status()?.stopRequest).toEqual({
      attempt: 1,
      reason: 'AttemptTimedOut',
      requestTime: new Date(T0 + 5 * M).toISOString(),
      answer: 'stopped',
      answerTime: new Date(T0 + 5 * M + 3 * S).toISOString(),
    });
    const timeline = buildTimeline(w.snapshot, w.plan, [], { workflowName: 'wf', now: T0 + 6 * M });
    const marks = timeline.rows.find((r) => r.id === 'step-1')?.marks ?? [];
    expect(marks.filter((m) => m.kind.startsWith('stop'))).toEqual([
      {
        kind: 'stopRequested',
        at: T0 + 5 * M,
        label: 'attempt 1 asked to stop (AttemptTimedOut)',
        child: 'wf-step-1-a1',
      },
      { kind: 'stopAnswered', at: T0 + 5 * M + 3 * S, label: 'attempt 1 stopped', child: 'wf-step-1-a1' },
    ]);
  });
});
