/**
 * A watched cache of one resource type (optionally one namespace, optionally a label selector), as
 * client-go's reflector keeps one: list, then watch from the list's resourceVersion, watch again
 * from the last one seen when a watch ends, list again on 410 Gone, and start over with exponential
 * backoff after any other failure, so an apiserver restart is survived without losing the cache. A
 * watch silent for WATCH_INACTIVITY_MS is opened again: a half-open connection (accepted, never
 * answered) costs at most that long, never forever.
 */
import { ApiError, type KubeClient, type RunningWatch, type WatchEvent } from './kube/client.ts';
import { resourcePath, type ResourceType } from './kube/resources.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import { setLongTimeout, type LongTimeout } from './timers.ts';

/** An object as the apiserver sends it (managedFields are dropped before it is cached). */
type KubernetesObject = CachedObject & { metadata?: { managedFields?: unknown } };

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
/**
 * A watch silent this long is opened again from its last resourceVersion: an idle watch costs one
 * cheap request every 15 s, a half-open connection (accepted, never answered) no longer than that.
 */
export const WATCH_INACTIVITY_MS = 15_000;
/** A watch that ended sooner than this waits RESTART_BASE_MS before the next one. */
const QUICK_END_MS = 1_000;

interface Listed {
  items: KubernetesObject[];
  metadata?: { resourceVersion?: string };
}

export function createInformer<T extends CachedObject>(
  client: KubeClient,
  type: ResourceType,
  options: InformerOptions<T>,
): ResourceInformer<T> {
  const path = resourcePath(type, options.namespace);
  /** namespace -> name -> object: lookups and per-namespace lists without a scan of everything. */
  const cache = new Map<string, Map<string, KubernetesObject>>();
  const keep = (object: KubernetesObject) => {
    slim(object);
    const view = options.view?.(object as unknown as T);
    if (view !== undefined && view !== (object as unknown)) keepOnly(object, view);
  };
  const nameOf = (o: KubernetesObject) => o.metadata?.name ?? '';
  const namespaceOf = (o: KubernetesObject) => o.metadata?.namespace ?? '';
  const cached = (o: KubernetesObject) => cache.get(namespaceOf(o))?.get(nameOf(o));
  const store = (o: KubernetesObject) => {
    const names = cache.get(namespaceOf(o)) ?? new Map<string, KubernetesObject>();
    names.set(nameOf(o), o);
    cache.set(namespaceOf(o), names);
  };
  const remove = (o: KubernetesObject) => {
    const names = cache.get(namespaceOf(o));
    names?.delete(nameOf(o));
    if (names?.size === 0) cache.delete(namespaceOf(o));
  };

  let resourceVersion: string | undefined;
  let synced = false;
  let stopped = false;
  let failures = 0;
  let restarts = 0;
  let restartTimer: LongTimeout | undefined;
  let current: RunningWatch | undefined;
  /** Bumped by every (re)start: a watch loop of an earlier start stops at its next turn. */
  let generation = 0;

  /** Added or changed (a newer resourceVersion); the same version again is no change. */
  const upsert = (o: KubernetesObject) => {
    const before = cached(o);
    if (before?.metadata?.resourceVersion === o.metadata?.resourceVersion && before !== undefined) return;
    keep(o);
    store(o);
    options.onChange(o as unknown as T, before === undefined ? 'add' : 'update');
  };
  const removed = (o: KubernetesObject) => {
    slim(o);
    remove(o);
    options.onChange(o as unknown as T, 'delete');
  };

  /** Lists, then makes the cache what the list says: new and changed objects, and the deleted. */
  async function relist(): Promise<void> {
    const result = await client.request<Listed>(path, { query: { labelSelector: options.labelSelector } });
    const listed = new Set<string>();
    for (const item of result.items) {
      listed.add(`${namespaceOf(item)}/${nameOf(item)}`);
      upsert(item);
    }
    for (const names of [...cache.values()])
      for (const o of [...names.values()]) if (!listed.has(`${namespaceOf(o)}/${nameOf(o)}`)) removed(o);
    resourceVersion = result.metadata?.resourceVersion;
  }

  /** Set when the apiserver says the resourceVersion is too old (410 Gone): list again. */
  let gone = false;
  /** An ERROR event other than 410: the watch stops and the informer starts over. */
  let watchError: ApiError | undefined;
  const onEvent = (event: WatchEvent) => {
    const o = event.object as KubernetesObject;
    if (event.type === 'ERROR') {
      const { code = 500, reason = 'WatchError', message = 'watch error' } = event.object;
      if (code === 410) gone = true;
      else watchError = new ApiError(code, reason, `WATCH ${path}: ${String(code)} ${message}`, o);
      current?.stop();
      return;
    }
    if (o.metadata?.resourceVersion) resourceVersion = o.metadata.resourceVersion;
    if (event.type === 'ADDED' || event.type === 'MODIFIED') upsert(o);
    else if (event.type === 'DELETED') removed(o);
  };

  /** Watches from the last resourceVersion, again and again, until stopped or a watch fails. */
  async function watchLoop(mine: number): Promise<void> {
    while (!stopped && mine === generation) {
      if (gone) {
        gone = false;
        await relist();
      }
      current = client.watch(
        path,
        { labelSelector: options.labelSelector, resourceVersion, allowWatchBookmarks: true },
        onEvent,
        WATCH_INACTIVITY_MS,
      );
      const opened = Date.now();
      const end = await current.done;
      if (watchError) {
        const error = watchError;
        watchError = undefined;
        throw error;
      }
      if (end === 'broken') restarts++;
      // A watch that ends as soon as it opens (a proxy closing it, say) is not opened again at once:
      // never a hot loop of watches.
      if (end !== 'silent' && Date.now() - opened < QUICK_END_MS)
        await sleep(RESTART_BASE_MS, undefined, { ref: false });
    }
  }

  const scheduleRestart = (error: unknown) => {
    if (stopped || restartTimer) return;
    current?.stop();
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

  /** Lists (the cache counts as synced only after a list succeeded), then watches from there. */
  async function begin(): Promise<void> {
    if (stopped) return;
    const mine = ++generation;
    try {
      await relist();
      synced = true;
      failures = 0;
    } catch (error) {
      scheduleRestart(error);
      return;
    }
    watchLoop(mine).catch(scheduleRestart);
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
    get: (name, namespace) => cache.get(namespace ?? '')?.get(name) as T | undefined,
    list: (namespace) =>
      (namespace === undefined
        ? [...cache.values()].flatMap((names) => [...names.values()])
        : [...(cache.get(namespace)?.values() ?? [])]) as unknown as T[],
    start: begin,
    stop() {
      stopped = true;
      restartTimer?.cancel();
      current?.stop();
      return Promise.resolve();
    },
  };
}
