/** The decide step of a reconcile: what it asks the shell to check, and what it decides. */
import { describe, expect, it } from '@jest/globals';
import type { AdmissionVerdict, SafetyCheckResult } from '../../machines/events.ts';
import {
  CHECK_RETRY_MS,
  decide,
  type Decided,
  type Decision,
  type DecideInput,
} from '../../src/core/decide.ts';
import { compileWorkflow, type Compiled } from '../../src/core/load.ts';
import { advance, initialSnapshot, phaseOf } from '../../src/core/statechart.ts';
import { RETRY_REQUESTED_BY } from '../../src/core/observe.ts';
import { customStep, specWith } from '../fixtures/specs.ts';
import { HEALTHY, T0 } from '../model/workflow-world.ts';

const S = 1000;
const DELAY = 1000;

function compiled(safety: boolean): Compiled {
  const spec = specWith([customStep(1), customStep(2)], {
    ...(safety ? { safetyChecks: [{ type: 'rbac', required: true }] } : {}),
  });
  const c = compileWorkflow(spec);
  if (!c.ok) throw new Error('fixture spec is invalid');
  return c;
}

const rbac = (result: SafetyCheckResult['result']): SafetyCheckResult[] => [
  { type: 'rbac', required: true, result, message: result },
];

function inputFor(c: Compiled, overrides: Partial<DecideInput> = {}): DecideInput {
  const from = initialSnapshot(c.machine, T0);
  return {
    compiled: c,
    name: 'wf',
    written: from,
    from,
    seen: { children: [], annotations: {} },
    now: T0 + S,
    waitingSince: T0 + S,
    progressWriteDelayMs: DELAY,
    monitoringPollMs: 2 * S,
    ...overrides,
  };
}

/**
 * The first decision of a run, with the safety checks every run asks for answered passed, and then
 * admission (asked within the same reconcile) answered admitted.
 */
function pastValidation(c: Compiled): Decided {
  const input = inputFor(c);
  const asked = decide(input);
  if (asked.kind !== 'check') return mustDecide(asked);
  const safety = c.plan.safetyChecks.map((check) => ({
    type: check.type,
    required: check.required ?? true,
    result: 'passed' as const,
    message: 'passed',
  }));
  const admission = decide({ ...input, ...asked.resume, checks: { safety } });
  if (admission.kind !== 'check') return mustDecide(admission);
  return mustDecide(decide({ ...input, ...admission.resume, checks: { admission: ADMITTED } }));
}

const ADMITTED: AdmissionVerdict = { admitted: true };
const BUSY: AdmissionVerdict = {
  admitted: false,
  block: { reason: 'TargetBusy', target: 'Deployment shop/web', holder: 'shop/first/uid-1' },
};

function mustDecide(d: Decision): Decided {
  if (d.kind !== 'decided') throw new Error(`asked for ${JSON.stringify(d.request)}`);
  return d;
}

describe('deciding a reconcile', () => {
  it('asks for the safety checks a new validation waits for, and decides with their verdict', () => {
    const c = compiled(true);
    const input = inputFor(c);
    const asked = decide(input);
    expect(asked.kind === 'check' && asked.request).toEqual({
      safety: true,
      admission: false,
      requested: false,
      effectiveness: null,
    });
    if (asked.kind !== 'check') throw new Error('no check asked');
    expect(phaseOf(asked.resume.from)).toBe('validating');
    // Passed: admission, the gate after it, is asked within the same reconcile.
    const admission = decide({ ...input, ...asked.resume, checks: { safety: rbac('passed') } });
    expect(admission.kind === 'check' && admission.request).toEqual({
      safety: false,
      admission: true,
      requested: false,
      effectiveness: null,
    });
    if (admission.kind !== 'check') throw new Error('admission not asked');
    expect(admission.resume.rounds).toBe(2);
    const d = mustDecide(decide({ ...input, ...admission.resume, checks: { admission: ADMITTED } }));
    expect(phaseOf(d.snapshot)).toBe('executing');
    expect(d.effects.children.map((child) => child.name)).toEqual(['wf-step-1-a1']);
    expect(d.write).toEqual({ now: true });
    expect(d.finished).toBeNull();
  });

  it('looks again soon when a safety check gave no verdict', () => {
    const c = compiled(true);
    const input = inputFor(c);
    const asked = decide(input);
    if (asked.kind !== 'check') throw new Error('no check asked');
    const d = mustDecide(decide({ ...input, ...asked.resume, checks: { safety: rbac('error') } }));
    expect(phaseOf(d.snapshot)).toBe('validating');
    expect(d.requeueAfterMs).toBe(CHECK_RETRY_MS);
  });

  it('waits in validating while a target is busy, records the block once, and asks again with backoff', () => {
    const c = compiled(true);
    const input = inputFor(c);
    const asked = decide(input);
    if (asked.kind !== 'check') throw new Error('no check asked');
    const admission = decide({ ...input, ...asked.resume, checks: { safety: rbac('passed') } });
    if (admission.kind !== 'check') throw new Error('admission not asked');
    const blocked = mustDecide(decide({ ...input, ...admission.resume, checks: { admission: BUSY } }));
    expect(phaseOf(blocked.snapshot)).toBe('validating');
    expect(blocked.snapshot.context.admission).toEqual({
      block: { reason: 'TargetBusy', target: 'Deployment shop/web', holder: 'shop/first/uid-1' },
      since: T0 + S,
    });
    expect(blocked.effects.children).toEqual([]);
    expect(blocked.happened.filter((t) => t.kind === 'blocked')).toHaveLength(1);
    expect(blocked.requeueAfterMs).toBe(1000);
    // Later, still busy: nothing new happened (no write, no Event), and it asks less often.
    const written = blocked.snapshot;
    const later = inputFor(c, { written, from: written, now: T0 + 21 * S, waitingSince: T0 + 21 * S });
    const again = decide(later);
    expect(again.kind === 'check' && again.request).toMatchObject({ admission: true, safety: false });
    if (again.kind !== 'check') throw new Error('admission not asked');
    const still = mustDecide(decide({ ...later, ...again.resume, checks: { admission: BUSY } }));
    expect(still.happened).toEqual([]);
    expect(still.snapshot.context.admission?.since).toBe(T0 + S);
    expect(still.requeueAfterMs).toBe(5000);
    // Admitted: executing, the block cleared.
    const free = mustDecide(decide({ ...later, ...again.resume, checks: { admission: ADMITTED } }));
    expect(phaseOf(free.snapshot)).toBe('executing');
    expect(free.snapshot.context.admission).toBeNull();
  });

  it("asks a retry's admission as requested: no cooldown holds it back", () => {
    const critical = compileWorkflow(
      specWith([customStep(1, { criticalStep: true })], { rollbackStrategy: 'none' }),
    );
    if (!critical.ok) throw new Error('fixture spec is invalid');
    const c = critical;
    const executing = pastValidation(c).snapshot;
    const failedNow = advance(c.machine, executing, [
      { type: 'STEP_RESULT', now: T0 + 2 * S, step: 1, attempt: 1, outcome: 'failed' },
    ]);
    expect(phaseOf(failedNow)).toBe('failed');
    const retry = inputFor(c, {
      written: failedNow,
      from: failedNow,
      now: T0 + 3 * S,
      seen: { children: [], annotations: { [RETRY_REQUESTED_BY]: 'erin/r1' } },
    });
    const asked = decide(retry);
    expect(asked.kind === 'check' && asked.request).toMatchObject({ admission: true, requested: true });
  });

  it('looks again soon when admission could not be asked', () => {
    const c = compiled(true);
    const input = inputFor(c);
    const asked = decide(input);
    if (asked.kind !== 'check') throw new Error('no check asked');
    const admission = decide({ ...input, ...asked.resume, checks: { safety: rbac('passed') } });
    if (admission.kind !== 'check') throw new Error('admission not asked');
    const d = mustDecide(decide({ ...input, ...admission.resume, checks: {} }));
    expect(phaseOf(d.snapshot)).toBe('validating');
    expect(d.requeueAfterMs).toBe(CHECK_RETRY_MS);
  });

  it('lets step progress wait for a later write, and requeues when it is due', () => {
    const c = compiled(false);
    const started = pastValidation(c);
    expect(started.effects.children.map((child) => child.name)).toEqual(['wf-step-1-a1']);
    const written = started.snapshot;
    const d = mustDecide(
      decide(
        inputFor(c, {
          written,
          from: written,
          now: T0 + 2 * S,
          waitingSince: T0 + 2 * S,
          seen: {
            children: [{ kind: 'step', stepNumber: 1, attempt: 1, phase: 'completed' }],
            annotations: {},
          },
        }),
      ),
    );
    expect(d.happened.map((t) => t.kind === 'step' && [t.step, t.outcome])).toEqual([
      [1, 'succeeded'],
      [2, 'started'],
    ]);
    expect(d.write).toEqual({ now: false, inMs: DELAY });
    expect(d.requeueAfterMs).toBe(DELAY);
  });

  it('asks for the effectiveness check once the steps are done, and completes with its finding', () => {
    const c = compiled(false);
    const from = pastValidation(c).snapshot;
    const done = [1, 2].map((n) => ({
      kind: 'step' as const,
      stepNumber: n,
      attempt: 1,
      phase: 'completed' as const,
    }));
    // Both results seen at once: step 2 starts with step 1's success and its result is taken next.
    const input = inputFor(c, {
      written: from,
      from,
      now: T0 + 3 * S,
      seen: { children: done, annotations: {} },
    });
    const d = decide(input);
    expect(d.kind === 'check' && d.request).toEqual({
      safety: false,
      admission: false,
      requested: false,
      effectiveness: {
        succeededSteps: new Set([1, 2]),
        results: new Map(),
        since: T0 + S,
        stabilityWindowMs: null,
      },
    });
    if (d.kind !== 'check') throw new Error('no check asked');
    const finished = mustDecide(decide({ ...input, ...d.resume, checks: { effectiveness: HEALTHY } }));
    expect(finished.finished).toBe('completed');
    expect(finished.snapshot.context.outcome).toBe('success');
  });
});
