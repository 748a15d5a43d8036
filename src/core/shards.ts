/**
 * Shards across operator replicas (DESIGN 11): a workflow's shard is a stable hash of its
 * namespace/name modulo the shard count; each shard is guarded by a Lease; every replica holds up to
 * its fair share, ceil(shards / live replicas), taking free shards and giving up extras. Pure: the
 * shell reads the Leases and carries out what `balanceShards` decides. Correctness never depends on
 * it (child names and write preconditions do); sharding only spreads the work.
 */

/** FNV-1a, 32 bit, over the UTF-16 code units: the same on every replica and every version. */
export function stableHash(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

export function shardOf(namespace: string, name: string, shards: number): number {
  return shards <= 1 ? 0 : stableHash(`${namespace}/${name}`) % shards;
}

/** The shard a work-queue key (`namespace/name`) belongs to. */
export function shardOfKey(key: string, shards: number): number {
  const slash = key.indexOf('/');
  return shardOf(key.slice(0, slash), key.slice(slash + 1), shards);
}

export function fairShare(shards: number, liveReplicas: number): number {
  return Math.ceil(shards / Math.max(1, liveReplicas));
}

/** One shard's Lease as a replica sees it. */
export interface ShardLeaseView {
  shard: number;
  /** '' when nobody holds it. */
  holder: string;
  /** Whether the lease's record has not changed for its duration since this replica saw it change. */
  expired: boolean;
}

export interface ShardBalanceInput {
  shards: number;
  me: string;
  /** Identities of the replicas alive now (their membership is current), `me` included or not. */
  live: readonly string[];
  /** The shard Leases that exist; a shard without one is free. */
  leases: readonly ShardLeaseView[];
}

export interface ShardBalance {
  /** Shards this replica holds and keeps (to renew). */
  keep: number[];
  /** Free shards to take, up to the fair share. */
  take: number[];
  /** Shards held beyond the fair share, to give up. */
  release: number[];
  share: number;
}

/**
 * What one replica does this round. It keeps what it holds up to its share (the lowest shard
 * numbers first), releases the rest, and takes free shards (no holder, or an expired lease) until it reaches its share, starting from a point its identity picks so
 * that replicas joining together rarely reach for the same shard.
 */
export function balanceShards(input: ShardBalanceInput): ShardBalance {
  const { shards, me } = input;
  const live = new Set([...input.live, me]);
  const share = fairShare(shards, live.size);
  const byShard = new Map(input.leases.map((l) => [l.shard, l]));
  const held: number[] = [];
  const free: number[] = [];
  for (let shard = 0; shard < shards; shard++) {
    const lease = byShard.get(shard);
    if (lease?.holder === me && !lease.expired) held.push(shard);
    // A live lease is never taken, even from a replica whose membership lapsed: it may still act
    // until its renew deadline, and only the shard's own lease says when that has passed.
    else if (!lease || lease.holder === '' || lease.expired) free.push(shard);
  }
  const keep = held.slice(0, share);
  const release = held.slice(share);
  const start = stableHash(me) % Math.max(1, shards);
  const rotated = [...free].sort((a, b) => ((a - start + shards) % shards) - ((b - start + shards) % shards));
  const take = rotated.slice(0, Math.max(0, share - keep.length));
  return { keep, take, release, share };
}
