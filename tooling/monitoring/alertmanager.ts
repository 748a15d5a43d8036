/**
 * A real Alertmanager (built from Go modules, tools.ts) on 127.0.0.1, single-node (no cluster
 * gossip), routing everything to a receiver that sends nothing unless one is given: what the
 * operator's monitoring reads through the v2 API, and what tests post alerts to and resolve; with
 * `webhookConfig`, what posts every alert to the operator's alert receiver (the e2e alert loop).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { startReadyProcess, type ReadyProcess } from './ready-process.ts';

export interface AlertmanagerOptions {
  binary: string;
  /** Working directory: config, data and log. */
  dir: string;
  port: number;
  /** Receivers and route; default: one receiver that sends nothing. */
  config?: Record<string, unknown>;
}

/** An alert as posted to POST /api/v2/alerts; `endsAt` in the past resolves it. */
export interface PostedAlert {
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  startsAt?: string;
  endsAt?: string;
}

export interface RunningAlertmanager extends ReadyProcess {
  /** Posts alerts (firing, or resolved with an endsAt in the past). */
  post(alerts: PostedAlert[]): Promise<void>;
  /** The active alerts' fingerprints and labels. */
  active(): Promise<{ fingerprint: string; labels: Record<string, string> }[]>;
}

const SILENT = { route: { receiver: 'none' }, receivers: [{ name: 'none' }] };

/**
 * Every alert to one webhook receiver (the operator's alert receiver), resolved ones too, with the
 * bearer token Alertmanager's `http_config.authorization` reads from a file.
 */
export function webhookConfig(options: {
  /** The receiver's URL, e.g. http://127.0.0.1:9443/alerts. */
  webhookUrl: string;
  /** A file holding the bearer token sent with each notification. */
  tokenFile: string;
  /** How long a new group waits, and between notifications of a group (short in tests: 1s). */
  groupWait?: string;
  groupInterval?: string;
}): Record<string, unknown> {
  return {
    route: {
      receiver: 'kubernaut',
      group_by: ['alertname', 'namespace'],
      group_wait: options.groupWait ?? '1s',
      group_interval: options.groupInterval ?? '1s',
      repeat_interval: '1h',
    },
    receivers: [
      {
        name: 'kubernaut',
        webhook_configs: [
          {
            url: options.webhookUrl,
            send_resolved: true,
            max_alerts: 1000,
            http_config: { authorization: { credentials_file: options.tokenFile } },
          },
        ],
      },
    ],
  };
}

export async function startAlertmanager(options: AlertmanagerOptions): Promise<RunningAlertmanager> {
  mkdirSync(options.dir, { recursive: true });
  const configFile = join(options.dir, 'alertmanager.yml');
  writeFileSync(configFile, stringify(options.config ?? SILENT));
  const address = `127.0.0.1:${String(options.port)}`;
  const running = await startReadyProcess(
    'alertmanager',
    options.binary,
    [
      `--config.file=${configFile}`,
      `--storage.path=${join(options.dir, 'data')}`,
      `--web.listen-address=${address}`,
      // Single node: no gossip port to collide with another Alertmanager on the machine.
      '--cluster.listen-address=',
      '--log.level=warn',
    ],
    address,
    join(options.dir, 'alertmanager.log'),
  );
  const { url } = running;
  return {
    ...running,
    async post(alerts) {
      const response = await fetch(`${url}/api/v2/alerts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(alerts),
      });
      if (!response.ok) throw new Error(`alertmanager refused the alerts: ${String(response.status)}`);
    },
    async active() {
      const response = await fetch(`${url}/api/v2/alerts?active=true`);
      return (await response.json()) as { fingerprint: string; labels: Record<string, string> }[];
    },
  };
}
