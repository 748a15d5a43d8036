// The operator installed the way users install it (`npm run test:deploy`): the image of this
// commit on a real kubelet, `kubectl apply -k` of an overlay of manifests/base with two replicas,
// the demo executor as a process on the host. Admission under the restricted Pod Security level,
// readiness through the probes, the Lease, a workflow run to its end, /metrics behind TokenReview and
// SubjectAccessReview, a leader Pod deleted mid-workflow, and a rolling update to an image pulled
// from a loopback registry mid-workflow.
import { get as httpsGet } from 'node:https';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { KubeConfig } from '@kubernetes/client-node';
import type { BuiltImage } from '../../tooling/image/build.ts';
import { pushImage } from '../../tooling/image/push.ts';
import type { KubernetesExecution, WorkflowExecution } from '../../src/api/generated/types.ts';
import { REPO_ROOT } from '../../tooling/controlplane/binaries.ts';
import { ensureDeployTool } from '../../tooling/controlplane/deploy-tools.ts';
import { freePorts } from '../../tooling/controlplane/ports.ts';
import { LABELS } from '../../src/shell/children.ts';
import { createInformer, type ResourceInformer } from '../../src/shell/informer.ts';
import type { KubeClient } from '../../src/shell/kube/client.ts';
import { KUBERNETES_EXECUTIONS } from '../../src/shell/kube/resources.ts';
import { customStep, specWith } from '../fixtures/specs.ts';
import { Workflows, adminClient, createNamespace, inPhase } from '../integration/support/harness.ts';
import {
  DEPLOYMENT,
  NAMESPACE,
  applyOverlay,
  imageOfHeadOnNode,
  isReady,
  leaseHolder,
  nodeImages,
  operatorPods,
  readyOperatorPods,
  removeOperator,
} from './support.ts';
import { serviceAccountToken, until } from '../support/cluster.ts';

jest.setTimeout(10 * 60_000);

/** The operator's defaults (--lease-duration 15). */
const LEASE_DURATION_MS = 15_000;

let client: KubeClient;
let kc: KubeConfig;
let image: BuiltImage;
let executor: ChildProcess | undefined;
let registry: ChildProcess | undefined;
let children: ResourceInformer<KubernetesExecution> | undefined;
/** Every child uid seen, by namespace/name: a name with two uids was created twice. */
const childUids = new Map<string, Set<string>>();

const sleepStep = (n: number, duration: string) =>
  customStep(n, { parameters: { custom: { actionType: 'sleep', config: { duration } } } });

/** A workflow of `steps` sequential steps that each take `duration` in the demo executor. */
const slowSpec = (steps: number, duration: string) =>
  specWith(Array.from({ length: steps }, (_, i) => sleepStep(i + 1, duration)));

/** A workflow of `steps` 2 s steps in a fresh namespace, in flight: its first step done. */
async function inFlight(prefix: string, name: string, steps: number): Promise<Workflows> {
  const workflows = new Workflows({ client, namespace: await createNamespace(client, prefix) });
  await workflows.apply(name, slowSpec(steps, '2s'));
  await workflows.waitFor(
    name,
    (wf) => (wf.status?.stepStatuses ?? []).some((s) => s.status === 'completed'),
    'a first step done',
    60_000,
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
  // The demo executor, as a process on the host with the admin kubeconfig.
  executor = spawn(
    process.execPath,
    [
      join(REPO_ROOT, 'src', 'cli', 'wfx.ts'),
      'executor',
      '--kubeconfig',
      process.env['WFE_KUBECONFIG'] ?? '',
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  await applyOverlay(kc, image.name, 2);
}, 15 * 60_000);

afterAll(async () => {
  executor?.kill('SIGTERM');
  registry?.kill('SIGTERM');
  await children?.stop();
  await removeOperator(client);
  client.close();
});

describe('the operator installed with kustomize on a real node', () => {
  it('runs two Pods admitted under the restricted Pod Security level, Ready through their probes, one holding the Lease', async () => {
    const pods = await readyOperatorPods(client, 2);
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
    expect(pods.every((p) => p.status.containerStatuses?.[0]?.restartCount === 0)).toBe(true);
  });

  it('runs a workflow to its end with the demo executor', async () => {
    const workflows = new Workflows({ client, namespace: await createNamespace(client, 'deploy') });
    await workflows.apply('on-node', slowSpec(3, '200ms'));
    const wf = await workflows.waitFor('on-node', inPhase('completed', 'failed'), 'its end', 60_000);
    expectEveryStepOnce(wf, 3);
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
    const wf = await workflows.waitFor('in-flight', inPhase('completed', 'failed'), 'its end', 120_000);
    expectEveryStepOnce(wf, 6);
    expectNoChildTwice();
  });

  it('strands nothing when the Deployment rolls to a second image tag (pulled from a loopback registry) mid-workflow', async () => {
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
    const before = new Set((await operatorPods(client)).map((p) => p.metadata.name));
    await applyOverlay(kc, rolled, 2);
    const after = await until(
      'the rollout done: two Ready Pods of the new tag, none of the old',
      async () => {
        const pods = await operatorPods(client);
        const done =
          pods.length === 2 &&
          pods.every(
            (p) => isReady(p) && p.spec.containers[0]?.image === rolled && !before.has(p.metadata.name),
          );
        return done ? pods : undefined;
      },
      180_000,
      500,
    );
    // Pulled from the registry: the kubelet reports the repository digest, the one we built.
    expect(after.map((p) => p.status.containerStatuses?.[0]?.imageID)).toEqual([
      expect.stringMatching(new RegExp(`${image.digest}|${image.id}`)),
      expect.stringMatching(new RegExp(`${image.digest}|${image.id}`)),
    ]);
    const wf = await workflows.waitFor('across-rollout', inPhase('completed', 'failed'), 'its end', 120_000);
    expectEveryStepOnce(wf, 8);
    expectNoChildTwice();
    const deployment = await client.request<{ status: { updatedReplicas?: number; readyReplicas?: number } }>(
      `/apis/apps/v1/namespaces/${NAMESPACE}/deployments/${DEPLOYMENT}`,
    );
    expect(deployment.status).toMatchObject({ updatedReplicas: 2, readyReplicas: 2 });
  });
});
