// The shipped manifests (kustomize base and overlays) are valid for a real apiserver, and the operator's ClusterRole is enough:
// an operator that logs in as a user holding only that role runs a workflow end to end; so does one
// holding only the namespaced install's Roles. Neither may read a Secret.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { parseAllDocuments } from 'yaml';
import { ensureDeployTool, kustomizeBuild } from '../../tooling/controlplane/deploy-tools.ts';
import { sharedControlPlane } from '../support/shared-control-plane.ts';
import { loadManifests } from '../../tooling/controlplane/manifests.ts';
import { createKubeClient, isAlreadyExists, type KubeClient } from '../../src/shell/kube/client.ts';
import { loadClientConfig } from '../../src/shell/kube/kubeconfig.ts';
import { startOperator } from '../../src/shell/operator.ts';
import { createLogger } from '../../src/shell/logger.ts';
import { customStep, specWith } from '../fixtures/specs.ts';
import { ScriptedExecutor } from '../support/executor.ts';
import { Workflows, adminClient, conditionOf, createNamespace, inPhase } from './support/harness.ts';

jest.setTimeout(60_000);

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: Record<string, unknown>;
}

const PLURALS: Record<string, string> = {
  CustomResourceDefinition: 'customresourcedefinitions',
  Namespace: 'namespaces',
  ServiceAccount: 'serviceaccounts',
  ClusterRole: 'clusterroles',
  ClusterRoleBinding: 'clusterrolebindings',
  // The executor's registry read, in its own namespace (manifests/rbac/executor.yaml).
  Role: 'roles',
  RoleBinding: 'rolebindings',
  Deployment: 'deployments',
  PodDisruptionBudget: 'poddisruptionbudgets',
  Service: 'services',
  // The operator's settings (the Alertmanager URL), read into its environment.
  ConfigMap: 'configmaps',
  ValidatingAdmissionPolicy: 'validatingadmissionpolicies',
  ValidatingAdmissionPolicyBinding: 'validatingadmissionpolicybindings',
};
/** Every kind the base and its overlays build (the namespaced one adds Roles). */
const BASE_KINDS = Object.keys(PLURALS);
PLURALS['Role'] = 'roles';
PLURALS['RoleBinding'] = 'rolebindings';

function objectPath(m: Manifest): string {
  const base = m.apiVersion.includes('/') ? `/apis/${m.apiVersion}` : `/api/${m.apiVersion}`;
  const plural = PLURALS[m.kind];
  if (!plural) throw new Error(`no plural known for ${m.kind}`);
  const ns = m.metadata.namespace ? `/namespaces/${m.metadata.namespace}` : '';
  return `${base}${ns}/${plural}/${m.metadata.name}`;
}

async function built(dir: string): Promise<Manifest[]> {
  return parseAllDocuments(await kustomizeBuild(join('manifests', dir))).map((d) => d.toJS() as Manifest);
}

function deploymentOf(objects: Manifest[], name = 'workflowexecution-operator'): Deployment {
  const d = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === name);
  if (d === undefined) throw new Error(`no Deployment ${name}`);
  return d as unknown as Deployment;
}

interface Deployment {
  spec: {
    replicas: number;
    template: {
      spec: {
        serviceAccountName?: string;
        securityContext?: { runAsNonRoot?: boolean };
        containers: {
          args: string[];
          securityContext?: { readOnlyRootFilesystem?: boolean; allowPrivilegeEscalation?: boolean };
          readinessProbe?: { httpGet?: { path: string } };
          livenessProbe?: { httpGet?: { path: string } };
          env?: { name: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
          volumeMounts?: { name: string; mountPath: string }[];
          resources: { requests: Record<string, string> };
        }[];
        volumes?: { name: string; emptyDir?: object }[];
        topologySpreadConstraints?: { topologyKey: string }[];
      };
    };
  };
}

let client: KubeClient;
beforeAll(async () => {
  ({ client } = await adminClient());
});
afterAll(() => {
  client.close();
});

describe('the kustomize base and overlays', () => {
  beforeAll(async () => {
    // Built from Go modules on first use (minutes), cached after.
    await ensureDeployTool('kustomize');
    await client
      .request('/api/v1/namespaces', {
        body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'kubernaut-system' } },
      })
      .catch((error: unknown) => {
        if (!isAlreadyExists(error)) throw error;
      });
  }, 15 * 60_000);

  it.each(['base', 'overlays/dev', 'overlays/production'])(
    '%s: every object kustomize builds is accepted by the apiserver (server-side apply, dry run)',
    async (dir) => {
      const objects = await built(dir);
      expect(new Set(objects.map((m) => m.kind))).toEqual(new Set(BASE_KINDS));
      for (const m of objects) {
        await client
          .request(objectPath(m), {
            method: 'PATCH',
            patchType: 'apply',
            body: m,
            query: { dryRun: 'All', fieldManager: 'manifest-test', force: true, fieldValidation: 'Strict' },
          })
          .catch((error: unknown) => {
            throw new Error(`${dir}: ${m.kind} ${m.metadata.name}: ${(error as Error).message}`);
          });
      }
      const ns = objects.find((o) => o.kind === 'Namespace') as unknown as {
        metadata: { labels: Record<string, string> };
      };
      expect(ns.metadata.labels['pod-security.kubernetes.io/enforce']).toBe('restricted');
    },
  );

  it('base: two replicas with leader election in their own namespace, a PodDisruptionBudget', async () => {
    const objects = await built('base');
    const deployment = deploymentOf(objects);
    expect(deployment.spec.replicas).toBe(2);
    expect(deployment.spec.template.spec.containers[0]?.args).toContain('--leader-elect');
    expect(new Set(objects.flatMap((o) => o.metadata.namespace ?? []))).toEqual(
      new Set(['kubernaut-system']),
    );
  });

  it('base: the executor as its own Deployment of the same image, as kubernetes-executor, hardened, probed, without the test hooks', async () => {
    const objects = await built('base');
    const executor = deploymentOf(objects, 'kubernetes-executor');
    const operator = deploymentOf(objects);
    const pod = executor.spec.template.spec;
    const container = pod.containers[0];
    expect(executor.spec.replicas).toBe(2);
    expect(pod.serviceAccountName).toBe('kubernetes-executor');
    expect(container?.args[0]).toBe('executor');
    expect(container?.args).not.toContain('--development');
    expect((container as unknown as { image: string }).image).toBe(
      (operator.spec.template.spec.containers[0] as unknown as { image: string }).image,
    );
    expect(pod.securityContext?.runAsNonRoot).toBe(true);
    expect(container?.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
    });
    expect(container?.readinessProbe?.httpGet?.path).toBe('/readyz');
    expect(container?.livenessProbe?.httpGet?.path).toBe('/healthz');
    // The identity the operator's rbac check asks about.
    expect(operator.spec.template.spec.containers[0]?.args).toContain(
      '--executor-user=system:serviceaccount:$(POD_NAMESPACE):kubernetes-executor',
    );
    expect(
      objects.some((o) => o.kind === 'ServiceAccount' && o.metadata.name === 'kubernetes-executor'),
    ).toBe(true);
  });

  it('dev: one executor replica with --development; production: none has it', async () => {
    const dev = deploymentOf(await built('overlays/dev'), 'kubernetes-executor');
    expect(dev.spec.replicas).toBe(1);
    expect(dev.spec.template.spec.containers[0]?.args).toContain('--development');
    const production = deploymentOf(await built('overlays/production'), 'kubernetes-executor');
    expect(production.spec.template.spec.containers[0]?.args).not.toContain('--development');
    expect(production.spec.template.spec.topologySpreadConstraints?.[0]?.topologyKey).toBe(
      'kubernetes.io/hostname',
    );
  });

  it('dev: one replica, the SQLite audit store on an emptyDir', async () => {
    const deployment = deploymentOf(await built('overlays/dev'));
    const pod = deployment.spec.template.spec;
    expect(deployment.spec.replicas).toBe(1);
    expect(pod.containers[0]?.args).toContain('--audit-db=/var/lib/workflowexecution/audit.db');
    expect(pod.containers[0]?.volumeMounts).toEqual([
      { name: 'audit', mountPath: '/var/lib/workflowexecution' },
    ]);
    expect(pod.volumes?.find((v) => v.name === 'audit')?.emptyDir).toBeDefined();
  });

  it('production: the PostgreSQL URL from a Secret, resources, spread over nodes and zones', async () => {
    const deployment = deploymentOf(await built('overlays/production'));
    const pod = deployment.spec.template.spec;
    expect(deployment.spec.replicas).toBe(2);
    expect(pod.containers[0]?.env?.find((e) => e.name === 'WFE_AUDIT_POSTGRES_URL')?.valueFrom).toEqual({
      secretKeyRef: { name: 'workflowexecution-audit', key: 'url' },
    });
    expect(pod.containers[0]?.resources.requests).toEqual({ cpu: '200m', memory: '256Mi' });
    expect(pod.topologySpreadConstraints?.map((t) => t.topologyKey)).toEqual([
      'kubernetes.io/hostname',
      'topology.kubernetes.io/zone',
    ]);
  });
});

/** The operator's permissions bound to a new user (ClusterRole and namespaced Roles alike); its kubeconfig. */
async function operatorUser(
  namespace: string,
  objects: Manifest[],
): Promise<{ user: string; kubeconfig: string }> {
  const user = `operator-${namespace}`;
  for (const m of objects) {
    const bound = structuredClone(m) as Manifest & { subjects?: unknown[] };
    if (bound.metadata.namespace) bound.metadata.namespace = namespace;
    if (bound.kind.endsWith('Binding')) {
      bound.metadata.name = `${bound.metadata.name}-${namespace}`;
      bound.subjects = [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: user }];
    }
    await client
      .request(objectPath(bound).replace(/\/[^/]+$/, ''), { body: bound })
      .catch((error: unknown) => {
        if (!isAlreadyExists(error)) throw error;
      });
  }
  return { user, kubeconfig: await sharedControlPlane().addUser({ name: user }) };
}

/** What the user may do in the namespace, as `kubectl auth can-i --list` shows it. */
async function rulesOf(
  kubeconfig: string,
  namespace: string,
): Promise<{ resources?: string[]; verbs: string[] }[]> {
  const asUser = await createKubeClient(loadClientConfig(kubeconfig));
  try {
    const review = await asUser.request<{
      status: { resourceRules: { resources?: string[]; verbs: string[] }[] };
    }>('/apis/authorization.k8s.io/v1/selfsubjectrulesreviews', {
      body: {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SelfSubjectRulesReview',
        spec: { namespace },
      },
    });
    return review.status.resourceRules;
  } finally {
    asUser.close();
  }
}

async function mayReadSecrets(user: string, namespace: string): Promise<boolean[]> {
  return Promise.all(
    ['get', 'list', 'watch'].map(async (verb) => {
      const review = await client.request<{ status?: { allowed?: boolean } }>(
        '/apis/authorization.k8s.io/v1/subjectaccessreviews',
        {
          body: {
            apiVersion: 'authorization.k8s.io/v1',
            kind: 'SubjectAccessReview',
            spec: { user, resourceAttributes: { namespace, resource: 'secrets', verb } },
          },
        },
      );
      return review.status?.allowed ?? false;
    }),
  );
}

/** Runs a workflow with the health and capacity checks as an operator logged in with `kubeconfig`. */
async function runsAWorkflow(kubeconfig: string, namespace: string): Promise<void> {
  const { kc } = await adminClient();
  const executor = new ScriptedExecutor(kc, client, () => ({ phase: 'completed' }), namespace);
  await executor.start();
  const operator = await startOperator({
    kubeconfig,
    namespaces: [namespace],
    log: createLogger('error'),
    leaderElection: { namespace, name: 'workflowexecution-operator' },
    monitoringPollMs: 200,
    // The ConfigMap it updates is judged at once: no stability window to wait out here.
    stabilityWindowMs: 0,
  });
  try {
    await client.request(`/api/v1/namespaces/${namespace}/configmaps`, {
      body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings' }, data: { mode: 'safe' } },
    });
    const spec = specWith(
      [
        customStep(1),
        {
          stepNumber: 2,
          name: 'tune',
          action: 'update-configmap',
          parameters: { updateConfigMap: { namespace, name: 'settings', dataUpdates: { mode: 'safe' } } },
        },
      ],
      {
        safetyChecks: [
          { type: 'health', required: true },
          { type: 'capacity', required: true },
        ],
      },
    );
    const workflows = new Workflows({ client, namespace });
    await workflows.apply('least-privilege', spec);
    const wf = await workflows.waitFor('least-privilege', inPhase('completed', 'failed'));
    expect(conditionOf(wf, 'Ready')).toMatchObject({ status: 'True', reason: 'Succeeded' });
    // Every check runs: the two listed, then rbac and network (no Deployment behind a Service here).
    expect(
      Object.fromEntries(
        wf.status?.validationResults?.safetyCheckResults?.map((r) => [r.type, r.result]) ?? [],
      ),
    ).toEqual({ health: 'passed', capacity: 'not_applicable', rbac: 'passed', network: 'not_applicable' });
    const lease = await client.request<{ spec: { holderIdentity?: string } }>(
      `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases/workflowexecution-operator`,
    );
    expect(lease.spec.holderIdentity).toBeTruthy();
    const events = await client.request<{ items: { reason: string; regarding: { name: string } }[] }>(
      `/apis/events.k8s.io/v1/namespaces/${namespace}/events`,
    );
    expect(events.items.filter((e) => e.regarding.name === 'least-privilege').map((e) => e.reason)).toContain(
      'ExecutionStarted',
    );
  } finally {
    await operator.stop();
    await executor.stop();
  }
}

describe('the operator ClusterRole', () => {
  let namespace: string;
  let user: string;
  let kubeconfig: string;
  beforeAll(async () => {
    namespace = await createNamespace(client, 'rbac');
    // The ClusterRole comes from manifests/rbac (the dry run above proves it valid; installed here).
    const role = (await loadManifests('manifests/rbac')).find(
      (m) => m.metadata?.name === 'workflowexecution-controller',
    ) as unknown as Manifest;
    const binding: Manifest = {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'workflowexecution-controller' },
      roleRef: {
        apiGroup: 'rbac.authorization.k8s.io',
        kind: 'ClusterRole',
        name: 'workflowexecution-controller',
      },
    } as Manifest;
    ({ user, kubeconfig } = await operatorUser(namespace, [role, binding]));
  });

  it('is all an operator needs to run a workflow with safety checks, events and leader election', async () => {
    await runsAWorkflow(kubeconfig, namespace);
  });

  it('reads no Secrets: the operator’s rules (kubectl auth can-i --list) name none, and get, list, watch are denied', async () => {
    const rules = await rulesOf(kubeconfig, namespace);
    expect(rules.some((r) => r.resources?.includes('workflowexecutions'))).toBe(true);
    expect(rules.filter((r) => r.resources?.some((x) => x === 'secrets' || x === '*'))).toEqual([]);
    expect(await mayReadSecrets(user, namespace)).toEqual([false, false, false]);
    expect(await mayReadSecrets(user, 'kube-system')).toEqual([false, false, false]);
  });
});

describe('the namespaced install (manifests/overlays/namespaced)', () => {
  it('binds Roles in the watched namespace and the operator’s own, a ClusterRole only for what no Role grants, and watches that namespace only', async () => {
    const objects = await built('overlays/namespaced');
    // The operator's; the executor's (its actions, and its service) are the base's.
    expect(
      objects
        .filter((o) => o.kind === 'ClusterRoleBinding')
        .map((o) => o.metadata.name)
        .sort(),
    ).toEqual(['kubernaut-executor', 'kubernetes-executor-service', 'workflowexecution-controller-cluster']);
    expect(
      [...new Set(objects.filter((o) => o.kind === 'RoleBinding').map((o) => o.metadata.namespace))].sort(),
    ).toEqual(['kubernaut-system', 'remediation']);
    expect(deploymentOf(objects).spec.template.spec.containers[0]?.args).toContain(
      '--namespaces=remediation',
    );
    await client
      .request('/api/v1/namespaces', {
        body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'remediation' } },
      })
      .catch((error: unknown) => {
        if (!isAlreadyExists(error)) throw error;
      });
    for (const m of objects)
      await client.request(objectPath(m), {
        method: 'PATCH',
        patchType: 'apply',
        body: m,
        query: { dryRun: 'All', fieldManager: 'manifest-test', force: true, fieldValidation: 'Strict' },
      });
  });

  it('is all an operator needs, and reads no Secrets either', async () => {
    const namespace = await createNamespace(client, 'rbac-ns');
    const roles = parseAllDocuments(readFileSync('manifests/overlays/namespaced/roles.yaml', 'utf8')).map(
      (d) => d.toJS() as Manifest,
    );
    const { user, kubeconfig } = await operatorUser(namespace, roles);
    await runsAWorkflow(kubeconfig, namespace);
    expect(await mayReadSecrets(user, namespace)).toEqual([false, false, false]);
    // Nothing in a namespace it was not given.
    expect(await rulesOf(kubeconfig, 'default')).not.toContainEqual(
      expect.objectContaining({ resources: ['workflowexecutions'] }),
    );
  });
});
