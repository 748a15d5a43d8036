/**
 * Leader election on a coordination.k8s.io/v1 Lease, with client-go's timings: a lease lasts 15 s,
 * the leader must renew within 10 s, and candidates retry every 2 s. Losing the lease calls
 * `onLost` (the operator exits at once); a graceful stop releases it so a successor need not wait.
 * Correctness never depends on this: names and preconditions do (DESIGN 7).
 */
import { isConflict, isNotFound, type KubeClient } from './kube/client.ts';
import { setLongTimeout, type LongTimeout } from './timers.ts';

export interface LeaderElectionConfig {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
}

export interface LeaseTimings {
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

export const DEFAULT_TIMINGS: LeaseTimings = {
  leaseDurationMs: 15_000,
  renewDeadlineMs: 10_000,
  retryPeriodMs: 2_000,
};

/** client-go's rules: leaseDuration > renewDeadline > retryPeriod * 1.2, all positive. */
export function validateTimings(t: LeaseTimings): string[] {
  const problems: string[] = [];
  if (t.retryPeriodMs <= 0) problems.push('retry period must be positive');
  if (t.leaseDurationMs <= t.renewDeadlineMs)
    problems.push('lease duration must be greater than the renew deadline');
  if (t.renewDeadlineMs <= t.retryPeriodMs * 1.2)
    problems.push('renew deadline must be greater than 1.2 x the retry period');
  return problems;
}

export interface Lease {
  apiVersion: 'coordination.k8s.io/v1';
  kind: 'Lease';
  metadata: { name: string; namespace: string; resourceVersion?: string; labels?: Record<string, string> };
  spec: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

/** A Lease's MicroTime: RFC 3339 with microseconds. */
export const microTime = (ms: number) => new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

export class LeaderElector {
  private readonly client: KubeClient;
  private readonly config: Required<LeaderElectionConfig>;
  private timer: LongTimeout | undefined;
  /** The current acquire-or-renew round, awaited by release(). */
  private looping: Promise<void> | undefined;
  private leading = false;
  private lastRenew = 0;
  private stopped = false;
  private onStarted: () => void = () => undefined;
  private onLost: () => void = () => undefined;

  constructor(client: KubeClient, config: LeaderElectionConfig) {
    this.client = client;
    this.config = { ...DEFAULT_TIMINGS, ...config };
    const problems = validateTimings(this.config);
    if (problems.length > 0) throw new Error(`invalid leader election timings: ${problems.join('; ')}`);
  }

  get isLeader(): boolean {
    return this.leading;
  }

  private get path(): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(this.config.namespace)}/leases`;
  }

  /** Try every retry period until leading; then renew, and call onLost when renewal fails too long. */
  run(onStarted: () => void, onLost: () => void): void {
    this.onStarted = onStarted;
    this.onLost = onLost;
    this.looping = this.loop();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setLongTimeout(
      () => {
        this.looping = this.loop();
      },
      this.config.retryPeriodMs,
      { unref: false },
    );
  }

  private async loop(): Promise<void> {
    const now = Date.now();
    let outcome: 'held' | 'heldByOther' | 'unknown';
    try {
      outcome = await this.tryAcquireOrRenew(now);
    } catch {
      outcome = 'unknown';
    }
    if (this.stopped) return;
    if (outcome === 'held') {
      this.lastRenew = now;
      if (!this.leading) {
        this.leading = true;
        this.onStarted();
      }
    } else if (
      this.leading &&
      (outcome === 'heldByOther' || Date.now() - this.lastRenew > this.config.renewDeadlineMs)
    ) {
      // Someone else holds the lease now, or we could not renew in time: either way, not leader.
      this.leading = false;
      this.stopped = true;
      this.onLost();
      return;
    }
    this.schedule();
  }

  private async tryAcquireOrRenew(now: number): Promise<'held' | 'heldByOther' | 'unknown'> {
    const { name, namespace, identity, leaseDurationMs } = this.config;
    let lease: Lease;
    try {
      lease = await this.client.request<Lease>(`${this.path}/${name}`, {
        timeoutMs: this.config.retryPeriodMs * 2,
      });
    } catch (error) {
      if (!isNotFound(error)) throw error;
      await this.client.request(this.path, {
        body: {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name, namespace },
          spec: {
            holderIdentity: identity,
            leaseDurationSeconds: Math.ceil(leaseDurationMs / 1000),
            acquireTime: microTime(now),
            renewTime: microTime(now),
            leaseTransitions: 0,
          },
        },
      });
      return 'held';
    }
    const holder = lease.spec.holderIdentity ?? '';
    const renewedAt = Date.parse(lease.spec.renewTime ?? '') || 0;
    const expired = renewedAt + (lease.spec.leaseDurationSeconds ?? 0) * 1000 < now;
    if (holder !== identity && holder !== '' && !expired) return 'heldByOther';
    const spec = {
      ...lease.spec,
      holderIdentity: identity,
      leaseDurationSeconds: Math.ceil(leaseDurationMs / 1000),
      renewTime: microTime(now),
      ...(holder !== identity
        ? { acquireTime: microTime(now), leaseTransitions: (lease.spec.leaseTransitions ?? 0) + 1 }
        : {}),
    };
    try {
      await this.client.request(`${this.path}/${name}`, {
        method: 'PUT',
        body: { ...lease, spec },
        timeoutMs: this.config.retryPeriodMs * 2,
      });
      return 'held';
    } catch (error) {
      // Someone wrote the lease in between: look again next period.
      if (isConflict(error)) return 'unknown';
      throw error;
    }
  }

  /** Stop campaigning; when leading, hand the lease back so a successor takes over at once. */
  async release(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    // A renewal in flight would otherwise write the lease after (or take it back from) the release.
    await this.looping;
    if (!this.leading) return;
    this.leading = false;
    // A renewal still in flight when the stop came can move the lease on under us (409): read again.
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const lease = await this.client.request<Lease>(`${this.path}/${this.config.name}`);
        if (lease.spec.holderIdentity !== this.config.identity) return;
        await this.client.request(`${this.path}/${this.config.name}`, {
          method: 'PUT',
          body: {
            ...lease,
            spec: {
              ...lease.spec,
              holderIdentity: '',
              leaseDurationSeconds: 1,
              renewTime: microTime(Date.now()),
            },
          },
        });
        return;
      } catch (error) {
        // Otherwise the lease expires by itself; releasing only saves the successor the wait.
        if (!isConflict(error)) return;
      }
    }
  }
}
