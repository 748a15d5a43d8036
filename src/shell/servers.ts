/**
 * The operator's two HTTP servers (DESIGN 7):
 * - health, no auth: /health and /healthz (the process is alive), /ready and /readyz (caches synced,
 *   watches running, the apiserver answering);
 * - metrics: /metrics over TLS (the bearer token never travels in the clear), behind TokenReview
 *   (401 without a valid bearer token) and SubjectAccessReview (403 without `get` on the
 *   non-resource URL /metrics), as controller-runtime's secure metrics server does.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { ServingCertificate } from './serving-certificate.ts';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { KubeClient } from './kube/client.ts';

export interface HealthChecks {
  live: () => boolean;
  ready: () => boolean;
  /** Why not ready, for the 503's body (default: caches not synced). */
  notReady?: () => string;
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      resolve((server.address() as AddressInfo).port);
    });
  });
}

const reply = (res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8') => {
  res.writeHead(status, { 'content-type': type }).end(body);
};

export interface RunningServer {
  port: number;
  close(): Promise<void>;
}

export interface RunningTlsServer extends RunningServer {
  /** Serves a new certificate from the next connection on. */
  setCertificate(certificate: ServingCertificate): void;
}

const closer = (server: Server) => () =>
  new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => {
      resolve();
    });
  });

export async function startHealthServer(
  checks: HealthChecks,
  port: number,
  host = '0.0.0.0',
): Promise<RunningServer> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/health' || path === '/healthz')
      reply(res, checks.live() ? 200 : 500, checks.live() ? 'ok' : 'not alive');
    else if (path === '/ready' || path === '/readyz')
      if (checks.ready()) reply(res, 200, 'ok');
      else reply(res, 503, checks.notReady?.() ?? 'caches not synced');
    else reply(res, 404, 'not found');
  });
  return { port: await listen(server, port, host), close: closer(server) };
}

interface Decision {
  status: 200 | 401 | 403;
  expires: number;
}

const DECISION_TTL_MS = 10_000;

export type BearerAuthorizer = (token: string) => Promise<200 | 401 | 403>;

/** Authenticates and authorizes a bearer token for `get /metrics` through the apiserver. */
export const metricsAuthorizer = (client: KubeClient): BearerAuthorizer =>
  bearerAuthorizer(client, '/metrics', 'get');

/**
 * Authenticates a bearer token (TokenReview) and authorizes `verb` on the non-resource URL `path`
 * (SubjectAccessReview), through the apiserver; decisions are cached for 10 s per token.
 */
export function bearerAuthorizer(client: KubeClient, path: string, verb: string): BearerAuthorizer {
  const cache = new Map<string, Decision>();
  return async (token) => {
    const cached = cache.get(token);
    if (cached && cached.expires > Date.now()) return cached.status;
    const review = await client.request<{
      status?: {
        authenticated?: boolean;
        user?: { username?: string; uid?: string; groups?: string[]; extra?: Record<string, string[]> };
      };
    }>('/apis/authentication.k8s.io/v1/tokenreviews', {
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } },
    });
    let status: 200 | 401 | 403 = 401;
    const user = review.status?.user;
    if (review.status?.authenticated && user?.username) {
      const access = await client.request<{ status?: { allowed?: boolean } }>(
        '/apis/authorization.k8s.io/v1/subjectaccessreviews',
        {
          body: {
            apiVersion: 'authorization.k8s.io/v1',
            kind: 'SubjectAccessReview',
            spec: {
              user: user.username,
              ...(user.uid ? { uid: user.uid } : {}),
              groups: user.groups ?? [],
              ...(user.extra ? { extra: user.extra } : {}),
              nonResourceAttributes: { path, verb },
            },
          },
        },
      );
      status = access.status?.allowed ? 200 : 403;
    }
    if (cache.size > 1024) cache.clear();
    cache.set(token, { status, expires: Date.now() + DECISION_TTL_MS });
    return status;
  };
}

export async function startMetricsServer(
  registry: Registry,
  authorize: (token: string) => Promise<200 | 401 | 403>,
  certificate: ServingCertificate,
  port: number,
  host = '0.0.0.0',
): Promise<RunningTlsServer> {
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      reply(res, 404, 'not found');
      return;
    }
    const match = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    if (!match?.[1]) {
      reply(res, 401, 'Unauthorized: a bearer token is required');
      return;
    }
    const decision = await authorize(match[1]);
    if (decision === 401) reply(res, 401, 'Unauthorized');
    else if (decision === 403) reply(res, 403, 'Forbidden: get on /metrics is not allowed');
    else reply(res, 200, await registry.metrics(), registry.contentType);
  };
  const server = createTlsServer(
    { cert: certificate.cert, key: certificate.key, minVersion: 'TLSv1.2' },
    (req, res) => {
      handle(req, res).catch((error: unknown) => {
        reply(res, 500, `metrics unavailable: ${(error as Error).message}`);
      });
    },
  );
  return {
    port: await listen(server, port, host),
    close: closer(server),
    setCertificate: (next) => {
      server.setSecureContext({ cert: next.cert, key: next.key });
    },
  };
}
