// The operator's own kubeconfig loader against the real apiserver: the ways a production install
// logs in besides a client certificate. An exec credential plugin (run once while its credential
// is valid, again once it expired), a token file (read again as the kubelet rotates it), and the
// in-cluster ServiceAccount layout; impersonation; an exec plugin run again after a 401; a rotated
// client certificate used from the next request on. Each request asks the apiserver who it is
// talking to.
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { stringify } from 'yaml';
import { sharedControlPlane } from '../support/shared-control-plane.ts';
import { caFiles, clientCert } from '../../tooling/controlplane/pki.ts';
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

interface UserInfo {
  username: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

/** Who the apiserver says the client is. */
async function userInfo(client: KubeClient): Promise<UserInfo> {
  const review = await client.request<{ status: { userInfo: UserInfo } }>(
    '/apis/authentication.k8s.io/v1/selfsubjectreviews',
    { body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' } },
  );
  return review.status.userInfo;
}

const whoIs = async (client: KubeClient): Promise<string> => (await userInfo(client)).username;

/**
 * An exec plugin whose n-th run (1-based) answers `answers[min(n, length) - 1]`, an ExecCredential
 * status; it counts its runs.
 */
function scriptedPlugin(
  name: string,
  answers: Record<string, unknown>[],
): { command: string; runs: () => number } {
  const runs = join(dir, `${name}.runs`);
  writeFileSync(runs, '');
  const cases = answers
    .map((status, i) => {
      const credential = JSON.stringify({
        apiVersion: 'client.authentication.k8s.io/v1',
        kind: 'ExecCredential',
        status,
      });
      const file = join(dir, `${name}.${String(i + 1)}.json`);
      writeFileSync(file, credential);
      return i === answers.length - 1 ? `*) cat '${file}' ;;` : `${String(i + 1)}) cat '${file}' ;;`;
    })
    .join('\n');
  const script = join(dir, `${name}.sh`);
  writeFileSync(
    script,
    `#!/bin/sh\necho run >> '${runs}'\nn=$(wc -l < '${runs}')\ncase $n in\n${cases}\nesac\n`,
  );
  chmodSync(script, 0o755);
  return { command: script, runs: () => readFileSync(runs, 'utf8').split('\n').filter(Boolean).length };
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

  it('impersonates the user, uid, groups and extras the kubeconfig names (as, as-uid, as-groups, as-user-extra)', async () => {
    // The admin (system:masters) may impersonate anyone.
    const { resolved } = loadClientConfig(sharedControlPlane().kubeconfigPath);
    const admin = resolved.cert && resolved.key ? { cert: resolved.cert, key: resolved.key } : undefined;
    if (!admin) throw new Error('the control plane kubeconfig logs in without a client certificate');
    const bytes = (s: typeof admin.cert) => ('data' in s ? s.data : readFileSync(s.file)).toString('base64');
    const client = await createKubeClient(
      loadClientConfig(
        writeKubeconfig('impersonating', {
          'client-certificate-data': bytes(admin.cert),
          'client-key-data': bytes(admin.key),
          as: 'jane',
          'as-uid': 'uid-42',
          'as-groups': ['sre', 'on-call'],
          'as-user-extra': { 'example.com/team': ['payments'] },
        }),
      ),
    );
    try {
      expect(await userInfo(client)).toEqual({
        username: 'jane',
        uid: 'uid-42',
        groups: ['sre', 'on-call', 'system:authenticated'],
        extra: { 'example.com/team': ['payments'] },
      });
      // And what jane may do is what is checked: she may not list Secrets here.
      await expect(client.request(`/api/v1/namespaces/${namespace}/secrets`)).rejects.toThrow(/403.*jane/);
    } finally {
      client.close();
    }
  });

  it('runs the exec plugin again after a 401, and goes on with its new credential', async () => {
    const token = await serviceAccountToken(admin, namespace, 'refreshed-user');
    const later = new Date(Date.now() + 3_600_000).toISOString();
    const plugin = scriptedPlugin('refresh', [
      { token: 'revoked-token', expirationTimestamp: later },
      { token, expirationTimestamp: later },
    ]);
    const client = await createKubeClient(
      loadClientConfig(writeKubeconfig('refresh', { exec: { command: plugin.command } })),
    );
    try {
      // Runs once at start (the client checks its credentials), once more after the 401.
      expect(await whoIs(client)).toBe(`system:serviceaccount:${namespace}:refreshed-user`);
      expect(plugin.runs()).toBe(2);
      expect(await whoIs(client)).toBe(`system:serviceaccount:${namespace}:refreshed-user`);
      expect(plugin.runs()).toBe(2);
    } finally {
      client.close();
    }
  });

  it('uses a rotated client certificate from the next request on, not the first one kept in a pooled connection', async () => {
    const ca = caFiles(join(sharedControlPlane().dataDir, 'pki'));
    const certDir = mkdtempSync(join(dir, 'certs-'));
    const first = await clientCert(certDir, ca, { name: 'rotating-first' });
    const second = await clientCert(certDir, ca, { name: 'rotating-second' });
    const data = (f: string) => readFileSync(f).toString('base64');
    const expired = new Date(Date.now() - 60_000).toISOString();
    const plugin = scriptedPlugin('rotating', [
      {
        clientCertificateData: readFileSync(first.certFile, 'utf8'),
        clientKeyData: readFileSync(first.keyFile, 'utf8'),
        expirationTimestamp: expired,
      },
      {
        clientCertificateData: readFileSync(first.certFile, 'utf8'),
        clientKeyData: readFileSync(first.keyFile, 'utf8'),
        expirationTimestamp: expired,
      },
      {
        clientCertificateData: readFileSync(second.certFile, 'utf8'),
        clientKeyData: readFileSync(second.keyFile, 'utf8'),
        expirationTimestamp: expired,
      },
    ]);
    expect(data(first.certFile)).not.toBe(data(second.certFile));
    const client = await createKubeClient(
      loadClientConfig(writeKubeconfig('rotating', { exec: { command: plugin.command } })),
    );
    try {
      expect(await whoIs(client)).toBe('rotating-first');
      expect(await whoIs(client)).toBe('rotating-second');
      expect(await whoIs(client)).toBe('rotating-second');
    } finally {
      client.close();
    }
  });

  it('refuses an exec plugin that must have a terminal when there is none (the operator), saying so', async () => {
    const plugin = scriptedPlugin('mfa', [{ token: 'never-used' }]);
    await expect(
      createKubeClient(
        loadClientConfig(
          writeKubeconfig('mfa', { exec: { command: plugin.command, interactiveMode: 'Always' } }),
        ),
      ),
    ).rejects.toThrow('its interactiveMode is Always, and no terminal is here to answer it');
    expect(plugin.runs()).toBe(0);
  });

  it('says which file and what is wrong when the kubeconfig cannot be used', () => {
    const path = join(dir, 'broken.kubeconfig');
    writeFileSync(path, stringify({ apiVersion: 'v1', kind: 'Config', 'current-context': 'nowhere' }));
    expect(() => loadClientConfig(path)).toThrow('the kubeconfig has no context "nowhere"');
  });
});
