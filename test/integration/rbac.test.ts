// The shipped manifests are valid for a real apiserver, and the operator's ClusterRole is enough:
// an operator that logs in as a user holding only that role runs a workflow end to end.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { parseAllDocuments } from 'yaml';
import { sharedControlPlane } from '../../src/shell/controlplane/launcher.ts';
import { isAlreadyExists, type KubeClient } from '../../src/shell/kube/client.ts';
import { startOperator } from '../../src/shell/operator.ts';
import { createLogger } from '../../src/shell/logger.ts';
import { customStep, specWith } from '../fixtures/specs.ts';
import { ScriptedExecutor } from '../support/executor.ts';
import {
  adminClient,
  applyWorkflow,
  conditionOf,
  createNamespace,
  inPhase,
  waitForWorkflow,
} from './support/harness.ts';

jest.setTimeout(60_000);

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
}

const PLURALS: Record<string, string> = {
  Namespace: 'namespaces',
  ServiceAccount: 'serviceaccounts',
  Secret: 'secrets',
  ClusterRole: 'clusterroles',
  ClusterRoleBinding: 'clusterrolebindings',
  Deployment: 'deployments',
  Service: 'services',
  ValidatingAdmissionPolicy: 'validatingadmissionpolicies',
  ValidatingAdmissionPolicyBinding: 'validatingadmissionpolicybindings',
};

function collectionPath(m: Manifest): string {
  const base = m.apiVersion.includes('/') ? `/apis/${m.apiVersion}` : `/api/${m.apiVersion}`;
  const plural = PLURALS[m.kind];
  if (!plural) throw new Error(`no plural known for ${m.kind}`);
  return `${base}${m.metadata.namespace ? `/namespaces/${m.metadata.namespace}` : ''}/${plural}`;
}

function manifestsIn(dir: string): Manifest[] {
  return readdirSync(dir, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.yaml') && !f.endsWith('kustomization.yaml'))
    .sort()
    .flatMap((f) => parseAllDocuments(readFileSync(join(dir, f), 'utf8')).map((d) => d.toJS() as Manifest));
}

let client: KubeClient;
beforeAll(async () => {
  ({ client } = await adminClient());
});
afterAll(() => {
  client.close();
});

describe('the manifests', () => {
  it('are accepted by the apiserver (server-side dry run of every object)', async () => {
    await client
      .request('/api/v1/namespaces', {
        body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'kubernaut-system' } },
      })
      .catch((error: unknown) => {
        if (!isAlreadyExists(error)) throw error;
      });
    // manifests/monitoring is a kustomize Component of prometheus-operator resources, dry-run with
    // those CRDs installed by monitoring-manifests.test.ts.
    const manifests = manifestsIn('manifests').filter((m) => m.apiVersion !== 'monitoring.coreos.com/v1');
    expect(manifests.map((m) => m.kind)).toEqual(
      expect.arrayContaining(['ClusterRole', 'Deployment', 'ValidatingAdmissionPolicy']),
    );
    for (const m of manifests) {
      await client
        .request(collectionPath(m), { body: m, query: { dryRun: 'All', fieldValidation: 'Strict' } })
        .catch((error: unknown) => {
          // Already installed (the admission policy) is fine: the object was valid when created.
          if (!isAlreadyExists(error))
            throw new Error(`${m.kind} ${m.metadata.name}: ${(error as Error).message}`);
        });
    }
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
    const role = manifestsIn('manifests/rbac').find(
      (m) => m.metadata.name === 'workflowexecution-controller',
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
      await applyWorkflow({ client, namespace }, 'least-privilege', spec);
      const wf = await waitForWorkflow(
        { client, namespace },
        'least-privilege',
        inPhase('completed', 'failed'),
      );
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
