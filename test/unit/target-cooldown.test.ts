/** Cooldown and backoff per target, the pure part: the rules, the history on a Lease, its end. */
import { describe, expect, it } from '@jest/globals';
import {
  DEFAULT_COOLDOWN_POLICY,
  NO_COOLDOWN,
  backoffMs,
  cooldownBlock,
  historyAnnotations,
  historyEndsAt,
  historyFromAnnotations,
  policyForRun,
  recordOutcome,
  remembers,
  type TargetHistory,
} from '../../src/core/target-cooldown.ts';
import { describeBlock } from '../../src/core/target-locks.ts';
import { msOfIso, isoOf } from '../../src/core/time.ts';

const T0 = msOfIso('2026-01-02T03:04:05.000Z') ?? 0;
const MIN = 60_000;
const web = 'Deployment shop/web';
const policy = DEFAULT_COOLDOWN_POLICY;

const failedTimes = (n: number): TargetHistory => {
  let history: TargetHistory | undefined;
  for (let i = 0; i < n; i++) history = recordOutcome(history, `shop/run-${i}`, 'failed', T0);
  if (!history) throw new Error('no failures');
  return history;
};

describe('the defaults', () => {
  it('are 5 minutes of cooldown, 3 failures then 30 minutes, and 1 minute of backoff doubling to 10', () => {
    expect(policy).toEqual({
      cooldownMs: 5 * MIN,
      failureThreshold: 3,
      failureBlockMs: 30 * MIN,
      backoffBaseMs: MIN,
      backoffMaxMs: 10 * MIN,
    });
  });
});

describe('after a completed run', () => {
  const done = recordOutcome(failedTimes(2), 'shop/first', 'completed', T0);

  it('resets the failures in a row', () => {
    expect(done).toEqual({
      lastRun: 'shop/first',
      lastOutcome: 'completed',
      settledAt: T0,
      consecutiveFailures: 0,
    });
  });

  it('blocks the target RecentlyRemediated until the window ends, naming the run', () => {
    const block = cooldownBlock(policy, done, web, T0 + MIN);
    expect(block).toEqual({
      reason: 'RecentlyRemediated',
      target: web,
      run: 'shop/first',
      until: T0 + 5 * MIN,
    });
    expect(block && describeBlock(block)).toBe(
      'Deployment shop/web was remediated by WorkflowExecution shop/first; its cooldown ends at 2026-01-02T03:09:05Z',
    );
    expect(cooldownBlock(policy, done, web, T0 + 5 * MIN)).toBeNull();
  });

  it('blocks nothing with a window of 0, and is not remembered', () => {
    const off = { ...policy, cooldownMs: 0 };
    expect(cooldownBlock(off, done, web, T0)).toBeNull();
    expect(remembers(off, 'completed')).toBe(false);
    expect(remembers(policy, 'completed')).toBe(true);
  });
});

describe("a run's own window (executionStrategy.targetCooldown)", () => {
  it('shortens the operator window or opts out, never lengthens it', () => {
    expect(policyForRun(policy, undefined)).toBe(policy);
    expect(policyForRun(policy, MIN).cooldownMs).toBe(MIN);
    expect(policyForRun(policy, 0).cooldownMs).toBe(0);
    expect(policyForRun(policy, 60 * MIN).cooldownMs).toBe(5 * MIN);
    expect(policyForRun(policy, MIN)).toMatchObject({ failureThreshold: 3, backoffBaseMs: MIN });
  });
});

describe('after failed runs', () => {
  it('backs off 1, 2, 4 ... minutes, capped at the maximum', () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffMs(policy, n) / MIN)).toEqual([1, 2, 4, 8, 10, 10]);
    expect(backoffMs(policy, 0)).toBe(0);
    expect(backoffMs(NO_COOLDOWN, 4)).toBe(0);
    expect(backoffMs(policy, 10_000)).toBe(10 * MIN);
  });

  it('blocks the target with Backoff below the threshold', () => {
    const twice = failedTimes(2);
    expect(twice.consecutiveFailures).toBe(2);
    expect(cooldownBlock(policy, twice, web, T0 + MIN)).toEqual({
      reason: 'Backoff',
      target: web,
      run: 'shop/run-1',
      failures: 2,
      until: T0 + 2 * MIN,
    });
    expect(cooldownBlock(policy, twice, web, T0 + 2 * MIN)).toBeNull();
  });

  it('blocks the target with TargetFailing for the period once the threshold is reached', () => {
    const thrice = failedTimes(3);
    const block = cooldownBlock(policy, thrice, web, T0 + 20 * MIN);
    expect(block).toEqual({
      reason: 'TargetFailing',
      target: web,
      run: 'shop/run-2',
      failures: 3,
      until: T0 + 30 * MIN,
    });
    expect(block && describeBlock(block)).toContain('failed 3 runs in a row');
    expect(cooldownBlock(policy, thrice, web, T0 + 30 * MIN)).toBeNull();
  });

  it('with the threshold off, only backs off', () => {
    const block = cooldownBlock({ ...policy, failureThreshold: 0 }, failedTimes(3), web, T0 + MIN);
    expect(block?.reason).toBe('Backoff');
    expect(cooldownBlock(NO_COOLDOWN, failedTimes(5), web, T0)).toBeNull();
  });
});

describe('the history on a Lease', () => {
  it('round-trips through the annotations, the time as RFC 3339', () => {
    const history = failedTimes(2);
    const annotations = historyAnnotations(history);
    expect(annotations['workflowexecution.kubernaut.io/last-settled']).toBe(isoOf(T0));
    expect(historyFromAnnotations(annotations)).toEqual(history);
  });

  it('is none when missing or malformed', () => {
    expect(historyFromAnnotations(undefined)).toBeUndefined();
    expect(historyFromAnnotations({})).toBeUndefined();
    const good = historyAnnotations(failedTimes(1));
    expect(
      historyFromAnnotations({ ...good, 'workflowexecution.kubernaut.io/last-outcome': 'maybe' }),
    ).toBeUndefined();
    expect(
      historyFromAnnotations({ ...good, 'workflowexecution.kubernaut.io/last-settled': 'yesterday' }),
    ).toBeUndefined();
    expect(
      historyFromAnnotations({ ...good, 'workflowexecution.kubernaut.io/consecutive-failures': '-1' }),
    ).toBeUndefined();
  });

  it('ends with the longest window that reads it, so its Lease can go', () => {
    expect(historyEndsAt(policy, recordOutcome(undefined, 'shop/a', 'completed', T0))).toBe(T0 + 5 * MIN);
    expect(historyEndsAt(policy, failedTimes(1))).toBe(T0 + 30 * MIN);
    expect(historyEndsAt({ ...policy, failureBlockMs: 0 }, failedTimes(5))).toBe(T0 + 10 * MIN);
  });
});

describe('msOfIso', () => {
  it('inverts isoOf', () => {
    for (const ms of [0, 1, 951_782_400_000, T0, 1_767_225_599_999, -86_400_000])
      expect(msOfIso(isoOf(ms))).toBe(ms);
    expect(msOfIso('2026-01-02T03:04:05Z')).toBe(T0);
    expect(msOfIso('2026-13-02T03:04:05Z')).toBeUndefined();
    expect(msOfIso('not a time')).toBeUndefined();
  });
});
