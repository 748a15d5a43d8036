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

/**
 * Alertmanager's identity for the alert receiver: a token of ServiceAccount `name` in `namespace`,
 * bound to `post` on /alerts (what the shipped workflowexecution-alert-sender role grants) by a
 * ClusterRole and binding of this namespace's own; `unbind` deletes them.
 */
export async function alertSenderToken(
  client: KubeClient,
  namespace: string,
  name: string,
): Promise<{ token: string; unbind: () => Promise<void> }> {
  const token = await serviceAccountToken(client, namespace, name);
  const role = `alert-sender-${namespace}`;
  await client.request('/apis/rbac.authorization.k8s.io/v1/clusterroles', {
    body: {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: role },
      rules: [{ nonResourceURLs: ['/alerts'], verbs: ['post'] }],
    },
  });
  await client.request('/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
    body: {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: role },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
      subjects: [{ kind: 'ServiceAccount', name, namespace }],
    },
  });
  return {
    token,
    unbind: async () => {
      for (const kind of ['clusterrolebindings', 'clusterroles'])
        await client
          .request(`/apis/rbac.authorization.k8s.io/v1/${kind}/${role}`, { method: 'DELETE' })
          .catch(() => undefined);
    },
  };
}
