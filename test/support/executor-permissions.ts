/**
 * The executor's permissions for tests, from the action catalogue (as its shipped Role is): a
 * ClusterRole of the namespaced calls, bound in each test namespace by a RoleBinding, and one of the
 * cluster-wide calls (nodes; a drain's pods in every namespace) bound cluster-wide. The `rbac` check
 * then passes in a harness namespace because the executor is permitted, and fails elsewhere.
 */
import {
  ROLLBACK_ACTION_CATALOGUE,
  STEP_ACTION_CATALOGUE,
  type ApiCall,
} from '../../src/api/action-catalogue.ts';
import { isAlreadyExists, type KubeClient } from '../../src/shell/kube/client.ts';

export const EXECUTOR_USER = 'system:serviceaccount:kubernaut-system:kubernetes-executor';
const NAMESPACED_ROLE = 'wfe-test-executor-namespaced';
const CLUSTER_ROLE = 'wfe-test-executor-cluster';

const calls: ApiCall[] = [
  ...Object.values(STEP_ACTION_CATALOGUE).flatMap((e) => e.calls),
  ...Object.values(ROLLBACK_ACTION_CATALOGUE).flatMap((e) => e.calls),
];

const rulesOf = (selected: ApiCall[]) =>
  selected.map((c) => ({
    apiGroups: [c.group],
    resources: [c.subresource ? `${c.resource}/${c.subresource}` : c.resource],
    verbs: [...c.verbs],
  }));

const subject = { kind: 'ServiceAccount', name: 'kubernetes-executor', namespace: 'kubernaut-system' };

async function createOrKeep(client: KubeClient, path: string, body: unknown): Promise<void> {
  try {
    await client.request(path, { body });
  } catch (error) {
    if (!isAlreadyExists(error)) throw error;
    const name = (body as { metadata: { name: string } }).metadata.name;
    await client.request(`${path}/${name}`, { method: 'PUT', body });
  }
}

/** The cluster-wide part, and the namespaced part bound in `namespace`. */
export async function permitExecutorIn(client: KubeClient, namespace: string): Promise<void> {
  const rbac = '/apis/rbac.authorization.k8s.io/v1';
  await createOrKeep(client, `${rbac}/clusterroles`, {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name: NAMESPACED_ROLE },
    rules: rulesOf(calls.filter((c) => c.scope === 'target')),
  });
  await createOrKeep(client, `${rbac}/clusterroles`, {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name: CLUSTER_ROLE },
    rules: rulesOf(calls.filter((c) => c.scope !== 'target')),
  });
  await createOrKeep(client, `${rbac}/clusterrolebindings`, {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: CLUSTER_ROLE },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: CLUSTER_ROLE },
    subjects: [subject],
  });
  await createOrKeep(client, `${rbac}/namespaces/${namespace}/rolebindings`, {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name: 'executor', namespace },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: NAMESPACED_ROLE },
    subjects: [subject],
  });
}
