// Installs the repo's CRDs (crds/) and admission policies (manifests/admission/) into a fresh
// control plane, and waits until each CRD is Established so tests can use it at once.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import type { KubernetesObject } from '@kubernetes/client-node';
import type { KubeCredentials } from '../../src/shell/kube/kubeconfig.ts';
import { parseAllDocuments } from 'yaml';

import { createKubeClient } from '../../src/shell/kube/client.ts';
import { resourcePath, type ResourceType } from '../../src/shell/kube/resources.ts';

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

/**
 * The objects of a multi-document YAML text, as plain data. Not the client library's loadAllYaml:
 * it turns documents into its typed models, whose member names (`x_kubernetes_validations`,
 * `_enum`) are not the API's.
 */
export function parseManifests(text: string): KubernetesObject[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as unknown)
    .filter(isObject);
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
  for (const file of files) objects.push(...parseManifests(await readFile(file, 'utf8')));
  return objects;
}

interface ApiResourceList {
  resources: { name: string; kind: string; namespaced: boolean }[];
}

/**
 * Server-side apply, so installing twice (or over a changed file) is fine. The objects go to the
 * apiserver as they were read: the client library's typed serializer drops members its models
 * spell differently (a CRD schema's `x-kubernetes-int-or-string`, for one), so it is not used here.
 */
export async function applyAll(kc: KubeCredentials, objects: readonly KubernetesObject[]): Promise<void> {
  const client = await createKubeClient(kc);
  const discovered = new Map<string, Promise<ApiResourceList>>();
  const typeOf = async (apiVersion: string, kind: string): Promise<ResourceType> => {
    const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
    const base = group ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    let list = discovered.get(base);
    if (!list) {
      list = client.request<ApiResourceList>(base);
      discovered.set(base, list);
    }
    const found = (await list).resources.find((r) => r.kind === kind && !r.name.includes('/'));
    if (!found) throw new Error(`the apiserver serves no ${kind} in ${apiVersion}`);
    return {
      group: group ?? '',
      version: version ?? '',
      plural: found.name,
      kind,
      namespaced: found.namespaced,
    };
  };
  try {
    for (const obj of objects) {
      const { apiVersion, kind, metadata } = obj;
      if (apiVersion === undefined || kind === undefined || metadata?.name === undefined)
        throw new Error(`a manifest without apiVersion, kind or name: ${JSON.stringify(obj).slice(0, 200)}`);
      const type = await typeOf(apiVersion, kind);
      await client.request(resourcePath(type, metadata.namespace ?? 'default', metadata.name), {
        method: 'PATCH',
        patchType: 'apply',
        body: obj,
        query: { fieldManager: FIELD_MANAGER, force: true },
      });
    }
  } finally {
    client.close();
  }
}

export async function waitForCrdsEstablished(
  kc: KubeCredentials,
  names: readonly string[],
  timeoutMs = 30_000,
): Promise<void> {
  const client = await createKubeClient(kc);
  const deadline = Date.now() + timeoutMs;
  try {
    for (const name of names) {
      for (;;) {
        const crd = await client.request<{ status?: { conditions?: { type: string; status: string }[] } }>(
          `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`,
        );
        const established = crd.status?.conditions?.some(
          (c) => c.type === 'Established' && c.status === 'True',
        );
        if (established === true) break;
        if (Date.now() > deadline) throw new Error(`CRD ${name} not Established after ${timeoutMs} ms`);
        await sleep(100);
      }
    }
  } finally {
    client.close();
  }
}

export interface InstalledManifests {
  readonly crds: string[];
  readonly admission: number;
}

export async function installRepoManifests(
  kc: KubeCredentials,
  repoRoot: string,
): Promise<InstalledManifests> {
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
