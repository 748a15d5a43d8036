// The shipped manifests (kustomize base and overlays) are valid for a real apiserver, and the operator's ClusterRole is enough:
// an operator that logs in as a user holding only that role runs a workflow end to end.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { parseAllDocuments } from 'yaml';
import { ensureDeployTool, kustomizeBuild } from '../../tooling/controlplane/deploy-tools.ts';
import { sharedControlPlane } from '../../tooling/controlplane/launcher.ts';
import { loadManifests } from '../../tooling/controlplane/manifests.ts';
import { isAlreadyExists, type KubeClient } from '../../src/shell/kube/client.ts';
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
  ValidatingAdmissionPolicy: 'validatingadmissionpolicies',
  ValidatingAdmissionPolicyBinding: 'validatingadmissionpolicybindings',
};

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

function deploymentOf(objects: Manifest[]): Deployment {
  const d = objects.find((o) => o.kind === 'Deployment');
  if (d === undefined) throw new Error('no Deployment');
  return d as unknown as Deployment;
}

interface Deployment {
  spec: {
    replicas: number;
    template: {
      spec: {
        containers: {
          args: string[];
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
      expect(new Set(objects.map((m) => m.kind))).toEqual(new Set(Object.keys(PLURALS)));
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

describe('the operator ClusterRole', () => {
  it('is all an operator needs to run a workflow with safety checks, events and leader election', async () => {
    const namespace = await createNamespace(client, 'rbac');
    const user = `operator-${namespace}`;
    await client.request('/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
      body: {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: user },
        roleRef: {
          apiGroup: 'rbac.authorization.k8s.io',
          kind: 'ClusterRole',
          name: 'workflowexecution-controller',
        },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: user }],
      },
    });
    // The ClusterRole comes from manifests/rbac (dry-run above proves it valid; install it here).
    const role = (await loadManifests('manifests/rbac')).find(
      (m) => m.metadata?.name === 'workflowexecution-controller',
    );
    await client
      .request('/apis/rbac.authorization.k8s.io/v1/clusterroles', { body: role })
      .catch((error: unknown) => {
        if (!isAlreadyExists(error)) throw error;
      });
    const kubeconfig = await sharedControlPlane().addUser({ name: user });
    const { kc } = await adminClient();
    const executor = new ScriptedExecutor(kc, client, () => ({ phase: 'completed' }), namespace);
    await executor.start();
    const operator = await startOperator({
      kubeconfig,
      namespaces: [namespace],
      log: createLogger('error'),
      leaderElection: { namespace, name: 'workflowexecution-operator' },
      monitoringPollMs: 200,
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
      expect(wf.status?.validationResults?.safetyCheckResults?.map((r) => r.result)).toEqual([
        'passed',
        'not_applicable',
      ]);
      const lease = await client.request<{ spec: { holderIdentity?: string } }>(
        `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases/workflowexecution-operator`,
      );
      expect(lease.spec.holderIdentity).toBeTruthy();
      const events = await client.request<{ items: { reason: string; regarding: { name: string } }[] }>(
        `/apis/events.k8s.io/v1/namespaces/${namespace}/events`,
      );
      expect(
        events.items.filter((e) => e.regarding.name === 'least-privilege').map((e) => e.reason),
      ).toContain('ExecutionStarted');
    } finally {
      await operator.stop();
      await executor.stop();
    }
  });
});
