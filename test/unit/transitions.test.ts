/** What happened between two snapshots, and what a workflow waits for. */
import { describe, expect, it } from '@jest/globals';
import { APPROVED_BY } from '../../src/core/observe.ts';
import { transitions, waitingFor } from '../../src/core/transitions.ts';
import { diamondSpec, specWith, step } from '../fixtures/specs.ts';
import { T0, world } from '../model/workflow-world.ts';

const S = 1000;

describe('transitions and waiting', () => {
  it('lists phase changes and step outcomes between two snapshots', () => {
    const w = world(specWith([step(1, { maxRetries: 1 }), step(2, { dependsOn: [1] })]));
    const start = w.snapshot;
    expect(transitions(null, start)).toEqual([{ kind: 'phase', from: null, to: 'planning', at: T0 }]);
    w.tick(T0 + S);
    // One event passed through validating (nothing to check): both phase changes are reported.
    expect(transitions(start, w.snapshot)).toEqual([
      { kind: 'phase', from: 'planning', to: 'validating', at: T0 + S },
      { kind: 'phase', from: 'validating', to: 'executing', at: T0 + S },
      { kind: 'step', step: 1, attempt: 1, outcome: 'started', at: T0 + S },
    ]);
    const running = w.snapshot;
    w.failStep(1, T0 + 2 * S);
    expect(transitions(running, w.snapshot)).toEqual([
      { kind: 'step', step: 1, attempt: 1, outcome: 'retrying', at: T0 + 2 * S },
    ]);
    const backoff = w.snapshot;
    w.tick(T0 + 12 * S).succeed(1, T0 + 13 * S);
    expect(transitions(backoff, w.snapshot)).toEqual([
      { kind: 'step', step: 1, attempt: 2, outcome: 'started', at: T0 + 12 * S },
      { kind: 'step', step: 1, attempt: 2, outcome: 'succeeded', at: T0 + 13 * S },
      { kind: 'step', step: 2, attempt: 1, outcome: 'started', at: T0 + 13 * S },
    ]);
  });

  it('says in one line what the workflow waits for', () => {
    const approval = world(specWith([step(1)], { approvalRequired: true })).tick(T0);
    expect(waitingFor(approval.snapshot, approval.plan)).toBe(
      `waiting for approval (annotation ${APPROVED_BY}) until 12:05:00Z`,
    );
    const diamond = world(diamondSpec())
      .tick(T0)
      .succeed(1, T0 + S);
    expect(waitingFor(diamond.snapshot, diamond.plan)).toBe('waiting for steps 2 and 3 (attempt 1)');
  });
});
