// Small helpers for tests against a real cluster: waiting for a state, and ServiceAccount tokens.
import { setTimeout as sleep } from 'node:timers/promises';
import { isAlreadyExists, type KubeClient } from '../../src/shell/kube/client.ts';

/** Polls `probe` until it returns a value; fails naming `what` after `timeoutMs`. */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 60_000,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what} not seen in ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}

/** A ServiceAccount (created when missing) and a token for it from the TokenRequest API. */
export async function serviceAccountToken(
  client: KubeClient,
  namespace: string,
  name: string,
): Promise<string> {
  await client
    .request(`/api/v1/namespaces/${namespace}/serviceaccounts`, {
      body: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name } },
    })
    .catch((error: unknown) => {
      if (!isAlreadyExists(error)) throw error;
    });
  const request = await client.request<{ status: { token: string } }>(
    `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`,
    {
      body: {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenRequest',
        spec: { expirationSeconds: 3600 },
      },
    },
  );
  return request.status.token;
}
