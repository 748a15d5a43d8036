/** `wfx executor`: the demo executor as a process, until SIGTERM or SIGINT. */
import { startExecutor } from '../../executor/executor.ts';
import { createKubeClient } from '../../shell/kube/client.ts';
import { createLogger } from '../../shell/logger.ts';
import { loadClientConfig, type ClientConfig } from '../../shell/kube/kubeconfig.ts';
import { CliError } from '../errors.ts';
import { startTracing } from '../../shell/tracing.ts';

export async function runExecutor(flags: {
  kubeconfig?: string | undefined;
  namespace?: string | undefined;
  logLevel: string;
}): Promise<void> {
  const log = createLogger(flags.logLevel);
  let config: ClientConfig;
  try {
    config = loadClientConfig(flags.kubeconfig);
  } catch (error) {
    throw new CliError(`cannot load the kubeconfig: ${(error as Error).message}`);
  }
  const client = await createKubeClient(config);
  const tracing = await startTracing('kubernetes-executor', log);
  const executor = await startExecutor({ client, log, namespace: flags.namespace });
  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      log.info('shutting down', { signal });
      void executor
        .stop()
        .then(() => tracing?.shutdown())
        .finally(() => {
          client.close();
          resolve();
        });
    };
    process.once('SIGTERM', () => {
      stop('SIGTERM');
    });
    process.once('SIGINT', () => {
      stop('SIGINT');
    });
  });
}
