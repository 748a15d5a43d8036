/**
 * The monitoring bundle (manifests/monitoring, a kustomize Component) rendered by a real kustomize as
 * an overlay includes it, installed into a cluster with prometheus-operator's CRDs, and a real
 * Prometheus scraping the operator with the ServiceMonitor's own settings and token, evaluating the
 * shipped rules (with the parameters given). Shared by the e2e test and `npm run dev -- --monitoring`.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { KubeCredentials } from '../../src/shell/kube/kubeconfig.ts';
import { alertGroups, type AlertParameters } from '../../src/monitoring/alerts.ts';
import { REPO_ROOT } from '../controlplane/binaries.ts';
import { kustomizeBuild } from '../controlplane/deploy-tools.ts';
import {
  applyAll,
  loadManifests,
  parseManifests,
  waitForCrdsEstablished,
} from '../controlplane/manifests.ts';
import { isAlreadyExists, type KubeClient } from '../../src/shell/kube/client.ts';
import type { MonitoringTools } from './tools.ts';
import {
  scrapeConfigOf,
  serviceMonitorToken,
  startPrometheus,
  type RunningPrometheus,
  type ServiceMonitor,
} from './prometheus.ts';

export const MONITORING_COMPONENT = join(REPO_ROOT, 'manifests', 'monitoring');

/** `kustomize build` of an overlay that does nothing but include the Component (by a relative path, as kustomize requires). */
export async function renderMonitoringComponent(): Promise<KubernetesObject[]> {
  const overlay = await mkdtemp(join(tmpdir(), 'wfe-overlay-'));
  try {
    await writeFile(
      join(overlay, 'kustomization.yaml'),
      `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\ncomponents:\n  - ${relative(overlay, MONITORING_COMPONENT)}\n`,
    );
    return parseManifests(await kustomizeBuild(overlay));
  } finally {
    await rm(overlay, { recursive: true, force: true });
  }
}

/** prometheus-operator's ServiceMonitor and PrometheusRule CRDs, Established. */
export async function installMonitoringCrds(kc: KubeCredentials, tools: MonitoringTools): Promise<void> {
  const crds: KubernetesObject[] = [];
  for (const file of tools.crds) crds.push(...parseManifests(await readFile(file, 'utf8')));
  await applyAll(kc, crds);
  await waitForCrdsEstablished(
    kc,
    crds.map((c) => c.metadata?.name ?? ''),
  );
}

/** Creates the namespace unless it exists. */
export async function ensureNamespace(client: KubeClient, name: string): Promise<void> {
  await client
    .request('/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name } } })
    .catch((error: unknown) => {
      if (!isAlreadyExists(error)) throw error;
    });
}

export interface MonitoringOptions {
  kc: KubeCredentials;
  client: KubeClient;
  tools: MonitoringTools;
  /** host:port of the operator's metrics server. */
  metricsAddress: string;
  dir: string;
  port: number;
  /** Shorter scrapes than the ServiceMonitor's 30 s, for tests and a quick look. */
  scrapeInterval?: string;
  ruleParameters?: Partial<AlertParameters>;
  /** More scrape jobs, made from the installed ServiceMonitor (the e2e test adds wrong tokens). */
  extraScrapeConfigs?: (monitor: ServiceMonitor) => Record<string, unknown>[];
}

export interface RunningMonitoring {
  prometheus: RunningPrometheus;
  monitor: ServiceMonitor;
  /** The job name of the ServiceMonitor's endpoint. */
  job: string;
  token: string;
  stop(): Promise<void>;
}

/**
 * Installs the CRDs, the metrics reader ClusterRole and the Component (ServiceMonitor, its
 * ServiceAccount, token and binding, PrometheusRule, dashboard ConfigMap), then starts Prometheus
 * configured from the ServiceMonitor as the cluster now holds it.
 */
export async function startMonitoring(options: MonitoringOptions): Promise<RunningMonitoring> {
  const { kc, client, tools } = options;
  await installMonitoringCrds(kc, tools);
  const reader = (await loadManifests(join(REPO_ROOT, 'manifests', 'rbac'))).filter(
    (o) => o.metadata?.name === 'workflowexecution-metrics-reader',
  );
  await applyAll(kc, reader);
  const objects = await renderMonitoringComponent();
  for (const namespace of new Set(objects.map((o) => o.metadata?.namespace).filter((n) => n !== undefined)))
    await ensureNamespace(client, namespace);
  await applyAll(kc, objects);
  const declared = objects.find((o) => o.kind === 'ServiceMonitor');
  if (!declared?.metadata?.name || !declared.metadata.namespace)
    throw new Error('manifests/monitoring has no ServiceMonitor');
  const monitor = await client.request<ServiceMonitor>(
    `/apis/monitoring.coreos.com/v1/namespaces/${declared.metadata.namespace}/servicemonitors/${declared.metadata.name}`,
  );
  const token = await serviceMonitorToken(client, monitor);
  const tokenFile = join(options.dir, 'token');
  await mkdir(options.dir, { recursive: true });
  await writeFile(tokenFile, token, { mode: 0o600 });
  const scrape = scrapeConfigOf(monitor, {
    address: options.metricsAddress,
    tokenFile,
    ...(options.scrapeInterval ? { interval: options.scrapeInterval } : {}),
  });
  const prometheus = await startPrometheus({
    binary: tools.prometheus,
    dir: options.dir,
    port: options.port,
    scrapeConfigs: [scrape, ...(options.extraScrapeConfigs?.(monitor) ?? [])],
    ruleGroups: alertGroups(options.ruleParameters),
  });
  return { prometheus, monitor, job: String(scrape['job_name']), token, stop: () => prometheus.stop() };
}
