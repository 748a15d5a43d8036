/**
 * coordination.k8s.io/v1 Leases as the leader elector and the shard manager both use them: read,
 * judged by when this replica saw them change (src/core/leases.ts, never by comparing the holder's
 * renewTime with this clock), and written with the read resourceVersion as precondition. The clock
 * is injected: monotonic for judging and deadlines, wall time only for the dates in the record.
 */
import {
  DEFAULT_LEASE_TIMINGS,
  leaseExpired,
  observeLease,
  validateLeaseTimings,
  type LeaseObservation,
  type LeaseRecord,
  type LeaseTimings,
} from '../core/leases.ts';
import { isAlreadyExists, isConflict, isNotFound, type KubeClient } from './kube/client.ts';
import { setLongTimeout } from './timers.ts';

export { DEFAULT_LEASE_TIMINGS as DEFAULT_TIMINGS, validateLeaseTimings as validateTimings };
export type { LeaseTimings };

export interface Lease {
  apiVersion: 'coordination.k8s.io/v1';
  kind: 'Lease';
  metadata: {
    name: string;
    namespace: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec: LeaseRecord;
}

/** A Lease's MicroTime: RFC 3339 with microseconds. */
export const microTime = (ms: number) => new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

export interface Timer {
  cancel(): void;
}

/** Time as leases need it; tests inject a fake one. */
export interface LeaseClock {
  /** Milliseconds on a monotonic clock: what expiry and deadlines are measured on. */
  now(): number;
  /** Wall-clock milliseconds, only for the acquire and renew times written in the record. */
  wallNow(): number;
  setTimer(callback: () => void, ms: number): Timer;
}

export const systemLeaseClock: LeaseClock = {
  now: () => performance.now(),
  wallNow: () => Date.now(),
  setTimer: (callback, ms) => setLongTimeout(callback, ms, { unref: false }),
};

/** What a write of a Lease came to: written (and when it began), or someone else wrote it first. */
export type ClaimResult = { written: true; startedAt: number } | { written: false };

export class LeaseStore {
  readonly timings: LeaseTimings;
  private readonly client: KubeClient;
  private readonly namespace: string;
  readonly identity: string;
  readonly clock: LeaseClock;
  private readonly observations = new Map<string, LeaseObservation>();

  constructor(
    client: KubeClient,
    options: { namespace: string; identity: string; timings: LeaseTimings; clock?: LeaseClock | undefined },
  ) {
    const problems = validateLeaseTimings(options.timings);
    if (problems.length > 0) throw new Error(`invalid lease timings: ${problems.join('; ')}`);
    this.client = client;
    this.namespace = options.namespace;
    this.identity = options.identity;
    this.timings = options.timings;
    this.clock = options.clock ?? systemLeaseClock;
  }

  get path(): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(this.namespace)}/leases`;
  }

  /** A request's timeout: two retry periods, and never past `deadline` (monotonic) when given. */
  private timeout(deadline?: number): number {
    const period = this.timings.retryPeriodMs * 2;
    return deadline === undefined ? period : Math.max(1, Math.min(period, deadline - this.clock.now()));
  }

  /** Notes what the Lease shows now; its holder, and whether it is free to take. */
  see(lease: Lease): { holder: string; expired: boolean } {
    const now = this.clock.now();
    const observation = observeLease(this.observations.get(lease.metadata.name), lease.spec, now);
    this.observations.set(lease.metadata.name, observation);
    return { holder: observation.holder, expired: leaseExpired(observation, now) };
  }

  /** Forgets Leases not among `names` (deleted ones), so the map does not grow. */
  keepOnly(names: ReadonlySet<string>): void {
    for (const name of this.observations.keys()) if (!names.has(name)) this.observations.delete(name);
  }

  async get(name: string, deadline?: number): Promise<Lease | undefined> {
    try {
      return await this.client.request<Lease>(`${this.path}/${name}`, {
        timeoutMs: this.timeout(deadline),
        lane: 'lease',
      });
    } catch (error) {
      if (!isNotFound(error)) throw error;
      this.observations.delete(name);
      return undefined;
    }
  }

  async list(labelSelector: string): Promise<Lease[]> {
    const list = await this.client.request<{ items: Lease[] }>(this.path, {
      query: { labelSelector },
      timeoutMs: this.timeout(),
      lane: 'lease',
    });
    return list.items;
  }

  /**
   * Creates the Lease held by this replica, or renews or takes `existing` with its resourceVersion as
   * precondition. The caller decides it may (the lease is its own, free, or expired).
   */
  async claim(
    existing: Lease | undefined,
    name: string,
    labels: Record<string, string> | undefined,
    deadline?: number,
  ): Promise<ClaimResult> {
    const startedAt = this.clock.now();
    const wall = microTime(this.clock.wallNow());
    const duration = Math.ceil(this.timings.leaseDurationMs / 1000);
    const taking = existing?.spec.holderIdentity !== this.identity;
    const spec: LeaseRecord = {
      ...existing?.spec,
      holderIdentity: this.identity,
      leaseDurationSeconds: duration,
      renewTime: wall,
      ...(taking ? { acquireTime: wall, leaseTransitions: (existing?.spec.leaseTransitions ?? -1) + 1 } : {}),
    };
    const metadata = {
      ...existing?.metadata,
      name,
      namespace: this.namespace,
      ...(labels ? { labels } : {}),
    };
    const body: Lease = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata, spec };
    try {
      const written = await this.client.request<Lease>(existing ? `${this.path}/${name}` : this.path, {
        ...(existing ? { method: 'PUT' as const } : {}),
        body,
        timeoutMs: this.timeout(deadline),
        lane: 'lease',
      });
      // Our own record, seen when the renewal began: as client-go sets observedTime.
      this.observations.set(name, observeLease(undefined, written.spec, startedAt));
      return { written: true, startedAt };
    } catch (error) {
      // Someone else wrote it (or created it, or deleted it) in between: look again next period.
      if (isConflict(error) || isAlreadyExists(error) || isNotFound(error)) return { written: false };
      throw error;
    }
  }

  /** Hands a Lease this replica holds back (no holder), so another takes it at once; best effort. */
  async handBack(lease: Lease | undefined): Promise<boolean> {
    if (!lease || lease.spec.holderIdentity !== this.identity) return false;
    try {
      await this.client.request(`${this.path}/${lease.metadata.name}`, {
        method: 'PUT',
        body: {
          ...lease,
          spec: {
            ...lease.spec,
            holderIdentity: '',
            leaseDurationSeconds: 1,
            renewTime: microTime(this.clock.wallNow()),
          },
        },
        timeoutMs: this.timeout(),
        lane: 'lease',
      });
      this.observations.delete(lease.metadata.name);
      return true;
    } catch (error) {
      // It expires by itself; handing back only saves the next holder the wait.
      if (isConflict(error)) throw error;
      return false;
    }
  }

  /**
   * Deletes a Lease, best effort; with `resourceVersion`, only that version of it (a Lease written
   * since, by someone who took it, stays).
   */
  async delete(name: string, resourceVersion?: string): Promise<void> {
    const preconditions =
      resourceVersion === undefined
        ? {}
        : { body: { apiVersion: 'v1', kind: 'DeleteOptions', preconditions: { resourceVersion } } };
    await this.client
      .request(`${this.path}/${name}`, {
        method: 'DELETE',
        ...preconditions,
        timeoutMs: this.timeout(),
        lane: 'lease',
      })
      .catch(() => undefined);
    this.observations.delete(name);
  }
}
