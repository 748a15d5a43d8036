/** `wfx operator`: the operator process, until SIGTERM or SIGINT (graceful, within 10 s). */
import { startOperator } from '../../shell/operator.ts';
import { createLogger } from '../../shell/logger.ts';
import { CliError } from '../errors.ts';

export interface OperatorFlags {
  kubeconfig?: string | undefined;
  namespaces: string[];
  workers: number;
  healthPort: number;
  metricsPort: number;
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
  retention?: string | undefined;
  auditRetentionDays?: number | undefined;
  progressWriteDelayMs: number;
}

const SHUTDOWN_GRACE_MS = 10_000;

export async function runOperator(flags: OperatorFlags): Promise<void> {
  if (flags.shards < 1) throw new CliError('--shards must be at least 1', 2);
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
      bindAddress: flags.bindAddress,
      logLevel: flags.logLevel,
      log,
      auditPath: flags.auditDb,
      postgresUrl: flags.auditPostgresUrl,
      executorUser: flags.executorUser,
      alertmanagerUrl: flags.alertmanagerUrl,
      retention: flags.retention,
      auditRetentionMs:
        flags.auditRetentionDays === undefined ? undefined : flags.auditRetentionDays * 24 * 3_600_000,
      progressWriteDelayMs: flags.progressWriteDelayMs,
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
