// The short deploy check CI runs (`npm run test:deploy:pod`): the image of this commit, imported
// into the real node's containerd, installed by `kubectl apply -k` of an overlay of manifests/base as
// one operator Pod and one executor Pod under the restricted Pod Security level, both Ready through
// their probes; then a restart-deployment workflow carried out by the executor Pod with its own
// ServiceAccount and nothing but the shipped RBAC, on a Deployment whose pods run in containerd.
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { KubeConfig } from '@kubernetes/client-node';
import type { BuiltImage } from '../../tooling/image/build.ts';
import { REAL_NODE_NAME } from '../../tooling/controlplane/real-node.ts';
import type { KubeClient } from '../../src/shell/kube/client.ts';
import {
  Workflows,
  adminClient,
  createNamespace,
  deleteNamespace,
  inPhase,
} from '../integration/support/harness.ts';
import { specWith } from '../fixtures/specs.ts';
import {
  applyOverlay,
  imageContents,
  imageOfHeadOnNode,
  isReady,
  leaseHolder,
  readyExecutorPods,
  readyOperatorPods,
  removeInstall,
} from './support.ts';
import { createWorkload, restartStep, rolledOut, workload, workloadPods } from './workload.ts';
import { until } from '../support/cluster.ts';

jest.setTimeout(10 * 60_000);

let client: KubeClient;
let kc: KubeConfig;
let image: BuiltImage;
let workloadNamespace: string | undefined;

beforeAll(async () => {
  ({ client, kc } = await adminClient());
  image = await imageOfHeadOnNode();
});

afterAll(async () => {
  if (workloadNamespace !== undefined) await deleteNamespace(client, workloadNamespace);
  await removeInstall(client);
  client.close();
});

describe('the image on a real node', () => {
  it('stays under 80 MB compressed', () => {
    expect(image.compressedBytes).toBeLessThan(80e6);
  });

  it('is built for this machine’s architecture and carries no TypeScript declarations or source maps', () => {
    const { config, layers } = imageContents(image.layout);
    // Debian's name for this machine, not the builder's own mapping from Node's process.arch.
    const machine = execFileSync('dpkg', ['--print-architecture'], { encoding: 'utf8' }).trim();
    expect(config).toMatchObject({ architecture: machine, os: 'linux' });
    const paths = layers.flat();
    expect(paths).toContain('app/node_modules/xstate/package.json');
    expect(paths.filter((p) => /\.d\.[cm]?ts$|\.map$|\.tsbuildinfo$/.test(p))).toEqual([]);
  });

  it('starts an operator Pod that is Ready through its probes and takes the Lease', async () => {
    await applyOverlay(kc, image.name, 1, 1);
    const [pod] = await readyOperatorPods(client, 1);
    if (pod === undefined) throw new Error('no Ready operator Pod');
    expect(pod.spec.containers[0]?.image).toBe(image.name);
    // The image ID, or the repository digest once the node also holds it under a registry's name.
    expect(pod.status.containerStatuses?.[0]?.imageID).toMatch(new RegExp(`${image.id}|${image.digest}`));
    expect(pod.status.containerStatuses?.[0]?.restartCount).toBe(0);
    expect(await until('the Lease held', () => leaseHolder(client))).toBe(pod.metadata.name);
  });

  it('starts an executor Pod of the same image, with its own ServiceAccount, Ready through its probes, without the development hooks', async () => {
    const [pod] = await readyExecutorPods(client, 1);
    if (pod === undefined) throw new Error('no Ready executor Pod');
    expect(pod.spec.serviceAccountName).toBe('kubernetes-executor');
    expect(pod.spec.containers[0]?.image).toBe(image.name);
    expect(pod.spec.containers[0]?.args).toContain('executor');
    expect(pod.spec.containers[0]?.args).not.toContain('--development');
    expect(pod.status.containerStatuses?.[0]?.restartCount).toBe(0);
  });

  it('restarts a Deployment running in containerd (kubectl rollout restart) through the executor Pod: new Ready pods, the old ones gone, the workflow completed and judged effective', async () => {
    const [executor] = await readyExecutorPods(client, 1);
    // No RoleBinding of the tests: the executor acts with the shipped manifests' RBAC alone.
    workloadNamespace = await createNamespace(client, 'restart', false);
    const namespace = workloadNamespace;
    const before = await createWorkload(client, namespace, image.name, 2);
    const beforeUids = new Set(before.map((p) => p.metadata.uid));

    const workflows = new Workflows({ client, namespace });
    await workflows.apply('restart-web', specWith([restartStep(1, namespace)]));
    const wf = await workflows.waitFor('restart-web', inPhase('completed', 'failed'), 'its end', 240_000);

    expect(wf.status?.phase).toBe('completed');
    expect(wf.status?.stepStatuses?.map((s) => s.status)).toEqual(['completed']);
    // Judged by the effectiveness check: the Deployment healthy (no Alertmanager here, so no alerts).
    expect(wf.status?.workflowResult).toMatchObject({
      outcome: 'success',
      effectivenessScore: 1,
      resourceHealth: 'healthy',
      alertsChecked: false,
    });
    // Carried out by the executor Pod, not by anything the test runs.
    const [child] = await workflows.childrenOf('restart-web');
    expect(child?.status?.phase).toBe('completed');
    expect(child?.status?.claim?.holder).toBe(executor?.metadata.name);

    // The world: the template annotated as kubectl does, the rollout complete, two new pods Ready
    // (different UIDs) and none of the old ones left.
    const deployment = await workload(client, namespace);
    expect(deployment.spec.template.metadata?.annotations?.['kubectl.kubernetes.io/restartedAt']).toEqual(
      expect.any(String),
    );
    expect(rolledOut(deployment)).toBe(true);
    const after = await until(
      'the old pods gone',
      async () => {
        const pods = await workloadPods(client, namespace);
        return pods.some((p) => beforeUids.has(p.metadata.uid)) ? undefined : pods;
      },
      120_000,
      250,
    );
    expect(after).toHaveLength(2);
    expect(after.every((p) => p.status.phase === 'Running' && isReady(p))).toBe(true);
    expect(after.every((p) => p.spec.nodeName === REAL_NODE_NAME)).toBe(true);
  });
});
