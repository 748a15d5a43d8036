/**
 * What this process wrote that its caches may not show yet: the resourceVersion last written per
 * workflow (a cached copy older than that is not trusted), the echoes its watches will deliver
 * (reconciling them again would find nothing to do), and the children created that no watch showed.
 */
import { BoundedMap } from './bounded-map.ts';

/** How many own writes and creates are remembered until a watch shows them. */
const REMEMBERED_WRITES = 4096;
/**
 * How long a child this process created counts as there although the cache has not shown it yet;
 * after that (its watch events lost) it is created again, and AlreadyExists says it is there.
 */
const CREATED_UNSEEN_MS = 30_000;

export const keyOf = (namespace: string, name: string): string => `${namespace}/${name}`;

/**
 * Whether resourceVersion `a` is at least `b`. Kubernetes calls them opaque, but an etcd-backed
 * apiserver's are increasing integers; anything else is treated as unknown (not newer), which
 * costs a live read and nothing else.
 */
export function notOlder(a: string | undefined, b: string): boolean {
  if (a === b) return true;
  if (a === undefined || !/^\d+$/.test(a) || !/^\d+$/.test(b)) return false;
  return BigInt(a) >= BigInt(b);
}

export class OwnWrites {
  /** The resourceVersion this process last wrote per workflow key. */
  private readonly lastWritten = new Map<string, string>();
  /**
   * resourceVersions this process wrote that no watch has delivered back yet. etcd revisions are
   * unique across resources, so one map serves workflows and children.
   */
  private readonly unseen = new BoundedMap<string, true>(REMEMBERED_WRITES);
  /** Children this process created (namespace/name -> when) that the cache has not shown yet. */
  private readonly createdUnseen = new BoundedMap<string, number>(REMEMBERED_WRITES);

  /** A write of the workflow at `key` returned this resourceVersion. */
  wroteWorkflow(key: string, resourceVersion: string | undefined): void {
    if (resourceVersion === undefined) return;
    this.lastWritten.set(key, resourceVersion);
    this.unseen.set(resourceVersion, true);
  }

  /** A write of another object (a child) returned this resourceVersion. */
  wrote(resourceVersion: string | undefined): void {
    if (resourceVersion !== undefined) this.unseen.set(resourceVersion, true);
  }

  /** Whether a watched object is the echo of this process's own write (seen once). */
  isOwnWrite(resourceVersion: string | undefined): boolean {
    return resourceVersion !== undefined && this.unseen.delete(resourceVersion);
  }

  /**
   * Whether a cached copy of the workflow at `key` may be trusted: nothing written since, or the
   * cache shows the last write (then the record is dropped).
   */
  trusts(key: string, cachedVersion: string | undefined): boolean {
    const written = this.lastWritten.get(key);
    if (written === undefined) return true;
    if (!notOlder(cachedVersion, written)) return false;
    this.lastWritten.delete(key);
    return true;
  }

  /** The workflow is gone: nothing of it is waited for. */
  forgetWorkflow(key: string): void {
    this.lastWritten.delete(key);
  }

  /** This process created the child at `key` (or found it there) at `now`. */
  created(key: string, now: number): void {
    this.createdUnseen.set(key, now);
  }

  /** Whether a child this process created recently is still to be shown by the cache. */
  createdRecently(key: string, now: number): boolean {
    const at = this.createdUnseen.get(key);
    return at !== undefined && now - at < CREATED_UNSEEN_MS;
  }

  /** A watch showed this child: from now on the cache knows whether it exists. */
  childSeen(key: string): void {
    this.createdUnseen.delete(key);
  }
}
