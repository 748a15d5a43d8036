/**
 * Claims: how several executor replicas never carry out one child at the same time. A replica claims
 * a child by writing `status.claim` with the child's resourceVersion as precondition, so of two
 * replicas racing for it one gets 409 and walks away. The holder renews the claim while it acts.
 * Another replica takes the child over only once the claim record has not changed for its
 * leaseDurationSeconds, measured from when THAT replica saw it change (as client-go's leader election
 * judges a Lease): clocks of different machines are never compared.
 */
import type { KubernetesExecution, KubernetesExecutionStatus } from '../api/generated/types.ts';
import { isConflict, isNotFound, type KubeClient } from '../shell/kube/client.ts';
import { KUBERNETES_EXECUTIONS, resourcePath } from '../shell/kube/resources.ts';

export type Claim = NonNullable<KubernetesExecutionStatus['claim']>;
/** Status fields to merge; null removes one (the claim, when released). */
export type StatusPatch = Omit<KubernetesExecutionStatus, 'claim'> & { claim?: Claim | null };

/** The claim's identity: a renewal or a takeover changes it, nothing else does. */
const recordOf = (claim: Claim | undefined): string =>
  claim === undefined ? '' : `${claim.holder}|${claim.renewTime}|${String(claim.claims ?? 1)}`;

/** When this replica saw each child's claim record change, on its own monotonic clock. */
export class ClaimObservations {
  private readonly seen = new Map<string, { record: string; at: number }>();
  private readonly monotonicMs: () => number;

  constructor(monotonicMs: () => number = () => performance.now()) {
    this.monotonicMs = monotonicMs;
  }

  observe(child: KubernetesExecution): void {
    const uid = child.metadata.uid ?? '';
    const record = recordOf(child.status?.claim);
    if (this.seen.get(uid)?.record !== record) this.seen.set(uid, { record, at: this.monotonicMs() });
  }

  /**
   * Whether `identity` may claim the child now: nobody holds it, `identity` held it (a restarted
   * replica of the same name), or the holder's claim has not changed for its lease duration as
   * observed here.
   */
  claimable(child: KubernetesExecution, identity: string): boolean {
    const claim = child.status?.claim;
    if (claim === undefined || claim.holder === identity) return true;
    this.observe(child);
    const seen = this.seen.get(child.metadata.uid ?? '');
    return seen !== undefined && this.monotonicMs() - seen.at >= claim.leaseDurationSeconds * 1000;
  }

  /** How long until the child's claim lapses as observed here (0: now), or undefined when unclaimed. */
  lapsesInMs(child: KubernetesExecution): number | undefined {
    const claim = child.status?.claim;
    const seen = this.seen.get(child.metadata.uid ?? '');
    if (claim === undefined || seen === undefined) return undefined;
    return Math.max(0, seen.at + claim.leaseDurationSeconds * 1000 - this.monotonicMs());
  }

  forget(uid: string): void {
    this.seen.delete(uid);
  }
}

/** The claim is another replica's now: whatever this one was doing with the child stops. */
export class ClaimLost extends Error {
  readonly holder: string | undefined;

  constructor(child: string, holder: string | undefined) {
    super(`the claim on ${child} ${holder ? `was taken over by ${holder}` : 'was released'}`);
    this.name = 'ClaimLost';
    this.holder = holder;
  }
}

/**
 * A child this replica holds a claim on: every status write goes through it, with the latest
 * resourceVersion as precondition and one at a time, so a renewal and the final write never race.
 * A conflict is resolved by a fresh read: still ours, write again; someone else's, ClaimLost.
 */
export class HeldClaim {
  private resourceVersion: string;
  private chain: Promise<unknown> = Promise.resolve();
  private claim: Claim;
  private readonly client: KubeClient;
  private child: KubernetesExecution;
  readonly identity: string;

  private constructor(client: KubeClient, child: KubernetesExecution, identity: string) {
    this.client = client;
    this.child = child;
    this.identity = identity;
    this.resourceVersion = child.metadata.resourceVersion ?? '';
    this.claim = child.status?.claim ?? { holder: identity, renewTime: '', leaseDurationSeconds: 1 };
  }

  /** The child as this replica last wrote or read it. */
  get current(): KubernetesExecution {
    return this.child;
  }

  /**
   * Claims the child with its resourceVersion as precondition. Undefined when another replica got
   * there first (409) or the child is gone.
   */
  static async take(
    client: KubeClient,
    child: KubernetesExecution,
    identity: string,
    leaseDurationSeconds: number,
    now: Date,
  ): Promise<HeldClaim | undefined> {
    const previous = child.status?.claim;
    const claim: Claim = {
      holder: identity,
      acquireTime: now.toISOString(),
      renewTime: now.toISOString(),
      leaseDurationSeconds,
      claims: (previous?.claims ?? (previous === undefined ? 0 : 1)) + 1,
    };
    const status: KubernetesExecutionStatus = {
      claim,
      // Picked up: the first claim's time stays the pick-up time across takeovers.
      startTime: child.status?.startTime ?? now.toISOString(),
      ...(child.status?.phase === undefined || child.status.phase === 'pending'
        ? { phase: 'executing' }
        : {}),
    };
    try {
      const written = await patchStatus(client, child, status, child.metadata.resourceVersion);
      const held = new HeldClaim(client, written, identity);
      held.claim = claim;
      return held;
    } catch (error) {
      if (isConflict(error) || isNotFound(error)) return undefined;
      throw error;
    }
  }

  /** Renews the claim (renewTime = now). */
  renew(now: Date): Promise<void> {
    return this.write({ claim: { ...this.claim, renewTime: now.toISOString() } });
  }

  /** Writes status fields, keeping the claim; ClaimLost when another replica holds the child now. */
  write(status: StatusPatch): Promise<void> {
    const next = this.chain.then(() => this.writeNow(status));
    this.chain = next.catch(() => undefined);
    return next;
  }

  /** Gives the claim up (on shutdown), so another replica takes the child over at once. */
  release(): Promise<void> {
    return this.write({ claim: null });
  }

  private async writeNow(status: StatusPatch): Promise<void> {
    for (;;) {
      try {
        this.child = await patchStatus(this.client, this.child, status, this.resourceVersion);
        this.resourceVersion = this.child.metadata.resourceVersion ?? '';
        if (status.claim) this.claim = status.claim;
        return;
      } catch (error) {
        if (isNotFound(error)) throw new ClaimLost(this.child.metadata.name ?? '', undefined);
        if (!isConflict(error)) throw error;
        // Someone else wrote (the operator's stop request, a takeover): read it and decide.
        const fresh = await this.client.request<KubernetesExecution>(
          resourcePath(KUBERNETES_EXECUTIONS, this.child.metadata.namespace, this.child.metadata.name),
        );
        const holder = fresh.status?.claim?.holder;
        if (holder !== this.identity || fresh.status?.claim?.renewTime !== this.claim.renewTime)
          throw new ClaimLost(this.child.metadata.name ?? '', holder);
        this.child = fresh;
        this.resourceVersion = fresh.metadata.resourceVersion ?? '';
      }
    }
  }
}

/** A merge patch of the status subresource; resourceVersion in the body is the precondition. */
function patchStatus(
  client: KubeClient,
  child: KubernetesExecution,
  status: StatusPatch,
  resourceVersion: string | undefined,
): Promise<KubernetesExecution> {
  return client.request<KubernetesExecution>(
    resourcePath(KUBERNETES_EXECUTIONS, child.metadata.namespace, child.metadata.name, 'status'),
    {
      method: 'PATCH',
      patchType: 'merge',
      body: { metadata: { resourceVersion }, status },
    },
  );
}
