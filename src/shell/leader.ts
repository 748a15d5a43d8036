/**
 * Leader election on a coordination.k8s.io/v1 Lease, with client-go's algorithm and timings: a
 * lease lasts 15 s, the leader must renew within 10 s, and candidates retry every 2 s. A candidate
 * takes the lease only once its record has not changed for the lease duration since this replica
 * saw it change (./leases.ts), so clocks that disagree cannot make it take a live lease. The leader
 * stops the moment its renew deadline passes, even while a renewal still hangs: `onLost` is called
 * from a timer (the operator exits at once), not after the renewal returns. A graceful stop releases
 * the lease so a successor need not wait. Correctness never depends on this: names and
 * preconditions do (DESIGN 7).
 */
import { withinRenewDeadline } from '../core/leases.ts';
import type { KubeClient } from './kube/client.ts';
import { DEFAULT_TIMINGS, LeaseStore, type LeaseClock, type LeaseTimings, type Timer } from './leases.ts';

export { DEFAULT_TIMINGS, microTime, validateTimings, type Lease, type LeaseTimings } from './leases.ts';

export interface LeaderElectionConfig {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  clock?: LeaseClock;
}

type Attempt = 'held' | 'heldByOther' | 'unknown';

export class LeaderElector {
  private readonly store: LeaseStore;
  private readonly name: string;
  private readonly timings: LeaseTimings;
  private timer: Timer | undefined;
  private deadlineTimer: Timer | undefined;
  /** The current acquire-or-renew round, awaited by release(). */
  private looping: Promise<void> | undefined;
  private leading = false;
  /** When the last successful renewal began, on the monotonic clock. */
  private renewStartedAt = 0;
  private stopped = false;
  private onStarted: () => void = () => undefined;
  private onLost: () => void = () => undefined;

  constructor(client: KubeClient, config: LeaderElectionConfig) {
    this.timings = {
      leaseDurationMs: config.leaseDurationMs ?? DEFAULT_TIMINGS.leaseDurationMs,
      renewDeadlineMs: config.renewDeadlineMs ?? DEFAULT_TIMINGS.renewDeadlineMs,
      retryPeriodMs: config.retryPeriodMs ?? DEFAULT_TIMINGS.retryPeriodMs,
    };
    this.name = config.name;
    this.store = new LeaseStore(client, {
      namespace: config.namespace,
      identity: config.identity,
      timings: this.timings,
      clock: config.clock,
    });
  }

  /** Leading, and within the renew deadline of the last renewal: whatever a hung renewal does. */
  get isLeader(): boolean {
    return (
      this.leading &&
      withinRenewDeadline(this.renewStartedAt, this.timings.renewDeadlineMs, this.store.clock.now())
    );
  }

  /** Try every retry period until leading; then renew, and call onLost when renewal fails too long. */
  run(onStarted: () => void, onLost: () => void): void {
    this.onStarted = onStarted;
    this.onLost = onLost;
    this.looping = this.loop();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = this.store.clock.setTimer(() => {
      this.looping = this.loop();
    }, this.timings.retryPeriodMs);
  }

  private async loop(): Promise<void> {
    let outcome: Attempt;
    let startedAt = 0;
    try {
      const attempt = await this.tryAcquireOrRenew();
      outcome = attempt.outcome;
      startedAt = attempt.startedAt;
    } catch {
      outcome = 'unknown';
    }
    if (this.stopped) return;
    if (outcome === 'held') {
      this.renewStartedAt = startedAt;
      this.armDeadline();
      if (!this.leading) {
        this.leading = true;
        this.onStarted();
      }
    } else if (this.leading && (outcome === 'heldByOther' || !this.isLeader)) {
      // Someone else holds the lease now, or we could not renew in time: either way, not leader.
      this.lose();
      return;
    }
    this.schedule();
  }

  /** The hard deadline: fires at the last renewal's start + the renew deadline unless renewed since. */
  private armDeadline(): void {
    this.deadlineTimer?.cancel();
    const remaining = this.renewStartedAt + this.timings.renewDeadlineMs - this.store.clock.now();
    this.deadlineTimer = this.store.clock.setTimer(
      () => {
        if (!this.stopped && this.leading && !this.isLeader) this.lose();
      },
      Math.max(0, remaining),
    );
  }

  private lose(): void {
    this.leading = false;
    this.stopped = true;
    this.timer?.cancel();
    this.deadlineTimer?.cancel();
    this.onLost();
  }

  private async tryAcquireOrRenew(): Promise<{ outcome: Attempt; startedAt: number }> {
    // While leading, no request outlives the renew deadline.
    const deadline = this.leading ? this.renewStartedAt + this.timings.renewDeadlineMs : undefined;
    const lease = await this.store.get(this.name, deadline);
    if (lease) {
      const { holder, expired } = this.store.see(lease);
      if (holder !== this.store.identity && !expired) return { outcome: 'heldByOther', startedAt: 0 };
    }
    const claimed = await this.store.claim(lease, this.name, lease?.metadata.labels, deadline);
    return claimed.written
      ? { outcome: 'held', startedAt: claimed.startedAt }
      : { outcome: 'unknown', startedAt: 0 };
  }

  /** Stop campaigning; when leading, hand the lease back so a successor takes over at once. */
  async release(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    this.deadlineTimer?.cancel();
    // A renewal in flight would otherwise write the lease after (or take it back from) the release.
    await this.looping;
    if (!this.leading) return;
    this.leading = false;
    // A renewal still in flight when the stop came can move the lease on under us (409): read again.
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await this.store.handBack(await this.store.get(this.name));
        return;
      } catch {
        // A conflict: read again. Otherwise the lease expires by itself.
      }
    }
  }
}
