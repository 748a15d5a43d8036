/**
 * The executor process, assembled: kubeconfig, client, the executor, and the operator's two servers
 * (src/shell/servers.ts): health and readiness without auth, metrics behind TokenReview and
 * SubjectAccessReview. `wfx executor` runs it; tests run it in-process.
 */
import { loadServingCertificate } from '../shell/serving-certificate.ts';
import { createKubeClient, type KubeClient } from '../shell/kube/client.ts';
import { loadClientConfig } from '../shell/kube/kubeconfig.ts';
import { createLogger, type Logger } from '../shell/logger.ts';
import { ApiserverReachability } from '../shell/reachability.ts';
import {
  metricsAuthorizer,
  startHealthServer,
  startMetricsServer,
  type RunningServer,
} from '../shell/servers.ts';
import { startExecutor, type ExecutorOptions, type RunningExecutor } from './executor.ts';
import { createExecutorMetrics, type ExecutorMetrics } from './metrics.ts';

export interface ExecutorServiceConfig extends Omit<ExecutorOptions, 'client' | 'log' | 'metrics'> {
  /** Path to a kubeconfig; unset: $KUBECONFIG, the in-cluster config, or ~/.kube/config. */
  kubeconfig?: string | undefined;
  /** 0 picks a free port; undefined disables the server. */
  healthPort?: number | undefined;
  metricsPort?: number | undefined;
  /** tls.crt and tls.key for /metrics (a mounted Secret); unset: self-signed at start, as the operator's. */
  metricsCertDir?: string | undefined;
  bindAddress?: string | undefined;
  logLevel?: string | undefined;
  log?: Logger | undefined;
}

export interface RunningExecutorService {
  executor: RunningExecutor;
  client: KubeClient;
  metrics: ExecutorMetrics;
  healthPort: number | undefined;
  metricsPort: number | undefined;
  stop(): Promise<void>;
}

export async function startExecutorService(
  config: ExecutorServiceConfig = {},
): Promise<RunningExecutorService> {
  const log = config.log ?? createLogger(config.logLevel);
  const client = await createKubeClient(loadClientConfig(config.kubeconfig));
  const metrics = createExecutorMetrics(true);
  const apiserver = new ApiserverReachability(client, {
    onChange: (reachable, error) => {
      if (reachable) log.info('apiserver reachable again');
      else log.warn('apiserver unreachable; not ready', { error });
    },
  });
  apiserver.start();
  // The servers first: /readyz answers (503) while the children are being listed.
  const started: { executor?: RunningExecutor } = {};

  const servers: RunningServer[] = [];
  const bind = config.bindAddress ?? '0.0.0.0';
  let alive = true;
  let healthPort: number | undefined;
  let metricsPort: number | undefined;
  if (config.healthPort !== undefined) {
    const server = await startHealthServer(
      {
        live: () => alive,
        ready: () => (started.executor?.healthy ?? false) && apiserver.reachable,
        notReady: () =>
          !started.executor?.synced
            ? 'children not listed yet'
            : !apiserver.reachable
              ? 'apiserver unreachable'
              : 'watch restarting',
      },
      config.healthPort,
      bind,
    );
    servers.push(server);
    healthPort = server.port;
  }
  if (config.metricsPort !== undefined) {
    const server = await startMetricsServer(
      metrics.registry,
      metricsAuthorizer(client),
      loadServingCertificate(config.metricsCertDir),
      config.metricsPort,
      bind,
    );
    servers.push(server);
    metricsPort = server.port;
  }
  const executor = await startExecutor({ ...config, client, log, metrics });
  started.executor = executor;

  return {
    executor,
    client,
    metrics,
    healthPort,
    metricsPort,
    async stop() {
      alive = false;
      await executor.stop();
      await apiserver.stop();
      await Promise.all(servers.map((s) => s.close()));
      client.close();
    },
  };
}
