/**
 * For unit tests of lease keeping: a clock the test moves (monotonic and wall time apart, so replicas
 * can disagree about the date), and an in-memory Lease collection with the apiserver's rules for
 * what the leader elector and shard manager send (create, get, list by labels, update with a
 * resourceVersion precondition, delete), where a request can be made to hang.
 */
import { ApiError, type KubeClient, type RequestInit } from '../../src/shell/kube/client.ts';
import type { Lease, LeaseClock, Timer } from '../../src/shell/leases.ts';

/** Lets every promise continuation that is ready run. */
export const settle = async (): Promise<void> => {
  for (let i = 0; i < 20; i++) await new Promise<void>((resolve) => setImmediate(resolve));
};

/** One monotonic timeline for all replicas; each replica's wall clock is it plus an offset. */
export class FakeTimeline {
  now = 1_000_000;
  private timers: { at: number; callback: () => void; id: number }[] = [];
  private nextId = 0;

  /** A replica's clock, its wall time `skewMs` off the true date. */
  clock(skewMs = 0): LeaseClock {
    return {
      now: () => this.now,
      wallNow: () => Date.UTC(2026, 0, 1) + this.now + skewMs,
      setTimer: (callback, ms): Timer => {
        const id = this.nextId++;
        this.timers.push({ at: this.now + Math.max(0, ms), callback, id });
        return {
          cancel: () => {
            this.timers = this.timers.filter((t) => t.id !== id);
          },
        };
      },
    };
  }

  /** Moves time on by `ms`, firing every timer due on the way, in order, letting each one's work run. */
  async advance(ms: number): Promise<void> {
    const end = this.now + ms;
    await settle();
    for (;;) {
      const due = this.timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!due) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.now = Math.max(this.now, due.at);
      due.callback();
      await settle();
    }
    this.now = end;
    await settle();
  }
}

const notFound = (name: string) => new ApiError(404, 'NotFound', `leases "${name}" not found`, {});

/** Leases in memory, reached through the KubeClient interface the shell uses. */
export class FakeLeases {
  readonly leases = new Map<string, Lease>();
  private version = 0;
  /** While set, every request waits until `release()` (a renewal that hangs). */
  private hanging: (() => void)[] | undefined;
  /** Every write that changed the holder, in order: [lease, from, to]. */
  readonly transitions: [string, string, string][] = [];

  /** Replicas cut off from the apiserver: their requests never return. */
  private readonly cut = new Set<string>();

  cutOff(replica: string): void {
    this.cut.add(replica);
  }

  hang(): void {
    this.hanging = [];
  }

  release(): void {
    const waiting = this.hanging ?? [];
    this.hanging = undefined;
    for (const resume of waiting) resume();
  }

  client(replica = ''): KubeClient {
    return {
      server: 'https://fake',
      contextUser: 'test',
      counts: {},
      results: new Map(),
      close: () => undefined,
      watch: () => {
        throw new Error('no watches here');
      },
      request: async <T>(path: string, init: RequestInit = {}): Promise<T> => {
        if (this.cut.has(replica)) await new Promise<never>(() => undefined);
        if (this.hanging) await new Promise<void>((resolve) => this.hanging?.push(resolve));
        return this.answer(path, init) as T;
      },
    };
  }

  private answer(path: string, init: RequestInit): unknown {
    const match = /\/leases(?:\/([^/?]+))?$/.exec(path);
    if (!match) throw new Error(`unexpected path ${path}`);
    const name = match[1];
    const method = init.method ?? (init.body === undefined ? 'GET' : 'POST');
    const copy = (l: Lease): Lease => structuredClone(l);
    if (method === 'GET' && name === undefined) {
      const selector = String(init.query?.['labelSelector'] ?? '');
      const wanted = selector
        .split(',')
        .filter(Boolean)
        .map((kv) => kv.split('='));
      const items = [...this.leases.values()].filter((l) =>
        wanted.every(([k, v]) => k !== undefined && l.metadata.labels?.[k] === v),
      );
      return { items: items.map(copy) };
    }
    if (name === undefined && method !== 'POST') throw new Error(`${method} needs a name`);
    if (method === 'GET') {
      const lease = this.leases.get(name ?? '');
      if (!lease) throw notFound(name ?? '');
      return copy(lease);
    }
    if (method === 'DELETE') {
      if (!this.leases.delete(name ?? '')) throw notFound(name ?? '');
      return {};
    }
    const body = structuredClone(init.body) as Lease;
    const key = body.metadata.name;
    const existing = this.leases.get(key);
    if (method === 'POST' && existing)
      throw new ApiError(409, 'AlreadyExists', `leases "${key}" already exists`, {});
    if (method === 'PUT') {
      if (!existing) throw notFound(key);
      if (body.metadata.resourceVersion !== existing.metadata.resourceVersion)
        throw new ApiError(409, 'Conflict', `leases "${key}": the object has been modified`, {});
    }
    const from = existing?.spec.holderIdentity ?? '';
    const to = body.spec.holderIdentity ?? '';
    if (from !== to) this.transitions.push([key, from, to]);
    const stored: Lease = {
      ...body,
      metadata: { ...body.metadata, resourceVersion: String(++this.version) },
    };
    this.leases.set(key, stored);
    return copy(stored);
  }
}
