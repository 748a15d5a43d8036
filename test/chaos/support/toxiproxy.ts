/**
 * Toxiproxy, a real TCP fault proxy, built from its Go module into the control plane's cache on
 * first use and driven through its HTTP API on loopback. The operator talks to the apiserver
 * through it; the tests and the executor talk to the apiserver directly.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { cacheRoot, isExecutable } from '../../../tooling/controlplane/binaries.ts';
import { freePorts } from '../../../tooling/controlplane/ports.ts';
import { spawnManaged, type ManagedProcess } from '../../../tooling/controlplane/processes.ts';

export const TOXIPROXY_VERSION = 'v2.12.0';
const TOXIPROXY_PACKAGE = 'github.com/Shopify/toxiproxy/v2/cmd/server';

export const toxiproxyBinary = (env: NodeJS.ProcessEnv = process.env): string =>
  join(cacheRoot(env), 'toxiproxy', TOXIPROXY_VERSION, 'bin', 'toxiproxy-server');

/** The server binary, built with `go install <module>@<version>` when it is not cached yet. */
export async function ensureToxiproxy(): Promise<string> {
  const binary = toxiproxyBinary();
  if (await isExecutable(binary)) return binary;
  const dir = join(binary, '..');
  await mkdir(dir, { recursive: true });
  const gobin = await mkdtemp(join(dir, '.build-'));
  process.stderr.write(`toxiproxy: building ${TOXIPROXY_PACKAGE}@${TOXIPROXY_VERSION} into ${dir}\n`);
  const started = Date.now();
  await new Promise<void>((resolve, reject) => {
    const go = spawn(
      'go',
      ['install', '-trimpath', '-ldflags', '-s -w', `${TOXIPROXY_PACKAGE}@${TOXIPROXY_VERSION}`],
      {
        cwd: dir,
        stdio: ['ignore', process.stderr, process.stderr],
        env: {
          ...process.env,
          GOBIN: gobin,
          CGO_ENABLED: '0',
          PATH: `${process.env['PATH'] ?? ''}:/usr/local/go/bin`,
        },
      },
    );
    go.once('error', reject);
    go.once('exit', (code) => {
      if (code === 0) resolve();
      else
        reject(
          new Error(`go install ${TOXIPROXY_PACKAGE}@${TOXIPROXY_VERSION} failed (exit ${String(code)})`),
        );
    });
  });
  await rename(join(gobin, 'server'), binary);
  await rm(gobin, { recursive: true, force: true });
  process.stderr.write(`toxiproxy: built in ${Math.round((Date.now() - started) / 1000)} s\n`);
  return binary;
}

export type Stream = 'upstream' | 'downstream';

export interface Toxic {
  name: string;
  type: 'latency' | 'bandwidth' | 'timeout' | 'reset_peer' | 'limit_data' | 'slow_close' | 'slicer';
  stream: Stream;
  /** Probability that a connection gets the toxic (default 1). */
  toxicity?: number;
  attributes: Record<string, number>;
}

export interface Proxy {
  readonly name: string;
  /** 127.0.0.1:<port> the operator connects to. */
  readonly listen: string;
  addToxic(toxic: Toxic): Promise<void>;
  removeToxic(name: string): Promise<void>;
  /** Every toxic removed and the proxy enabled: the network as it was. */
  heal(): Promise<void>;
  /** Stop listening and drop every connection: new connections are refused. */
  disable(): Promise<void>;
  enable(): Promise<void>;
}

export interface Toxiproxy {
  readonly api: string;
  createProxy(name: string, upstream: string): Promise<Proxy>;
  stop(): Promise<void>;
}

async function call(url: string, method: string, body?: unknown): Promise<unknown> {
  const response = await fetch(url, {
    method,
    ...(body === undefined
      ? {}
      : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`toxiproxy ${method} ${url}: ${response.status} ${text}`);
  return text ? (JSON.parse(text) as unknown) : undefined;
}

export async function startToxiproxy(workDir: string): Promise<Toxiproxy> {
  const binary = await ensureToxiproxy();
  const [port] = (await freePorts(1)) as [number];
  const logDir = join(workDir, 'logs');
  await mkdir(logDir, { recursive: true });
  const server: ManagedProcess = spawnManaged({
    name: 'toxiproxy',
    command: binary,
    args: ['-host', '127.0.0.1', '-port', String(port)],
    logDir,
    dataDir: workDir,
  });
  const api = `http://127.0.0.1:${port}`;
  for (let tries = 0; ; tries++) {
    try {
      await call(`${api}/version`, 'GET');
      break;
    } catch (error) {
      if (server.hasExited() || tries > 100) {
        await server.stop();
        throw new Error(`toxiproxy did not start (log: ${server.logFile}): ${(error as Error).message}`);
      }
      await sleep(100);
    }
  }
  return {
    api,
    async createProxy(name, upstream) {
      const [listenPort] = (await freePorts(1)) as [number];
      const listen = `127.0.0.1:${listenPort}`;
      await call(`${api}/proxies`, 'POST', { name, listen, upstream, enabled: true });
      const url = `${api}/proxies/${name}`;
      const toxics = new Set<string>();
      const proxy: Proxy = {
        name,
        listen,
        async addToxic(toxic) {
          await call(`${url}/toxics`, 'POST', { toxicity: 1, ...toxic });
          toxics.add(toxic.name);
        },
        async removeToxic(toxicName) {
          await call(`${url}/toxics/${toxicName}`, 'DELETE');
          toxics.delete(toxicName);
        },
        async heal() {
          for (const t of [...toxics]) await proxy.removeToxic(t);
          await proxy.enable();
        },
        async disable() {
          await call(url, 'POST', { enabled: false });
        },
        async enable() {
          await call(url, 'POST', { enabled: true });
        },
      };
      return proxy;
    },
    async stop() {
      await server.stop(2000);
    },
  };
}
