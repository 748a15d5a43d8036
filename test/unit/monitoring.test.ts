// The monitoring bundle's pure parts: rule parameters change thresholds and nothing else, and the
// scrape config Prometheus gets is the one the shipped ServiceMonitor describes.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { ALERT_NAMES, alertGroups, DEFAULT_ALERT_PARAMETERS } from '../../src/monitoring/alerts.ts';
import { grafanaDashboard, PANELS } from '../../src/monitoring/dashboard.ts';
import { scrapeConfigOf, type ServiceMonitor } from '../../tooling/monitoring/prometheus.ts';

const rules = (groups: ReturnType<typeof alertGroups>) => groups.flatMap((g) => g.rules);

describe('alert rule parameters', () => {
  it('the defaults are the shipped rules; overrides change only the rules that use them', () => {
    expect(alertGroups()).toEqual(alertGroups(DEFAULT_ALERT_PARAMETERS));
    const short = rules(alertGroups({ approvalTimeoutSeconds: 1, approvalFor: '10m' }));
    const shipped = rules(alertGroups());
    expect(short.map((r) => r.alert)).toEqual(ALERT_NAMES);
    const changed = short.filter((r, i) => JSON.stringify(r) !== JSON.stringify(shipped[i]));
    expect(changed.map((r) => r.alert)).toEqual(['WorkflowExecutionAwaitingApproval']);
    expect(changed[0]).toMatchObject({ for: '10m', expr: expect.stringContaining('> 1)') });
  });

  it('every alert has a severity, a summary, a description and a runbook link', () => {
    for (const rule of rules(alertGroups()))
      expect(rule).toMatchObject({
        labels: { severity: expect.stringMatching(/^(critical|warning|info)$/) },
        annotations: {
          summary: expect.any(String),
          description: expect.any(String),
          runbook_url: `${DEFAULT_ALERT_PARAMETERS.runbookBaseUrl}#${rule.alert.toLowerCase()}`,
        },
      });
  });
});

describe('the scrape config from the shipped ServiceMonitor', () => {
  const monitor = parse(readFileSync('manifests/monitoring/service-monitor.yaml', 'utf8')) as ServiceMonitor;

  it('scrapes over https (the self-signed certificate not checked) at /metrics with the token as a bearer token, every 30 s', () => {
    expect(scrapeConfigOf(monitor, { address: '127.0.0.1:9090', tokenFile: '/t/token' })).toEqual({
      job_name: 'serviceMonitor/kubernaut-system/workflowexecution-operator/0',
      scheme: 'https',
      tls_config: { insecure_skip_verify: true },
      metrics_path: '/metrics',
      scrape_interval: '30s',
      scrape_timeout: '10s',
      authorization: { type: 'Bearer', credentials_file: '/t/token' },
      static_configs: [{ targets: ['127.0.0.1:9090'] }],
    });
  });

  it('a shorter interval also shortens the timeout, which may not exceed it', () => {
    expect(scrapeConfigOf(monitor, { address: '127.0.0.1:1', tokenFile: 't', interval: '1s' })).toMatchObject(
      { scrape_interval: '1s', scrape_timeout: '1s' },
    );
  });

  it('refuses an endpoint the ServiceMonitor does not have', () => {
    expect(() => scrapeConfigOf(monitor, { address: 'a:1', tokenFile: 't' }, 1)).toThrow(
      'ServiceMonitor workflowexecution-operator has no endpoint 1',
    );
  });

  it('with cert-manager’s CA (the patch docs/explanation/security.md shows): checks the certificate with it', () => {
    const endpoint = monitor.spec.endpoints[0];
    const checked: ServiceMonitor = {
      ...monitor,
      spec: {
        endpoints: [
          {
            ...endpoint,
            tlsConfig: {
              ca: { secret: { name: 'workflowexecution-metrics-cert', key: 'ca.crt' } },
              serverName: 'workflowexecution-operator-metrics.kubernaut-system.svc',
            },
          },
        ],
      },
    };
    expect(scrapeConfigOf(checked, { address: 'a:1', tokenFile: 't', caFile: '/t/ca.crt' })).toMatchObject({
      tls_config: {
        ca_file: '/t/ca.crt',
        server_name: 'workflowexecution-operator-metrics.kubernaut-system.svc',
      },
    });
    expect(() => scrapeConfigOf(checked, { address: 'a:1', tokenFile: 't' })).toThrow('give the CA file');
  });
});

describe('the dashboard', () => {
  it('has one panel per spec with its queries, and a namespace variable the namespaced queries use', () => {
    const dashboard = grafanaDashboard() as {
      panels: { title: string; targets: { expr: string }[] }[];
      templating: { list: { name: string }[] };
    };
    expect(dashboard.panels.map((p) => p.title)).toEqual(PANELS.map((p) => p.title));
    expect(dashboard.templating.list.map((v) => v.name)).toEqual(['datasource', 'namespace']);
    const namespaced = /(active_total|created_total|deleted_total|workflow_status)\{/;
    const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr));
    const namespacedExprs = exprs.filter((expr) => namespaced.test(expr));
    // Each namespaced metric is queried, and every such query is filtered by the variable.
    for (const metric of ['active_total', 'created_total', 'deleted_total', 'workflow_status'])
      expect(namespacedExprs.some((expr) => expr.includes(`${metric}{`))).toBe(true);
    expect(namespacedExprs.filter((expr) => !expr.includes('namespace=~"$namespace"'))).toEqual([]);
  });
});
