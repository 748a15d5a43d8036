/**
 * Whether the apiserver answers, asked every `periodMs` with a short `GET /readyz` (readable by any
 * authenticated user). Caches that synced once stay "synced" through an outage; this is what
 * tells /ready that the operator cannot reach the apiserver now: refused, reset, or half-open
 * (accepted, never answered: the probe's own timeout catches that).
 */
import type { KubeClient } from './kube/client.ts';
import { setLongTimeout, type LongTimeout } from './timers.ts';

export interface ReachabilityOptions {
  periodMs?: number;
  /** A probe that takes longer than this counts as unanswered. */
  timeoutMs?: number;
  /** Unreachable after this many failed probes in a row (default 2: one lost packet is not an outage). */
  failureThreshold?: number;
  onChange?: (reachable: boolean, error?: string) => void;
}

export class ApiserverReachability {
  private readonly options: Required<Omit<ReachabilityOptions, 'onChange'>> &
    Pick<ReachabilityOptions, 'onChange'>;
  private failures = 0;
  private state = true;
  private timer: LongTimeout | undefined;
  private stopped = false;
  private inFlight: Promise<void> | undefined;

  private readonly client: KubeClient;

  constructor(client: KubeClient, options: ReachabilityOptions = {}) {
    this.client = client;
    this.options = { periodMs: 2000, timeoutMs: 2000, failureThreshold: 2, ...options };
  }

  get reachable(): boolean {
    return this.state;
  }

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    await this.inFlight;
  }

  /** One probe now; resolves with the state after it. */
  async probe(): Promise<boolean> {
    try {
      await this.client.request('/readyz', { accept: 'text/plain', timeoutMs: this.options.timeoutMs });
      this.failures = 0;
      this.set(true);
    } catch (error) {
      this.failures++;
      if (this.failures >= this.options.failureThreshold) this.set(false, (error as Error).message);
    }
    return this.state;
  }

  private set(reachable: boolean, error?: string): void {
    if (reachable === this.state) return;
    this.state = reachable;
    this.options.onChange?.(reachable, error);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setLongTimeout(() => {
      this.inFlight = this.probe().then(() => {
        this.inFlight = undefined;
        this.schedule(this.options.periodMs);
      });
    }, ms);
  }
}
