/**
 * The executor: watches KubernetesExecution children (every namespace, or one), claims each one not
 * finished that no other replica holds (src/executor/claims.ts), renews the claim while it carries
 * the child out, and writes the outcome. Several replicas share the work without a leader: the
 * claim decides. A child whose holder stopped renewing is taken over once its claim lapses, and its
 * action repeats or resumes from what the child records (every action is safe to repeat).
 */
import { hostname } from 'node:os';
import type { KubernetesExecution } from '../api/generated/types.ts';
import { TERMINAL_EXECUTION_PHASES } from '../api/stop-request.ts';
import { LABELS } from '../shell/children.ts';
import { createInformer, type ResourceInformer } from '../shell/informer.ts';
import type { KubeClient } from '../shell/kube/client.ts';
import { KUBERNETES_EXECUTIONS } from '../shell/kube/resources.ts';
import type { Logger } from '../shell/logger.ts';
import { ClaimLost, ClaimObservations, HeldClaim } from './claims.ts';
import { ClusterRegistry } from './clusters.ts';
import { carryOut, stopRequestOf, type CarryOutEnd, type Interruption } from './carry-out.ts';
import type { ExecutorMetrics } from './metrics.ts';

export const DEFAULT_LEASE_DURATION_SECONDS = 15;
export const DEFAULT_EXECUTOR_NAMESPACE = 'kubernaut-system';
export const DEFAULT_MAX_IN_FLIGHT = 32;

export interface ExecutorOptions {
  client: KubeClient;
  log: Logger;
  /** The namespace whose children it carries out; every namespace when unset. */
  namespace?: string | undefined;
  /** This replica's name in claims (default host and pid; the Deployment passes the pod name). */
  identity?: string | undefined;
  /** How long a claim holds without renewal; renewed every third of it. */
  leaseDurationSeconds?: number | undefined;
  /** Where target clusters are registered as kubeconfig Secrets (the executor's own namespace). */
  clusterNamespace?: string | undefined;
  /** Honour the test hooks and fault annotations (`wfx executor --development`). */
  development?: boolean | undefined;
  metrics?: ExecutorMetrics | undefined;
  /** How often children are looked at again for lapsed claims (default 1 s). */
  resyncMs?: number | undefined;
  /**
   * How many children this replica carries out at once (default 32): beyond that it claims no more,
   * leaving them to other replicas, and takes the next one as one finishes.
   */
  maxInFlight?: number | undefined;
}

export interface RunningExecutor {
  readonly identity: string;
  /** How many times this replica started carrying out each child, by uid. */
  readonly started: ReadonlyMap<string, number>;
  /** Children being carried out now. */
  readonly inFlight: number;
  /** The informer has listed the children and its watch runs. */
  readonly healthy: boolean;
  readonly synced: boolean;
  stop(): Promise<void>;
}

interface Running {
  held: HeldClaim;
  interrupt: AbortController;
}

/** Whether resourceVersion `a` is newer than `b` (etcd's are increasing integers; else: assume so). */
function newer(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined || !/^\d+$/.test(a) || !/^\d+$/.test(b)) return true;
  return BigInt(a) > BigInt(b);
}

const isTerminal = (child: KubernetesExecution): boolean =>
  (TERMINAL_EXECUTION_PHASES as readonly string[]).includes(child.status?.phase ?? '');

export async function startExecutor(options: ExecutorOptions): Promise<RunningExecutor> {
  const { client, log, metrics } = options;
  const identity = options.identity ?? `${hostname()}_${String(process.pid)}`;
  const leaseSeconds = options.leaseDurationSeconds ?? DEFAULT_LEASE_DURATION_SECONDS;
  const development = options.development ?? false;
  const maxInFlight = options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
  const clusters = new ClusterRegistry(client, options.clusterNamespace ?? DEFAULT_EXECUTOR_NAMESPACE);
  const observations = new ClaimObservations();
  const running = new Map<string, Running>();
  const claiming = new Set<string>();
  const tasks = new Set<Promise<void>>();
  const started = new Map<string, number>();
  let stopping = false;

  const interrupt = (run: Running, why: Interruption): void => {
    if (!run.interrupt.signal.aborted) run.interrupt.abort(why);
  };

  /** Renews the claim every third of the lease; a claim not renewed for a lease is given up. */
  const keepRenewing = (run: Running): (() => void) => {
    let lastRenewed = performance.now();
    const timer = setInterval(
      () => {
        run.held.renew(new Date()).then(
          () => {
            lastRenewed = performance.now();
          },
          (error: unknown) => {
            if (error instanceof ClaimLost || performance.now() - lastRenewed >= leaseSeconds * 1000) {
              log.warn('claim lost; stopping the action', {
                child: run.held.current.metadata.name,
                error: (error as Error).message,
              });
              interrupt(run, { kind: 'lost' });
            } else log.warn('claim renewal failed; retrying', { error: (error as Error).message });
          },
        );
      },
      Math.max(200, (leaseSeconds * 1000) / 3),
    );
    return () => {
      clearInterval(timer);
    };
  };

  const carry = async (child: KubernetesExecution): Promise<void> => {
    const uid = child.metadata.uid ?? '';
    const held = await HeldClaim.take(client, child, identity, leaseSeconds, new Date());
    if (!held) return; // another replica was first
    const claimed = held.current.status?.claim;
    metrics?.executorClaimsTotal.inc({ how: claimed?.claims === 1 ? 'first' : 'takeover' });
    if (claimed?.claims === 1) {
      const created = Date.parse(child.metadata.creationTimestamp ?? '');
      if (Number.isFinite(created))
        metrics?.executorPickupLatency.observe(
          { kind: child.spec.kind },
          Math.max(0, Date.parse(claimed.acquireTime ?? '') - created) / 1000,
        );
    }
    log.info('claimed', {
      child: child.metadata.name,
      namespace: child.metadata.namespace,
      claims: claimed?.claims,
    });
    const run: Running = { held, interrupt: new AbortController() };
    running.set(uid, run);
    started.set(uid, (started.get(uid) ?? 0) + 1);
    const stopRenewing = keepRenewing(run);
    metrics?.executorInFlight.inc();
    const begun = performance.now();
    let end: CarryOutEnd | 'error' = 'error';
    try {
      end = await carryOut(held, { client, clusters, log, interrupt: run.interrupt, development });
    } finally {
      stopRenewing();
      running.delete(uid);
      metrics?.executorInFlight.dec();
      const action = child.spec.action;
      metrics?.executorActionsTotal.inc({ action, kind: child.spec.kind, result: end });
      if (end !== 'interrupted' && end !== 'error')
        metrics?.executorActionDuration.observe({ action, result: end }, (performance.now() - begun) / 1000);
    }
    // Left by a clean shutdown: give the claim up so another replica takes the child over at once.
    if (
      end === 'interrupted' &&
      (run.interrupt.signal.reason as Interruption | undefined)?.kind === 'shutdown'
    )
      await held.release().catch(() => undefined);
  };

  const consider = (child: KubernetesExecution): void => {
    const uid = child.metadata.uid ?? '';
    if (stopping || running.has(uid) || claiming.has(uid) || claiming.size >= maxInFlight) return;
    if (isTerminal(child)) {
      observations.forget(uid);
      return;
    }
    if (!observations.claimable(child, identity)) return;
    claiming.add(uid);
    const task = carry(child)
      .catch((error: unknown) => {
        // A write failed (apiserver away, say): the next look retries; the claim is still ours.
        log.warn('could not carry out child', {
          child: child.metadata.name,
          error: (error as Error).message,
        });
      })
      .finally(() => {
        claiming.delete(uid);
        tasks.delete(task);
        // A place is free: take the next child waiting, without waiting for the resync.
        lookAtAll();
      });
    tasks.add(task);
  };

  let lookAtAll = (): void => undefined;

  const changed = (child: KubernetesExecution, kind: 'add' | 'update' | 'delete'): void => {
    const uid = child.metadata.uid ?? '';
    const run = running.get(uid);
    if (kind === 'delete') {
      observations.forget(uid);
      if (run) interrupt(run, { kind: 'lost' });
      return;
    }
    observations.observe(child);
    if (!run) {
      consider(child);
      return;
    }
    const stop = stopRequestOf(child);
    if (stop !== undefined) {
      log.info('stop requested', { child: child.metadata.name, reason: stop });
      interrupt(run, { kind: 'stop', reason: stop });
    }
    // An event older than the claim (delivered late) says nothing about who holds it now.
    const holder = child.status?.claim?.holder;
    if (
      holder !== identity &&
      newer(child.metadata.resourceVersion, run.held.current.metadata.resourceVersion)
    )
      interrupt(run, { kind: 'lost' });
  };

  const informer: ResourceInformer<KubernetesExecution> = createInformer<KubernetesExecution>(
    client,
    KUBERNETES_EXECUTIONS,
    {
      namespace: options.namespace,
      labelSelector: LABELS.workflowUid,
      onChange: changed,
      onError: (error, restartInMs) => {
        log.warn('watch failed; restarting', { error: (error as Error).message, restartInMs });
      },
    },
  );
  lookAtAll = () => {
    for (const child of informer.list()) {
      if (stopping || claiming.size >= maxInFlight) return;
      consider(child);
    }
  };
  await informer.start();
  // Claims lapse without an event: look again at every child not finished.
  const resync = setInterval(lookAtAll, options.resyncMs ?? 1000);
  log.info('executor running', {
    identity,
    namespace: options.namespace ?? '(all)',
    leaseDurationSeconds: leaseSeconds,
    development,
  });

  return {
    identity,
    started,
    get inFlight() {
      return running.size;
    },
    get healthy() {
      return informer.healthy;
    },
    get synced() {
      return informer.synced;
    },
    async stop() {
      stopping = true;
      clearInterval(resync);
      for (const run of running.values()) interrupt(run, { kind: 'shutdown' });
      await Promise.allSettled([...tasks]);
      await informer.stop();
      clusters.close();
    },
  };
}
