// The operator and the executor installed the way users install them (`npm run test:deploy`): the
// image of this commit on a real kubelet, `kubectl apply -k` of an overlay of manifests/base with two
// replicas of each; nothing runs on the host. Admission under the restricted Pod Security level,
// readiness through the probes, the Lease, workflows of restart-deployment steps carried out by the
// executor Pods on Deployments whose pods run in containerd, /metrics behind TokenReview and
// SubjectAccessReview, a leader Pod deleted mid-workflow, and a rolling update of operator and
// executor to an image pulled from a loopback registry mid-workflow.
import { get as httpsGet } from 'node:https';
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { KubeConfig } from '@kubernetes/client-node';
import type { BuiltImage } from '../../tooling/image/build.ts';
import { pushImage } from '../../tooling/image/push.ts';
import type { KubernetesExecution, WorkflowExecution } from '../../src/api/generated/types.ts';
import { ensureDeployTool } from '../../tooling/controlplane/deploy-tools.ts';
import { freePorts } from '../../tooling/controlplane/ports.ts';
import { LABELS } from '../../src/shell/children.ts';
import { createInformer, type ResourceInformer } from '../../src/shell/informer.ts';
import type { KubeClient } from '../../src/shell/kube/client.ts';
import { KUBERNETES_EXECUTIONS } from '../../src/shell/kube/resources.ts';
import { specWith } from '../fixtures/specs.ts';
import { Workflows, adminClient, createNamespace, inPhase } from '../integration/support/harness.ts';
import {
  DEPLOYMENT,
  EXECUTOR_DEPLOYMENT,
  NAMESPACE,
  applyOverlay,
  imageOfHeadOnNode,
  isReady,
  leaseHolder,
  nodeImages,
  executorPods,
  operatorPods,
  readyExecutorPods,
  readyOperatorPods,
  removeInstall,
} from './support.ts';
import { createWorkload, restartStep } from './workload.ts';
import { serviceAccountToken, until } from '../support/cluster.ts';

jest.setTimeout(10 * 60_000);

/** The operator's defaults (--lease-duration 15). */
const LEASE_DURATION_MS = 15_000;

let client: KubeClient;
let kc: KubeConfig;
let image: BuiltImage;
let registry: ChildProcess | undefined;
let children: ResourceInformer<KubernetesExecution> | undefined;
/** Every child uid seen, by namespace/name: a name with two uids was created twice. */
const childUids = new Map<string, Set<string>>();

/** A workflow of `steps` sequential `kubectl rollout restart`s of `namespace`/web. */
const restartSpec = (namespace: string, steps: number) =>
  specWith(Array.from({ length: steps }, (_, i) => restartStep(i + 1, namespace)));

/**
 * A fresh namespace (only the shipped RBAC lets the executor act in it) with a one-pod workload and a
 * workflow of `steps` restarts of it, in flight: its first step done.
 */
async function inFlight(prefix: string, name: string, steps: number): Promise<Workflows> {
  const namespace = await createNamespace(client, prefix, false);
  await createWorkload(client, namespace, image.name, 1);
  const workflows = new Workflows({ client, namespace });
  await workflows.apply(name, restartSpec(namespace, steps));
  await workflows.waitFor(
    name,
    (wf) => (wf.status?.stepStatuses ?? []).some((s) => s.status === 'completed'),
    'a first step done',
    120_000,
  );
  return workflows;
}

async function httpStatus(url: string, token?: string): Promise<number> {
  try {
    const res = await fetch(url, {
      headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
    });
    await res.text();
    return res.status;
  } catch {
    return 0;
  }
}

/** A GET over HTTPS on the operator's metrics port (its certificate self-signed at start: not checked). */
function httpsStatus(url: string, token?: string): Promise<number> {
  return new Promise((resolve) => {
    const req = httpsGet(
      url,
      { rejectUnauthorized: false, headers: token === undefined ? {} : { authorization: `Bearer ${token}` } },
      (res) => {
        res.resume();
        res.on('end', () => {
          resolve(res.statusCode ?? 0);
        });
      },
    );
    req.on('error', () => {
      resolve(0);
    });
  });
}

function expectNoChildTwice(): void {
  const twice = [...childUids].filter(([, uids]) => uids.size > 1).map(([name]) => name);
  expect(twice).toEqual([]);
}

function expectEveryStepOnce(wf: WorkflowExecution, steps: number): void {
  expect(wf.status?.phase).toBe('completed');
  expect(wf.status?.stepStatuses?.map((s) => s.status)).toEqual(
    Array.from({ length: steps }, () => 'completed'),
  );
  const ns = wf.metadata.namespace ?? '';
  const mine = [...childUids.keys()].filter((k) => k.startsWith(`${ns}/`));
  expect(mine).toHaveLength(steps);
}

beforeAll(async () => {
  ({ client, kc } = await adminClient());
  image = await imageOfHeadOnNode();
  children = createInformer<KubernetesExecution>(client, KUBERNETES_EXECUTIONS, {
    labelSelector: LABELS.workflowUid,
    onChange: (child) => {
      const key = `${child.metadata.namespace ?? ''}/${child.metadata.name ?? ''}`;
      const uids = childUids.get(key) ?? new Set<string>();
      uids.add(child.metadata.uid ?? '');
      childUids.set(key, uids);
    },
  });
  await children.start();
  await applyOverlay(kc, image.name, 2, 2);
}, 15 * 60_000);

afterAll(async () => {
  registry?.kill('SIGTERM');
  await children?.stop();
  await removeInstall(client);
  client.close();
});

describe('the operator installed with kustomize on a real node', () => {
  it('runs two operator and two executor Pods admitted under the restricted Pod Security level, Ready through their probes, one operator holding the Lease', async () => {
    const pods = await readyOperatorPods(client, 2);
    const executors = await readyExecutorPods(client, 2);
    const ns = await client.request<{ metadata: { labels: Record<string, string> } }>(
      `/api/v1/namespaces/${NAMESPACE}`,
    );
    expect(ns.metadata.labels['pod-security.kubernetes.io/enforce']).toBe('restricted');
    // The level is enforced here: a Pod that runs as root is refused at admission.
    await expect(
      client.request(`/api/v1/namespaces/${NAMESPACE}/pods`, {
        body: {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: 'root-pod' },
          spec: { containers: [{ name: 'c', image: image.name, securityContext: { runAsUser: 0 } }] },
        },
      }),
    ).rejects.toThrow(/violates PodSecurity "restricted/);
    const holder = await until('the Lease held', () => leaseHolder(client));
    expect(pods.map((p) => p.metadata.name)).toContain(holder);
    expect([...pods, ...executors].every((p) => p.status.containerStatuses?.[0]?.restartCount === 0)).toBe(
      true,
    );
    expect(executors.every((p) => p.spec.serviceAccountName === 'kubernetes-executor')).toBe(true);
  });

  it("gives the executor's ServiceAccount what the action catalogue needs and nothing destructive beyond it", async () => {
    const may = async (verb: string, group: string, resource: string, subresource = '') => {
      const review = await client.request<{ status: { allowed: boolean } }>(
        '/apis/authorization.k8s.io/v1/subjectaccessreviews',
        {
          body: {
            apiVersion: 'authorization.k8s.io/v1',
            kind: 'SubjectAccessReview',
            spec: {
              user: `system:serviceaccount:${NAMESPACE}:kubernetes-executor`,
              groups: [
                'system:serviceaccounts',
                `system:serviceaccounts:${NAMESPACE}`,
                'system:authenticated',
              ],
              resourceAttributes: { namespace: 'shop', verb, group, resource, subresource },
            },
          },
        },
      );
      return review.status.allowed;
    };
    // What restart-deployment, scale-deployment and drain-node need.
    expect(await may('patch', 'apps', 'deployments')).toBe(true);
    expect(await may('patch', 'apps', 'deployments', 'scale')).toBe(true);
    expect(await may('create', '', 'pods', 'eviction')).toBe(true);
    // Never granted: deleting workloads or pods outright, creating pods, or editing RBAC.
    expect(await may('delete', 'apps', 'deployments')).toBe(false);
    expect(await may('delete', '', 'pods')).toBe(false);
    expect(await may('create', '', 'pods')).toBe(false);
    expect(await may('create', 'rbac.authorization.k8s.io', 'rolebindings')).toBe(false);
    expect(await may('list', '', 'secrets')).toBe(false);
  });

  it('runs a workflow of three restarts to its end, each step carried out by an executor Pod', async () => {
    const namespace = await createNamespace(client, 'deploy', false);
    await createWorkload(client, namespace, image.name, 1);
    const workflows = new Workflows({ client, namespace });
    await workflows.apply('on-node', restartSpec(namespace, 3));
    const wf = await workflows.waitFor('on-node', inPhase('completed', 'failed'), 'its end', 180_000);
    expectEveryStepOnce(wf, 3);
    const executors = new Set((await executorPods(client)).map((p) => p.metadata.name));
    const holders = (await workflows.childrenOf('on-node')).map((c) => c.status?.claim?.holder ?? '');
    expect(holders).toHaveLength(3);
    expect(holders.every((h) => executors.has(h))).toBe(true);
  });

  it('serves /metrics on the Pod: 200 to a metrics reader token, 403 to a token without the binding, 401 to none', async () => {
    const namespace = await createNamespace(client, 'metrics');
    const reader = await serviceAccountToken(client, namespace, 'prometheus');
    const nobody = await serviceAccountToken(client, namespace, 'nobody');
    await client.request('/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
      body: {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: `metrics-reader-${namespace}` },
        roleRef: {
          apiGroup: 'rbac.authorization.k8s.io',
          kind: 'ClusterRole',
          name: 'workflowexecution-metrics-reader',
        },
        subjects: [{ kind: 'ServiceAccount', name: 'prometheus', namespace }],
      },
    });
    const [pod] = await readyOperatorPods(client, 2);
    const url = `https://${pod?.status.podIP ?? ''}:9090/metrics`;
    expect(await httpsStatus(url)).toBe(401);
    expect(await httpsStatus(url, nobody)).toBe(403);
    // RBAC caches refresh within a moment of the new binding.
    expect(
      await until(
        'a 200 for the metrics reader',
        async () => ((await httpsStatus(url, reader)) === 200 ? 200 : undefined),
        10_000,
      ),
    ).toBe(200);
  });

  it('hands over within the lease duration + 2 s when the leader Pod is deleted, and the workflow in flight ends right', async () => {
    const workflows = await inFlight('handover', 'in-flight', 6);
    const leader = await until('the Lease held', () => leaseHolder(client));
    const deleted = Date.now();
    await client.request(`/api/v1/namespaces/${NAMESPACE}/pods/${leader}`, {
      method: 'DELETE',
      body: { gracePeriodSeconds: 0 },
    });
    const next = await until(
      'a new holder',
      async () => {
        const holder = await leaseHolder(client);
        // Empty while the deleted leader's release is not yet taken over.
        return holder !== undefined && holder !== '' && holder !== leader ? holder : undefined;
      },
      LEASE_DURATION_MS + 30_000,
      100,
    );
    const handoverMs = Date.now() - deleted;
    process.stderr.write(`leader ${leader} deleted; ${next} holds the Lease after ${handoverMs} ms\n`);
    expect(handoverMs).toBeLessThanOrEqual(LEASE_DURATION_MS + 2_000);
    const wf = await workflows.waitFor('in-flight', inPhase('completed', 'failed'), 'its end', 240_000);
    expectEveryStepOnce(wf, 6);
    expectNoChildTwice();
  });

  it('strands nothing when operator and executor roll to a second image tag (pulled from a loopback registry) mid-workflow', async () => {
    // The same image, pushed to a registry on loopback under a second tag; the node pulls it from there.
    const registryBin = await ensureDeployTool('registry');
    const [port] = await freePorts(1);
    registry = spawn(registryBin, ['-port', String(port)], { stdio: 'ignore' });
    const hostPort = `127.0.0.1:${String(port)}`;
    await until(
      'the registry',
      async () => ((await httpStatus(`http://${hostPort}/v2/`)) === 200 ? true : undefined),
      10_000,
    );
    const rolled = `${hostPort}/workflowexecution-operator:${image.name.split(':').at(-1) ?? ''}-rolled`;
    expect(await pushImage(image.layout, rolled)).toBe(image.digest);
    await nodeImages().trustRegistry(hostPort);

    const workflows = await inFlight('rollout', 'across-rollout', 8);
    const before = new Set(
      [...(await operatorPods(client)), ...(await executorPods(client))].map((p) => p.metadata.name),
    );
    const stepsDone = async () =>
      ((await workflows.get('across-rollout')).status?.stepStatuses ?? []).filter(
        (s) => s.status === 'completed',
      ).length;
    const doneBefore = await stepsDone();
    await applyOverlay(kc, rolled, 2, 2);
    const after = await until(
      'the rollout done: two Ready operator and two Ready executor Pods of the new tag, none of the old',
      async () => {
        const pods = [...(await operatorPods(client)), ...(await executorPods(client))];
        const done =
          pods.length === 4 &&
          pods.every(
            (p) => isReady(p) && p.spec.containers[0]?.image === rolled && !before.has(p.metadata.name),
          );
        return done ? pods : undefined;
      },
      180_000,
      500,
    );
    // How much of the workflow the rollout overlapped (a figure, not asserted: it depends on the load).
    process.stderr.write(
      `rollout of 4 Pods began after step ${doneBefore} of 8, ended after step ${await stepsDone()}\n`,
    );
    // Pulled from the registry: the kubelet reports the repository digest, the one we built.
    expect(after.map((p) => p.status.containerStatuses?.[0]?.imageID)).toEqual(
      Array.from({ length: 4 }, () => expect.stringMatching(new RegExp(`${image.digest}|${image.id}`))),
    );
    const wf = await workflows.waitFor('across-rollout', inPhase('completed', 'failed'), 'its end', 240_000);
    expectEveryStepOnce(wf, 8);
    expectNoChildTwice();
    for (const name of [DEPLOYMENT, EXECUTOR_DEPLOYMENT]) {
      const deployment = await client.request<{
        status: { updatedReplicas?: number; readyReplicas?: number };
      }>(`/apis/apps/v1/namespaces/${NAMESPACE}/deployments/${name}`);
      expect(deployment.status).toMatchObject({ updatedReplicas: 2, readyReplicas: 2 });
    }
  });
});
