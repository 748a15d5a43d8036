// Leases as client-go keeps them: expiry judged from when this replica saw the record change (so
// replicas whose clocks disagree by more than the lease never take a live one), and a holder that
// stops acting at its renew deadline even while a renewal hangs. Time is a fake clock throughout.
import { describe, expect, it } from '@jest/globals';
import { leaseExpired, observeLease, withinRenewDeadline } from '../../src/core/leases.ts';
import { LeaderElector } from '../../src/shell/leader.ts';
import { silentLogger } from '../../src/shell/logger.ts';
import { ShardManager } from '../../src/shell/shards.ts';
import { FakeLeases, FakeTimeline } from '../support/lease-fakes.ts';

const TIMINGS = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 };
const HOUR = 3_600_000;

describe('a lease as one replica sees it', () => {
  const record = (holder: string, renewTime: string) => ({
    holderIdentity: holder,
    leaseDurationSeconds: 15,
    renewTime,
  });

  it('is live for its duration from when this replica saw it, whatever date the holder wrote', () => {
    // Renewed "an hour ago" by the holder's clock, seen now: live for 15 s from now.
    const seen = observeLease(undefined, record('a', '2026-01-01T00:00:00.000000Z'), 5_000);
    expect(leaseExpired(seen, 5_000 + 14_999)).toBe(false);
    expect(leaseExpired(seen, 5_000 + 15_000)).toBe(true);
  });

  it('keeps the time it first saw a record that has not changed since', () => {
    const first = observeLease(undefined, record('a', 't1'), 1_000);
    const again = observeLease(first, record('a', 't1'), 9_000);
    expect(again.observedAt).toBe(1_000);
    expect(leaseExpired(again, 16_000)).toBe(true);
  });

  it('starts counting again when the holder renews (any change of the record)', () => {
    const first = observeLease(undefined, record('a', 't1'), 1_000);
    const renewed = observeLease(first, record('a', 't2'), 9_000);
    expect(renewed.observedAt).toBe(9_000);
    expect(leaseExpired(renewed, 16_000)).toBe(false);
  });

  it('is free at once when nobody holds it', () => {
    expect(leaseExpired(observeLease(undefined, record('', 't1'), 1_000), 1_000)).toBe(true);
  });

  it('lets its holder act until its last renewal began + the renew deadline, not a moment longer', () => {
    expect(withinRenewDeadline(1_000, 10_000, 10_999)).toBe(true);
    expect(withinRenewDeadline(1_000, 10_000, 11_000)).toBe(false);
  });
});

/** An elector on the shared fake Lease collection, its wall clock `skewMs` off, its events recorded. */
function candidate(leases: FakeLeases, time: FakeTimeline, identity: string, skewMs = 0) {
  const elector = new LeaderElector(leases.client(identity), {
    namespace: 'ops',
    name: 'operator',
    identity,
    ...TIMINGS,
    clock: time.clock(skewMs),
  });
  const events: string[] = [];
  elector.run(
    () => events.push('started'),
    () => events.push('lost'),
  );
  return { elector, events };
}

describe('leader election', () => {
  it('with replicas an hour apart: the first leads for good, the other never takes the lease', async () => {
    const leases = new FakeLeases();
    const time = new FakeTimeline();
    const a = candidate(leases, time, 'a', -HOUR);
    await time.advance(100);
    const b = candidate(leases, time, 'b', HOUR);
    await time.advance(10 * 60_000);
    expect(a.events).toEqual(['started']);
    expect(b.events).toEqual([]);
    expect(a.elector.isLeader).toBe(true);
    expect(b.elector.isLeader).toBe(false);
    expect(leases.transitions).toEqual([['operator', '', 'a']]);
    expect(leases.leases.get('operator')?.spec.leaseTransitions).toBe(0);
  });

  it('and the other way round (the leader an hour ahead): the same', async () => {
    const leases = new FakeLeases();
    const time = new FakeTimeline();
    const a = candidate(leases, time, 'a', HOUR);
    await time.advance(100);
    const b = candidate(leases, time, 'b', -HOUR);
    await time.advance(10 * 60_000);
    expect([a.events, b.events]).toEqual([['started'], []]);
    expect(leases.transitions).toHaveLength(1);
  });

  it('a candidate takes a dead leader’s lease once it has seen it unchanged for the lease duration', async () => {
    const leases = new FakeLeases();
    const time = new FakeTimeline();
    const a = candidate(leases, time, 'a', HOUR);
    await time.advance(100);
    const b = candidate(leases, time, 'b');
    await time.advance(5_000);
    // The leader is cut off: it renews no more, and says nothing.
    leases.cutOff('a');
    const seenLastChangeBy = time.now;
    await time.advance(TIMINGS.leaseDurationMs - TIMINGS.retryPeriodMs - 1);
    expect(b.events).toEqual([]);
    await time.advance(2 * TIMINGS.retryPeriodMs + 1);
    expect(b.events).toEqual(['started']);
    expect(time.now - seenLastChangeBy).toBeGreaterThanOrEqual(TIMINGS.leaseDurationMs);
    expect(leases.transitions.at(-1)).toEqual(['operator', 'a', 'b']);
    // It had stopped acting well before: at its renew deadline.
    expect(a.events).toEqual(['started', 'lost']);
  });

  it('a leader whose renewal hangs stops at the renew deadline, while the renewal still hangs', async () => {
    const leases = new FakeLeases();
    const time = new FakeTimeline();
    const a = candidate(leases, time, 'a');
    await time.advance(100);
    expect(a.elector.isLeader).toBe(true);
    const lastRenewal = time.now - 100;
    leases.hang();
    await time.advance(TIMINGS.renewDeadlineMs - 200);
    expect([a.elector.isLeader, a.events]).toEqual([true, ['started']]);
    await time.advance(200);
    // No renewal has returned, and yet: not leader any more, and told so.
    expect(time.now - lastRenewal).toBeGreaterThanOrEqual(TIMINGS.renewDeadlineMs);
    expect(a.elector.isLeader).toBe(false);
    expect(a.events).toEqual(['started', 'lost']);
    // Another candidate, which saw the last renewal, still waits out the whole lease: never two.
    const b = candidate(leases, time, 'b');
    leases.release();
    await time.advance(TIMINGS.leaseDurationMs + 2 * TIMINGS.retryPeriodMs);
    expect(b.events).toEqual(['started']);
  });
});

function shardReplica(leases: FakeLeases, time: FakeTimeline, identity: string, skewMs = 0) {
  const events: string[] = [];
  const manager = new ShardManager(
    leases.client(identity),
    { count: 4, namespace: 'ops', name: 'wfe', identity, timings: TIMINGS, clock: time.clock(skewMs) },
    silentLogger(),
    {
      acquired: (shard) => events.push(`+${shard}`),
      released: (shard, why) => events.push(`-${shard} ${why}`),
    },
  );
  manager.start();
  return { manager, events };
}

describe('shard leases', () => {
  it('with replicas an hour apart: they share the shards once and keep them, none ever held twice', async () => {
    const leases = new FakeLeases();
    const time = new FakeTimeline();
    const a = shardReplica(leases, time, 'a', -HOUR);
    await time.advance(3_000);
    const b = shardReplica(leases, time, 'b', HOUR);
    // Long enough for the first to give up its extras and the second to take them.
    await time.advance(60_000);
    const settled = leases.transitions.length;
    expect([a.manager.heldShards.length, b.manager.heldShards.length]).toEqual([2, 2]);
    await time.advance(10 * 60_000);
    expect(leases.transitions).toHaveLength(settled);
    expect(a.manager.heldShards.filter((s) => b.manager.heldShards.includes(s))).toEqual([]);
    expect(a.events.filter((e) => e.endsWith('lost'))).toEqual([]);
    expect(b.events.filter((e) => e.endsWith('lost'))).toEqual([]);
  });

  it('a replica whose renewals hang stops reconciling every shard at the renew deadline', async () => {
    const leases = new FakeLeases();
    const time = new FakeTimeline();
    const a = shardReplica(leases, time, 'a');
    await time.advance(100);
    expect(a.manager.heldShards).toEqual([0, 1, 2, 3]);
    leases.hang();
    await time.advance(TIMINGS.renewDeadlineMs);
    expect(a.manager.heldShards).toEqual([]);
    expect([0, 1, 2, 3].some((s) => a.manager.holds(s))).toBe(false);
    expect(a.events.filter((e) => e.endsWith('lost')).sort()).toEqual([
      '-0 lost',
      '-1 lost',
      '-2 lost',
      '-3 lost',
    ]);
    leases.release();
    await a.manager.stop();
  });
});
