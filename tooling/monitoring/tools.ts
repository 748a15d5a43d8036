/**
 * The monitoring tools built from Go modules into the control plane's cache (prometheus, promtool)
 * and prometheus-operator's ServiceMonitor and PrometheusRule CRDs, built on first use by
 * scripts/build-monitoring.sh with its progress on stderr.
 */
import { spawn } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../controlplane/binaries.ts';

/** Prometheus 3.x is tagged v0.3xx.y as a Go module. */
export const PROMETHEUS_VERSION = 'v0.316.0';
export const PROMETHEUS_OPERATOR_VERSION = 'v0.85.0';
export const ALERTMANAGER_VERSION = 'v0.35.0';

export interface MonitoringTools {
  prometheus: string;
  promtool: string;
  alertmanager: string;
  /** The CRD files: ServiceMonitor, PrometheusRule. */
  crds: string[];
}

export function monitoringToolPaths(env: NodeJS.ProcessEnv = process.env): MonitoringTools {
  const cache = env['WFE_CONTROLPLANE_CACHE'] ?? join(homedir(), '.cache', 'wfe-controlplane');
  const prometheusBin = join(cache, `prometheus-${PROMETHEUS_VERSION}`, 'bin');
  const crdDir = join(cache, `prometheus-operator-${PROMETHEUS_OPERATOR_VERSION}`, 'crds');
  return {
    prometheus: join(prometheusBin, 'prometheus'),
    promtool: join(prometheusBin, 'promtool'),
    alertmanager: join(cache, `alertmanager-${ALERTMANAGER_VERSION}`, 'bin', 'alertmanager'),
    crds: ['servicemonitors', 'prometheusrules'].map((p) => join(crdDir, `monitoring.coreos.com_${p}.yaml`)),
  };
}

async function present(file: string, mode: number): Promise<boolean> {
  try {
    await access(file, mode);
    return true;
  } catch {
    return false;
  }
}

function build(): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [join(REPO_ROOT, 'scripts', 'build-monitoring.sh')], {
      stdio: ['ignore', process.stderr, process.stderr],
      env: {
        ...process.env,
        PROMETHEUS_VERSION,
        PROMETHEUS_OPERATOR_VERSION,
        ALERTMANAGER_VERSION,
      },
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code === 0) resolve();
      else reject(new Error(`scripts/build-monitoring.sh failed (exit ${String(code)})`));
    });
  });
}

/** The tools, building what is missing first (minutes the first time, then a no-op). */
export async function ensureMonitoringTools(): Promise<MonitoringTools> {
  const tools = monitoringToolPaths();
  const checks = [
    ...[tools.prometheus, tools.promtool, tools.alertmanager].map((f) => present(f, constants.X_OK)),
    ...tools.crds.map((f) => present(f, constants.R_OK)),
  ];
  if ((await Promise.all(checks)).some((ok) => !ok)) {
    process.stderr.write(
      'monitoring: building prometheus, promtool and alertmanager from Go modules (first time: minutes)\n',
    );
    await build();
  }
  return tools;
}
