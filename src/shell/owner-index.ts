/**
 * Children by their controller's uid, kept from the informer's own callbacks, so a reconcile finds
 * its workflow's children without scanning every child in the namespace. A child whose controller
 * reference is removed (or changed) leaves its old owner's entry: it no longer belongs to it.
 */
import type { CachedObject } from './informer.ts';

export class OwnerIndex<T extends CachedObject> {
  private readonly byOwner = new Map<string, Map<string, T>>();
  /** The owner each indexed child is filed under, to move or drop it when that changes. */
  private readonly ownerOf = new Map<string, string>();

  update(object: T, kind: 'add' | 'update' | 'delete'): void {
    const key = `${object.metadata?.namespace ?? ''}/${object.metadata?.name ?? ''}`;
    const owner =
      kind === 'delete'
        ? undefined
        : object.metadata?.ownerReferences?.find((r) => r.controller === true)?.uid;
    const previous = this.ownerOf.get(key);
    if (previous !== undefined && previous !== owner) this.remove(previous, key);
    if (!owner) return;
    const children = this.byOwner.get(owner) ?? new Map<string, T>();
    children.set(key, object);
    this.byOwner.set(owner, children);
    this.ownerOf.set(key, owner);
  }

  /** One indexed child of that owner, by namespace and name. */
  get(ownerUid: string, object: CachedObject): T | undefined {
    return this.byOwner
      .get(ownerUid)
      ?.get(`${object.metadata?.namespace ?? ''}/${object.metadata?.name ?? ''}`);
  }

  of(ownerUid: string): T[] {
    return [...(this.byOwner.get(ownerUid)?.values() ?? [])];
  }

  /** Forgets one child, whatever it is filed under. */
  forget(object: CachedObject): void {
    const key = `${object.metadata?.namespace ?? ''}/${object.metadata?.name ?? ''}`;
    const owner = this.ownerOf.get(key);
    if (owner !== undefined) this.remove(owner, key);
  }

  /** Forgets an owner's children (its workflow finished); returns what it held. */
  drop(ownerUid: string): T[] {
    const children = [...(this.byOwner.get(ownerUid)?.values() ?? [])];
    for (const child of children)
      this.remove(ownerUid, `${child.metadata?.namespace ?? ''}/${child.metadata?.name ?? ''}`);
    return children;
  }

  get owners(): number {
    return this.byOwner.size;
  }

  private remove(owner: string, key: string): void {
    this.ownerOf.delete(key);
    const children = this.byOwner.get(owner);
    if (!children) return;
    children.delete(key);
    if (children.size === 0) this.byOwner.delete(owner);
  }
}
