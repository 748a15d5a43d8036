/**
 * The `network` check, with a meaning an SRE can rely on:
 * - the cluster's API answers (`/readyz`): the executor acts through it;
 * - every Service that selects a target Deployment's pods has at least one ready endpoint (its
 *   EndpointSlices): traffic reaches the workload now, so monitoring can tell whether it still does;
 * - a step naming a `targetCluster` fails: the operator reaches only the cluster it runs in.
 * Without a Deployment behind a Service, and no targetCluster, there is nothing to probe:
 * not_applicable (counted as such, never as passed).
 */
import type { ResolvedSpec } from '../../api/resolved-spec.ts';
import { isNotFound, type KubeClient } from '../kube/client.ts';
import { DEPLOYMENTS, core, resourcePath, type ResourceType } from '../kube/resources.ts';
import { matches, type Deployment } from './cluster-reads.ts';
import { verdictOf, type CheckVerdict } from './verdict.ts';

const SERVICES = core('services', 'Service');
const ENDPOINT_SLICES: ResourceType = {
  group: 'discovery.k8s.io',
  version: 'v1',
  plural: 'endpointslices',
  kind: 'EndpointSlice',
  namespaced: true,
};

interface Service {
  metadata: { name: string };
  spec?: { selector?: Record<string, string> };
}
interface EndpointSlice {
  endpoints?: { conditions?: { ready?: boolean } }[];
}

function deploymentsOf(spec: ResolvedSpec): { namespace: string; name: string }[] {
  const seen = new Map<string, { namespace: string; name: string }>();
  for (const s of spec.workflowDefinition.steps) {
    const p = s.parameters;
    const ref = p.scaleDeployment ?? p.restartDeployment ?? p.updateImage;
    if (ref)
      seen.set(`${ref.namespace}/${ref.deployment}`, { namespace: ref.namespace, name: ref.deployment });
  }
  return [...seen.values()];
}

async function serviceProblems(client: KubeClient, namespace: string, name: string) {
  const d = await client
    .request<Deployment>(resourcePath(DEPLOYMENTS, namespace, name))
    .catch((error: unknown) => {
      if (isNotFound(error)) return undefined;
      throw error;
    });
  if (d === undefined) return { probed: 0, problems: [] }; // the health check names a missing target
  const labels = d.spec?.template?.metadata?.labels;
  const services = (
    await client.request<{ items: Service[] }>(resourcePath(SERVICES, namespace))
  ).items.filter((svc) => matches(svc.spec?.selector, labels));
  const problems: string[] = [];
  for (const svc of services) {
    const slices = await client.request<{ items: EndpointSlice[] }>(
      resourcePath(ENDPOINT_SLICES, namespace),
      {
        query: { labelSelector: `kubernetes.io/service-name=${svc.metadata.name}` },
      },
    );
    const ready = slices.items.flatMap((s) => s.endpoints ?? []).filter((e) => e.conditions?.ready === true);
    if (ready.length === 0)
      problems.push(
        `Service ${namespace}/${svc.metadata.name} in front of Deployment ${namespace}/${name} has no ready endpoint`,
      );
  }
  return { probed: services.length, problems };
}

export async function networkCheck(client: KubeClient, spec: ResolvedSpec): Promise<CheckVerdict> {
  const elsewhere = spec.workflowDefinition.steps
    .filter((s) => s.targetCluster !== undefined && s.targetCluster !== '')
    .map(
      (s) =>
        `step ${s.stepNumber}: targetCluster ${s.targetCluster ?? ''} is not reachable (the operator acts only on the cluster it runs in)`,
    );
  await client.request<string>('/readyz', { accept: 'text/plain' });
  const results = await Promise.all(
    deploymentsOf(spec).map((d) => serviceProblems(client, d.namespace, d.name)),
  );
  const probed = results.reduce((n, r) => n + r.probed, 0);
  const problems = [...elsewhere, ...results.flatMap((r) => r.problems)];
  if (probed === 0 && problems.length === 0)
    return {
      result: 'not_applicable',
      message:
        'the API server answers; no target Deployment is behind a Service, so no traffic path to probe',
    };
  return verdictOf(
    problems,
    `the API server answers; ${probed} Service(s) in front of the targets have ready endpoints`,
  );
}
