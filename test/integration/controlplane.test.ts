// The real control plane started by global-setup.ts: version, garbage collection, RBAC, and (with
// kube-scheduler + kwok) Deployments that really get available replicas.
import { randomUUID } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  KubeConfig,
  KubernetesObjectApi,
  VersionApi,
  type KubernetesObject,
} from '@kubernetes/client-node';

import { sharedControlPlane } from '../support/shared-control-plane.ts';
import { eventually } from './support/actions.ts';

/** Plain manifests: the generated V1* types are classes, and a literal is not an instance. */
interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: Record<string, unknown>;
  [field: string]: unknown;
}
const asObject = (m: Manifest): KubernetesObject => m;

const statusOf = (err: unknown): number | undefined => (err instanceof ApiException ? err.code : undefined);

// Controllers, the scheduler and kwok act within seconds, but not within jest's default 5 s.
jest.setTimeout(60_000);

const cp = sharedControlPlane();
const kc = new KubeConfig();
kc.loadFromFile(cp.kubeconfigPath);
const objects = KubernetesObjectApi.makeApiClient(kc);
const core = kc.makeApiClient(CoreV1Api);
const namespace = `cp-${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  await objects.create(asObject({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } }));
});

afterAll(async () => {
  await core.deleteNamespace({ name: namespace });
});

describe('control plane', () => {
  it('reports the Kubernetes version it was built from', async () => {
    const version = await kc.makeApiClient(VersionApi).getCode();
    expect(version.gitVersion).toBe('v1.34.4');
    expect(version.major).toBe('1');
    expect(version.minor).toBe('34');
  });

  it('garbage-collects a dependent after its owner is deleted', async () => {
    const owner = await objects.create(
      asObject({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'owner', namespace } }),
    );
    const ownerUid = owner.metadata?.uid;
    expect(ownerUid).toBeDefined();
    await objects.create(
      asObject({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: {
          name: 'dependent',
          namespace,
          ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: ownerUid }],
        },
        data: { a: 'b' },
      }),
    );
    await core.deleteNamespacedConfigMap({ name: 'owner', namespace });
    const gone = await eventually('the dependent to be collected', async () => {
      try {
        await core.readNamespacedConfigMap({ name: 'dependent', namespace });
        return undefined;
      } catch (err) {
        return statusOf(err) === 404 ? true : undefined;
      }
    });
    expect(gone).toBe(true);
  });

  it('refuses a user without RBAC permission, and allows it after a RoleBinding', async () => {
    const user = `alice-${namespace}`;
    const userKc = new KubeConfig();
    userKc.loadFromFile(await cp.addUser({ name: user, groups: ['wfe:testers'] }));
    const userCore = userKc.makeApiClient(CoreV1Api);

    const refused = await userCore.listNamespacedConfigMap({ namespace }).then(
      () => 200,
      (err: unknown) => statusOf(err),
    );
    expect(refused).toBe(403);

    await objects.create(
      asObject({
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'Role',
        metadata: { name: 'configmap-reader', namespace },
        rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list'] }],
      }),
    );
    await objects.create(
      asObject({
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: 'alice-reads', namespace },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'configmap-reader' },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: user }],
      }),
    );
    // RBAC is served from an informer cache: allow it a moment to see the binding.
    const list = await eventually('the RoleBinding to take effect', () =>
      userCore.listNamespacedConfigMap({ namespace }),
    );
    expect(Array.isArray(list.items)).toBe(true);
  });

  it('runs a Deployment scaled from 1 to 3 to 3 available replicas (scheduler + kwok)', async () => {
    const apps = kc.makeApiClient(AppsV1Api);
    const labels = { app: 'web' };
    await objects.create(
      asObject({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'web', namespace },
        spec: {
          replicas: 1,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: { containers: [{ name: 'web', image: 'registry.invalid/web:1' }] },
          },
        },
      }),
    );
    const available = async (n: number): Promise<number> =>
      eventually(`${n} available replicas`, async () => {
        const d = await apps.readNamespacedDeployment({ name: 'web', namespace });
        const count = d.status?.availableReplicas ?? 0;
        return count === n ? count : undefined;
      });
    expect(await available(1)).toBe(1);

    const scale = await apps.readNamespacedDeploymentScale({ name: 'web', namespace });
    expect(scale.spec?.replicas).toBe(1);
    scale.spec!.replicas = 3;
    await apps.replaceNamespacedDeploymentScale({ name: 'web', namespace, body: scale });
    expect(await available(3)).toBe(3);
  });
});
