// manifests/monitoring as an overlay includes it (`components: [../../monitoring]`), rendered by a
// real kustomize and dry-run against the real apiserver with prometheus-operator's CRDs installed.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import {
  KubernetesObjectApi,
  PatchStrategy,
  type KubeConfig,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { ALERT_NAMES, type RuleGroup } from '../../src/monitoring/alerts.ts';
import { DASHBOARD_FILE } from '../../src/monitoring/outputs.ts';
import { REPO_ROOT } from '../../tooling/controlplane/binaries.ts';
import type { KubeClient } from '../../src/shell/kube/client.ts';
import {
  ensureNamespace,
  installMonitoringCrds,
  renderMonitoringComponent,
} from '../../tooling/monitoring/bundle.ts';
import { ensureMonitoringTools } from '../../tooling/monitoring/tools.ts';
import { adminClient } from './support/harness.ts';

// The first run builds kustomize and the Prometheus tools from Go modules (minutes).
jest.setTimeout(30 * 60_000);

let kc: KubeConfig;
let client: KubeClient;
let objects: KubernetesObject[];

beforeAll(async () => {
  const tools = await ensureMonitoringTools();
  ({ kc, client } = await adminClient());
  await installMonitoringCrds(kc, tools);
  objects = await renderMonitoringComponent();
});
afterAll(() => {
  client.close();
});

const find = (kind: string) => objects.filter((o) => o.kind === kind);

describe('the monitoring Component', () => {
  it('renders the scrape identity, the ServiceMonitor, the PrometheusRule and the dashboard ConfigMap', () => {
    expect(objects.map((o) => `${o.kind}/${o.metadata?.name ?? ''}`).sort()).toEqual([
      'ClusterRoleBinding/workflowexecution-metrics-scraper',
      'ConfigMap/workflowexecution-dashboard',
      'PrometheusRule/workflowexecution-operator',
      'Secret/workflowexecution-metrics-scraper-token',
      'ServiceAccount/workflowexecution-metrics-scraper',
      'ServiceMonitor/workflowexecution-operator',
    ]);
  });

  it('has Prometheus scrape over https with the bearer token of a ServiceAccount bound to the metrics reader', () => {
    const [monitor] = find('ServiceMonitor') as (KubernetesObject & {
      spec: { endpoints: Record<string, unknown>[]; selector: unknown };
    })[];
    expect(monitor?.spec.endpoints).toEqual([
      expect.objectContaining({
        port: 'metrics',
        scheme: 'https',
        tlsConfig: { insecureSkipVerify: true },
        path: '/metrics',
        authorization: {
          type: 'Bearer',
          credentials: { name: 'workflowexecution-metrics-scraper-token', key: 'token' },
        },
      }),
    ]);
    // The operator's metrics Service (manifests/deploy) is what it selects.
    expect(monitor?.spec.selector).toEqual({
      matchLabels: { 'app.kubernetes.io/name': 'workflowexecution-operator' },
    });
    const [secret] = find('Secret');
    expect(secret).toMatchObject({
      type: 'kubernetes.io/service-account-token',
      metadata: {
        annotations: { 'kubernetes.io/service-account.name': 'workflowexecution-metrics-scraper' },
      },
    });
    expect(find('ClusterRoleBinding')[0]).toMatchObject({
      roleRef: { kind: 'ClusterRole', name: 'workflowexecution-metrics-reader' },
      subjects: [
        { kind: 'ServiceAccount', name: 'workflowexecution-metrics-scraper', namespace: 'kubernaut-system' },
      ],
    });
  });

  it('ships every alert in the PrometheusRule and the dashboard JSON in a ConfigMap Grafana loads', () => {
    const [rule] = find('PrometheusRule') as (KubernetesObject & { spec: { groups: RuleGroup[] } })[];
    expect(rule?.spec.groups.flatMap((g) => g.rules.map((r) => r.alert))).toEqual(ALERT_NAMES);
    const [configMap] = find('ConfigMap') as (KubernetesObject & { data: Record<string, string> })[];
    expect(configMap?.metadata?.labels).toMatchObject({ grafana_dashboard: '1' });
    expect(JSON.parse(configMap?.data['workflowexecution-operator.json'] ?? '{}')).toEqual(
      JSON.parse(readFileSync(join(REPO_ROOT, DASHBOARD_FILE), 'utf8')),
    );
  });

  it('is accepted by the apiserver: a server-side dry run of every object keeps every field', async () => {
    await ensureNamespace(client, 'kubernaut-system');
    const api = KubernetesObjectApi.makeApiClient(kc);
    for (const object of objects) {
      // A server-side apply, dry run: what would be stored, whether or not another suite sharing
      // this control plane installed the object already.
      const stored = await api
        .patch(object, undefined, 'All', 'wfe-manifest-test', true, PatchStrategy.ServerSideApply)
        .catch((error: unknown) => {
          throw new Error(`${object.kind ?? ''} ${object.metadata?.name ?? ''}: ${(error as Error).message}`);
        });
      // Nothing pruned: a field the CRD schema does not know would be missing here.
      const { metadata: _sent, ...sent } = object as Record<string, unknown>;
      expect(stored).toMatchObject(sent);
    }
  });
});
