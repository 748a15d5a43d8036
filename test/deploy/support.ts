// Shared by the deploy tests: the operator image of this commit, a kustomize overlay pointing at it
// (operator and executor, as manifests/base installs them), applied to the control plane with the
// real node, their Pods as the node runs them, and a workload Deployment whose pods run in containerd.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { IMAGE_INPUTS, buildImage, type BuiltImage } from '../../tooling/image/build.ts';
import { REPO_ROOT } from '../../tooling/controlplane/binaries.ts';
import { kustomizeBuild } from '../../tooling/controlplane/deploy-tools.ts';
import { applyAll, parseManifests } from '../../tooling/controlplane/manifests.ts';
import { realNodeImages } from '../../tooling/controlplane/real-node.ts';
import type { KubeClient } from '../../src/shell/kube/client.ts';
import { until } from '../support/cluster.ts';

export const NAMESPACE = 'kubernaut-system';
export const DEPLOYMENT = 'workflowexecution-operator';
export const LEASE = 'workflowexecution-operator';
export const EXECUTOR_DEPLOYMENT = 'kubernetes-executor';
const SELECTOR = 'app.kubernetes.io/name=workflowexecution-operator';
const EXECUTOR_SELECTOR = 'app.kubernetes.io/name=kubernetes-executor';

export interface Pod {
  metadata: { name: string; uid: string; deletionTimestamp?: string; labels?: Record<string, string> };
  spec: { nodeName?: string; serviceAccountName?: string; containers: { image: string; args?: string[] }[] };
  status: {
    phase?: string;
    podIP?: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: {
      ready: boolean;
      restartCount: number;
      imageID: string;
      image: string;
      state?: Record<string, { reason?: string; exitCode?: number; message?: string } | undefined>;
      lastState?: Record<string, { reason?: string; exitCode?: number; message?: string } | undefined>;
    }[];
  };
}

export function nodeImages(): ReturnType<typeof realNodeImages> {
  const address = process.env['WFE_CONTAINERD_ADDRESS'];
  if (address === undefined)
    throw new Error('no real node: the deploy project starts the control plane with --real-node');
  return realNodeImages(address);
}

/**
 * The image of HEAD: reused from .cache/image when it was built from a commit with the same image
 * inputs (src/, machines/, package files) and the same builder (tooling/image/: what it adds, such
 * as the package database, changes the image too); the build is reproducible, so a rebuild would
 * only change the revision label. Built otherwise.
 */
export function imageOfHead(): BuiltImage {
  const recorded = join(REPO_ROOT, '.cache', 'image', 'image.json');
  if (existsSync(recorded)) {
    const image = JSON.parse(readFileSync(recorded, 'utf8')) as Partial<BuiltImage>;
    if (
      image.revision !== undefined &&
      image.id !== undefined &&
      image.archive !== undefined &&
      existsSync(image.archive)
    ) {
      const same = spawnSync(
        'git',
        ['diff', '--quiet', image.revision, 'HEAD', '--', ...IMAGE_INPUTS, 'tooling/image'],
        {
          cwd: REPO_ROOT,
        },
      );
      if (same.status === 0) return image as BuiltImage;
    }
  }
  return buildImage({ log: (m) => process.stderr.write(`image: ${m}\n`) });
}

/** What an OCI layout holds, read back from its blobs: the config and each layer's paths. */
export interface ImageContents {
  config: { architecture: string; os: string; config: { Labels?: Record<string, string> } };
  /** Per layer, the paths its tar lists (`tar -tz`, the system's tar: not the builder's writer). */
  layers: string[][];
}

export function imageContents(layout: string): ImageContents {
  const blob = (digest: string) => join(layout, 'blobs', ...digest.split(':'));
  const json = (digest: string): unknown => JSON.parse(readFileSync(blob(digest), 'utf8'));
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as {
    manifests: { digest: string }[];
  };
  const [only, ...more] = index.manifests;
  if (only === undefined || more.length > 0) throw new Error(`${layout}: expected one manifest`);
  const manifest = json(only.digest) as { config: { digest: string }; layers: { digest: string }[] };
  return {
    config: json(manifest.config.digest) as ImageContents['config'],
    layers: manifest.layers.map((l) =>
      execFileSync('tar', ['-tzf', blob(l.digest)], { encoding: 'utf8', maxBuffer: 1 << 28 })
        .split('\n')
        .filter(Boolean),
    ),
  };
}

/** The image of HEAD, imported into the real node's containerd (its size said on stderr). */
export async function imageOfHeadOnNode(): Promise<BuiltImage> {
  const image = imageOfHead();
  const mb = (bytes: number) => (bytes / 1e6).toFixed(1);
  process.stderr.write(
    `image ${image.name} ${image.digest}: ${mb(image.compressedBytes)} MB compressed, ${mb(image.uncompressedBytes)} MB uncompressed\n`,
  );
  await nodeImages().importImage(image.archive);
  return image;
}

/** Until exactly `count` operator Pods are Ready. */
export const readyOperatorPods = (client: KubeClient, count: number): Promise<Pod[]> =>
  readyPods(client, SELECTOR, count, 'operator');

/** Until exactly `count` executor Pods are Ready. */
export const readyExecutorPods = (client: KubeClient, count: number): Promise<Pod[]> =>
  readyPods(client, EXECUTOR_SELECTOR, count, 'executor');

async function readyPods(client: KubeClient, selector: string, count: number, what: string): Promise<Pod[]> {
  try {
    return await until(
      `${String(count)} Ready ${what} Pods`,
      async () => {
        const pods = (await podsOf(client, selector)).filter(isReady);
        return pods.length === count ? pods : undefined;
      },
      180_000,
      250,
    );
  } catch (error) {
    throw new Error(`${(error as Error).message}; the Pods: ${await podReport(client, selector)}`);
  }
}

/** Each Pod's phase, container states and the last lines of its log: why it is not Ready. */
async function podReport(client: KubeClient, selector: string): Promise<string> {
  const reports = await Promise.all(
    (await podsOf(client, selector)).map(async (pod) => {
      const log = await client
        .request<string>(`/api/v1/namespaces/${NAMESPACE}/pods/${pod.metadata.name}/log`, {
          query: { tailLines: 20 },
        })
        .catch((e: unknown) => `(no log: ${(e as Error).message})`);
      const states = JSON.stringify(pod.status.containerStatuses?.map((c) => [c.state, c.lastState]));
      return `${pod.metadata.name} ${pod.status.phase ?? '?'} ${states}\n${log}`;
    }),
  );
  return reports.length === 0 ? 'none' : reports.join('\n');
}

/**
 * `kubectl apply -k` of an overlay of manifests/base that runs `image` with `replicas` operator and
 * `executors` executor replicas: nothing else is installed for the operator or the executor.
 */
export async function applyOverlay(
  kc: KubeConfig,
  image: string,
  replicas: number,
  executors: number,
): Promise<void> {
  const dir = join(REPO_ROOT, '.cache', 'deploy-overlay');
  mkdirSync(dir, { recursive: true });
  const at = image.lastIndexOf(':');
  writeFileSync(
    join(dir, 'kustomization.yaml'),
    [
      'apiVersion: kustomize.config.k8s.io/v1beta1',
      'kind: Kustomization',
      'resources:',
      '  - ../../manifests/base',
      'images:',
      '  - name: ghcr.io/kubernaut/workflowexecution-operator',
      `    newName: ${image.slice(0, at)}`,
      `    newTag: '${image.slice(at + 1)}'`,
      'replicas:',
      `  - name: ${DEPLOYMENT}`,
      `    count: ${replicas}`,
      `  - name: ${EXECUTOR_DEPLOYMENT}`,
      `    count: ${executors}`,
      '',
    ].join('\n'),
  );
  const objects = parseManifests(await kustomizeBuild(dir));
  // The namespace first: everything else lives in it.
  objects.sort((a, b) => Number(b.kind === 'Namespace') - Number(a.kind === 'Namespace'));
  await applyAll(kc, objects);
}

export const operatorPods = (client: KubeClient): Promise<Pod[]> => podsOf(client, SELECTOR);

export const executorPods = (client: KubeClient): Promise<Pod[]> => podsOf(client, EXECUTOR_SELECTOR);

async function podsOf(client: KubeClient, selector: string, namespace = NAMESPACE): Promise<Pod[]> {
  const list = await client.request<{ items: Pod[] }>(`/api/v1/namespaces/${namespace}/pods`, {
    query: { labelSelector: selector },
  });
  return list.items;
}

export const isReady = (pod: Pod): boolean =>
  pod.metadata.deletionTimestamp === undefined &&
  pod.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;

/** The Pod whose operator holds the Lease (identities are POD_PID). */
export async function leaseHolder(client: KubeClient): Promise<string | undefined> {
  const lease = await client
    .request<{ spec: { holderIdentity?: string } }>(
      `/apis/coordination.k8s.io/v1/namespaces/${NAMESPACE}/leases/${LEASE}`,
    )
    .catch(() => undefined);
  return lease?.spec.holderIdentity?.replace(/_\d+$/, '');
}

/** Removes the operator's and the executor's Deployments and waits until their Pods are gone. */
export async function removeInstall(client: KubeClient): Promise<void> {
  for (const name of [DEPLOYMENT, EXECUTOR_DEPLOYMENT])
    await client
      .request(`/apis/apps/v1/namespaces/${NAMESPACE}/deployments/${name}`, {
        method: 'DELETE',
        body: { propagationPolicy: 'Foreground' },
      })
      .catch(() => undefined);
  await until(
    'the operator and executor Pods gone',
    async () =>
      (await operatorPods(client)).length + (await executorPods(client)).length === 0 ? true : undefined,
    120_000,
    250,
  );
}
