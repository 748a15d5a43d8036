/**
 * Step runs as the status stores them (short strings, issue 13): what a run is written as, that it
 * reads back as the same run, and that a string changed by hand is refused with the step named.
 */
import { describe, expect, it } from '@jest/globals';
import type { StepRun } from '../../machines/context.ts';
import { PENDING_RUN } from '../../machines/context.ts';
import { decodeStepRun, encodeStepRun } from '../../src/core/persisted-step-run.ts';
import { persist, rehydrate } from '../../src/core/statechart.ts';
import { sequentialSpec, specWith, step } from '../fixtures/specs.ts';
import { T0, world } from '../model/workflow-world.ts';

const S = 1000;
const run = (patch: Partial<StepRun>): StepRun => ({ ...PENDING_RUN, ...patch });

describe('a step run as persisted', () => {
  it.each<[string, StepRun, string]>([
    ['pending', run({}), 'P'],
    ['running', run({ status: 'running', attempt: 1, startedAt: T0 + 29_570 }), 'R1@29570'],
    [
      'succeeded',
      run({ status: 'succeeded', attempt: 1, startedAt: T0 + 29_570, finishedAt: T0 + 29_975 }),
      'S1@29570+405',
    ],
    [
      'in backoff, with its message',
      run({
        status: 'backoff',
        attempt: 2,
        startedAt: T0 + 100,
        finishedAt: T0 + 150,
        retryAt: T0 + 10_150,
        message: 'boom',
      }),
      'B2@100+50>10150|{"m":"boom"}',
    ],
    [
      'skipped, never started',
      run({ status: 'skipped', finishedAt: T0 + 31_000, message: 'not started: step 1 failed' }),
      'K=31000|{"m":"not started: step 1 failed"}',
    ],
    [
      'rolled back, with results and messages',
      run({
        status: 'succeeded',
        attempt: 1,
        startedAt: T0,
        finishedAt: T0 + 5,
        result: { success: true, scaleResult: { previousReplicas: 2, newReplicas: 3 } },
        rollback: { status: 'rolledBack', startedAt: T0 + 900, finishedAt: T0 + 920, message: 'back to 2' },
      }),
      'S1@0+5^D@900+20|{"r":{"success":true,"scaleResult":{"previousReplicas":2,"newReplicas":3}},"rm":"back to 2"}',
    ],
    [
      'rolling back',
      run({
        status: 'succeeded',
        attempt: 1,
        startedAt: T0,
        finishedAt: T0 + 5,
        rollback: { status: 'running', startedAt: T0 + 900, finishedAt: null, message: null },
      }),
      'S1@0+5^R@900',
    ],
  ])('%s is one short string that reads back as the same run', (_what, stepRun, text) => {
    expect(encodeStepRun(stepRun, T0)).toBe(text);
    expect(decodeStepRun(text, T0)).toStrictEqual({ ok: true, run: stepRun });
  });

  it.each<[string, string, RegExp]>([
    ['an unknown status letter', 'X1@0+5', /"X" is no step status/],
    ['an unknown rollback letter', 'S1@0+5^Z@9', /"Z" is no rollback status/],
    ['no status', '1@0+5', /is not "<status letter>/],
    ['a time that is not a number', 'S1@soon+5', /is not "<status letter>/],
    ['a duration without a start', 'S1+5', /not written as its run would be \("S1"\)/],
    ['an attempt written with a leading zero', 'S01@0+5', /not written as its run would be/],
    ['attempt 0 written out', 'P0', /not written as its run would be \("P"\)/],
    ['extras that are not JSON', 'F1@0+5|{"m":', /after "\|" is not JSON/],
    ['extras that are a list', 'F1@0+5|["boom"]', /after "\|" is not a JSON object/],
    ['an unknown extra', 'F1@0+5|{"why":"boom"}', /unknown member "why"/],
    ['a message that is not text', 'F1@0+5|{"m":42}', /message \(m\) is not a string/],
    ['a result that is not an object', 'S1@0+5|{"r":"ok"}', /result \(r\) is not an object/],
    ['a rollback message without a rollback', 'S1@0+5|{"rm":"x"}', /not written as its run would be/],
  ])('with %s is refused', (_what, text, problem) => {
    const decoded = decodeStepRun(text, T0);
    expect(decoded.ok).toBe(false);
    expect(!decoded.ok && decoded.problem).toMatch(problem);
  });
});

describe('rehydrating a snapshot whose step runs were changed', () => {
  const running = () =>
    world(specWith([step(1), step(2, { dependsOn: [1] }), step(3, { dependsOn: [2] })]))
      .tick(T0)
      .succeed(1, T0 + S);
  const refusal = (change: (steps: Record<string, unknown>) => void) => {
    const w = running();
    const envelope = JSON.parse(JSON.stringify(persist(w.snapshot, 'h'))) as ReturnType<typeof persist>;
    change((envelope.snapshot['context'] as { steps: Record<string, unknown> }).steps);
    const result = rehydrate(envelope, { machine: w.machine, hash: 'h', plan: w.plan });
    return result.ok ? null : { reason: result.reason, message: result.message };
  };

  it('restores the unchanged one', () => {
    expect(refusal(() => undefined)).toBeNull();
  });
  it('refuses a corrupted string, saying which step and why', () => {
    expect(
      refusal((steps) => {
        steps['2'] = 'R1@1000+x';
      }),
    ).toEqual({
      reason: 'SnapshotError',
      message: expect.stringMatching(
        /^context\.steps\.2: the run of step 2 "R1@1000\+x" cannot be read: /,
      ) as unknown,
    });
  });
  it('refuses a run that is still an object', () => {
    expect(
      refusal((steps) => {
        steps['1'] = { ...PENDING_RUN };
      }),
    ).toMatchObject({ reason: 'SnapshotError', message: expect.stringContaining('step 1') as unknown });
  });
  it('refuses a missing run and a run of a step the plan does not have', () => {
    expect(
      refusal((steps) => {
        delete steps['3'];
      }),
    ).toEqual({ reason: 'SnapshotError', message: 'context.steps: step 3 of the plan has no run' });
    expect(
      refusal((steps) => {
        steps['9'] = 'P';
      }),
    ).toEqual({ reason: 'SnapshotError', message: 'context.steps.9: step 9 is not in the plan' });
  });
  it('refuses a run whose status is no state of its step (StateMismatch stays)', () => {
    // Step 3 has no retries, so no backoff state; its rebuilt region cannot be restored.
    expect(
      refusal((steps) => {
        steps['3'] = 'B1@0+5>900';
      }),
    ).toMatchObject({ reason: 'StateMismatch' });
  });
  it('refuses stored step regions: they are rebuilt from the runs', () => {
    const w = running();
    const envelope = JSON.parse(JSON.stringify(persist(w.snapshot, 'h'))) as ReturnType<typeof persist>;
    const result = rehydrate(
      { ...envelope, snapshot: { ...envelope.snapshot, value: w.snapshot.value } },
      { machine: w.machine, hash: 'h', plan: w.plan },
    );
    expect(result).toMatchObject({ ok: false, reason: 'StateMismatch' });
  });
  it('writes each finished step of a 150-step chain as its status, attempt, start and duration', () => {
    let w = world(sequentialSpec(150)).tick(T0);
    for (let n = 1; n <= 150; n++) w = w.succeed(n, T0 + n * S);
    const steps = (persist(w.snapshot, 'h').snapshot['context'] as { steps: Record<string, string> }).steps;
    expect(steps['150']).toBe('S1@149000+1000');
  });
});
