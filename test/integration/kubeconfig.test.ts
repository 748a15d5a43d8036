// The operator's own kubeconfig loader against the real apiserver: the ways a production install
// logs in besides a client certificate. An exec credential plugin (run once while its credential
// is valid, again once it expired), a token file (read again as the kubelet rotates it), and the
// in-cluster ServiceAccount layout. Each request asks the apiserver who it is talking to.
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { stringify } from 'yaml';
import { sharedControlPlane } from '../support/shared-control-plane.ts';
import { createKubeClient, type KubeClient } from '../../src/shell/kube/client.ts';
import { ClientConfig, inClusterConfig, loadClientConfig } from '../../src/shell/kube/kubeconfig.ts';
import { serviceAccountToken } from '../support/cluster.ts';
import { adminClient, createNamespace, deleteNamespace } from './support/harness.ts';

jest.setTimeout(60_000);

let admin: KubeClient;
let namespace: string;
let dir: string;
let server: string;
let caData: string;

beforeAll(async () => {
  ({ client: admin } = await adminClient());
  namespace = await createNamespace(admin, 'kubeconfig');
  dir = mkdtempSync(join(tmpdir(), 'wfe-kubeconfig-'));
  server = sharedControlPlane().server;
  // The CA the control plane's own kubeconfig names, as bytes (inline there or a file).
  const { ca } = loadClientConfig(sharedControlPlane().kubeconfigPath).resolved;
  if (ca === undefined) throw new Error('the control plane kubeconfig names no CA');
  caData = ('data' in ca ? ca.data : readFileSync(ca.file)).toString('base64');
});

afterAll(async () => {
  await deleteNamespace(admin, namespace);
  admin.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Who the apiserver says the client is. */
async function whoIs(client: KubeClient): Promise<string> {
  const review = await client.request<{ status: { userInfo: { username: string } } }>(
    '/apis/authentication.k8s.io/v1/selfsubjectreviews',
    { body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' } },
  );
  return review.status.userInfo.username;
}

function writeKubeconfig(
  name: string,
  user: Record<string, unknown>,
  cluster: Record<string, unknown> = {},
): string {
  const path = join(dir, `${name}.kubeconfig`);
  writeFileSync(
    path,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      'current-context': 'c',
      contexts: [{ name: 'c', context: { cluster: 'k', user: 'u', namespace } }],
      clusters: [{ name: 'k', cluster: { server, 'certificate-authority-data': caData, ...cluster } }],
      users: [{ name: 'u', user }],
    }),
  );
  return path;
}

/** An exec plugin (a shell script) answering with `token` until `expires`, counting its runs. */
function execPlugin(name: string, token: string, expires: string): { command: string; runs: () => number } {
  const runs = join(dir, `${name}.runs`);
  writeFileSync(runs, '');
  const script = join(dir, `${name}.sh`);
  const credential = {
    apiVersion: 'client.authentication.k8s.io/v1',
    kind: 'ExecCredential',
    status: { token, expirationTimestamp: expires },
  };
  writeFileSync(script, `#!/bin/sh\necho run >> '${runs}'\necho '${JSON.stringify(credential)}'\n`);
  chmodSync(script, 0o755);
  return { command: script, runs: () => readFileSync(runs, 'utf8').split('\n').filter(Boolean).length };
}

describe('logging in with the operator’s kubeconfig loader', () => {
  it('runs an exec plugin once while its credential is valid, and takes the namespace of the context', async () => {
    const token = await serviceAccountToken(admin, namespace, 'exec-user');
    const plugin = execPlugin('valid', token, new Date(Date.now() + 3_600_000).toISOString());
    const path = writeKubeconfig('exec', {
      exec: { apiVersion: 'client.authentication.k8s.io/v1', command: plugin.command },
    });
    const config = loadClientConfig(path);
    const client = await createKubeClient(config);
    try {
      expect(await whoIs(client)).toBe(`system:serviceaccount:${namespace}:exec-user`);
      expect(await whoIs(client)).toBe(`system:serviceaccount:${namespace}:exec-user`);
      expect(plugin.runs()).toBe(1);
      expect(config.namespace).toBe(namespace);
    } finally {
      client.close();
    }
  });

  it('runs the exec plugin again once its credential has expired', async () => {
    const token = await serviceAccountToken(admin, namespace, 'expired-user');
    const plugin = execPlugin('expired', token, new Date(Date.now() - 1000).toISOString());
    const client = await createKubeClient(
      loadClientConfig(writeKubeconfig('expired', { exec: { command: plugin.command } })),
    );
    try {
      const before = plugin.runs();
      await whoIs(client);
      await whoIs(client);
      expect(plugin.runs() - before).toBe(2);
    } finally {
      client.close();
    }
  });

  it('reads a token file relative to the kubeconfig', async () => {
    writeFileSync(join(dir, 'robot.token'), `${await serviceAccountToken(admin, namespace, 'file-user')}\n`);
    const client = await createKubeClient(
      loadClientConfig(writeKubeconfig('file', { tokenFile: 'robot.token' })),
    );
    try {
      expect(await whoIs(client)).toBe(`system:serviceaccount:${namespace}:file-user`);
    } finally {
      client.close();
    }
  });

  it('logs in as a Pod does: the ServiceAccount token and CA from their directory', async () => {
    const saDir = mkdtempSync(join(dir, 'sa-'));
    writeFileSync(join(saDir, 'token'), await serviceAccountToken(admin, namespace, 'pod-user'));
    writeFileSync(join(saDir, 'ca.crt'), Buffer.from(caData, 'base64'));
    const url = new URL(server);
    const client = await createKubeClient(new ClientConfig(inClusterConfig(url.hostname, url.port, saDir)));
    try {
      expect(await whoIs(client)).toBe(`system:serviceaccount:${namespace}:pod-user`);
    } finally {
      client.close();
    }
  });

  it('checks the certificate against tls-server-name when the kubeconfig names one', async () => {
    writeFileSync(join(dir, 'named.token'), await serviceAccountToken(admin, namespace, 'named-user'));
    const ok = await createKubeClient(
      loadClientConfig(
        writeKubeconfig(
          'named',
          { tokenFile: 'named.token' },
          { 'tls-server-name': 'kubernetes.default.svc' },
        ),
      ),
    );
    const wrong = await createKubeClient(
      loadClientConfig(
        writeKubeconfig(
          'misnamed',
          { tokenFile: 'named.token' },
          { 'tls-server-name': 'not-the-apiserver.example' },
        ),
      ),
    );
    try {
      expect(await whoIs(ok)).toBe(`system:serviceaccount:${namespace}:named-user`);
      await expect(whoIs(wrong)).rejects.toThrow(/not-the-apiserver\.example/);
    } finally {
      ok.close();
      wrong.close();
    }
  });

  it('says which file and what is wrong when the kubeconfig cannot be used', () => {
    const path = join(dir, 'broken.kubeconfig');
    writeFileSync(path, stringify({ apiVersion: 'v1', kind: 'Config', 'current-context': 'nowhere' }));
    expect(() => loadClientConfig(path)).toThrow('the kubeconfig has no context "nowhere"');
  });
});
