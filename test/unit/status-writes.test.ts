/** Which changes are written at once and which step progress may wait to share a later write. */
import { describe, expect, it } from '@jest/globals';
import { statusWrite } from '../../src/core/status-writes.ts';
import { transitions, type Transition } from '../../src/core/transitions.ts';
import { specWith, step } from '../fixtures/specs.ts';
import { T0, world } from '../model/workflow-world.ts';

const S = 1000;
const DELAY = 1000;
/** A chain 1 -> 2 -> 3, started and executing step 1. */
const executingChain = () => {
  const w = world(specWith([step(1), step(2, { dependsOn: [1] }), step(3, { dependsOn: [2] })]));
  w.tick(T0 + S);
  return w;
};

describe('step progress', () => {
  it('waits when a step succeeds and the next one starts', () => {
    const w = executingChain();
    const before = w.snapshot;
    w.succeed(1, T0 + 2 * S);
    const happened = transitions(before, w.snapshot);
    expect(happened.map((t) => t.kind === 'step' && `${t.step}:${t.outcome}`)).toEqual([
      '1:succeeded',
      '2:started',
    ]);
    expect(statusWrite(happened, T0 + 2 * S, T0 + 2 * S, DELAY)).toEqual({ now: false, inMs: DELAY });
  });

  it('is written once the oldest waiting progress waited the whole delay', () => {
    const w = executingChain();
    const before = w.snapshot;
    w.succeed(1, T0 + 2 * S).succeed(2, T0 + 2 * S + 400);
    const happened = transitions(before, w.snapshot);
    expect(statusWrite(happened, T0 + 2 * S, T0 + 2 * S + 400, DELAY)).toEqual({ now: false, inMs: 600 });
    expect(statusWrite(happened, T0 + 2 * S, T0 + 3 * S, DELAY)).toEqual({ now: true });
  });

  it('is written at once when the delay is 0', () => {
    const w = executingChain();
    const before = w.snapshot;
    w.succeed(1, T0 + 2 * S);
    expect(statusWrite(transitions(before, w.snapshot), T0 + 2 * S, T0 + 2 * S, 0)).toEqual({ now: true });
  });
});

describe('changes written at once, with the progress that waited before them', () => {
  it.each<[string, (w: ReturnType<typeof executingChain>) => void]>([
    ['a step fails', (w) => w.failStep(1, T0 + 2 * S, 1, 'broken')],
    [
      'the last step succeeds and the workflow leaves execution',
      (w) =>
        w
          .succeed(1, T0 + 2 * S)
          .succeed(2, T0 + 3 * S)
          .succeed(3, T0 + 4 * S),
    ],
  ])('%s', (_what, move) => {
    const w = executingChain();
    const before = w.snapshot;
    move(w);
    const happened = transitions(before, w.snapshot);
    expect(statusWrite(happened, T0 + 2 * S, T0 + 2 * S, DELAY)).toEqual({ now: true });
  });

  it('a phase change (planning -> executing)', () => {
    const w = world(specWith([step(1)]));
    const before = w.snapshot;
    w.tick(T0 + S);
    const happened = transitions(before, w.snapshot);
    expect(happened.some((t: Transition) => t.kind === 'phase')).toBe(true);
    expect(statusWrite(happened, T0 + S, T0 + S, DELAY)).toEqual({ now: true });
  });

  it('nothing happened (the caller finds nothing to write, or a change of its own)', () => {
    expect(statusWrite([], T0, T0, DELAY)).toEqual({ now: true });
  });
});
