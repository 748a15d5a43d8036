// The client's own limits: a token bucket of QPS and burst as client-go's, and an answer of 429
// (Too Many Requests) retried after the Retry-After it names, a bounded number of times; Lease
// requests are not retried (the next renewal round is their retry).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from '@jest/globals';
import { ApiError, createKubeClient, retryAfterMs } from '../../src/shell/kube/client.ts';
import type { KubeCredentials } from '../../src/shell/kube/kubeconfig.ts';
import { TokenBucket } from '../../src/shell/kube/rate-limit.ts';

describe('the token bucket', () => {
  it('lets a burst through at once, then one request per 1/qps seconds, in order', () => {
    let now = 0;
    const bucket = new TokenBucket({ qps: 2, burst: 3 }, () => now);
    expect([bucket.reserve(), bucket.reserve(), bucket.reserve()]).toEqual([0, 0, 0]);
    expect([bucket.reserve(), bucket.reserve()]).toEqual([500, 1000]);
    now = 5_000; // refilled, up to the burst and no more
    expect([bucket.reserve(), bucket.reserve(), bucket.reserve(), bucket.reserve()]).toEqual([0, 0, 0, 500]);
  });

  it('limits nothing with a QPS of 0', () => {
    const bucket = new TokenBucket({ qps: 0, burst: 0 }, () => 0);
    expect(Array.from({ length: 100 }, () => bucket.reserve()).every((w) => w === 0)).toBe(true);
  });

  it('refuses a burst below 1 when it limits', () => {
    expect(() => new TokenBucket({ qps: 5, burst: 0 })).toThrow('the burst must be at least 1, not 0');
  });
});

describe('Retry-After', () => {
  it('is read as seconds or as an HTTP date, and ignored when unreadable', () => {
    expect(retryAfterMs('3')).toBe(3000);
    expect(retryAfterMs('Wed, 01 Jan 2031 00:00:10 GMT', Date.UTC(2031, 0, 1))).toBe(10_000);
    expect(retryAfterMs('soon')).toBeUndefined();
    expect(retryAfterMs(undefined)).toBeUndefined();
  });
});

describe('a 429', () => {
  let server: Server | undefined;
  afterEach(() => {
    server?.close();
  });

  /** An HTTP endpoint answering 429 (Retry-After: 1) `busy` times, then 200; it notes when each request came. */
  async function busyFor(busy: number) {
    const seen: number[] = [];
    server = createServer((req, res) => {
      seen.push(performance.now());
      if (seen.length <= busy)
        res
          .writeHead(429, { 'content-type': 'application/json', 'retry-after': '1' })
          .end(JSON.stringify({ kind: 'Status', reason: 'TooManyRequests', message: 'slow down' }));
      else res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const kc: KubeCredentials = {
      getCurrentCluster: () => ({ server: `http://127.0.0.1:${port}` }),
      getCurrentUser: () => ({ name: 'test' }),
      applyToHTTPSOptions: () => Promise.resolve(),
    };
    return { seen, client: await createKubeClient(kc, { maxRetries: 2 }) };
  }

  it('is retried after the Retry-After it names, and the answer after it returned', async () => {
    const { seen, client } = await busyFor(1);
    await expect(client.request('/api/v1/namespaces')).resolves.toEqual({ ok: true });
    expect(seen).toHaveLength(2);
    expect((seen[1] ?? 0) - (seen[0] ?? 0)).toBeGreaterThanOrEqual(990);
    client.close();
  });

  it('fails as a 429 once the retries are spent', async () => {
    const { seen, client } = await busyFor(10);
    const error = await client.request('/api/v1/namespaces').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(429);
    expect((error as ApiError).retryAfterMs).toBe(1000);
    expect(seen).toHaveLength(3);
    client.close();
  });

  it('on a Lease request is not retried: the next renewal round is its retry', async () => {
    const { seen, client } = await busyFor(1);
    await expect(client.request('/apis/coordination.k8s.io/v1/leases', { lane: 'lease' })).rejects.toThrow(
      '429',
    );
    expect(seen).toHaveLength(1);
    client.close();
  });
});
