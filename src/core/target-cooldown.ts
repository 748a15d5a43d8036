/**
 * Cooldown and backoff per target (issue 21), as kubernaut's orchestrator does: a target a run
 * remediated a moment ago is left alone for a window (`RecentlyRemediated`); a target whose runs keep
 * failing waits longer after each failure (`Backoff`, doubling), and after N failures in a row is left
 * alone for a period (`TargetFailing`). Pure: the memory is the target's lock Lease itself, whose
 * annotations the shell (src/shell/admission.ts) reads at admission and writes when a run settles;
 * every time enters as `now`.
 */
import type { AdmissionBlock } from '../../machines/events.ts';
import { isoOf, msOfIso } from './time.ts';

/** The operator's policy (flags); a window or period of 0 turns that rule off. */
export interface CooldownPolicy {
  /** After a completed run, how long a new run on one of its targets waits (--target-cooldown). */
  cooldownMs: number;
  /** Failures in a row after which a target is left alone (--target-failure-threshold; 0: never). */
  failureThreshold: number;
  /** How long, after that many failures (--target-failure-block). */
  failureBlockMs: number;
  /** The wait after the first failure, doubled after each next one (--target-backoff; 0: none). */
  backoffBaseMs: number;
  /** The longest backoff (--target-backoff-max). */
  backoffMaxMs: number;
}

export const DEFAULT_COOLDOWN_POLICY: CooldownPolicy = {
  cooldownMs: 5 * 60_000,
  failureThreshold: 3,
  failureBlockMs: 30 * 60_000,
  backoffBaseMs: 60_000,
  backoffMaxMs: 10 * 60_000,
};

/** No rule at all: what an operator configured without cooldown behaves as. */
export const NO_COOLDOWN: CooldownPolicy = {
  cooldownMs: 0,
  failureThreshold: 0,
  failureBlockMs: 0,
  backoffBaseMs: 0,
  backoffMaxMs: 0,
};

/**
 * The policy for one run: its spec's `executionStrategy.targetCooldown` (ms; undefined when unset)
 * shortens the operator's cooldown window, or opts out with 0; it never lengthens it.
 */
export function policyForRun(policy: CooldownPolicy, targetCooldownMs: number | undefined): CooldownPolicy {
  return targetCooldownMs === undefined
    ? policy
    : { ...policy, cooldownMs: Math.min(policy.cooldownMs, Math.max(0, targetCooldownMs)) };
}

/** What the last settled run on a target came to: the memory the rules read. */
export interface TargetHistory {
  /** `namespace/name` of the last run that settled holding the target. */
  lastRun: string;
  lastOutcome: 'completed' | 'failed';
  /** When it settled (ms, the operator's clock). */
  settledAt: number;
  /** Failed runs in a row, the last one included (0 after a completed run). */
  consecutiveFailures: number;
}

const PREFIX = 'workflowexecution.kubernaut.io/';
export const HISTORY_ANNOTATIONS = {
  lastRun: `${PREFIX}last-run`,
  lastOutcome: `${PREFIX}last-outcome`,
  settledAt: `${PREFIX}last-settled`,
  consecutiveFailures: `${PREFIX}consecutive-failures`,
} as const;

/** The history written on a Lease; undefined when it carries none or a malformed one. */
export function historyFromAnnotations(
  annotations: Readonly<Record<string, string>> | undefined,
): TargetHistory | undefined {
  if (!annotations) return undefined;
  const lastRun = annotations[HISTORY_ANNOTATIONS.lastRun];
  const lastOutcome = annotations[HISTORY_ANNOTATIONS.lastOutcome];
  const settledAt = msOfIso(annotations[HISTORY_ANNOTATIONS.settledAt] ?? '');
  const failures = Number(annotations[HISTORY_ANNOTATIONS.consecutiveFailures] ?? '0');
  if (!lastRun || (lastOutcome !== 'completed' && lastOutcome !== 'failed')) return undefined;
  if (settledAt === undefined || !Number.isInteger(failures) || failures < 0) return undefined;
  return { lastRun, lastOutcome, settledAt, consecutiveFailures: failures };
}

export function historyAnnotations(history: TargetHistory): Record<string, string> {
  return {
    [HISTORY_ANNOTATIONS.lastRun]: history.lastRun,
    [HISTORY_ANNOTATIONS.lastOutcome]: history.lastOutcome,
    [HISTORY_ANNOTATIONS.settledAt]: isoOf(history.settledAt),
    [HISTORY_ANNOTATIONS.consecutiveFailures]: String(history.consecutiveFailures),
  };
}

/** The history after `run` settled with `outcome` at `now`: a completion resets the failures. */
export function recordOutcome(
  previous: TargetHistory | undefined,
  run: string,
  outcome: 'completed' | 'failed',
  now: number,
): TargetHistory {
  return {
    lastRun: run,
    lastOutcome: outcome,
    settledAt: now,
    consecutiveFailures: outcome === 'completed' ? 0 : (previous?.consecutiveFailures ?? 0) + 1,
  };
}

/** The wait after `failures` failures in a row: the base, doubled after each next one, capped. */
export function backoffMs(policy: CooldownPolicy, failures: number): number {
  if (policy.backoffBaseMs <= 0 || failures <= 0) return 0;
  const doubled = policy.backoffBaseMs * 2 ** Math.min(failures - 1, 30);
  return Math.min(doubled, Math.max(policy.backoffMaxMs, policy.backoffBaseMs));
}

type CooldownBlock = Extract<AdmissionBlock, { reason: 'RecentlyRemediated' | 'TargetFailing' | 'Backoff' }>;

/** Why a run may not act on `target` yet, from its history, or null when it may. */
export function cooldownBlock(
  policy: CooldownPolicy,
  history: TargetHistory | undefined,
  target: string,
  now: number,
): CooldownBlock | null {
  if (!history) return null;
  const { lastRun: run, settledAt, consecutiveFailures: failures } = history;
  if (history.lastOutcome === 'completed') {
    const until = settledAt + policy.cooldownMs;
    return policy.cooldownMs > 0 && now < until ? { reason: 'RecentlyRemediated', target, run, until } : null;
  }
  if (policy.failureThreshold > 0 && failures >= policy.failureThreshold && policy.failureBlockMs > 0) {
    const until = settledAt + policy.failureBlockMs;
    if (now < until) return { reason: 'TargetFailing', target, run, failures, until };
  }
  const until = settledAt + backoffMs(policy, failures);
  return now < until ? { reason: 'Backoff', target, run, failures, until } : null;
}

/**
 * Until when a history matters: past it no rule reads it and the failures in a row are forgotten
 * (failures count in a row while each comes within this time of the one before). The shell deletes
 * an unheld Lease whose history ended, so Leases do not accumulate.
 */
export function historyEndsAt(policy: CooldownPolicy, history: TargetHistory): number {
  if (history.lastOutcome === 'completed') return history.settledAt + policy.cooldownMs;
  return (
    history.settledAt +
    Math.max(policy.failureBlockMs, backoffMs(policy, Math.max(history.consecutiveFailures, 1)))
  );
}

/** Whether a settled run's outcome is worth remembering at all under this policy. */
export const remembers = (policy: CooldownPolicy, outcome: 'completed' | 'failed'): boolean =>
  outcome === 'completed'
    ? policy.cooldownMs > 0
    : policy.backoffBaseMs > 0 || (policy.failureThreshold > 0 && policy.failureBlockMs > 0);
