import { describe, expect, it } from '@jest/globals';
import {
  impersonationHeaders,
  inClusterConfig,
  resolveKubeconfig,
  type KubeconfigFile,
} from '../../src/shell/kube/kubeconfig.ts';

const file = (dir: string, doc: KubeconfigFile['doc']): KubeconfigFile => ({ dir, doc });

const base = file('/home/sre/.kube', {
  'current-context': 'prod',
  contexts: [
    { name: 'prod', context: { cluster: 'prod', user: 'sre', namespace: 'remediation' } },
    { name: 'dev', context: { cluster: 'dev', user: 'robot' } },
  ],
  clusters: [
    { name: 'prod', cluster: { server: 'https://prod.example:6443/', 'certificate-authority': 'ca.crt' } },
    { name: 'dev', cluster: { server: 'https://dev.example', 'insecure-skip-tls-verify': true } },
  ],
  users: [
    { name: 'sre', user: { 'client-certificate-data': 'Y2VydA==', 'client-key': '/keys/sre.key' } },
    { name: 'robot', user: { tokenFile: 'robot.token' } },
  ],
});

describe('impersonation in a kubeconfig', () => {
  const withUser = (user: Record<string, unknown>) =>
    file('/k', {
      'current-context': 'c',
      contexts: [{ name: 'c', context: { cluster: 'k', user: 'u' } }],
      clusters: [{ name: 'k', cluster: { server: 'https://k.example' } }],
      users: [{ name: 'u', user }],
    });

  it('becomes Impersonate-* headers: user, uid, each group, each extra (its key percent-encoded)', () => {
    const { impersonate } = resolveKubeconfig([
      withUser({
        token: 't',
        as: 'jane',
        'as-uid': '42',
        'as-groups': ['a', 'b'],
        'as-user-extra': { 'example.com/team': ['x'] },
      }),
    ]);
    expect(impersonate).toEqual({
      user: 'jane',
      uid: '42',
      groups: ['a', 'b'],
      extra: { 'example.com/team': ['x'] },
    });
    expect(impersonationHeaders(impersonate!)).toEqual({
      'impersonate-user': 'jane',
      'impersonate-uid': '42',
      'impersonate-group': ['a', 'b'],
      'impersonate-extra-example.com%2Fteam': ['x'],
    });
  });

  it('is refused when it names groups, a uid or extras but no user to act as', () => {
    expect(() => resolveKubeconfig([withUser({ token: 't', 'as-groups': ['a'] })])).toThrow(
      'user "u": as-groups, as-uid and as-user-extra impersonate a user: name it with as',
    );
  });

  it('is absent when the kubeconfig asks for none', () => {
    expect(resolveKubeconfig([withUser({ token: 't' })]).impersonate).toBeUndefined();
  });
});

describe('a kubeconfig resolved to what a client needs', () => {
  it('takes the current context: its server, namespace, user and certificates (files relative to the kubeconfig)', () => {
    const r = resolveKubeconfig([base]);
    expect(r).toMatchObject({
      contextName: 'prod',
      server: 'https://prod.example:6443',
      namespace: 'remediation',
      userName: 'sre',
      ca: { file: '/home/sre/.kube/ca.crt' },
      cert: { data: Buffer.from('cert') },
      key: { file: '/keys/sre.key' },
      insecure: false,
      auth: { kind: 'none' },
    });
  });

  it('takes a named context instead, with a token file and skipped TLS verification', () => {
    expect(resolveKubeconfig([base], 'dev')).toMatchObject({
      server: 'https://dev.example',
      insecure: true,
      auth: { kind: 'token', token: { file: '/home/sre/.kube/robot.token' } },
    });
  });

  it('merges files as $KUBECONFIG lists them: the first to name an entry or a current context wins', () => {
    const first = file('/etc/kube', {
      'current-context': 'dev',
      users: [{ name: 'robot', user: { token: 'abc' } }],
    });
    expect(resolveKubeconfig([first, base])).toMatchObject({
      contextName: 'dev',
      auth: { kind: 'token', token: { data: Buffer.from('abc') } },
    });
  });

  it('keeps an exec plugin, to be run with the kubeconfig’s directory for a relative command', () => {
    const exec = { apiVersion: 'client.authentication.k8s.io/v1', command: './get-token', args: ['--prod'] };
    const f = file('/etc/kube', {
      'current-context': 'c',
      contexts: [{ name: 'c', context: { cluster: 'k', user: 'u' } }],
      clusters: [{ name: 'k', cluster: { server: 'https://k' } }],
      users: [{ name: 'u', user: { exec } }],
    });
    expect(resolveKubeconfig([f]).auth).toEqual({ kind: 'exec', exec, dir: '/etc/kube' });
  });

  it.each<[string, KubeconfigFile['doc'], string]>([
    ['no current context', { contexts: [] }, 'names no current-context'],
    ['a missing context', { 'current-context': 'gone' }, 'has no context "gone"'],
    [
      'a cluster without a server',
      { 'current-context': 'c', contexts: [{ name: 'c', context: { cluster: 'k' } }], clusters: [] },
      'cluster "k" has no server',
    ],
    [
      'a proxy',
      {
        'current-context': 'c',
        contexts: [{ name: 'c', context: { cluster: 'k' } }],
        clusters: [{ name: 'k', cluster: { server: 'https://k', 'proxy-url': 'http://proxy:3128' } }],
      },
      'proxy-url is not supported',
    ],
    [
      'a legacy auth provider',
      {
        'current-context': 'c',
        contexts: [{ name: 'c', context: { cluster: 'k', user: 'u' } }],
        clusters: [{ name: 'k', cluster: { server: 'https://k' } }],
        users: [{ name: 'u', user: { 'auth-provider': { name: 'gcp' } } }],
      },
      'auth-provider gcp is not supported; use an exec credential plugin',
    ],
  ])('refuses %s, saying what is wrong', (_what, doc, says) => {
    expect(() => resolveKubeconfig([file('/x', doc)])).toThrow(says);
  });

  it('in a Pod: the service host and port, the ServiceAccount token file and CA', () => {
    expect(inClusterConfig('fd00::1', '443', '/sa')).toMatchObject({
      server: 'https://[fd00::1]:443',
      ca: { file: '/sa/ca.crt' },
      auth: { kind: 'token', token: { file: '/sa/token' } },
    });
  });
});
