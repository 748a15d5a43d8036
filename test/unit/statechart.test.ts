/** The statechart in the resource: persisted, rehydrated (or refused), advanced. */
import { describe, expect, it } from '@jest/globals';
import { MACHINE_VERSION } from '../../machines/workflow.ts';
import { machineOf } from '../../src/core/load.ts';
import { specHash } from '../../src/core/spec-hash.ts';
import { STATECHART_SCHEMA, advance, persist, phaseOf, rehydrate } from '../../src/core/statechart.ts';
import { diamondSpec, sequentialSpec } from '../fixtures/specs.ts';
import { T0, admitted, checksPassed, legacyEnvelope, planOf, world } from '../model/workflow-world.ts';

const S = 1000;

describe('rehydrate and persist', () => {
  const spec = diamondSpec();
  const hash = specHash(spec);
  const running = () =>
    world(spec)
      .tick(T0)
      .succeed(1, T0 + S);

  it('gives the initial planning snapshot without an envelope', () => {
    const machine = machineOf(planOf(spec));
    const result = rehydrate(undefined, { machine, hash, plan: planOf(spec) }, T0);
    expect(result.ok && phaseOf(result.snapshot)).toBe('planning');
    expect(result.ok && result.snapshot.context.times.planning).toBe(T0);
  });

  it('restores exactly what it persisted, through JSON', () => {
    const w = running();
    const envelope = JSON.parse(JSON.stringify(persist(w.snapshot, hash))) as ReturnType<typeof persist>;
    expect(envelope).toMatchObject({
      schema: STATECHART_SCHEMA,
      machineVersion: MACHINE_VERSION,
      specHash: hash,
    });
    expect(Object.keys(envelope.snapshot).sort()).toEqual(['context', 'status', 'value']);
    const result = rehydrate(envelope, { machine: w.machine, hash, plan: w.plan });
    if (!result.ok) throw new Error(result.message);
    expect(result.snapshot.value).toEqual(w.snapshot.value);
    expect(result.snapshot.context).toStrictEqual(w.snapshot.context);
    const next = advance(w.machine, result.snapshot, [
      { type: 'STEP_RESULT', now: T0 + 2 * S, step: 2, attempt: 1, outcome: 'succeeded' },
    ]);
    expect(persist(next, hash)).toEqual(persist(running().succeed(2, T0 + 2 * S).snapshot, hash));
  });

  const refusal = (mutate: (e: ReturnType<typeof persist>) => unknown, hashNow = hash) => {
    const w = running();
    const envelope = JSON.parse(JSON.stringify(persist(w.snapshot, hash))) as ReturnType<typeof persist>;
    const changed = (mutate(envelope) as ReturnType<typeof persist> | undefined) ?? envelope;
    const result = rehydrate(changed, { machine: w.machine, hash: hashNow, plan: w.plan });
    return result.ok ? null : result.reason;
  };

  it('refuses an unknown schema', () => {
    expect(refusal((e) => ({ ...e, schema: 'example.com/v9' }))).toBe('UnknownSchema');
  });
  it('refuses a machine version without a migration', () => {
    expect(refusal((e) => ({ ...e, machineVersion: MACHINE_VERSION + 1 }))).toBe('UnsupportedMachineVersion');
    expect(refusal((e) => ({ ...e, machineVersion: -1 }))).toBe('UnsupportedMachineVersion');
  });
  it('refuses a snapshot made for another spec', () => {
    expect(refusal(() => undefined, specHash(sequentialSpec(4)))).toBe('SpecHashMismatch');
  });
  it('refuses a snapshot in error', () => {
    expect(refusal((e) => ({ ...e, snapshot: { ...e.snapshot, status: 'error', error: 'x' } }))).toBe(
      'SnapshotError',
    );
  });
  it('refuses a state the machine would restore differently', () => {
    // A missing region would be silently filled in by XState.
    expect(
      refusal((e) => ({ ...e, snapshot: { ...e.snapshot, value: { executing: { step1: 'succeeded' } } } })),
    ).toBe('StateMismatch');
    expect(refusal((e) => ({ ...e, snapshot: { ...e.snapshot, value: 'sleeping' } }))).toBe('StateMismatch');
  });

  it('migrates a version 0 snapshot (steps as a list, phaseTimes) to the current shape', () => {
    const w = running();
    const current = legacyEnvelope(w.snapshot, hash, 0);
    const context = w.snapshot.context;
    const v0 = {
      ...current,
      snapshot: {
        ...current.snapshot,
        context: {
          ...Object.fromEntries(Object.entries(context).filter(([k]) => k !== 'steps' && k !== 'times')),
          steps: Object.entries(context.steps).map(([n, run]) => ({
            number: Number(n),
            status: run.status,
            attempt: run.attempt,
            startedAt: run.startedAt,
            finishedAt: run.finishedAt,
          })),
          phaseTimes: {
            planning: context.times.planning,
            validating: context.times.validating,
            executing: context.times.executing,
          },
        },
      },
    };
    const result = rehydrate(v0, { machine: w.machine, hash, plan: w.plan });
    if (!result.ok) throw new Error(result.message);
    expect(result.migratedFrom).toBe(0);
    expect(result.snapshot.context.steps['2']).toEqual({ ...context.steps['2'] });
    expect(result.snapshot.context.times).toEqual({ ...context.times, monitoring: null, finished: null });
    expect(rehydrate(v0, { machine: w.machine, hash, plan: w.plan }, 0, {}).ok).toBe(false);
  });

  it('keeps a 200-step snapshot small', () => {
    const big = world(sequentialSpec(200)).tick(T0);
    expect(JSON.stringify(persist(big.snapshot, 'h')).length).toBeLessThan(64 * 1024);
  });
});

describe('advance', () => {
  it('folds events in order, like sending them one by one', () => {
    const w = world(sequentialSpec(2));
    const folded = advance(w.machine, w.snapshot, [
      { type: 'TICK', now: T0 },
      checksPassed(w.plan, T0),
      admitted(T0),
      { type: 'STEP_RESULT', now: T0 + S, step: 1, attempt: 1, outcome: 'succeeded' },
    ]);
    w.tick(T0).succeed(1, T0 + S);
    expect(folded.context).toEqual(w.snapshot.context);
  });
});
