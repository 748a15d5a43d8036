// Shards: a stable home for every workflow, and replicas that share the shards fairly.
import { describe, expect, it } from '@jest/globals';
import {
  balanceShards,
  fairShare,
  shardOf,
  shardOfKey,
  stableHash,
  type ShardLeaseView,
} from '../../src/core/shards.ts';

describe('a workflow’s shard', () => {
  it('is the same on every replica and every run (FNV-1a of namespace/name)', () => {
    expect(stableHash('')).toBe(0x811c9dc5);
    expect(stableHash('a')).toBe(0xe40c292c);
    expect(stableHash('foobar')).toBe(0xbf9cf968);
    expect(shardOf('shop', 'restart-web', 6)).toBe(stableHash('shop/restart-web') % 6);
    expect(shardOfKey('shop/restart-web', 6)).toBe(shardOf('shop', 'restart-web', 6));
  });

  it('is 0 for everyone with one shard', () => {
    expect(shardOf('a', 'b', 1)).toBe(0);
  });

  it('spreads many workflows evenly', () => {
    const counts = new Array<number>(6).fill(0);
    for (let i = 0; i < 6000; i++) counts[shardOf('ns', `wf-${i}`, 6)]! += 1;
    for (const c of counts) expect(Math.abs(c - 1000)).toBeLessThan(150);
  });
});

describe('the fair share', () => {
  it.each([
    [6, 1, 6],
    [6, 2, 3],
    [6, 3, 2],
    [6, 4, 2],
    [6, 7, 1],
    [1, 3, 1],
    [6, 0, 6],
  ])('of %d shards among %d live replicas is %d', (shards, live, share) => {
    expect(fairShare(shards, live)).toBe(share);
  });
});

const held = (holder: string, ...shards: number[]): ShardLeaseView[] =>
  shards.map((shard) => ({ shard, holder, expired: false }));

describe('what a replica takes and gives up', () => {
  it.each<[string, Parameters<typeof balanceShards>[0], { keep: number[]; take: number; release: number[] }]>(
    [
      [
        'alone, it takes every shard',
        { shards: 6, me: 'a', live: [], leases: [] },
        { keep: [], take: 6, release: [] },
      ],
      [
        'a second replica appears: the first gives up half',
        { shards: 6, me: 'a', live: ['a', 'b'], leases: held('a', 0, 1, 2, 3, 4, 5) },
        { keep: [0, 1, 2], take: 0, release: [3, 4, 5] },
      ],
      [
        'the newcomer takes the free half',
        { shards: 6, me: 'b', live: ['a', 'b'], leases: [...held('a', 0, 1, 2), ...held('', 3, 4, 5)] },
        { keep: [], take: 3, release: [] },
      ],
      [
        'it takes nothing that a live replica holds',
        { shards: 6, me: 'c', live: ['a', 'b', 'c'], leases: [...held('a', 0, 1, 2), ...held('b', 3, 4, 5)] },
        { keep: [], take: 0, release: [] },
      ],
      [
        'an expired holder’s shards are free',
        {
          shards: 6,
          me: 'b',
          live: ['b', 'c'],
          leases: [
            ...held('a', 0, 1).map((l) => ({ ...l, expired: true })),
            ...held('b', 2, 3),
            ...held('c', 4, 5),
          ],
        },
        { keep: [2, 3], take: 1, release: [] },
      ],
      [
        'a holder whose membership lapsed keeps its shards until their own leases expire',
        { shards: 4, me: 'b', live: ['b'], leases: [...held('gone', 0, 1), ...held('b', 2, 3)] },
        { keep: [2, 3], take: 0, release: [] },
      ],
      [
        'and loses them once they have',
        {
          shards: 4,
          me: 'b',
          live: ['b'],
          leases: [...held('gone', 0, 1).map((l) => ({ ...l, expired: true })), ...held('b', 2, 3)],
        },
        { keep: [2, 3], take: 2, release: [] },
      ],
    ],
  )('%s', (_case, input, expected) => {
    const result = balanceShards(input);
    expect({ keep: result.keep, take: result.take.length, release: result.release }).toEqual(expected);
  });
});

/** Rounds of every replica looking at the leases and acting, until nothing changes. */
function converge(shards: number, replicas: string[], start: Map<number, string> = new Map()) {
  const holders = new Map(start);
  for (let round = 0; round < 20; round++) {
    let changed = false;
    for (const me of replicas) {
      // A replica that is gone renews nothing: its leases expire.
      const leases = [...holders].map(([shard, holder]) => ({
        shard,
        holder,
        expired: !replicas.includes(holder),
      }));
      const plan = balanceShards({ shards, me, live: replicas, leases });
      for (const s of plan.release) holders.set(s, '');
      for (const s of plan.take) {
        const current = holders.get(s) ?? '';
        if (current === '' || !replicas.includes(current)) holders.set(s, me);
      }
      changed ||= plan.release.length > 0 || plan.take.length > 0;
    }
    if (!changed) break;
  }
  const perReplica = replicas.map((r) => [...holders.values()].filter((h) => h === r).length);
  return { holders, perReplica };
}

describe('replicas balancing among themselves', () => {
  it('3 replicas with 6 shards end with 2 each, whoever started first', () => {
    const first = converge(6, ['a']);
    expect(first.perReplica).toEqual([6]);
    const second = converge(6, ['a', 'b'], first.holders);
    expect(second.perReplica).toEqual([3, 3]);
    const third = converge(6, ['a', 'b', 'c'], second.holders);
    expect(third.perReplica).toEqual([2, 2, 2]);
  });

  it('after one of 3 dies, the other two hold all 6 shards between them, 3 each', () => {
    const three = converge(6, ['a', 'b', 'c']);
    expect(three.perReplica).toEqual([2, 2, 2]);
    const two = converge(6, ['a', 'c'], three.holders);
    expect(two.perReplica).toEqual([3, 3]);
    expect([...two.holders.values()].every((h) => h === 'a' || h === 'c')).toBe(true);
  });

  it('every shard is held by one replica once they settle', () => {
    const { holders } = converge(7, ['a', 'b', 'c']);
    expect([...holders.keys()].sort()).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect([...holders.values()].every((h) => ['a', 'b', 'c'].includes(h))).toBe(true);
  });
});
