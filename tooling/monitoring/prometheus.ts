/**
 * A real Prometheus (built from Go modules) that scrapes the operator exactly as the shipped
 * ServiceMonitor describes it: its endpoint's scheme, path, timeout and bearer token (read from the
 * Secret the ServiceMonitor names), against a static target instead of the Service's endpoints.
 * Used by the e2e test and by `npm run dev -- --monitoring`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { startReadyProcess, type ReadyProcess } from './ready-process.ts';
import type { KubeClient } from '../../src/shell/kube/client.ts';

export interface ServiceMonitorEndpoint {
  port?: string;
  scheme?: 'http' | 'https';
  path?: string;
  interval?: string;
  scrapeTimeout?: string;
  authorization?: { type?: string; credentials?: { name: string; key: string } };
  /** prometheus-operator's SafeTLSConfig: the CA from a Secret or ConfigMap, the name to check. */
  tlsConfig?: {
    insecureSkipVerify?: boolean;
    serverName?: string;
    ca?: { secret?: { name: string; key: string }; configMap?: { name: string; key: string } };
  };
}

export interface ServiceMonitor {
  metadata: { name: string; namespace: string };
  spec: { endpoints: ServiceMonitorEndpoint[] };
}

export interface ScrapeTarget {
  /** host:port where the operator serves metrics. */
  address: string;
  /** A file holding the bearer token. */
  tokenFile: string;
  /** Overrides the endpoint's interval (tests scrape every second). */
  interval?: string;
  /** A file holding the CA the endpoint's tlsConfig names (what prometheus-operator mounts). */
  caFile?: string;
}

/** The scrape config prometheus-operator would generate for endpoint `index`, aimed at `target`. */
export function scrapeConfigOf(
  monitor: ServiceMonitor,
  target: ScrapeTarget,
  index = 0,
  jobName = `serviceMonitor/${monitor.metadata.namespace}/${monitor.metadata.name}/${String(index)}`,
): Record<string, unknown> {
  const endpoint = monitor.spec.endpoints[index];
  if (!endpoint) throw new Error(`ServiceMonitor ${monitor.metadata.name} has no endpoint ${String(index)}`);
  const interval = target.interval ?? endpoint.interval ?? '30s';
  return {
    job_name: jobName,
    scheme: endpoint.scheme ?? 'http',
    metrics_path: endpoint.path ?? '/metrics',
    scrape_interval: interval,
    // A timeout may not exceed the interval.
    scrape_timeout: target.interval ? interval : (endpoint.scrapeTimeout ?? '10s'),
    ...(endpoint.authorization
      ? {
          authorization: {
            type: endpoint.authorization.type ?? 'Bearer',
            credentials_file: target.tokenFile,
          },
        }
      : {}),
    ...(endpoint.tlsConfig ? { tls_config: tlsConfigOf(monitor, endpoint.tlsConfig, target) } : {}),
    static_configs: [{ targets: [target.address] }],
  };
}

function tlsConfigOf(
  monitor: ServiceMonitor,
  tls: NonNullable<ServiceMonitorEndpoint['tlsConfig']>,
  target: ScrapeTarget,
): Record<string, unknown> {
  if (tls.ca && !target.caFile)
    throw new Error(`ServiceMonitor ${monitor.metadata.name} checks the certificate: give the CA file`);
  return {
    ...(tls.insecureSkipVerify !== undefined ? { insecure_skip_verify: tls.insecureSkipVerify } : {}),
    ...(tls.serverName ? { server_name: tls.serverName } : {}),
    ...(tls.ca && target.caFile ? { ca_file: target.caFile } : {}),
  };
}

/** The token in the Secret the endpoint's authorization names, once the token controller filled it. */
export async function serviceMonitorToken(
  client: KubeClient,
  monitor: ServiceMonitor,
  index = 0,
  timeoutMs = 30_000,
): Promise<string> {
  const ref = monitor.spec.endpoints[index]?.authorization?.credentials;
  if (!ref) throw new Error(`ServiceMonitor ${monitor.metadata.name} sends no bearer token`);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const secret = await client.request<{ data?: Record<string, string> }>(
      `/api/v1/namespaces/${monitor.metadata.namespace}/secrets/${ref.name}`,
    );
    const value = secret.data?.[ref.key];
    if (value) return Buffer.from(value, 'base64').toString('utf8');
    if (Date.now() > deadline)
      throw new Error(`secret ${ref.name} has no ${ref.key} after ${String(timeoutMs)} ms`);
    await sleep(100);
  }
}

export interface PrometheusOptions {
  binary: string;
  /** Working directory: config, rules, TSDB and log. */
  dir: string;
  port: number;
  scrapeConfigs: Record<string, unknown>[];
  /** The shipped rules (RuleGroup), or a test's own. */
  ruleGroups?: readonly { name: string; rules: readonly object[] }[];
  evaluationInterval?: string;
  /** Alertmanagers (host:port) the firing and resolved alerts of the rules are sent to. */
  alertmanagers?: string[];
}

export type RunningPrometheus = ReadyProcess;

/** Starts Prometheus on 127.0.0.1 and waits until it is ready. */
export async function startPrometheus(options: PrometheusOptions): Promise<RunningPrometheus> {
  mkdirSync(options.dir, { recursive: true });
  const rulesFile = join(options.dir, 'rules.yaml');
  writeFileSync(rulesFile, stringify({ groups: options.ruleGroups ?? [] }));
  const configFile = join(options.dir, 'prometheus.yml');
  writeFileSync(
    configFile,
    stringify({
      global: { evaluation_interval: options.evaluationInterval ?? '1s' },
      rule_files: [rulesFile],
      scrape_configs: options.scrapeConfigs,
      ...(options.alertmanagers?.length
        ? { alerting: { alertmanagers: [{ static_configs: [{ targets: options.alertmanagers }] }] } }
        : {}),
    }),
  );
  const address = `127.0.0.1:${String(options.port)}`;
  return startReadyProcess(
    'prometheus',
    options.binary,
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(options.dir, 'data')}`,
      `--web.listen-address=${address}`,
      '--log.level=warn',
    ],
    address,
    join(options.dir, 'prometheus.log'),
  );
}
