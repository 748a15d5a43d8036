// Installs the repo's CRDs (crds/) and admission policies (manifests/admission/) into a fresh
// control plane, and waits until each CRD is Established so tests can use it at once.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import {
  ApiextensionsV1Api,
  KubernetesObjectApi,
  PatchStrategy,
  loadAllYaml,
  type KubeConfig,
  type KubernetesObject,
} from '@kubernetes/client-node';

const FIELD_MANAGER = 'wfe-controlplane';

/** A Kubernetes object, not a kustomization.yaml (kustomize's own file beside the manifests). */
function isObject(value: unknown): value is KubernetesObject {
  return (
    typeof value === 'object' &&
    value !== null &&
    'kind' in value &&
    'apiVersion' in value &&
    value.kind !== 'Kustomization'
  );
}

/** Every object in the *.yaml / *.yml / *.json files of `dir` (recursively); none when it is absent. */
export async function loadManifests(dir: string): Promise<KubernetesObject[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true, recursive: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const files = entries
    .filter((e) => e.isFile() && /\.(ya?ml|json)$/.test(e.name))
    .map((e) => join(e.parentPath, e.name))
    .sort();
  const objects: KubernetesObject[] = [];
  for (const file of files) {
    const docs: unknown[] = loadAllYaml(await readFile(file, 'utf8'));
    objects.push(...docs.filter(isObject));
  }
  return objects;
}

/** Server-side apply, so installing twice (or over a changed file) is fine. */
export async function applyAll(kc: KubeConfig, objects: readonly KubernetesObject[]): Promise<void> {
  const client = KubernetesObjectApi.makeApiClient(kc);
  for (const obj of objects) {
    await client.patch(obj, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
  }
}

export async function waitForCrdsEstablished(
  kc: KubeConfig,
  names: readonly string[],
  timeoutMs = 30_000,
): Promise<void> {
  const api = kc.makeApiClient(ApiextensionsV1Api);
  const deadline = Date.now() + timeoutMs;
  for (const name of names) {
    for (;;) {
      const crd = await api.readCustomResourceDefinition({ name });
      const established = crd.status?.conditions?.some(
        (c) => c.type === 'Established' && c.status === 'True',
      );
      if (established === true) break;
      if (Date.now() > deadline) throw new Error(`CRD ${name} not Established after ${timeoutMs} ms`);
      await sleep(100);
    }
  }
}

export interface InstalledManifests {
  readonly crds: string[];
  readonly admission: number;
}

export async function installRepoManifests(kc: KubeConfig, repoRoot: string): Promise<InstalledManifests> {
  const crds = (await loadManifests(join(repoRoot, 'crds'))).filter(
    (o) => o.kind === 'CustomResourceDefinition',
  );
  await applyAll(kc, crds);
  const crdNames = crds.map((c) => c.metadata?.name).filter((n): n is string => n !== undefined);
  await waitForCrdsEstablished(kc, crdNames);
  const admission = await loadManifests(join(repoRoot, 'manifests', 'admission'));
  // Policies before their bindings: a binding to a missing policy is accepted but does nothing.
  admission.sort(
    (a, b) => Number((a.kind ?? '').endsWith('Binding')) - Number((b.kind ?? '').endsWith('Binding')),
  );
  await applyAll(kc, admission);
  return { crds: crdNames, admission: admission.length };
}
