/**
 * A watched cache of one resource type (optionally one namespace, optionally a label selector),
 * built on @kubernetes/client-node's ListWatch: it relists on 410 Gone by itself; here it is also
 * restarted with exponential backoff after any other watch error, so an apiserver restart is
 * survived without losing the cache. A watch that stays silent for WATCH_INACTIVITY_MS is dropped
 * and opened again from the last resourceVersion: a half-open connection (accepted, never
 * answered) costs at most that long, never forever.
 */
import { ListWatch, Watch, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import type { KubeClient } from './kube/client.ts';
import { resourcePath, type ResourceType } from './kube/resources.ts';
import { setLongTimeout, type LongTimeout } from './timers.ts';

/** The least an object needs to be cached: our generated resource types and client-node's both fit. */
export interface CachedObject {
  metadata?: {
    name?: string;
    namespace?: string;
    resourceVersion?: string;
    ownerReferences?: { kind: string; name: string; uid: string; controller?: boolean }[];
  };
}

export interface InformerOptions<T extends CachedObject = CachedObject> {
  namespace?: string | undefined;
  labelSelector?: string | undefined;
  onChange: (object: T, kind: 'add' | 'update' | 'delete') => void;
  onError?: (error: unknown, restartInMs: number) => void;
  /**
   * What the cache keeps of an object, when less than all of it (undefined: all). Applied before
   * the cache keeps it and before `onChange` sees it, like a controller-runtime cache transform.
   */
  view?: (object: T) => T | undefined;
}

export interface ResourceInformer<T extends CachedObject> {
  readonly synced: boolean;
  /** Synced, and not waiting to restart after a failed watch or list. */
  readonly healthy: boolean;
  get(name: string, namespace?: string): T | undefined;
  list(namespace?: string): readonly T[];
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Restarts after errors so far (for tests and metrics). */
  readonly restarts: number;
}

/**
 * managedFields are half of a cached object and nothing here reads them: drop them before the
 * cache keeps the object (the callback receives the very object the cache holds), as
 * controller-runtime's cache transform does.
 */
function slim(object: KubernetesObject): void {
  if (object.metadata) delete object.metadata.managedFields;
}

/**
 * The object becomes its view, in place: client-node's cache holds the very object it passes on.
 * Members the view lacks are set to undefined rather than deleted: a deleted member turns the
 * object into a dictionary, a third larger (that is per cached object, 10,000 finished ones).
 */
export function keepOnly(object: object, view: object): void {
  for (const key of Object.keys(object)) if (!(key in view)) Reflect.set(object, key, undefined);
  Object.assign(object, view);
}

const RESTART_BASE_MS = 500;
const RESTART_MAX_MS = 30_000;
/** client-node's default is 30 s; an idle watch reopened every 15 s costs one cheap request. */
export const WATCH_INACTIVITY_MS = 15_000;

export function createInformer<T extends CachedObject>(
  kc: KubeConfig,
  client: KubeClient,
  type: ResourceType,
  options: InformerOptions<T>,
): ResourceInformer<T> {
  const path = resourcePath(type, options.namespace);
  const keep = (object: KubernetesObject) => {
    slim(object);
    const view = options.view?.(object as unknown as T);
    if (view !== undefined && view !== (object as unknown)) keepOnly(object, view);
  };
  const list = async () => {
    const result = await client.request<{
      items: KubernetesObject[];
      metadata?: { resourceVersion?: string };
    }>(path, {
      query: { labelSelector: options.labelSelector },
    });
    result.items.forEach(keep);
    return result;
  };
  // client-node's cache holds plain JSON; this adapter is where it is given the resource's own type.
  const watch = new Watch(kc);
  // An adapter setting: client-node keeps the inactivity timeout in a field it does not expose.
  Object.assign(watch, { requestTimeoutMs: WATCH_INACTIVITY_MS });
  const informer = new ListWatch<KubernetesObject>(path, watch, list, false, options.labelSelector);
  let synced = false;
  let stopped = false;
  let failures = 0;
  let restarts = 0;
  let restartTimer: LongTimeout | undefined;

  informer.on('add', (o) => {
    keep(o);
    options.onChange(o as unknown as T, 'add');
  });
  informer.on('update', (o) => {
    keep(o);
    options.onChange(o as unknown as T, 'update');
  });
  informer.on('delete', (o) => {
    slim(o);
    options.onChange(o as unknown as T, 'delete');
  });
  // client-node's ListWatch reports a failed list through 'error' and then resolves start() as if
  // it had listed: counting errors tells the two apart, so the cache is never called synced (and
  // /ready never says 200) before a list has succeeded, and the backoff grows while lists fail.
  let errors = 0;

  const scheduleRestart = (error: unknown) => {
    errors++;
    if (stopped || restartTimer) return;
    failures++;
    const delay = Math.min(RESTART_BASE_MS * 2 ** (failures - 1), RESTART_MAX_MS);
    options.onError?.(error, delay);
    restartTimer = setLongTimeout(
      () => {
        restartTimer = undefined;
        restarts++;
        void begin();
      },
      delay,
      { unref: false },
    );
  };

  informer.on('error', scheduleRestart);

  async function begin(): Promise<void> {
    if (stopped) return;
    const errorsBefore = errors;
    try {
      await informer.start();
      if (errors === errorsBefore) {
        synced = true;
        failures = 0;
      }
    } catch (error) {
      scheduleRestart(error);
    }
  }

  return {
    get synced() {
      return synced;
    },
    get healthy() {
      return synced && restartTimer === undefined;
    },
    get restarts() {
      return restarts;
    },
    get: (name, namespace) => informer.get(name, namespace) as T | undefined,
    list: (namespace) => informer.list(namespace) as unknown as T[],
    start: begin,
    async stop() {
      stopped = true;
      restartTimer?.cancel();
      await informer.stop();
    },
  };
}
