/**
 * A per-key work queue in the manner of client-go's: a key is never handled by two workers at once,
 * repeated adds of a waiting key merge, a key added while it is being handled runs again afterwards,
 * failures back off exponentially per key (5 ms doubling to 1000 s, reset on success), and a
 * requested requeue happens at exactly the asked time.
 */

import { setLongTimeout, type LongTimeout, type TimerFunctions } from './timers.ts';

export interface WorkResult {
  /** Handle the key again after this many ms (exact, not rate-limited). */
  requeueAfterMs?: number | undefined;
}

export interface WorkQueueMetrics {
  onAdd?(): void;
  onDepth?(depth: number): void;
  /** Time a key waited in the queue before a worker took it. */
  onQueueLatency?(seconds: number): void;
  /** Time a worker spent on a key. */
  onWorkDuration?(seconds: number): void;
  onRetry?(): void;
}

export interface WorkQueueOptions {
  workers: number;
  handler: (key: string) => Promise<WorkResult>;
  baseDelayMs?: number;
  maxDelayMs?: number;
  metrics?: WorkQueueMetrics;
  /** Injected for tests; defaults to the real clock and timers. */
  now?: () => number;
  timers?: TimerFunctions;
  onError?: (key: string, error: unknown) => void;
}

export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly enqueuedAt = new Map<string, number>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, { at: number; timer: LongTimeout }>();
  private readonly waiters: (() => void)[] = [];
  private readonly idleWaiters: (() => void)[] = [];
  private running = 0;
  private shuttingDown = false;
  private readonly workerLoops: Promise<void>[] = [];
  private readonly options: Required<Omit<WorkQueueOptions, 'metrics' | 'onError' | 'timers'>> &
    Pick<WorkQueueOptions, 'metrics' | 'onError' | 'timers'>;

  constructor(options: WorkQueueOptions) {
    this.options = {
      baseDelayMs: 5,
      maxDelayMs: 1_000_000,
      now: () => performance.now(),
      ...options,
    };
  }

  get depth(): number {
    return this.queue.length;
  }

  /** Keys waiting, being handled, or scheduled for later. */
  get size(): number {
    return new Set([...this.queued, ...this.processing, ...this.timers.keys()]).size;
  }

  start(): void {
    for (let i = 0; i < this.options.workers; i++) this.workerLoops.push(this.workerLoop());
  }

  add(key: string): void {
    if (this.shuttingDown) return;
    this.options.metrics?.onAdd?.();
    if (this.processing.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.enqueuedAt.set(key, this.options.now());
    this.queue.push(key);
    this.options.metrics?.onDepth?.(this.queue.length);
    this.waiters.shift()?.();
  }

  /** Add after `delayMs`; an earlier pending time for the same key wins. */
  addAfter(key: string, delayMs: number): void {
    if (this.shuttingDown) return;
    if (!(delayMs > 0)) {
      // Zero, negative and NaN all mean now.
      this.add(key);
      return;
    }
    const at = this.options.now() + delayMs;
    const pending = this.timers.get(key);
    if (pending && pending.at <= at) return;
    pending?.timer.cancel();
    // Chained past Node's 2^31-1 ms limit: a deadline months away waits, it does not fire now.
    const timer = setLongTimeout(
      () => {
        this.timers.delete(key);
        this.add(key);
      },
      delayMs,
      this.options.timers ? { timers: this.options.timers } : {},
    );
    this.timers.set(key, { at, timer });
  }

  /** Add after the key's next backoff delay. */
  addRateLimited(key: string): void {
    const failures = (this.failures.get(key) ?? 0) + 1;
    this.failures.set(key, failures);
    this.options.metrics?.onRetry?.();
    this.addAfter(key, this.backoffMs(failures));
  }

  backoffMs(failures: number): number {
    return Math.min(this.options.baseDelayMs * 2 ** Math.min(failures - 1, 40), this.options.maxDelayMs);
  }

  forget(key: string): void {
    this.failures.delete(key);
  }

  retries(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** Resolves when nothing is queued or being handled (scheduled timers may remain). */
  async idle(): Promise<void> {
    if (this.queue.length === 0 && this.running === 0) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stop taking work, drop what waits, and let in-flight keys finish. */
  async shutdown(): Promise<void> {
    this.shuttingDown = true;
    for (const { timer } of this.timers.values()) timer.cancel();
    this.timers.clear();
    this.queue.length = 0;
    this.queued.clear();
    this.waiters.splice(0).forEach((wake) => {
      wake();
    });
    await Promise.all(this.workerLoops);
  }

  private async next(): Promise<string | undefined> {
    while (!this.shuttingDown) {
      const key = this.queue.shift();
      if (key !== undefined) return key;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    return undefined;
  }

  private async workerLoop(): Promise<void> {
    for (;;) {
      const key = await this.next();
      if (key === undefined) return;
      this.queued.delete(key);
      this.processing.add(key);
      this.running++;
      this.options.metrics?.onDepth?.(this.queue.length);
      const started = this.options.now();
      this.options.metrics?.onQueueLatency?.((started - (this.enqueuedAt.get(key) ?? started)) / 1000);
      this.enqueuedAt.delete(key);
      try {
        const result = await this.options.handler(key);
        this.forget(key);
        if (result.requeueAfterMs !== undefined) this.addAfter(key, result.requeueAfterMs);
      } catch (error) {
        this.options.onError?.(key, error);
        this.addRateLimited(key);
      } finally {
        this.options.metrics?.onWorkDuration?.((this.options.now() - started) / 1000);
        this.processing.delete(key);
        this.running--;
        if (this.dirty.delete(key)) this.add(key);
        if (this.queue.length === 0 && this.running === 0)
          this.idleWaiters.splice(0).forEach((wake) => {
            wake();
          });
      }
    }
  }
}
