/**
 * The demo executor service: watches KubernetesExecution children (every namespace, or one) and
 * carries each out once, against the cluster it runs in. Children finished before it started are
 * left alone; children it finds executing (a previous executor stopped mid-way) are run again:
 * every action is safe to repeat.
 */
import type { KubernetesExecution } from '../api/generated/types.ts';
import { LABELS } from '../shell/children.ts';
import { createInformer, type ResourceInformer } from '../shell/informer.ts';
import type { KubeClient } from '../shell/kube/client.ts';
import { KUBERNETES_EXECUTIONS } from '../shell/kube/resources.ts';
import type { Logger } from '../shell/logger.ts';
import { carryOut } from './carry-out.ts';

export interface ExecutorOptions {
  client: KubeClient;
  log: Logger;
  namespace?: string | undefined;
}

export interface RunningExecutor {
  /** Children carried out (or being carried out) since start, by uid. */
  readonly handled: ReadonlySet<string>;
  stop(): Promise<void>;
}

export async function startExecutor(options: ExecutorOptions): Promise<RunningExecutor> {
  const { client, log } = options;
  const abort = new AbortController();
  const handled = new Set<string>();
  const inFlight = new Set<Promise<void>>();

  const consider = (child: KubernetesExecution): void => {
    const uid = child.metadata.uid ?? '';
    const phase = child.status?.phase;
    if (abort.signal.aborted || handled.has(uid) || phase === 'completed' || phase === 'failed') return;
    handled.add(uid);
    const run = carryOut(child, { client, log, signal: abort.signal })
      .catch((error: unknown) => {
        // A write failed (apiserver away, say): forget the child so the next event retries it.
        handled.delete(uid);
        log.warn('could not carry out child', {
          child: child.metadata.name,
          error: (error as Error).message,
        });
      })
      .finally(() => inFlight.delete(run));
    inFlight.add(run);
  };

  const informer: ResourceInformer<KubernetesExecution> = createInformer<KubernetesExecution>(
    client,
    KUBERNETES_EXECUTIONS,
    {
      namespace: options.namespace,
      labelSelector: LABELS.workflowUid,
      onChange: (child, kind) => {
        if (kind !== 'delete') consider(child);
      },
      onError: (error, restartInMs) => {
        log.warn('watch failed; restarting', { error: (error as Error).message, restartInMs });
      },
    },
  );
  await informer.start();
  // Retry children whose write failed: the informer only tells us about changes.
  const resync = setInterval(() => {
    for (const child of informer.list()) consider(child);
  }, 5000);
  log.info('executor running', { namespace: options.namespace ?? '(all)' });

  return {
    handled,
    async stop() {
      clearInterval(resync);
      abort.abort();
      await informer.stop();
      await Promise.allSettled([...inFlight]);
    },
  };
}
