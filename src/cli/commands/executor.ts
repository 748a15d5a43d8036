/** `wfx executor`: the executor service as a process, until SIGTERM or SIGINT. */
import { startExecutorService, type ExecutorServiceConfig } from '../../executor/service.ts';
import { createLogger } from '../../shell/logger.ts';
import { CliError } from '../errors.ts';
import { startTracing } from '../../shell/tracing.ts';

export async function runExecutor(flags: ExecutorServiceConfig & { logLevel: string }): Promise<void> {
  const log = createLogger(flags.logLevel);
  let service;
  try {
    service = await startExecutorService({ ...flags, log });
  } catch (error) {
    throw new CliError(`cannot start the executor: ${(error as Error).message}`);
  }
  const tracing = await startTracing('kubernetes-executor', log);
  log.info('executor started', {
    identity: service.executor.identity,
    healthPort: service.healthPort,
    metricsPort: service.metricsPort,
  });
  const running = service;
  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      log.info('shutting down', { signal });
      void running
        .stop()
        .then(() => tracing?.shutdown())
        .finally(resolve);
    };
    process.once('SIGTERM', () => {
      stop('SIGTERM');
    });
    process.once('SIGINT', () => {
      stop('SIGINT');
    });
  });
}
