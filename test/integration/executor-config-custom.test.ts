// ConfigMap and Secret actions (one snapshot per step across retried attempts, Secret values by
// reference and never in a status or Event) and custom actions run as Jobs from the registry.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { parseAllDocuments } from 'yaml';
import type { WorkflowExecution } from '../../src/api/generated/types.ts';
import { CUSTOM_ACTIONS_CONFIGMAP } from '../../src/api/executor-rbac.ts';
import { inferredRollback } from '../../src/api/inferred-rollback.ts';
import { snapshotName } from '../../src/executor/actions/config.ts';
import { Cleanup } from '../../src/shell/cleanup.ts';
import { ApiError, type KubeClient } from '../../src/shell/kube/client.ts';
import { specWith } from '../fixtures/specs.ts';
import { createWorkflow, eventually, runChild } from './support/actions.ts';
import { adminInNamespace } from './support/harness.ts';

jest.setTimeout(240_000);

const cleanup = new Cleanup();
let client: KubeClient;
let namespace: string;

beforeAll(async () => {
  ({ client, namespace } = await adminInNamespace(cleanup, 'config'));
});
afterAll(() => cleanup.run());

const b64 = (text: string): string => Buffer.from(text).toString('base64');
const configMap = (name: string) =>
  client.request<{ data?: Record<string, string> }>(`/api/v1/namespaces/${namespace}/configmaps/${name}`);
const secret = (name: string) =>
  client.request<{ data?: Record<string, string> }>(`/api/v1/namespaces/${namespace}/secrets/${name}`);
const create = (kind: 'ConfigMap' | 'Secret', name: string, data: Record<string, string>) =>
  client.request(`/api/v1/namespaces/${namespace}/${kind === 'ConfigMap' ? 'configmaps' : 'secrets'}`, {
    body: { apiVersion: 'v1', kind, metadata: { name }, data },
  });

describe('update-configmap and restore-previous-config', () => {
  it('snapshots the values once per step: a retried attempt keeps the first snapshot, and the rollback restores it', async () => {
    await create('ConfigMap', 'settings', { mode: 'safe', keep: 'yes' });
    const wf = await createWorkflow(client, namespace, 'settings');
    const step = {
      action: 'update-configmap' as const,
      parameters: {
        updateConfigMap: { namespace, name: 'settings', dataUpdates: { mode: 'fast', extra: 'on' } },
      },
    };
    const first = await runChild(client, wf, step);
    expect(first.status.phase).toBe('completed');
    const snapshot = first.status.executionResult?.updateResult?.snapshot ?? '';
    expect(snapshot).toBe(snapshotName(first.child));
    // A second attempt of the same step (the first timed out after it wrote, say): the target now
    // holds the new values, and the snapshot still the ones from before the step.
    const retried = await runChild(client, wf, { ...step, attempt: 2 });
    expect(retried.status.executionResult?.updateResult?.snapshot).toBe(snapshot);
    expect((await configMap(snapshot)).data).toEqual({ mode: 'safe' });

    const inverse = inferredRollback(step);
    const restored = await runChild(client, wf, {
      kind: 'rollback',
      action: 'restore-previous-config',
      rollbackParameters: inverse?.parameters ?? {},
    });
    expect(restored.status.phase).toBe('completed');
    expect((await configMap('settings')).data).toEqual({ mode: 'safe', keep: 'yes' });
  });
});

describe('update-secret by reference', () => {
  const value = 's3cr3t-value-42';

  it('copies the referenced keys; the values appear in no child, status, message or Event', async () => {
    await create('Secret', 'db', { password: b64('old-password') });
    await create('Secret', 'db-rotation', { password: b64(value) });
    const wf = await createWorkflow(client, namespace, 'rotate');
    const step = {
      action: 'update-secret' as const,
      parameters: {
        updateSecret: { namespace, name: 'db', secretRef: { name: 'db-rotation', keys: ['password'] } },
      },
    };
    const updated = await runChild(client, wf, step);
    expect(updated.status.phase).toBe('completed');
    expect((await secret('db')).data?.['password']).toBe(b64(value));
    const restored = await runChild(client, wf, {
      kind: 'rollback',
      action: 'restore-previous-config',
      rollbackParameters: inferredRollback(step)?.parameters ?? {},
    });
    expect(restored.status.phase).toBe('completed');
    expect((await secret('db')).data?.['password']).toBe(b64('old-password'));

    const children = await client.request<unknown>(
      `/apis/kubernetesexecution.kubernaut.io/v1/namespaces/${namespace}/kubernetesexecutions`,
    );
    const events = await client.request<unknown>(`/apis/events.k8s.io/v1/namespaces/${namespace}/events`);
    const seen = JSON.stringify([children, events]);
    for (const secretText of [value, b64(value), 'old-password', b64('old-password')])
      expect(seen).not.toContain(secretText);
    expect(seen).toContain('keys password (values withheld)');
  });

  it('names a missing key of the referenced Secret, not a value', async () => {
    const wf = await createWorkflow(client, namespace, 'missing-key');
    const { status } = await runChild(client, wf, {
      action: 'update-secret',
      parameters: {
        updateSecret: { namespace, name: 'db', secretRef: { name: 'db-rotation', keys: ['token'] } },
      },
    });
    expect(status).toMatchObject({
      phase: 'failed',
      message: `Secret ${namespace}/db-rotation has no key token`,
    });
  });

  it('is refused by the apiserver with both inline values and a reference', async () => {
    const refusal = await client
      .request(`/apis/workflowexecution.kubernaut.io/v1/namespaces/${namespace}/workflowexecutions`, {
        body: {
          apiVersion: 'workflowexecution.kubernaut.io/v1',
          kind: 'WorkflowExecution',
          metadata: { name: 'both' },
          spec: specWith([
            {
              stepNumber: 1,
              name: 'rotate',
              action: 'update-secret',
              parameters: {
                updateSecret: {
                  namespace,
                  name: 'db',
                  dataUpdates: { a: b64('x') },
                  secretRef: { name: 'db-rotation' },
                },
              },
            },
          ]),
        },
      })
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(refusal).toBeInstanceOf(ApiError);
    expect((refusal as ApiError).message).toContain('exactly one of dataUpdates and secretRef');
  });
});

describe('the refuse-inline-secret-values admission policy', () => {
  it('refuses inline values and admits a reference, where it is bound', async () => {
    const [policy] = parseAllDocuments(
      readFileSync('manifests/overlays/refuse-inline-secret-values/policy.yaml', 'utf8'),
    ).map((d) => d.toJS() as { metadata: { name: string } });
    // Bound to this test's namespace only: the shared control plane serves other suites.
    const name = `${policy?.metadata.name ?? ''}-${namespace}`;
    await client.request('/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies', {
      body: { ...policy, metadata: { name } },
    });
    cleanup.add(`policy ${name}`, () =>
      client.request(`/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies/${name}`, {
        method: 'DELETE',
      }),
    );
    await client.request('/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings', {
      body: {
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'ValidatingAdmissionPolicyBinding',
        metadata: { name },
        spec: {
          policyName: name,
          validationActions: ['Deny'],
          matchResources: {
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } },
          },
        },
      },
    });
    cleanup.add(`binding ${name}`, () =>
      client.request(`/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings/${name}`, {
        method: 'DELETE',
      }),
    );
    const apply = (wfName: string, updateSecret: Record<string, unknown>) =>
      client
        .request(`/apis/workflowexecution.kubernaut.io/v1/namespaces/${namespace}/workflowexecutions`, {
          body: {
            apiVersion: 'workflowexecution.kubernaut.io/v1',
            kind: 'WorkflowExecution',
            metadata: { name: wfName },
            spec: specWith([
              {
                stepNumber: 1,
                name: 'rotate',
                action: 'update-secret',
                parameters: { updateSecret: { namespace, name: 'db', ...updateSecret } },
              },
            ]),
          },
        })
        .then(
          () => 'admitted',
          (error: unknown) => (error instanceof Error ? error.message : String(error)),
        );
    // A binding takes effect once the apiserver has loaded it: retry until the refusal shows.
    const refused = await eventually('the policy to refuse inline values', async () => {
      const outcome = await apply(`inline-${Date.now()}`, { dataUpdates: { password: b64('x') } });
      return outcome === 'admitted' ? undefined : outcome;
    });
    expect(refused).toContain(
      'this cluster refuses Secret values inline in a WorkflowExecution: use secretRef',
    );
    expect(await apply('by-reference', { secretRef: { name: 'db-rotation' } })).toBe('admitted');
  });
});

describe('custom actions as Jobs from the registry', () => {
  let wf: WorkflowExecution;
  beforeAll(async () => {
    wf = await createWorkflow(client, namespace, 'custom');
    // The registry lives in the executor's namespace; here the test namespace stands in for it.
    await create('ConfigMap', CUSTOM_ACTIONS_CONFIGMAP, {
      'flush-cache': 'image: busybox:1\ncommand: [sh, -c, "echo flushed $CONFIG_CACHE"]\n',
      // More CPU than any node has: its pod is never scheduled, and the Job's deadline fails it.
      'never-runs': 'image: busybox:1\nresources: {requests: {cpu: "1000"}}\nactiveDeadlineSeconds: 2\n',
    });
  });

  it('runs a registered action as a Job with config in its environment and reports its exit', async () => {
    const { status, child } = await runChild(
      client,
      wf,
      {
        action: 'custom',
        parameters: { custom: { actionType: 'flush-cache', config: { cache: 'sessions' } } },
      },
      { executorNamespace: namespace },
    );
    expect(status.phase).toBe('completed');
    expect(status.message).toContain(
      `ran custom action flush-cache as Job ${namespace}/${child.metadata.name ?? ''}`,
    );
    const job = await client.request<{
      spec: { template: { spec: { containers: { env: { name: string; value: string }[] }[] } } };
      status: { succeeded?: number };
    }>(`/apis/batch/v1/namespaces/${namespace}/jobs/${child.metadata.name ?? ''}`);
    expect(job.status.succeeded).toBe(1);
    expect(job.spec.template.spec.containers[0]?.env).toContainEqual({
      name: 'CONFIG_CACHE',
      value: 'sessions',
    });
    expect(status.executionResult?.customResult?.output?.['pod']).toMatch(
      new RegExp(`^${child.metadata.name ?? ''}-`),
    );
  });

  it('fails when its Job fails, with the Job’s reason', async () => {
    const { status } = await runChild(
      client,
      wf,
      { action: 'custom', parameters: { custom: { actionType: 'never-runs' } }, stepNumber: 2 },
      { executorNamespace: namespace },
    );
    expect(status.phase).toBe('failed');
    expect(status.message).toMatch(/^custom action never-runs failed: Job .* DeadlineExceeded/);
  });

  it('fails an unregistered action naming it and the registry', async () => {
    const { status } = await runChild(
      client,
      wf,
      { action: 'custom', parameters: { custom: { actionType: 'reindex' } }, stepNumber: 3 },
      { executorNamespace: namespace },
    );
    expect(status).toMatchObject({
      phase: 'failed',
      message: `custom action reindex is not registered: add it to ConfigMap ${namespace}/${CUSTOM_ACTIONS_CONFIGMAP}`,
    });
  });
});
