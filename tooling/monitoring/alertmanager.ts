/**
 * A real Alertmanager (built from Go modules with the monitoring tools) on 127.0.0.1, one instance
 * (no cluster), routing every alert to one webhook receiver: the operator's alert receiver, with the
 * bearer token Alertmanager's `http_config.authorization` sends read from a file. Used by the e2e
 * test of the alert loop and by `npm run dev -- --alerts`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { spawnUntilReady } from './prometheus.ts';
import type { ChildProcess } from 'node:child_process';

export interface AlertmanagerOptions {
  binary: string;
  /** Working directory: config, data and log. */
  dir: string;
  port: number;
  /** Where notifications go: the receiver's URL, e.g. http://127.0.0.1:9443/alerts. */
  webhookUrl: string;
  /** A file holding the bearer token sent with each notification. */
  tokenFile: string;
  /** How long a new group waits, and between notifications of a group (short in tests: 1s). */
  groupWait?: string;
  groupInterval?: string;
}

export interface RunningAlertmanager {
  /** http://127.0.0.1:PORT; its v2 API under /api/v2. */
  url: string;
  logFile: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

export async function startAlertmanager(options: AlertmanagerOptions): Promise<RunningAlertmanager> {
  mkdirSync(options.dir, { recursive: true });
  const configFile = join(options.dir, 'alertmanager.yml');
  writeFileSync(
    configFile,
    stringify({
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
    }),
  );
  const address = `127.0.0.1:${String(options.port)}`;
  const url = `http://${address}`;
  const started = await spawnUntilReady({
    name: 'alertmanager',
    binary: options.binary,
    args: [
      `--config.file=${configFile}`,
      `--storage.path=${join(options.dir, 'data')}`,
      `--web.listen-address=${address}`,
      // One instance: no gossip port, no peers to wait for.
      '--cluster.listen-address=',
      '--log.level=warn',
    ],
    logFile: join(options.dir, 'alertmanager.log'),
    readyUrl: `${url}/-/ready`,
  });
  return { url, ...started };
}
