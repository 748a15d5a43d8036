/**
 * Lease expiry as client-go's leaderelection judges it. A replica never compares the holder's
 * `renewTime` with its own clock (replicas' clocks may differ by more than the lease): it remembers
 * the record it last saw and the moment, on its own monotonic clock, it saw that record change. The
 * holder's lease is live until that moment + the holder's `leaseDurationSeconds`. The holder, for
 * its part, acts only until its last successful renewal began + the renew deadline, which is shorter
 * than the lease: so whoever takes a lease over has waited longer than the old holder may act.
 * Pure: time enters as `now`, milliseconds on one replica's monotonic clock.
 */

/** The fields of a Lease's spec that make up its record (coordination.k8s.io/v1 LeaseSpec). */
export interface LeaseRecord {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

/** What one replica saw of one Lease, and when it saw it change. */
export interface LeaseObservation {
  /** The record, canonical: any change of holder, renewal or duration changes it. */
  readonly record: string;
  readonly holder: string;
  readonly durationMs: number;
  /** When this replica saw `record` first, on its monotonic clock. */
  readonly observedAt: number;
}

const canonical = (r: LeaseRecord): string =>
  JSON.stringify([
    r.holderIdentity ?? '',
    r.leaseDurationSeconds ?? 0,
    r.acquireTime ?? '',
    r.renewTime ?? '',
    r.leaseTransitions ?? 0,
  ]);

/** The observation after seeing `record` at `now`: unchanged records keep the time they were first seen. */
export function observeLease(
  previous: LeaseObservation | undefined,
  record: LeaseRecord,
  now: number,
): LeaseObservation {
  const text = canonical(record);
  if (previous?.record === text) return previous;
  return {
    record: text,
    holder: record.holderIdentity ?? '',
    durationMs: (record.leaseDurationSeconds ?? 0) * 1000,
    observedAt: now,
  };
}

/** Whether the lease is free to take at `now`: nobody holds it, or its record has not changed for its duration. */
export function leaseExpired(observation: LeaseObservation, now: number): boolean {
  return observation.holder === '' || observation.observedAt + observation.durationMs <= now;
}

/**
 * Whether a holder whose last successful renewal began at `renewStartedAt` may still act at `now`.
 * Measured from the start: the record it wrote is dated then, and others count the lease from when
 * they saw it, which is no earlier.
 */
export function withinRenewDeadline(renewStartedAt: number, renewDeadlineMs: number, now: number): boolean {
  return now < renewStartedAt + renewDeadlineMs;
}

export interface LeaseTimings {
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

export const DEFAULT_LEASE_TIMINGS: LeaseTimings = {
  leaseDurationMs: 15_000,
  renewDeadlineMs: 10_000,
  retryPeriodMs: 2_000,
};

/** client-go's rules: leaseDuration > renewDeadline > retryPeriod * 1.2, all positive. */
export function validateLeaseTimings(t: LeaseTimings): string[] {
  const problems: string[] = [];
  if (t.retryPeriodMs <= 0) problems.push('retry period must be positive');
  if (t.leaseDurationMs <= t.renewDeadlineMs)
    problems.push('lease duration must be greater than the renew deadline');
  if (t.renewDeadlineMs <= t.retryPeriodMs * 1.2)
    problems.push('renew deadline must be greater than 1.2 x the retry period');
  return problems;
}
