import { describe, expect, it } from '@jest/globals';
import type { WorkflowEvent } from '../../machines/events.ts';
import type { WorkflowSnapshot } from '../../machines/workflow.ts';
import { advance, initialSnapshot } from '../../src/core/statechart.ts';
import {
  childSpanId,
  runSpanId,
  spansEnded,
  traceIdOf,
  traceparentOf,
  type CompletedSpan,
} from '../../src/core/trace-spans.ts';
import { customRollback, customStep, specWith } from '../fixtures/specs.ts';
import { HEALTHY, T0, admitted, checksPassed, planOf } from '../model/workflow-world.ts';
import { machineOf } from '../../src/core/load.ts';

const S = 1000;
const wf = { uid: '6f1c2a9e-0000-4000-8000-000000000001', name: 'wf', namespace: 'shop' };

/** Approval after 40 s; step 1 succeeds; step 2 fails once, waits, then its critical retry fails; step 1 is undone. */
function eventsOfRun(plan: ReturnType<typeof planOf>): WorkflowEvent[] {
  const retryAt = T0 + 45 * S + plan.backoff.baseMs;
  return [
    { type: 'TICK', now: T0 },
    checksPassed(plan, T0),
    { type: 'APPROVED', now: T0 + 40 * S, by: 'alice' },
    admitted(T0 + 40 * S),
    { type: 'STEP_RESULT', now: T0 + 42 * S, step: 1, attempt: 1, outcome: 'succeeded' },
    { type: 'STEP_RESULT', now: T0 + 45 * S, step: 2, attempt: 1, outcome: 'failed', message: 'quota' },
    { type: 'TICK', now: retryAt },
    { type: 'STEP_RESULT', now: retryAt + 3 * S, step: 2, attempt: 2, outcome: 'failed', message: 'quota' },
    { type: 'ROLLBACK_RESULT', now: retryAt + 9 * S, step: 1, outcome: 'succeeded' },
  ];
}

const spec = specWith(
  [customStep(1, { rollbackSpec: customRollback(1) }), customStep(2, { maxRetries: 1, criticalStep: true })],
  { approvalRequired: true },
);

/** The spans a run emits when its status is written after the events of each group. */
function emitted(groups: WorkflowEvent[][]): CompletedSpan[] {
  const plan = planOf(spec);
  const machine = machineOf(plan);
  let written: WorkflowSnapshot | null = null;
  let snapshot = initialSnapshot(machine, T0);
  const spans: CompletedSpan[] = [];
  for (const events of groups) {
    snapshot = advance(machine, snapshot, events);
    spans.push(...spansEnded(written, snapshot, plan, wf));
    written = snapshot;
  }
  return spans;
}

const byId = (spans: CompletedSpan[]) => [...spans].sort((a, b) => a.spanId.localeCompare(b.spanId));

describe('spans of a run, from its persisted state', () => {
  const events = eventsOfRun(planOf(spec));
  const everyEvent = emitted(events.map((e) => [e]));

  it('gives one trace: the run, its phases, the approval wait, each attempt and the rollback, each once', () => {
    expect(new Set(everyEvent.map((s) => s.traceId))).toEqual(new Set([traceIdOf(wf.uid)]));
    expect(new Set(everyEvent.map((s) => s.spanId)).size).toBe(everyEvent.length);
    expect(everyEvent.map((s) => s.name).sort()).toEqual(
      [
        'approval wait',
        'phase executing',
        'phase rolling back',
        'phase validating',
        'rollback step 1 step-1',
        // Every run's four safety checks, under their validation span.
        'safety check capacity',
        'safety check health',
        'safety check network',
        'safety check rbac',
        'safety checks',
        'step 1 step-1 attempt 1',
        'step 2 step-2 attempt 1',
        'step 2 step-2 attempt 2',
        'workflow remediate-web',
      ].sort(),
    );
  });

  it('nests them: phases under the run, attempts under executing, the rollback under rolling back', () => {
    const named = (name: string) => everyEvent.find((s) => s.name === name);
    const root = named('workflow remediate-web');
    expect(root).toMatchObject({ spanId: runSpanId(wf.uid), parentSpanId: null, start: T0 });
    for (const phase of ['phase validating', 'phase executing', 'phase rolling back'])
      expect(named(phase)?.parentSpanId).toBe(root?.spanId);
    expect(named('approval wait')?.parentSpanId).toBe(named('phase validating')?.spanId);
    expect(named('step 2 step-2 attempt 2')?.parentSpanId).toBe(named('phase executing')?.spanId);
    expect(named('rollback step 1 step-1')?.parentSpanId).toBe(named('phase rolling back')?.spanId);
    expect(named('step 2 step-2 attempt 1')).toMatchObject({
      spanId: childSpanId(wf.uid, 'step', 2, 1),
      start: T0 + 42 * S,
      end: T0 + 45 * S,
      error: 'quota',
      attributes: expect.objectContaining({ 'workflow.step.attempt': 1, 'workflow.step.critical': true }),
    });
    expect(traceparentOf(wf.uid, 'step', 2, 1)).toBe(
      `00-${traceIdOf(wf.uid)}-${childSpanId(wf.uid, 'step', 2, 1)}-01`,
    );
  });

  it('are the same spans however the commits group the events (a restart replays nothing)', () => {
    // A failed attempt is always written at once (src/core/status-writes.ts), before its retry starts.
    const failedFirst = events.findIndex((e) => e.type === 'STEP_RESULT' && e.outcome === 'failed') + 1;
    expect(byId(emitted([events.slice(0, failedFirst), events.slice(failedFirst)]))).toEqual(
      byId(everyEvent),
    );
    expect(
      byId(emitted([events.slice(0, 2), events.slice(2, failedFirst), events.slice(failedFirst)])),
    ).toEqual(byId(everyEvent));
    // A commit that changes nothing emits nothing.
    expect(emitted([...events.map((e) => [e]), []]).length).toBe(everyEvent.length);
  });

  it('include the safety checks and the effectiveness check of a run that completes', () => {
    const plan = planOf(specWith([customStep(1)]));
    const machine = machineOf(plan);
    let snapshot = advance(machine, initialSnapshot(machine, T0), [{ type: 'TICK', now: T0 }]);
    const spans: CompletedSpan[] = [];
    const events: WorkflowEvent[] = [
      {
        type: 'SAFETY_RESULT',
        now: T0 + S,
        results: [{ type: 'rbac', required: true, result: 'passed', message: 'ok' }],
      },
      admitted(T0 + S),
      { type: 'STEP_RESULT', now: T0 + 2 * S, step: 1, attempt: 1, outcome: 'succeeded' },
      { type: 'EFFECTIVENESS_RESULT', now: T0 + 5 * S, ...HEALTHY },
    ];
    let written: WorkflowSnapshot | null = snapshot;
    for (const e of events) {
      snapshot = advance(machine, snapshot, [e]);
      spans.push(...spansEnded(written, snapshot, plan, wf));
      written = snapshot;
    }
    const names = spans.map((s) => s.name);
    if (plan.safetyChecks.length > 0) expect(names).toContain('safety check rbac');
    expect(names).toContain('effectiveness check');
    expect(spans.find((s) => s.name === 'effectiveness check')).toMatchObject({
      start: T0 + 2 * S,
      end: T0 + 5 * S,
      error: null,
    });
    expect(names).toContain('phase monitoring');
  });
});
