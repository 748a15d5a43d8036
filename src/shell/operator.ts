/**
 * The operator process, assembled: kubeconfig, client, controller, leader election, the health and
 * metrics servers, the audit store. `wfx operator` runs it; tests run it in-process.
 */
import { startTracing, type Tracing } from './tracing.ts';
import { hostname } from 'node:os';
import type { AuditStore } from '../audit/record.ts';
import { openPostgresAuditStore } from '../audit/postgres.ts';
import { openSqliteAuditStore } from '../audit/sqlite.ts';
import { alertmanagerSource } from './checks/effectiveness.ts';
import { DEFAULT_AUDIT_RETENTION_MS, DEFAULT_RETENTION, RetentionSweeper } from './retention.ts';
import { WorkflowController } from './controller.ts';
import { DEFAULT_LOCK_NAMESPACE, type AdmissionConfig } from './admission.ts';
import { NO_EXECUTION_LIMITS } from '../core/target-locks.ts';
import { createKubeClient, type KubeClient } from './kube/client.ts';
import type { RateLimitOptions } from './kube/rate-limit.ts';
import { loadServingCertificate, watchServingCertificate } from './serving-certificate.ts';
import { loadClientConfig } from './kube/kubeconfig.ts';
import { LeaderElector, type LeaseTimings, DEFAULT_TIMINGS } from './leader.ts';
import { createLogger, type Logger } from './logger.ts';
import { createOperatorMetrics, type OperatorMetrics } from './metrics.ts';
import { ApiserverReachability } from './reachability.ts';
import { ShardManager, type ShardConfig } from './shards.ts';
import { ALERTS_PATH, AlertReceiver } from './alert-receiver.ts';
import {
  bearerAuthorizer,
  metricsAuthorizer,
  startHealthServer,
  startMetricsServer,
  type RunningServer,
} from './servers.ts';

export interface OperatorConfig {
  /** Path to a kubeconfig; unset: $KUBECONFIG, ~/.kube/config, or the in-cluster config. */
  kubeconfig?: string | undefined;
  namespaces?: string[];
  workers?: number;
  /** 0 picks a free port; undefined disables the server. */
  healthPort?: number | undefined;
  metricsPort?: number | undefined;
  /** The Alertmanager webhook receiver (src/shell/alert-receiver.ts); undefined: off. */
  alertWebhookPort?: number | undefined;
  bindAddress?: string;
  leaderElection?:
    { namespace: string; name: string; identity?: string; timings?: Partial<LeaseTimings> } | undefined;
  /**
   * Spread workflows over shard Leases balanced among the replicas (instead of one leader). The
   * identity defaults to host and pid, as for leader election.
   */
  shards?: (Omit<ShardConfig, 'identity'> & { identity?: string }) | undefined;
  logLevel?: string;
  /** SQLite file for the embedded audit store; PostgreSQL when `postgresUrl` is given. */
  auditPath?: string | undefined;
  /** PostgreSQL connection string for the production audit store (wins over auditPath). */
  postgresUrl?: string | undefined;
  audit?: AuditStore | undefined;
  executorUser?: string;
  alertmanagerUrl?: string | undefined;
  /** The stability window of runs whose spec sets none (DEFAULT_STABILITY_WINDOW_MS when unset). */
  stabilityWindowMs?: number | undefined;
  /** How long a finished WorkflowExecution is kept ("24h" by default; "forever"). */
  retention?: string | undefined;
  /** How long audit rows are kept (90 days by default). */
  auditRetentionMs?: number | undefined;
  /** How often retention sweeps (60 s by default). */
  retentionSweepMs?: number | undefined;
  monitoringPollMs?: number;
  /**
   * Where the metrics server's `tls.crt` and `tls.key` are mounted (a Secret, e.g. cert-manager's);
   * unset: a self-signed certificate made at start.
   */
  metricsCertDir?: string | undefined;
  /** The client-side rate limit of apiserver requests (Leases exempt); default 20/s, burst 30. */
  rateLimit?: RateLimitOptions | undefined;
  /** How long step progress may wait to share a status write (Reconciler). */
  progressWriteDelayMs?: number | undefined;
  /** A child no executor claimed within this is reported on its workflow (default 60 s). */
  pickupTimeoutMs?: number | undefined;
  /**
   * Target locks and storm limits (src/shell/admission.ts). The lock Leases' namespace defaults to
   * the leader-election (or shards) namespace, else kubernaut-system; the limits and the cooldown
   * (src/core/target-cooldown.ts) to none (the CLI's flags default to DEFAULT_COOLDOWN_POLICY).
   */
  admission?: Partial<AdmissionConfig> | undefined;
  clock?: () => number;
  log?: Logger;
  /** Called when the lease is lost; the process default is to exit at once. */
  onLeadershipLost?: () => void;
  /** Traces; default: as the OTEL_* environment configures them (none without an endpoint). */
  tracing?: Tracing | undefined;
}

export interface RunningOperator {
  controller: WorkflowController;
  client: KubeClient;
  metrics: OperatorMetrics;
  log: Logger;
  healthPort: number | undefined;
  metricsPort: number | undefined;
  alertWebhookPort: number | undefined;
  isLeader: () => boolean;
  /** The shards this replica holds now (with shards), else undefined. */
  heldShards: () => number[] | undefined;
  stop(): Promise<void>;
}

export async function startOperator(config: OperatorConfig = {}): Promise<RunningOperator> {
  if (config.shards && config.leaderElection)
    throw new Error('shards and leader election exclude each other: shard Leases replace the leader Lease');
  const log = config.log ?? createLogger(config.logLevel);
  const client = await createKubeClient(
    loadClientConfig(config.kubeconfig),
    config.rateLimit ? { rateLimit: config.rateLimit } : {},
  );
  const metrics = createOperatorMetrics(true);
  const tracing =
    'tracing' in config ? config.tracing : await startTracing('workflowexecution-operator', log);
  const audit =
    config.audit ??
    (config.postgresUrl
      ? await openPostgresAuditStore(config.postgresUrl)
      : config.auditPath
        ? openSqliteAuditStore(config.auditPath)
        : undefined);
  const identity =
    config.shards?.identity ?? config.leaderElection?.identity ?? `${hostname()}_${process.pid}`;
  // The shard events reach the controller, which needs the shards to exist first.
  let enqueueShard: (shard: number) => void = () => undefined;
  let forgetShard: (shard: number) => void = () => undefined;
  const shards = config.shards
    ? new ShardManager(client, { ...config.shards, identity }, log, {
        acquired: (shard) => {
          metrics.leaderStatus.set(1);
          enqueueShard(shard);
        },
        released: (shard) => {
          if (shards?.heldShards.length === 0) metrics.leaderStatus.set(0);
          forgetShard(shard);
        },
      })
    : undefined;
  const controller = new WorkflowController({
    shards,
    client,
    log,
    namespaces: config.namespaces,
    workers: config.workers ?? 4,
    metrics,
    audit,
    safety: {
      executorUser: config.executorUser ?? 'system:serviceaccount:kubernaut-system:kubernetes-executor',
    },
    alerts: config.alertmanagerUrl ? alertmanagerSource(config.alertmanagerUrl) : undefined,
    stabilityWindowMs: config.stabilityWindowMs,
    ...(config.monitoringPollMs !== undefined ? { monitoringPollMs: config.monitoringPollMs } : {}),
    progressWriteDelayMs: config.progressWriteDelayMs,
    pickupTimeoutMs: config.pickupTimeoutMs,
    ...(config.clock ? { clock: config.clock } : {}),
    tracing,
    admission: {
      lockNamespace:
        config.admission?.lockNamespace ??
        config.leaderElection?.namespace ??
        config.shards?.namespace ??
        DEFAULT_LOCK_NAMESPACE,
      limits: config.admission?.limits ?? NO_EXECUTION_LIMITS,
      cooldown: config.admission?.cooldown,
    },
  });
  metrics.observeApiserver({
    requests: () => client.results.values(),
    watchRestarts: () => controller.watchRestarts,
  });
  enqueueShard = (shard) => {
    controller.enqueueShard(shard);
  };
  forgetShard = (shard) => {
    controller.forgetShard(shard);
  };

  const apiserver = new ApiserverReachability(client, {
    onChange: (reachable, error) => {
      if (reachable) log.info('apiserver reachable again');
      else log.warn('apiserver unreachable; not ready', { error });
    },
  });
  apiserver.start();

  const servers: RunningServer[] = [];
  const bind = config.bindAddress ?? '0.0.0.0';
  let alive = true;
  if (config.healthPort !== undefined) {
    servers.push(
      await startHealthServer(
        {
          live: () => alive,
          // Ready: caches listed, no watch waiting to restart, and the apiserver answering now.
          ready: () => controller.healthy && apiserver.reachable,
          notReady: () =>
            !controller.synced
              ? 'caches not synced'
              : !apiserver.reachable
                ? 'apiserver unreachable'
                : 'watches restarting',
        },
        config.healthPort,
        bind,
      ),
    );
  }
  const healthPort = config.healthPort !== undefined ? servers[0]?.port : undefined;
  let metricsPort: number | undefined;
  const stopWatchingCertificate: (() => void)[] = [];
  if (config.metricsPort !== undefined) {
    const certificate = loadServingCertificate(config.metricsCertDir);
    const server = await startMetricsServer(
      metrics.registry,
      metricsAuthorizer(client),
      certificate,
      config.metricsPort,
      bind,
    );
    log.info('metrics served over TLS', { port: server.port, certificate: certificate.source });
    const certDir = config.metricsCertDir;
    if (certDir)
      stopWatchingCertificate.push(
        watchServingCertificate(
          certDir,
          (next) => {
            server.setCertificate(next);
            log.info('metrics certificate reloaded', { certDir });
          },
          (error) => {
            log.warn('metrics certificate not reloaded; serving the last one', { error: error.message });
          },
        ),
      );
    servers.push(server);
    metricsPort = server.port;
  }
  let alertWebhookPort: number | undefined;
  if (config.alertWebhookPort !== undefined) {
    const receiver = new AlertReceiver({
      client,
      authorize: bearerAuthorizer(client, ALERTS_PATH, 'post'),
      log: log.child({ component: 'alert-receiver' }),
      metrics,
      port: config.alertWebhookPort,
      host: bind,
    });
    const server = await receiver.start();
    servers.push(server);
    alertWebhookPort = server.port;
  }

  await controller.startCaches();
  let elector: LeaderElector | undefined;
  if (shards) {
    // Workers run at once; they only take keys of the shards held, which the balancing adds.
    metrics.leaderStatus.set(0);
    controller.startWorkers();
    shards.start();
  } else if (config.leaderElection) {
    elector = new LeaderElector(client, {
      ...config.leaderElection,
      identity,
      ...DEFAULT_TIMINGS,
      ...config.leaderElection.timings,
    });
    elector.run(
      () => {
        log.info('became leader', { identity });
        metrics.leaderStatus.set(1);
        controller.startWorkers();
      },
      () => {
        metrics.leaderStatus.set(0);
        log.error('leader lease lost; exiting', { identity });
        (config.onLeadershipLost ?? (() => process.exit(1)))();
      },
    );
  } else {
    metrics.leaderStatus.set(1);
    controller.startWorkers();
  }

  const isLeader = () => (shards ? shards.heldShards.includes(0) : (elector?.isLeader ?? true));
  const retention = new RetentionSweeper({
    client,
    namespaces: config.namespaces ?? [],
    audit,
    retention: config.retention ?? DEFAULT_RETENTION,
    auditRetentionMs: config.auditRetentionMs ?? DEFAULT_AUDIT_RETENTION_MS,
    metrics,
    log,
    clock: config.clock ?? (() => Date.now()),
    active: isLeader,
  });
  retention.start(config.retentionSweepMs);

  return {
    controller,
    client,
    metrics,
    log,
    healthPort,
    metricsPort,
    alertWebhookPort,
    isLeader: () => (shards ? shards.heldShards.length > 0 : (elector?.isLeader ?? true)),
    heldShards: () => shards?.heldShards,
    async stop() {
      alive = false;
      await retention.stop();
      await apiserver.stop();
      await controller.stop();
      await shards?.stop();
      await elector?.release();
      for (const stopWatching of stopWatchingCertificate) stopWatching();
      await Promise.all(servers.map((s) => s.close()));
      await audit?.close();
      await tracing?.shutdown();
      client.close();
    },
  };
}
