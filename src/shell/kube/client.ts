/**
 * A small Kubernetes REST client: JSON in and out, typed errors, keep-alive connections, watches, and
 * the patch content types a controller needs. Authentication comes from a kubeconfig
 * (./kubeconfig.ts, or a @kubernetes/client-node KubeConfig, which has the same shape).
 *
 * Three connection pools, so nothing starves what matters: watches hold a connection each for as long
 * as they stream, on their own pool; Lease reads and writes (leader and shard renewals) have their
 * own, and are exempt from the client-side rate limit, as a renewal late for its deadline costs the
 * leadership; everything else shares the third, behind client-go's token bucket (QPS and burst).
 * A 429 is retried after its Retry-After, a few times, each wait bounded.
 */
import { Agent as HttpsAgent, request as httpsRequest, type RequestOptions } from 'node:https';
import {
  Agent as HttpAgent,
  request as httpRequest,
  type ClientRequest,
  type IncomingMessage,
} from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubeCredentials } from './kubeconfig.ts';
import { DEFAULT_RATE_LIMIT, TokenBucket, type RateLimitOptions } from './rate-limit.ts';

export class ApiError extends Error {
  readonly status: number;
  /** The Status object's reason: NotFound, AlreadyExists, Conflict, Forbidden, Invalid, Gone, ... */
  readonly reason: string;
  readonly body: unknown;
  /** The Retry-After header's delay, when the answer had one. */
  readonly retryAfterMs: number | undefined;

  constructor(status: number, reason: string, message: string, body: unknown, retryAfterMs?: number) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.reason = reason;
    this.body = body;
    this.retryAfterMs = retryAfterMs;
  }
}

export const isNotFound = (error: unknown): boolean => error instanceof ApiError && error.status === 404;
export const isConflict = (error: unknown): boolean =>
  error instanceof ApiError && error.status === 409 && error.reason === 'Conflict';
export const isAlreadyExists = (error: unknown): boolean =>
  error instanceof ApiError && error.status === 409 && error.reason === 'AlreadyExists';

/**
 * The apiserver names this client's managedFields entries after the user agent. (An explicit
 * fieldManager query parameter on every write measured slower in `npm run bench -- operator`: 15.5
 * against 24.4 steps/s with 10 workflows, one run each, so it is left to the user agent.)
 */
const USER_AGENT = `workflowexecution-operator/0.1.0 (node ${process.version})`;

function parseBody(text: string): unknown {
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    // Not JSON (a proxy's error page, say): keep the text for the message.
    return text;
  }
}

/** Retry-After in seconds (the apiserver's form) or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(header: string | undefined, now = Date.now()): number | undefined {
  if (header === undefined || header.trim() === '') return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function apiError(
  method: string,
  path: string,
  status: number,
  body: unknown,
  retryAfter?: string,
): ApiError {
  const statusObject = (typeof body === 'object' && body !== null ? body : {}) as {
    reason?: string;
    message?: string;
  };
  const detail = statusObject.message ?? (typeof body === 'string' ? body.slice(0, 200) : '');
  return new ApiError(
    status,
    statusObject.reason ?? String(status),
    `${method} ${path}: ${status} ${detail}`,
    body,
    retryAfterMs(retryAfter),
  );
}

const headerOf = (res: IncomingMessage, name: string): string | undefined => {
  const value = res.headers[name];
  return Array.isArray(value) ? value[0] : value;
};

/** One event of a watch, as the apiserver streams it. */
export interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: {
    metadata?: { name?: string; namespace?: string; resourceVersion?: string };
    /** On ERROR: a Status. */
    code?: number;
    reason?: string;
    message?: string;
  };
}

/**
 * How a watch that had begun streaming ended: the server closed it or it was stopped (`ended`),
 * nothing arrived for the inactivity time (`silent`), or the connection broke (`broken`).
 */
export type WatchEnd = 'ended' | 'silent' | 'broken';

export interface RunningWatch {
  /** How the stream ended; rejects when it never began (no connection, or an error status). */
  readonly done: Promise<WatchEnd>;
  stop(): void;
}

export type PatchType = 'merge' | 'json' | 'strategic' | 'apply';

const PATCH_CONTENT_TYPES: Record<PatchType, string> = {
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  apply: 'application/apply-patch+yaml',
};

export interface RequestInit {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  body?: unknown;
  patchType?: PatchType;
  query?: Record<string, string | number | boolean | undefined>;
  /** Abort after this many ms (default 30 s). */
  timeoutMs?: number;
  /** Accept header, e.g. the Table form kubectl asks for (default application/json). */
  accept?: string;
  /**
   * `lease`: a Lease read or write of leader election or shards, on its own connections and exempt
   * from the rate limit (and from 429 retries: the next renewal round is the retry).
   */
  lane?: 'lease';
}

export interface KubeClientOptions {
  /** client-side rate limit of requests and watch starts (not Leases); default 20/s, burst 30. */
  rateLimit?: RateLimitOptions;
  /** 429 answers retried at most this many times (default 5)... */
  maxRetries?: number;
  /** ...each after its Retry-After, at most this long (default 10 s; 1 s when none is given). */
  maxRetryAfterMs?: number;
}

export interface RequestResultCount {
  readonly method: string;
  /** The HTTP status code, or `error` when no answer came. */
  readonly code: string;
  count: number;
}

export interface KubeClient {
  readonly server: string;
  /** The user name the kubeconfig logs in as (from the context), for messages. */
  readonly contextUser: string;
  request<T>(path: string, init?: RequestInit): Promise<T>;
  /**
   * Watches a collection from `query.resourceVersion`: each event to `onEvent` as it arrives. A
   * stream silent for `inactivityMs` ends (`silent`), and a watch that gets no answer in that time
   * fails: a half-open connection is given up, never waited on.
   */
  watch(
    path: string,
    query: Record<string, string | number | boolean | undefined>,
    onEvent: (event: WatchEvent) => void,
    inactivityMs: number,
  ): RunningWatch;
  /** Count of requests by verb since start, for benchmarks (writes per step). */
  readonly counts: Record<string, number>;
  /**
   * Answers since start by verb and HTTP status code, with `error` where none came (refused, reset,
   * cut off, timed out): what the apiserver requests metric reads at scrape time.
   */
  readonly results: ReadonlyMap<string, RequestResultCount>;
  close(): void;
}

/** The TLS options of a request that the agent pools connections by: new credentials, new connections. */
const TLS_KEYS = ['ca', 'cert', 'key', 'rejectUnauthorized', 'servername'] as const;

export async function createKubeClient(
  kc: KubeCredentials,
  options: KubeClientOptions = {},
): Promise<KubeClient> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster');
  const server = cluster.server.replace(/\/$/, '');
  const url = new URL(server);
  const secure = url.protocol === 'https:';
  // Unreadable certificates or a failing credential plugin show at start, not at the first request.
  await kc.applyToHTTPSOptions({});
  // The credentials go on every request, not into the agents: an agent pools connections by the
  // request's TLS options (certificate and key included), so a rotated client certificate opens
  // new connections instead of reusing those made with the first.
  const pool = (maxSockets: number) =>
    secure ? new HttpsAgent({ keepAlive: true, maxSockets }) : new HttpAgent({ keepAlive: true, maxSockets });
  const agents = {
    requests: pool(32),
    // One connection per watch, for as long as it streams: never queued behind or ahead of writes.
    watches: pool(Number.POSITIVE_INFINITY),
    leases: pool(4),
  };
  const limiter = new TokenBucket(options.rateLimit ?? DEFAULT_RATE_LIMIT);
  const maxRetries = options.maxRetries ?? 5;
  const maxRetryAfterMs = options.maxRetryAfterMs ?? 10_000;
  const counts: Record<string, number> = {};
  const results = new Map<string, RequestResultCount>();
  const answered = (method: string, code: string) => {
    const key = `${method} ${code}`;
    const entry = results.get(key);
    if (entry) entry.count++;
    else results.set(key, { method, code, count: 1 });
  };

  /** Sends a request; the response goes to `onResponse`, a failure before it to `onError`. */
  async function open(
    method: string,
    path: string,
    init: RequestInit,
    onResponse: (res: IncomingMessage) => void,
    onError: (error: Error) => void,
  ): Promise<ClientRequest> {
    // Tokens from exec plugins or files can rotate: ask the kubeconfig for headers every time.
    const auth: RequestOptions = {};
    await kc.applyToHTTPSOptions(auth);
    const tls: RequestOptions = {};
    for (const key of TLS_KEYS) if (auth[key] !== undefined) Object.assign(tls, { [key]: auth[key] });
    const query = Object.entries(init.query ?? {})
      .filter((entry): entry is [string, string | number | boolean] => entry[1] !== undefined)
      .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
      .join('&');
    const payload = init.body === undefined ? undefined : JSON.stringify(init.body);
    const headers: Record<string, string> = {
      ...((auth.headers ?? {}) as Record<string, string>),
      accept: init.accept ?? 'application/json',
      'user-agent': USER_AGENT,
    };
    if (payload !== undefined) {
      headers['content-type'] =
        method === 'PATCH' ? PATCH_CONTENT_TYPES[init.patchType ?? 'merge'] : 'application/json';
      headers['content-length'] = String(Buffer.byteLength(payload));
    }
    const send = secure ? httpsRequest : httpRequest;
    const req = send(
      {
        protocol: url.protocol,
        hostname: url.hostname,
        port: url.port,
        path: `${url.pathname.replace(/\/$/, '')}${path}${query ? `?${query}` : ''}`,
        method: method === 'WATCH' ? 'GET' : method,
        headers,
        ...(secure ? tls : {}),
        agent: method === 'WATCH' ? agents.watches : init.lane === 'lease' ? agents.leases : agents.requests,
        timeout: init.timeoutMs ?? 30_000,
      },
      onResponse,
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timed out`)));
    req.on('error', onError);
    if (payload !== undefined) req.write(payload);
    req.end();
    return req;
  }

  /** Counts a request's answer once: a response cut off mid-body errors on both sides. */
  function counter(method: string) {
    let counted = false;
    return (code: string) => {
      if (!counted) answered(method, code);
      counted = true;
    };
  }

  /** A request, rate limited unless a Lease's, and again after a 401 (fresh credentials) or a 429. */
  async function request<T>(path: string, init: RequestInit = {}): Promise<T> {
    const lease = init.lane === 'lease';
    let refreshed = false;
    for (let attempt = 0; ; attempt++) {
      if (!lease) await limiter.take();
      try {
        return await requestOnce<T>(path, init);
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        // An exec plugin's credential the apiserver no longer takes: run the plugin again, once.
        if (error.status === 401 && !refreshed && kc.refreshCredentials?.() === true) {
          refreshed = true;
          continue;
        }
        if (error.status !== 429 || lease || attempt >= maxRetries) throw error;
        await sleep(Math.min(error.retryAfterMs ?? 1000, maxRetryAfterMs));
      }
    }
  }

  async function requestOnce<T>(path: string, init: RequestInit): Promise<T> {
    const method = init.method ?? (init.body === undefined ? 'GET' : 'POST');
    counts[method] = (counts[method] ?? 0) + 1;
    const count = counter(method);
    return new Promise<T>((resolve, reject) => {
      const failed = (error: Error) => {
        count('error');
        reject(error);
      };
      const onResponse = (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          count(String(status));
          const body = parseBody(Buffer.concat(chunks).toString('utf8'));
          if (status >= 200 && status < 300) resolve(body as T);
          else reject(apiError(method, path, status, body, headerOf(res, 'retry-after')));
        });
        res.on('error', failed);
      };
      open(method, path, init, onResponse, failed).catch(failed);
    });
  }

  function watch(
    path: string,
    query: Record<string, string | number | boolean | undefined>,
    onEvent: (event: WatchEvent) => void,
    inactivityMs: number,
  ): RunningWatch {
    counts['WATCH'] = (counts['WATCH'] ?? 0) + 1;
    const count = counter('WATCH');
    let req: ClientRequest | undefined;
    let stopped = false;
    let silent = false;
    const done = new Promise<WatchEnd>((resolve, reject) => {
      let streaming = false;
      const failed = (error: Error) => {
        count('error');
        if (stopped) resolve('ended');
        // Once the stream began, an error ends it: the caller watches again from where it was.
        else if (streaming) resolve(silent ? 'silent' : 'broken');
        else reject(error);
      };
      const onResponse = (res: IncomingMessage) => {
        const status = res.statusCode ?? 0;
        count(String(status));
        if (status !== 200) {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            reject(apiError('WATCH', path, status, parseBody(Buffer.concat(chunks).toString('utf8'))));
          });
          // A refusal cut off mid-body (the apiserver going away) errors here: without a listener
          // Node drops that error and 'end' never comes, so the watch would never end.
          res.on('error', failed);
          return;
        }
        streaming = true;
        let pending = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          pending += chunk;
          let newline = pending.indexOf('\n');
          for (; newline !== -1; newline = pending.indexOf('\n')) {
            const line = pending.slice(0, newline).trim();
            pending = pending.slice(newline + 1);
            if (line === '') continue;
            let event: WatchEvent;
            try {
              event = JSON.parse(line) as WatchEvent;
            } catch (error) {
              // Not an event (a proxy's page mid-stream, a cut line): the stream is broken.
              res.destroy(error as Error);
              return;
            }
            onEvent(event);
          }
        });
        res.on('end', () => {
          resolve('ended');
        });
        res.on('error', failed);
      };
      limiter
        .take()
        .then(() =>
          open(
            'WATCH',
            path,
            { query: { ...query, watch: true }, timeoutMs: inactivityMs },
            onResponse,
            failed,
          ),
        )
        .then((r) => {
          req = r;
          r.on('timeout', () => {
            silent = true;
          });
          if (stopped) r.destroy();
        })
        .catch(failed);
    });
    return {
      done,
      stop() {
        stopped = true;
        req?.destroy();
      },
    };
  }

  return {
    server,
    contextUser: kc.getCurrentUser()?.name ?? 'unknown',
    request,
    watch,
    counts,
    results,
    close: () => {
      for (const agent of Object.values(agents)) agent.destroy();
    },
  };
}
