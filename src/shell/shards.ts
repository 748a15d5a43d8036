/**
 * Shard leases: every replica renews a membership Lease of its own and, each retry period, lists
 * the group's Leases, works out who is alive and who holds what, and carries out what
 * `balanceShards` (src/core/shards.ts) decides: renew the shards it keeps, take free ones up to its
 * fair share, give up extras. A shard it cannot renew within the renew deadline, or that someone
 * else now holds, it stops reconciling at once. Correctness never depends on this (DESIGN 7).
 */
import { balanceShards, shardOfKey, stableHash, type ShardLeaseView } from '../core/shards.ts';
import { isAlreadyExists, isConflict, isNotFound, type KubeClient } from './kube/client.ts';
import { DEFAULT_TIMINGS, microTime, validateTimings, type Lease, type LeaseTimings } from './leader.ts';
import type { Logger } from './logger.ts';

export const SHARD_LABELS = {
  group: 'workflowexecution.kubernaut.io/shard-group',
  role: 'workflowexecution.kubernaut.io/shard-role',
  shard: 'workflowexecution.kubernaut.io/shard',
} as const;

export interface ShardConfig {
  count: number;
  namespace: string;
  /** The group's name: Leases are `<name>-shard-<i>` and `<name>-member-<identity>`. */
  name: string;
  identity: string;
  timings?: Partial<LeaseTimings>;
}

/** What the controller asks: does this replica reconcile the key's shard now? */
export interface ShardOwnership {
  readonly count: number;
  holds(shard: number): boolean;
}

export interface ShardEvents {
  acquired(shard: number): void;
  released(shard: number, why: 'rebalanced' | 'lost' | 'stopped'): void;
}

/** A DNS-label-safe name for an identity such as `host_1234`, unique by its hash. */
const memberName = (group: string, identity: string): string =>
  `${group}-member-${identity
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40)}-${stableHash(identity).toString(36)}`;

export class ShardManager implements ShardOwnership {
  readonly count: number;
  private readonly client: KubeClient;
  private readonly config: ShardConfig & LeaseTimings;
  private readonly log: Logger;
  private readonly events: ShardEvents;
  /** Held shards and when each was last renewed. */
  private readonly held = new Map<number, number>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** A shard was taken by someone else under our hands: look again soon rather than a period later. */
  private contended = false;
  private running: Promise<void> = Promise.resolve();

  constructor(client: KubeClient, config: ShardConfig, log: Logger, events: ShardEvents) {
    if (!Number.isInteger(config.count) || config.count < 1)
      throw new Error(`shard count must be a positive integer, not ${config.count}`);
    this.client = client;
    this.config = { ...DEFAULT_TIMINGS, ...config, ...config.timings };
    const problems = validateTimings(this.config);
    if (problems.length > 0) throw new Error(`invalid shard lease timings: ${problems.join('; ')}`);
    this.count = config.count;
    this.log = log;
    this.events = events;
  }

  holds(shard: number): boolean {
    return this.held.has(shard);
  }

  ownsKey(key: string): boolean {
    return this.holds(shardOfKey(key, this.count));
  }

  get heldShards(): number[] {
    return [...this.held.keys()].sort((a, b) => a - b);
  }

  private get path(): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(this.config.namespace)}/leases`;
  }

  start(): void {
    this.tick();
  }

  private tick(): void {
    if (this.stopped) return;
    this.running = this.round()
      .catch((error: unknown) => {
        this.log.warn('shard round failed', { error: (error as Error).message });
      })
      .then(() => {
        this.dropStale();
        const delay = this.contended ? this.config.retryPeriodMs / 4 : this.config.retryPeriodMs;
        this.contended = false;
        if (!this.stopped)
          this.timer = setTimeout(() => {
            this.tick();
          }, delay);
      });
  }

  private lease(name: string, labels: Record<string, string>, now: number, holder: string): Lease {
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        name,
        namespace: this.config.namespace,
        labels: { [SHARD_LABELS.group]: this.config.name, ...labels },
      },
      spec: {
        holderIdentity: holder,
        leaseDurationSeconds: Math.ceil(this.config.leaseDurationMs / 1000),
        acquireTime: microTime(now),
        renewTime: microTime(now),
        leaseTransitions: 0,
      },
    };
  }

  private async round(): Promise<void> {
    const now = Date.now();
    const { identity, name, count } = this.config;
    const leases = await this.client.request<{ items: Lease[] }>(this.path, {
      query: { labelSelector: `${SHARD_LABELS.group}=${name}` },
      timeoutMs: this.config.retryPeriodMs * 2,
    });
    const expired = (l: Lease) =>
      (Date.parse(l.spec.renewTime ?? '') || 0) + (l.spec.leaseDurationSeconds ?? 0) * 1000 < now;
    const role = (l: Lease) => l.metadata.labels?.[SHARD_LABELS.role];

    // Membership first: a replica that holds shards is one the others count as alive.
    const ownMember = memberName(name, identity);
    const member = leases.items.find((l) => l.metadata.name === ownMember);
    await this.write(
      member,
      this.lease(ownMember, { [SHARD_LABELS.role]: 'member' }, now, identity),
      now,
      identity,
    );

    const live = leases.items
      .filter((l) => role(l) === 'member' && !expired(l) && l.spec.holderIdentity)
      .map((l) => l.spec.holderIdentity ?? '');
    const shardLeases = new Map<number, Lease>();
    for (const l of leases.items) {
      const shard = Number(l.metadata.labels?.[SHARD_LABELS.shard]);
      if (role(l) === 'shard' && Number.isInteger(shard) && shard >= 0 && shard < count)
        shardLeases.set(shard, l);
    }
    const views: ShardLeaseView[] = [...shardLeases].map(([shard, l]) => ({
      shard,
      holder: l.spec.holderIdentity ?? '',
      expired: expired(l),
    }));
    const plan = balanceShards({ shards: count, me: identity, live, leases: views });

    for (const shard of plan.release) await this.release(shard, shardLeases.get(shard), now);
    for (const shard of [...plan.keep, ...plan.take]) {
      const existing = shardLeases.get(shard);
      const fresh = this.lease(
        `${name}-shard-${shard}`,
        { [SHARD_LABELS.role]: 'shard', [SHARD_LABELS.shard]: String(shard) },
        now,
        identity,
      );
      let ok: boolean;
      try {
        ok = await this.write(existing, fresh, now, identity);
      } catch (error) {
        this.log.warn('shard lease not written', { shard, error: (error as Error).message });
        continue;
      }
      if (ok) {
        const had = this.held.has(shard);
        this.held.set(shard, now);
        if (!had) {
          this.log.info('shard acquired', { shard, identity, share: plan.share });
          this.events.acquired(shard);
        }
      } else {
        if (plan.take.includes(shard)) this.contended = true;
        if (this.held.delete(shard)) {
          this.log.info('shard lost', { shard, identity });
          this.events.released(shard, 'lost');
        }
      }
    }
    // Held here, but the list shows it is no longer ours to renew (someone else's, or expired and
    // beyond the share): stop at once.
    const attempted = new Set([...plan.keep, ...plan.take]);
    for (const shard of this.heldShards) {
      if (attempted.has(shard)) continue;
      this.held.delete(shard);
      this.log.info('shard lost', { shard, identity });
      this.events.released(shard, 'lost');
    }
  }

  /**
   * Create the Lease, or renew/take it with the listed resourceVersion as precondition. False when
   * someone else wrote it in between (or holds it unexpired).
   */
  private async write(
    existing: Lease | undefined,
    fresh: Lease,
    now: number,
    identity: string,
  ): Promise<boolean> {
    if (!existing) {
      try {
        await this.client.request(this.path, { body: fresh, timeoutMs: this.config.retryPeriodMs * 2 });
        return true;
      } catch (error) {
        if (isConflict(error) || isAlreadyExists(error)) return false;
        throw error;
      }
    }
    const taking = existing.spec.holderIdentity !== identity;
    const spec = {
      ...existing.spec,
      holderIdentity: identity,
      leaseDurationSeconds: Math.ceil(this.config.leaseDurationMs / 1000),
      renewTime: microTime(now),
      ...(taking
        ? { acquireTime: microTime(now), leaseTransitions: (existing.spec.leaseTransitions ?? 0) + 1 }
        : {}),
    };
    try {
      await this.client.request(`${this.path}/${existing.metadata.name}`, {
        method: 'PUT',
        body: { ...existing, metadata: { ...existing.metadata, labels: fresh.metadata.labels }, spec },
        timeoutMs: this.config.retryPeriodMs * 2,
      });
      return true;
    } catch (error) {
      if (isConflict(error) || isNotFound(error)) return false;
      throw error;
    }
  }

  /** Stop reconciling the shard first, then hand its Lease back so another replica takes it at once. */
  private async release(shard: number, lease: Lease | undefined, now: number): Promise<void> {
    if (this.held.delete(shard)) {
      this.log.info('shard released', { shard, identity: this.config.identity });
      this.events.released(shard, 'rebalanced');
    }
    await this.handBack(lease, now);
  }

  private async handBack(lease: Lease | undefined, now: number): Promise<void> {
    if (!lease || lease.spec.holderIdentity !== this.config.identity) return;
    try {
      await this.client.request(`${this.path}/${lease.metadata.name}`, {
        method: 'PUT',
        body: { ...lease, spec: { ...lease.spec, holderIdentity: '', renewTime: microTime(now) } },
        timeoutMs: this.config.retryPeriodMs * 2,
      });
    } catch {
      // It expires by itself; releasing only saves the next holder the wait.
    }
  }

  /** Shards not renewed within the renew deadline are given up here, whatever the apiserver says. */
  private dropStale(): void {
    const now = Date.now();
    for (const [shard, renewedAt] of this.held) {
      if (now - renewedAt > this.config.renewDeadlineMs) {
        this.held.delete(shard);
        this.log.warn('shard not renewed within the renew deadline; stopped reconciling it', { shard });
        this.events.released(shard, 'lost');
      }
    }
  }

  /** Stop balancing, release every held shard and the membership, so the others take over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
    const now = Date.now();
    const shards = this.heldShards;
    this.held.clear();
    for (const shard of shards) this.events.released(shard, 'stopped');
    try {
      const leases = await this.client.request<{ items: Lease[] }>(this.path, {
        query: { labelSelector: `${SHARD_LABELS.group}=${this.config.name}` },
      });
      for (const shard of shards) {
        const lease = leases.items.find((l) => l.metadata.name === `${this.config.name}-shard-${shard}`);
        await this.handBack(lease, now);
      }
      await this.client
        .request(`${this.path}/${memberName(this.config.name, this.config.identity)}`, { method: 'DELETE' })
        .catch(() => undefined);
    } catch {
      // The Leases expire by themselves.
    }
  }
}
