/** `wfx operator`: the operator process, until SIGTERM or SIGINT (graceful, within 10 s). */
import { startOperator } from '../../shell/operator.ts';
import { createLogger } from '../../shell/logger.ts';
import { CliError } from '../errors.ts';
import type { CooldownPolicy } from '../../core/target-cooldown.ts';

export interface OperatorFlags {
  kubeconfig?: string | undefined;
  namespaces: string[];
  workers: number;
  healthPort: number;
  metricsPort: number;
  /** The Alertmanager webhook receiver's port; undefined: off. */
  alertWebhookPort?: number | undefined;
  bindAddress: string;
  leaderElect: boolean;
  /** Above 1: workflows spread over this many shard Leases balanced among the replicas. */
  shards: number;
  leaderElectionNamespace: string;
  leaderElectionId: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  logLevel: string;
  auditDb?: string | undefined;
  auditPostgresUrl?: string | undefined;
  executorUser: string;
  alertmanagerUrl?: string | undefined;
  /** How long targets must stay healthy before a run completes, when its spec does not say. */
  stabilityWindowMs: number;
  retention?: string | undefined;
  auditRetentionDays?: number | undefined;
  progressWriteDelayMs: number;
  /** Requests per second to the apiserver once the burst is spent (0: no limit), and the burst. */
  kubeApiQps: number;
  /** Where tls.crt and tls.key for the metrics server are mounted; unset: self-signed at start. */
  metricsCertDir?: string | undefined;
  kubeApiBurst: number;
  /** A child no executor claimed within this is reported on its workflow. */
  pickupTimeoutMs?: number | undefined;
  /** Where the per-target lock Leases live (default: the leader-election namespace). */
  lockNamespace: string;
  /** Storm limits: at most this many workflows executing, in all and per namespace (0: no limit). */
  maxExecuting: number;
  maxExecutingPerNamespace: number;
  /** Cooldown and backoff per target (--target-cooldown and the --target-failure-*, --target-backoff* flags). */
  cooldown: CooldownPolicy;
}

const SHUTDOWN_GRACE_MS = 10_000;

export async function runOperator(flags: OperatorFlags): Promise<void> {
  if (flags.shards < 1) throw new CliError('--shards must be at least 1', 2);
  if (flags.kubeApiQps > 0 && flags.kubeApiBurst < 1)
    throw new CliError('--kube-api-burst must be at least 1 when --kube-api-qps limits requests', 2);
  if (flags.shards > 1 && flags.leaderElect)
    throw new CliError(
      '--shards balances shard Leases among all replicas and replaces --leader-elect; give one of them',
      2,
    );
  const log = createLogger(flags.logLevel);
  // A signal while it starts (waiting for caches that cannot sync, say): nothing is held yet, no
  // lease and no work, so leaving at once is a clean stop.
  const early = (signal: NodeJS.Signals) => {
    log.info('shutting down before the operator started', { signal });
    process.exit(0);
  };
  process.once('SIGTERM', early);
  process.once('SIGINT', early);
  const timings = {
    leaseDurationMs: flags.leaseDurationMs,
    renewDeadlineMs: flags.renewDeadlineMs,
    retryPeriodMs: flags.retryPeriodMs,
  };
  let operator;
  try {
    operator = await startOperator({
      kubeconfig: flags.kubeconfig,
      namespaces: flags.namespaces,
      workers: flags.workers,
      healthPort: flags.healthPort,
      metricsPort: flags.metricsPort,
      alertWebhookPort: flags.alertWebhookPort,
      bindAddress: flags.bindAddress,
      logLevel: flags.logLevel,
      log,
      auditPath: flags.auditDb,
      postgresUrl: flags.auditPostgresUrl,
      executorUser: flags.executorUser,
      alertmanagerUrl: flags.alertmanagerUrl,
      stabilityWindowMs: flags.stabilityWindowMs,
      retention: flags.retention,
      auditRetentionMs:
        flags.auditRetentionDays === undefined ? undefined : flags.auditRetentionDays * 24 * 3_600_000,
      progressWriteDelayMs: flags.progressWriteDelayMs,
      metricsCertDir: flags.metricsCertDir,
      rateLimit: { qps: flags.kubeApiQps, burst: flags.kubeApiBurst },
      pickupTimeoutMs: flags.pickupTimeoutMs,
      admission: {
        lockNamespace: flags.lockNamespace,
        limits: { cluster: flags.maxExecuting, perNamespace: flags.maxExecutingPerNamespace },
        cooldown: flags.cooldown,
      },
      shards:
        flags.shards > 1
          ? {
              count: flags.shards,
              namespace: flags.leaderElectionNamespace,
              name: flags.leaderElectionId,
              timings,
            }
          : undefined,
      leaderElection: flags.leaderElect
        ? {
            namespace: flags.leaderElectionNamespace,
            name: flags.leaderElectionId,
            timings,
          }
        : undefined,
    });
  } catch (error) {
    throw new CliError(`operator did not start: ${(error as Error).message}`);
  } finally {
    process.off('SIGTERM', early);
    process.off('SIGINT', early);
  }
  log.info('operator running', {
    healthPort: operator.healthPort,
    metricsPort: operator.metricsPort,
    alertWebhookPort: operator.alertWebhookPort,
    namespaces: flags.namespaces,
  });
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info('shutting down', { signal });
      const force = setTimeout(() => {
        log.error('shutdown took too long; exiting');
        process.exit(1);
      }, SHUTDOWN_GRACE_MS);
      force.unref();
      void operator.stop().then(resolve, resolve);
    };
    process.once('SIGTERM', () => {
      stop('SIGTERM');
    });
    process.once('SIGINT', () => {
      stop('SIGINT');
    });
  });
}
