/** What the shell saw, as events for the machine. */
import { describe, expect, it } from '@jest/globals';
import {
  APPROVED_BY,
  CANCEL_REQUESTED_BY,
  REJECTED_BY,
  ROLLBACK_REQUESTED_BY,
  RETRY_REQUESTED_BY,
  parseRetryRequest,
  observe,
} from '../../src/core/observe.ts';
import { HEALTHY, T0 } from '../model/workflow-world.ts';

describe('observe', () => {
  it('turns children and annotations into events, always with one TICK first', () => {
    const events = observe({
      now: T0,
      children: [
        { kind: 'step', stepNumber: 2, attempt: 1, phase: 'failed', message: 'nope' },
        { kind: 'step', stepNumber: 1, attempt: 1, phase: 'completed' },
        { kind: 'step', stepNumber: 3, attempt: 1, phase: 'executing' },
        { kind: 'dryRun', stepNumber: 1, attempt: 1, phase: 'completed', wouldSucceed: false },
        { kind: 'rollback', stepNumber: 1, attempt: 1, phase: 'completed' },
      ],
      annotations: {
        [APPROVED_BY]: 'alice',
        [REJECTED_BY]: 'bob',
        [CANCEL_REQUESTED_BY]: 'carol',
        [ROLLBACK_REQUESTED_BY]: 'dave',
        unrelated: 'x',
      },
      effectiveness: HEALTHY,
    });
    expect(events.map((e) => e.type)).toEqual([
      'TICK',
      'DRYRUN_RESULT',
      'STEP_RESULT',
      'STEP_RESULT',
      'ROLLBACK_RESULT',
      'EFFECTIVENESS_RESULT',
      'REJECTED',
      'APPROVED',
      'CANCEL_REQUESTED',
      'ROLLBACK_REQUESTED',
    ]);
    expect(events[1]).toEqual({ type: 'DRYRUN_RESULT', now: T0, step: 1, outcome: 'failed' });
    expect(events[3]).toEqual({
      type: 'STEP_RESULT',
      now: T0,
      step: 2,
      attempt: 1,
      outcome: 'failed',
      message: 'nope',
    });
    expect(observe({ now: T0, children: [], annotations: {} })).toEqual([{ type: 'TICK', now: T0 }]);
  });

  it('reads a retry request as its user and its request id, split at the last slash', () => {
    const retryOf = (value: string) =>
      observe({ now: T0, children: [], annotations: { [RETRY_REQUESTED_BY]: value } }).filter(
        (e) => e.type === 'RETRY_REQUESTED',
      );
    expect(retryOf('system:serviceaccount:ops:bot/2026-12-01T22:40:00.000Z')).toEqual([
      {
        type: 'RETRY_REQUESTED',
        now: T0,
        by: 'system:serviceaccount:ops:bot',
        request: '2026-12-01T22:40:00.000Z',
      },
    ]);
    // Without an id (set by hand, no admission policy) the value names both: it retries once.
    expect(parseRetryRequest('alice')).toEqual({ by: 'alice', request: 'alice' });
    expect(parseRetryRequest('alice/')).toEqual({ by: 'alice/', request: 'alice/' });
    expect(retryOf('  ')).toEqual([]);
  });
});
