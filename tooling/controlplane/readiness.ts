// Polling an HTTPS health endpoint until it answers 200, failing early if the component died.
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';

import { logTail, type ManagedProcess } from './processes.ts';

export interface TlsClient {
  /** Omitted for components that serve a self-signed certificate (controller-manager, scheduler). */
  readonly caFile?: string;
  readonly certFile?: string;
  readonly keyFile?: string;
}

export interface HttpsResult {
  readonly status: number;
  readonly body: string;
}

export function httpsGet(url: string, tls: TlsClient, timeoutMs = 5000): Promise<HttpsResult> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'GET',
        timeout: timeoutMs,
        ...(tls.caFile === undefined ? { rejectUnauthorized: false } : { ca: readFileSync(tls.caFile) }),
        ...(tls.certFile === undefined ? {} : { cert: readFileSync(tls.certFile) }),
        ...(tls.keyFile === undefined ? {} : { key: readFileSync(tls.keyFile) }),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs} ms: ${url}`)));
    req.on('error', reject);
    req.end();
  });
}

/** Throws (with the log's tail) if any of `watched` has exited: startup cannot succeed then. */
export async function assertRunning(watched: readonly ManagedProcess[]): Promise<void> {
  const dead = watched.find((p) => p.hasExited());
  if (dead !== undefined) {
    throw new Error(`${dead.name} exited (${String(await dead.exited)}):\n${logTail(dead.logFile)}`);
  }
}

/** Waits for HTTP 200 from `url`; `watched[0]` is the component serving it, the rest it needs. */
export async function waitForHealthy(
  url: string,
  tls: TlsClient,
  watched: readonly [ManagedProcess, ...ManagedProcess[]],
  timeoutMs: number,
): Promise<void> {
  const component = watched[0];
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  for (;;) {
    await assertRunning(watched);
    try {
      const res = await httpsGet(url, tls, 2000);
      if (res.status === 200) return;
      last = `HTTP ${res.status}: ${res.body.slice(0, 500)}`;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() > deadline) {
      throw new Error(
        `${component.name} not healthy at ${url} after ${timeoutMs} ms (${last}):\n${logTail(component.logFile)}`,
      );
    }
    await sleep(100);
  }
}
