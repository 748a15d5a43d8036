import { describe, expect, it } from '@jest/globals';
import { desiredEffects } from '../../src/core/effects.ts';
import {
  buildTimeline,
  type Timeline,
  type TimelineChild,
  type TimelineRow,
} from '../../src/core/timeline.ts';
import { timelineText } from '../../src/core/timeline-text.ts';
import { customRollback, customStep, specWith } from '../fixtures/specs.ts';
import { T0, world, type World } from '../model/workflow-world.ts';

const S = 1000;

/** Step 1 (undoable) then step 2 (critical, one retry), behind an approval gate. */
const spec = specWith(
  [customStep(1, { rollbackSpec: customRollback(1) }), customStep(2, { maxRetries: 1, criticalStep: true })],
  { approvalRequired: true },
);

const child = (
  c: Partial<TimelineChild> & Pick<TimelineChild, 'kind' | 'stepNumber' | 'attempt'>,
): TimelineChild => ({
  name: `wf-${c.kind}-${c.stepNumber}-a${c.attempt}`,
  createdAt: null,
  startedAt: null,
  pickedUpAt: null,
  completedAt: null,
  phase: null,
  message: null,
  result: null,
  ...c,
});

/** Waits 40 s for approval, step 1 succeeds, step 2 fails twice (a backoff between), step 1 is rolled back. */
function runWithApprovalRetryAndRollback(): { w: World; children: TimelineChild[]; retryAt: number } {
  const w = world(spec).tick(T0);
  if (w.sub === 'safety')
    w.send({
      type: 'SAFETY_RESULT',
      now: T0,
      results: [{ type: 'rbac', required: true, result: 'passed', message: 'ok' }],
    });
  expect(w.sub).toBe('approval');
  w.send({ type: 'APPROVED', now: T0 + 40 * S, by: 'alice' });
  w.succeed(1, T0 + 42 * S);
  w.failStep(2, T0 + 45 * S, 1, 'quota exceeded');
  const retryAt = w.run(2).retryAt ?? 0;
  w.tick(retryAt);
  expect(w.run(2)).toMatchObject({ status: 'running', attempt: 2, startedAt: retryAt });
  w.failStep(2, retryAt + 3 * S, 2, 'still over quota');
  expect(w.phase).toBe('rolling_back');
  w.send({
    type: 'ROLLBACK_RESULT',
    now: retryAt + 10 * S,
    step: 1,
    outcome: 'succeeded',
    message: 'undone',
  });
  expect(w.phase).toBe('failed');
  const children = [
    child({
      kind: 'step',
      stepNumber: 1,
      attempt: 1,
      startedAt: T0 + 40 * S,
      createdAt: T0 + 40 * S,
      pickedUpAt: T0 + 40 * S + 100,
      completedAt: T0 + 41_900,
      phase: 'completed',
      message: 'done',
    }),
    child({
      kind: 'step',
      stepNumber: 2,
      attempt: 1,
      startedAt: T0 + 42 * S,
      createdAt: T0 + 42 * S,
      pickedUpAt: T0 + 42_200,
      completedAt: T0 + 44_900,
      phase: 'failed',
      message: 'quota exceeded (executor)',
    }),
    child({
      kind: 'step',
      stepNumber: 2,
      attempt: 2,
      startedAt: retryAt,
      createdAt: retryAt - (retryAt % 1000),
      pickedUpAt: retryAt + 300,
      completedAt: retryAt + 2900,
      phase: 'failed',
      message: 'still over quota',
    }),
    child({
      kind: 'rollback',
      stepNumber: 1,
      attempt: 1,
      startedAt: retryAt + 3 * S,
      pickedUpAt: retryAt + 3500,
      completedAt: retryAt + 9 * S,
      phase: 'completed',
      message: 'undone',
    }),
  ];
  return { w, children, retryAt };
}

const timelineOf = (w: World, children: TimelineChild[], now: number): Timeline =>
  buildTimeline(w.snapshot, w.plan, children, { workflowName: 'wf', now });

const row = (t: Timeline, id: string): TimelineRow => {
  const found = t.rows.find((r) => r.id === id);
  if (!found) throw new Error(`no row ${id}`);
  return found;
};
const spans = (r: TimelineRow) => r.bars.map((b) => [b.kind, b.start, b.end, b.outcome]);

describe('the timeline of a run', () => {
  it('shows phases as bands: validating (with the approval wait), executing, rolling back', () => {
    const { w, children, retryAt } = runWithApprovalRetryAndRollback();
    const t = timelineOf(w, children, retryAt + 60 * S);
    expect(t.live).toBe(false);
    expect(t.start).toBe(T0);
    expect(t.end).toBe(retryAt + 10 * S);
    expect(spans(row(t, 'phases'))).toEqual([
      ['phase', T0, T0 + 40 * S, 'succeeded'],
      ['phase', T0 + 40 * S, retryAt + 3 * S, 'succeeded'],
      ['phase', retryAt + 3 * S, retryAt + 10 * S, 'succeeded'],
    ]);
    expect(row(t, 'phases').bars.map((b) => b.label)).toEqual(['validating', 'executing', 'rolling back']);
    const approval = row(t, 'validation').bars.find((b) => b.kind === 'approval');
    expect(approval).toMatchObject({
      start: T0,
      end: T0 + 40 * S,
      outcome: 'succeeded',
      message: 'approved by alice',
    });
  });

  it('draws each attempt of a retried step as a bar, the backoff between them, in order', () => {
    const { w, children, retryAt } = runWithApprovalRetryAndRollback();
    const step2 = row(timelineOf(w, children, retryAt + 60 * S), 'step-2');
    expect(spans(step2)).toEqual([
      // The first attempt, read from its child: the operator's start, the executor's end.
      ['attempt', T0 + 42 * S, T0 + 44_900, 'failed'],
      ['backoff', T0 + 44_900, retryAt, 'succeeded'],
      // The last attempt, as the status records it.
      ['attempt', retryAt, retryAt + 3 * S, 'failed'],
    ]);
    expect(step2.bars[0]).toMatchObject({
      attempt: 1,
      message: 'quota exceeded (executor)',
      child: 'wf-step-2-a1',
    });
    expect(step2.bars[2]).toMatchObject({ attempt: 2, message: 'still over quota', child: 'wf-step-2-a2' });
  });

  it('draws the rollback of a step after its attempt, and the moments each child was created and picked up', () => {
    const { w, children, retryAt } = runWithApprovalRetryAndRollback();
    const step1 = row(timelineOf(w, children, retryAt + 60 * S), 'step-1');
    expect(spans(step1)).toEqual([
      ['attempt', T0 + 40 * S, T0 + 42 * S, 'succeeded'],
      ['rollback', retryAt + 3 * S, retryAt + 10 * S, 'rolledBack'],
    ]);
    expect(step1.marks.map((m) => [m.kind, m.at])).toEqual([
      ['created', T0 + 40 * S],
      ['pickedUp', T0 + 40 * S + 100],
      // No creationTimestamp read: the operator's start stands for it.
      ['created', retryAt + 3 * S],
      ['pickedUp', retryAt + 3500],
    ]);
    const step2 = row(timelineOf(w, children, retryAt + 60 * S), 'step-2');
    // creationTimestamp has whole seconds: within that second the operator's start is the moment.
    expect(step2.marks.filter((m) => m.kind === 'created').map((m) => m.at)).toEqual([T0 + 42 * S, retryAt]);
  });

  it('goes on while the run does: open bars, the end at now, the backoff still waiting', () => {
    const w = world(spec).tick(T0);
    if (w.sub === 'safety')
      w.send({
        type: 'SAFETY_RESULT',
        now: T0,
        results: [{ type: 'rbac', required: true, result: 'passed', message: 'ok' }],
      });
    const waiting = timelineOf(w, [], T0 + 5 * S);
    expect(waiting.live).toBe(true);
    expect(waiting.end).toBe(T0 + 5 * S);
    expect(row(waiting, 'validation').bars.at(-1)).toMatchObject({
      kind: 'approval',
      end: null,
      outcome: 'waiting',
    });
    w.send({ type: 'APPROVED', now: T0 + 10 * S, by: 'alice' });
    w.succeed(1, T0 + 11 * S);
    w.failStep(2, T0 + 12 * S, 1);
    const backoff = timelineOf(w, [], T0 + 13 * S);
    expect(spans(row(backoff, 'step-2'))).toEqual([
      ['attempt', T0 + 11 * S, T0 + 12 * S, 'failed'],
      ['backoff', T0 + 12 * S, null, 'waiting'],
    ]);
    expect(spans(row(backoff, 'phases')).at(-1)).toEqual(['phase', T0 + 10 * S, null, 'running']);
  });

  it('ends an attempt that never reported (timed out) where the next one starts', () => {
    const { w, children, retryAt } = runWithApprovalRetryAndRollback();
    const hung = children.map((c) =>
      c.stepNumber === 2 && c.attempt === 1 ? { ...c, completedAt: null, phase: 'executing' as const } : c,
    );
    expect(row(timelineOf(w, hung, retryAt), 'step-2').bars[0]).toMatchObject({
      end: retryAt,
      outcome: 'unfinished',
    });
  });

  it('marks a step that never started as skipped', () => {
    const w = world(
      specWith([customStep(1, { criticalStep: true }), customStep(2, { dependsOn: [1] })]),
    ).tick(T0);
    if (w.sub === 'safety')
      w.send({
        type: 'SAFETY_RESULT',
        now: T0,
        results: [{ type: 'rbac', required: true, result: 'passed', message: 'ok' }],
      });
    w.failStep(1, T0 + S);
    const t = timelineOf(w, [], T0 + 2 * S);
    expect(row(t, 'step-2').bars).toEqual([]);
    expect(row(t, 'step-2').marks.map((m) => m.kind)).toEqual(['skipped']);
  });
});

describe('the start each child carries', () => {
  it('is the start of its attempt, so earlier attempts keep theirs after the status moves on', () => {
    const w = world(spec).tick(T0);
    if (w.sub === 'safety')
      w.send({
        type: 'SAFETY_RESULT',
        now: T0,
        results: [{ type: 'rbac', required: true, result: 'passed', message: 'ok' }],
      });
    w.send({ type: 'APPROVED', now: T0 + 40 * S, by: 'alice' });
    expect(desiredEffects(w.snapshot, w.plan, 'wf').children).toEqual([
      expect.objectContaining({ name: 'wf-step-1-a1', startedAt: T0 + 40 * S }),
    ]);
  });
});

describe('the timeline as text', () => {
  it('draws each row to scale and lists every bar with its offset, length and outcome', () => {
    const { w, children, retryAt } = runWithApprovalRetryAndRollback();
    const text = timelineText(timelineOf(w, children, retryAt + 60 * S));
    const lines = text.split('\n');
    const chart = (label: string) => lines.find((l) => l.trimStart().startsWith(label))?.split('|')[1] ?? '';
    // 40 s of approval wait in a run of retryAt + 10 s: the validating band is that share of 60 columns.
    const share = Math.round((40 * S * 60) / (retryAt + 10 * S - T0));
    expect(chart('phases').indexOf('E')).toBe(share);
    expect(chart('phases').startsWith('V'.repeat(share))).toBe(true);
    expect(chart('2 step-2')).toMatch(/^ +x+\.+x+ *$/);
    expect(chart('1 step-1')).toMatch(/^ +=+ +r+$/);
    expect(text).toContain('approval wait');
    expect(text).toMatch(/\+42\.0s\s+attempt 1\s+2s900ms\s+failed: quota exceeded \(executor\)/);
    expect(text).toContain('approved by alice');
  });
});
