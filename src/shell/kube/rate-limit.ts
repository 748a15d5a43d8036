/**
 * client-go's client-side rate limit: a token bucket of `burst` tokens refilled at `qps` per second;
 * each request takes one, waiting its turn in order when none is left. Reservations may run the
 * bucket below zero, so waiters queue in arrival order without polling.
 */

export interface RateLimitOptions {
  /** Requests per second once the burst is spent; 0 or less: no limit. */
  qps: number;
  burst: number;
}

/**
 * Off by default, as controller-runtime's config has been since v0.21 (kubernetes-sigs/controller-runtime
 * #3119): SIG API Machinery recommends relying on the apiserver's Priority and Fairness, whose 429s
 * (Retry-After) the client honours. At 20 requests/s (the older default) 100 concurrent workflows
 * would queue their status writes behind the limiter. --kube-api-qps/--kube-api-burst turn it on.
 */
export const DEFAULT_RATE_LIMIT: RateLimitOptions = { qps: 0, burst: 30 };

export class TokenBucket {
  private readonly qps: number;
  private readonly burst: number;
  private tokens: number;
  private last: number;
  private readonly now: () => number;

  constructor(options: RateLimitOptions, now: () => number = () => performance.now()) {
    if (options.qps > 0 && (!Number.isFinite(options.burst) || options.burst < 1))
      throw new Error(`the burst must be at least 1, not ${options.burst}`);
    this.qps = options.qps;
    this.burst = options.burst;
    this.tokens = options.burst;
    this.now = now;
    this.last = now();
  }

  get unlimited(): boolean {
    return this.qps <= 0;
  }

  /** Takes a token; how many ms the caller must wait before using it (0: at once). */
  reserve(): number {
    if (this.unlimited) return 0;
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.qps);
    this.last = now;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : (-this.tokens / this.qps) * 1000;
  }

  /** Waits for a token. */
  async take(): Promise<void> {
    const wait = this.reserve();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }
}
