/**
 * Jaeger for the trace tests: the all-in-one `jaeger` binary built from Go modules into the control
 * plane's cache (scripts/build-jaeger.sh, on first use), started on free loopback ports with
 * in-memory storage: OTLP over HTTP for the exporters, the query API for the assertions.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { REPO_ROOT } from '../controlplane/binaries.ts';
import { freePorts } from '../controlplane/ports.ts';

export const JAEGER_VERSION = 'v1.75.0';

export function jaegerPath(env: NodeJS.ProcessEnv = process.env): string {
  const cache = env['WFE_CONTROLPLANE_CACHE'] ?? join(homedir(), '.cache', 'wfe-controlplane');
  return join(cache, `jaeger-${JAEGER_VERSION}`, 'bin', 'jaeger');
}

function build(): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [join(REPO_ROOT, 'scripts', 'build-jaeger.sh')], {
      stdio: ['ignore', process.stderr, process.stderr],
      env: { ...process.env, JAEGER_VERSION },
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code === 0) resolve();
      else reject(new Error(`scripts/build-jaeger.sh failed (exit ${String(code)})`));
    });
  });
}

export interface RunningJaeger {
  /** For OTEL_EXPORTER_OTLP_ENDPOINT: http://127.0.0.1:<port> (OTLP over HTTP). */
  otlpEndpoint: string;
  /** The query API: <queryUrl>/api/traces/<id>. */
  queryUrl: string;
  stop(): Promise<void>;
}

const config = (otlpHttp: number, otlpGrpc: number, queryHttp: number, queryGrpc: number) => `
service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  jaeger_query:
    storage:
      traces: memstore
    http:
      endpoint: 127.0.0.1:${queryHttp}
    grpc:
      endpoint: 127.0.0.1:${queryGrpc}
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 100000
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:${otlpGrpc}
      http:
        endpoint: 127.0.0.1:${otlpHttp}
processors:
  batch:
    timeout: 200ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`;

export async function startJaeger(): Promise<RunningJaeger> {
  const binary = jaegerPath();
  if (!existsSync(binary)) await build();
  const [otlpHttp, otlpGrpc, queryHttp, queryGrpc] = (await freePorts(4)) as [number, number, number, number];
  const dir = mkdtempSync(join(tmpdir(), 'wfe-jaeger-'));
  const file = join(dir, 'config.yaml');
  writeFileSync(file, config(otlpHttp, otlpGrpc, queryHttp, queryGrpc));
  let output = '';
  const child: ChildProcess = spawn(binary, ['--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const queryUrl = `http://127.0.0.1:${queryHttp}`;
  const stop = async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`jaeger exited (${String(child.exitCode)}): ${output}`);
    }
    try {
      const res = await fetch(`${queryUrl}/api/services`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (i > 600) {
      await stop();
      throw new Error(`jaeger did not answer on ${queryUrl} in a minute: ${output}`);
    }
    await sleep(100);
  }
  return { otlpEndpoint: `http://127.0.0.1:${otlpHttp}`, queryUrl, stop };
}
