/**
 * Shard leases: every replica renews a membership Lease of its own and, each retry period, lists
 * the group's Leases, works out who is alive and who holds what, and carries out what
 * `balanceShards` (src/core/shards.ts) decides: renew the shards it keeps, take free ones up to its
 * fair share, give up extras. Expiry is client-go's (./leases.ts): a Lease is free once its record
 * has not changed for its duration since this replica saw it change, whatever the clocks say. A
 * shard it cannot renew within the renew deadline (a timer fires then, even while a renewal hangs),
 * or that someone else now holds, it stops reconciling at once. Correctness never depends on this
 * (DESIGN 7).
 */
import { balanceShards, shardOfKey, stableHash, type ShardLeaseView } from '../core/shards.ts';
import { withinRenewDeadline } from '../core/leases.ts';
import type { KubeClient } from './kube/client.ts';
import {
  DEFAULT_TIMINGS,
  LeaseStore,
  type Lease,
  type LeaseClock,
  type LeaseTimings,
  type Timer,
} from './leases.ts';
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
  clock?: LeaseClock;
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
  private readonly store: LeaseStore;
  private readonly config: ShardConfig;
  private readonly timings: LeaseTimings;
  private readonly log: Logger;
  private readonly events: ShardEvents;
  /** Held shards and when each one's last successful renewal began (monotonic). */
  private readonly held = new Map<number, number>();
  private timer: Timer | undefined;
  private deadlineTimer: Timer | undefined;
  private stopped = false;
  /** A shard was taken by someone else under our hands: look again soon rather than a period later. */
  private contended = false;
  private running: Promise<void> = Promise.resolve();

  constructor(client: KubeClient, config: ShardConfig, log: Logger, events: ShardEvents) {
    if (!Number.isInteger(config.count) || config.count < 1)
      throw new Error(`shard count must be a positive integer, not ${config.count}`);
    this.config = config;
    this.timings = { ...DEFAULT_TIMINGS, ...config.timings };
    this.store = new LeaseStore(client, {
      namespace: config.namespace,
      identity: config.identity,
      timings: this.timings,
      clock: config.clock,
    });
    this.count = config.count;
    this.log = log;
    this.events = events;
  }

  /** Held, and renewed within the renew deadline: whatever a hung renewal does. */
  holds(shard: number): boolean {
    const renewedAt = this.held.get(shard);
    return (
      renewedAt !== undefined &&
      withinRenewDeadline(renewedAt, this.timings.renewDeadlineMs, this.store.clock.now())
    );
  }

  ownsKey(key: string): boolean {
    return this.holds(shardOfKey(key, this.count));
  }

  get heldShards(): number[] {
    return [...this.held.keys()].filter((s) => this.holds(s)).sort((a, b) => a - b);
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
        const delay = this.contended ? this.timings.retryPeriodMs / 4 : this.timings.retryPeriodMs;
        this.contended = false;
        if (!this.stopped)
          this.timer = this.store.clock.setTimer(() => {
            this.tick();
          }, delay);
      });
  }

  private async round(): Promise<void> {
    const { identity, name, count } = this.config;
    const leases = await this.store.list(`${SHARD_LABELS.group}=${name}`);
    this.store.keepOnly(new Set(leases.map((l) => l.metadata.name)));
    const role = (l: Lease) => l.metadata.labels?.[SHARD_LABELS.role];
    const labels = (extra: Record<string, string>) => ({ [SHARD_LABELS.group]: name, ...extra });

    // Membership first: a replica that holds shards is one the others count as alive.
    const ownMember = memberName(name, identity);
    const member = leases.find((l) => l.metadata.name === ownMember);
    await this.store.claim(member, ownMember, labels({ [SHARD_LABELS.role]: 'member' }));

    const live: string[] = [];
    const shardLeases = new Map<number, Lease>();
    const views: ShardLeaseView[] = [];
    for (const l of leases) {
      if (l.metadata.name === ownMember) continue;
      const seen = this.store.see(l);
      if (role(l) === 'member' && !seen.expired) live.push(seen.holder);
      const shard = Number(l.metadata.labels?.[SHARD_LABELS.shard]);
      if (role(l) === 'shard' && Number.isInteger(shard) && shard >= 0 && shard < count) {
        shardLeases.set(shard, l);
        // A shard this replica holds is never expired in its own eyes while within its deadline.
        views.push({
          shard,
          holder: seen.holder,
          expired: seen.holder === identity ? !this.holds(shard) : seen.expired,
        });
      }
    }
    const plan = balanceShards({ shards: count, me: identity, live, leases: views });

    for (const shard of plan.release) await this.release(shard, shardLeases.get(shard));
    for (const shard of [...plan.keep, ...plan.take]) {
      // While held, no renewal outlives the shard's renew deadline.
      const renewedAt = this.held.get(shard);
      const deadline = renewedAt === undefined ? undefined : renewedAt + this.timings.renewDeadlineMs;
      let claimed;
      try {
        claimed = await this.store.claim(
          shardLeases.get(shard),
          `${name}-shard-${shard}`,
          labels({ [SHARD_LABELS.role]: 'shard', [SHARD_LABELS.shard]: String(shard) }),
          deadline,
        );
      } catch (error) {
        this.log.warn('shard lease not written', { shard, error: (error as Error).message });
        continue;
      }
      if (claimed.written) {
        const had = this.holds(shard);
        this.held.set(shard, claimed.startedAt);
        this.armDeadline();
        if (!had) {
          this.log.info('shard acquired', { shard, identity, share: plan.share });
          this.events.acquired(shard);
        }
      } else {
        if (plan.take.includes(shard)) this.contended = true;
        this.drop(shard, 'shard lost');
      }
    }
    // Held here, but the list shows it is no longer ours to renew (someone else's, or expired and
    // beyond the share): stop at once.
    const attempted = new Set([...plan.keep, ...plan.take]);
    for (const shard of [...this.held.keys()]) if (!attempted.has(shard)) this.drop(shard, 'shard lost');
  }

  private drop(shard: number, message: string): void {
    if (!this.held.delete(shard)) return;
    this.log.info(message, { shard, identity: this.config.identity });
    this.events.released(shard, 'lost');
  }

  /** Stop reconciling the shard first, then hand its Lease back so another replica takes it at once. */
  private async release(shard: number, lease: Lease | undefined): Promise<void> {
    if (this.held.delete(shard)) {
      this.log.info('shard released', { shard, identity: this.config.identity });
      this.events.released(shard, 'rebalanced');
    }
    await this.store.handBack(lease).catch(() => false);
  }

  /** The hard deadline: a timer at the earliest held shard's renew deadline, firing even mid-round. */
  private armDeadline(): void {
    this.deadlineTimer?.cancel();
    if (this.stopped || this.held.size === 0) return;
    const earliest = Math.min(...this.held.values()) + this.timings.renewDeadlineMs;
    this.deadlineTimer = this.store.clock.setTimer(
      () => {
        this.dropStale();
      },
      Math.max(0, earliest - this.store.clock.now()),
    );
  }

  /** Shards not renewed within the renew deadline are given up here, whatever the apiserver says. */
  private dropStale(): void {
    for (const shard of [...this.held.keys()]) {
      if (this.holds(shard)) continue;
      this.held.delete(shard);
      this.log.warn('shard not renewed within the renew deadline; stopped reconciling it', { shard });
      this.events.released(shard, 'lost');
    }
    this.armDeadline();
  }

  /** Stop balancing, release every held shard and the membership, so the others take over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    this.deadlineTimer?.cancel();
    await this.running;
    const shards = [...this.held.keys()].sort((a, b) => a - b);
    this.held.clear();
    for (const shard of shards) this.events.released(shard, 'stopped');
    try {
      const leases = await this.store.list(`${SHARD_LABELS.group}=${this.config.name}`);
      for (const shard of shards) {
        const lease = leases.find((l) => l.metadata.name === `${this.config.name}-shard-${shard}`);
        await this.store.handBack(lease).catch(() => false);
      }
      await this.store.delete(memberName(this.config.name, this.config.identity));
    } catch {
      // The Leases expire by themselves.
    }
  }
}
