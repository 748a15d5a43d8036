/**
 * Children by their controller's uid, kept from the informer's own callbacks, so a reconcile finds
 * its workflow's children without scanning every child in the namespace.
 */
import type { CachedObject } from './informer.ts';

export class OwnerIndex<T extends CachedObject> {
  private readonly byOwner = new Map<string, Map<string, T>>();

  update(object: T, kind: 'add' | 'update' | 'delete'): void {
    const owner = object.metadata?.ownerReferences?.find((r) => r.controller === true)?.uid;
    if (!owner) return;
    const key = `${object.metadata?.namespace ?? ''}/${object.metadata?.name ?? ''}`;
    const children = this.byOwner.get(owner) ?? new Map<string, T>();
    if (kind === 'delete') children.delete(key);
    else children.set(key, object);
    if (children.size === 0) this.byOwner.delete(owner);
    else this.byOwner.set(owner, children);
  }

  of(ownerUid: string): T[] {
    return [...(this.byOwner.get(ownerUid)?.values() ?? [])];
  }

  get owners(): number {
    return this.byOwner.size;
  }
}
