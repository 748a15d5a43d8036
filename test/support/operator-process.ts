/**
 * `wfx operator` as a real process, the one way tests and benchmarks run it: spawned with a
 * kubeconfig, namespaces, flags and free loopback ports; its JSON log lines parsed and kept; ready
 * when /readyz says so or when a log line comes; its metrics read; stopped with SIGTERM or SIGKILL;
 * its CPU and memory read from /proc. Every process spawned here is killed by `stopOperators()`
 * (call it from afterAll) and, as a last resort, when this process exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { get as httpsGet } from 'node:https';
import { TLSSocket, type PeerCertificate } from 'node:tls';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { REPO_ROOT } from '../../tooling/controlplane/binaries.ts';
import { freePorts } from '../../tooling/controlplane/ports.ts';
import { cpuMs, rssKiB } from './proc.ts';

export interface LogLine {
  message?: string;
  level?: string;
  workflow?: string;
  reconcileId?: string;
  identity?: string;
  [key: string]: unknown;
}

export interface OperatorProcessOptions {
  kubeconfig: string;
  /** Namespaces to watch (default: all). */
  namespaces?: readonly string[];
  /**
   * Leader election on a Lease of this name, in `leaseNamespace` (default: the first namespace); with
   * `shards`, the name of the shard group instead (`--shards`, its Leases named after it).
   */
  leaseName?: string;
  leaseNamespace?: string;
  shards?: number;
  /** Default info; `warn` keeps a benchmark's operator (and this process, parsing) quiet. */
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** Start node with the inspector, for `collectGarbage()`. */
  inspect?: boolean;
  /** More `wfx operator` (or `wfx executor`) flags. */
  args?: readonly string[];
  /** The wfx command to run (default `operator`; `executor` takes the same port, log and kubeconfig flags). */
  command?: 'operator' | 'executor';
  /** The `wfx` script to run (default: src/cli/wfx.ts of this checkout). */
  entry?: string;
  /** Flags for node itself, before the script. */
  nodeArgs?: readonly string[];
  /** More environment, on top of this process's. */
  env?: Readonly<Record<string, string>>;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface OperatorProcess {
  readonly pid: number;
  readonly healthPort: number;
  readonly metricsPort: number;
  /** Every log line so far, parsed (a line that is not JSON becomes `{ message }`). */
  readonly lines: readonly LogLine[];
  readonly exited: Promise<Exit>;
  readonly running: boolean;
  /** The first log line that satisfies `match`, logged already or still to come. */
  waitForLog(match: (line: LogLine) => boolean, what: string, timeoutMs?: number): Promise<LogLine>;
  /** Resolves once its workers run (log level info or lower). */
  started(timeoutMs?: number): Promise<void>;
  /** Resolves once /readyz answers 200 (its caches have synced). */
  ready(timeoutMs?: number): Promise<void>;
  /** A GET on the health (`health`) or metrics (`metrics`) port; status 0 while nothing listens. */
  get(port: 'health' | 'metrics', path: string, token?: string): Promise<{ status: number; body: string }>;
  /** Sends a signal and waits for the exit; resolves at once when it has already exited. */
  kill(signal?: NodeJS.Signals): Promise<Exit>;
  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
  stop(graceMs?: number): Promise<Exit>;
  cpuMs(): Promise<number>;
  rssKiB(): Promise<number>;
  /** A full GC through the inspector, then the process's memoryUsage() (needs `inspect`). */
  collectGarbage(): Promise<NodeJS.MemoryUsage>;
  /** The last log lines, for an error message. */
  tail(count?: number): string;
}

const WFX = join(REPO_ROOT, 'src', 'cli', 'wfx.ts');
const NODE = join(REPO_ROOT, 'node_modules', '.bin', 'node');

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** SIGKILLs every operator process still running and waits for them to exit. */
export async function stopOperators(): Promise<void> {
  await Promise.all(
    [...live].map(
      (child) =>
        new Promise<void>((resolve) => {
          child.once('exit', () => {
            resolve();
          });
          child.kill('SIGKILL');
        }),
    ),
  );
}

/**
 * A GET on an operator's metrics port, which serves HTTPS with a certificate made at its start (or
 * `ca`'s, when given and checked); status 0 while nothing listens.
 */
export function metricsGet(
  port: number,
  path: string,
  headers: Record<string, string> = {},
  ca?: string,
): Promise<{ status: number; body: string; certificate?: PeerCertificate }> {
  return new Promise((resolve) => {
    const req = httpsGet(
      {
        host: '127.0.0.1',
        port,
        path,
        headers,
        ...(ca ? { ca, servername: 'localhost' } : { rejectUnauthorized: false }),
      },
      (res) => {
        const certificate = res.socket instanceof TLSSocket ? res.socket.getPeerCertificate() : undefined;
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, body, ...(certificate ? { certificate } : {}) });
        });
      },
    );
    req.on('error', () => {
      resolve({ status: 0, body: '' });
    });
  });
}

/** The value of a metric's first sample in a Prometheus text exposition. */
export function metricValue(body: string, name: string): number | undefined {
  const line = body.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

function operatorArgs(options: OperatorProcessOptions, healthPort: number, metricsPort: number): string[] {
  const args = [
    ...(options.nodeArgs ?? []),
    ...(options.inspect ? ['--inspect=127.0.0.1:0'] : []),
    options.entry ?? WFX,
    options.command ?? 'operator',
    '--kubeconfig',
    options.kubeconfig,
    '--health-port',
    String(healthPort),
    '--metrics-port',
    String(metricsPort),
    '--bind-address',
    '127.0.0.1',
    '--log-level',
    options.logLevel ?? 'info',
  ];
  if (options.namespaces && options.namespaces.length > 0)
    args.push('--namespaces', options.namespaces.join(','));
  if (options.leaseName)
    args.push(
      ...(options.shards === undefined ? ['--leader-elect'] : ['--shards', String(options.shards)]),
      '--leader-election-namespace',
      options.leaseNamespace ?? options.namespaces?.[0] ?? 'default',
      '--leader-election-id',
      options.leaseName,
    );
  return [...args, ...(options.args ?? [])];
}

export async function spawnOperator(options: OperatorProcessOptions): Promise<OperatorProcess> {
  const [healthPort = 0, metricsPort = 0] = await freePorts(2);
  const child = spawn(NODE, operatorArgs(options, healthPort, metricsPort), {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...options.env },
  });
  const { pid } = child;
  if (pid === undefined) throw new Error('the operator process did not start');
  live.add(child);
  const exited = new Promise<Exit>((resolve) => {
    child.once('exit', (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    });
  });
  const state = { running: true, inspectorUrl: undefined as string | undefined };
  void exited.then(() => {
    state.running = false;
  });

  const lines: LogLine[] = [];
  const waiters = new Set<{ match: (line: LogLine) => boolean; resolve: (line: LogLine) => void }>();
  createInterface({ input: child.stderr }).on('line', (text) => {
    const debugger_ = /^Debugger listening on (ws:\/\/\S+)/.exec(text)?.[1];
    if (debugger_) state.inspectorUrl = debugger_;
    if (/^(Debugger |For help)/.test(text)) return;
    let line: LogLine;
    try {
      line = JSON.parse(text) as LogLine;
    } catch {
      line = { message: text };
    }
    lines.push(line);
    for (const w of waiters)
      if (w.match(line)) {
        waiters.delete(w);
        w.resolve(line);
      }
  });

  const tail = (count = 20) =>
    lines
      .slice(-count)
      .map((l) => JSON.stringify(l))
      .join('\n');

  const get = async (port: 'health' | 'metrics', path: string, token?: string) => {
    const headers = token === undefined ? {} : { authorization: `Bearer ${token}` };
    if (port === 'metrics') return metricsGet(metricsPort, path, headers);
    try {
      const res = await fetch(`http://127.0.0.1:${healthPort}${path}`, { headers });
      return { status: res.status, body: await res.text() };
    } catch {
      return { status: 0, body: '' };
    }
  };

  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    if (state.running) child.kill(signal);
    return exited;
  };

  const operator: OperatorProcess = {
    pid,
    healthPort,
    metricsPort,
    lines,
    exited,
    get running() {
      return state.running;
    },
    waitForLog(match, what, timeoutMs = 60_000) {
      const found = lines.find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const waiter = {
          match,
          resolve: (line: LogLine) => {
            clearTimeout(timer);
            resolve(line);
          },
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`no log line ${what} in ${timeoutMs} ms; log:\n${tail()}`));
        }, timeoutMs);
        waiters.add(waiter);
        void exited.then(({ code, signal }) => {
          if (!waiters.delete(waiter)) return;
          clearTimeout(timer);
          reject(new Error(`operator exited (${String(code ?? signal)}) before ${what}; log:\n${tail()}`));
        });
      });
    },
    async started(timeoutMs) {
      await operator.waitForLog((l) => l.message === 'controller started', 'controller started', timeoutMs);
    },
    async ready(timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      while ((await get('health', '/readyz')).status !== 200) {
        if (!state.running) throw new Error(`operator exited before it was ready; log:\n${tail()}`);
        if (Date.now() > deadline)
          throw new Error(`operator not ready after ${timeoutMs} ms; log:\n${tail()}`);
        await sleep(50);
      }
    },
    get,
    kill,
    async stop(graceMs = 10_000) {
      if (!state.running) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const exit = await exited;
      clearTimeout(timer);
      return exit;
    },
    cpuMs: () => cpuMs(pid),
    rssKiB: () => rssKiB(pid),
    async collectGarbage() {
      if (!state.inspectorUrl) throw new Error('the operator was not started with `inspect`');
      const [, evaluated] = await devtoolsCalls(state.inspectorUrl, [
        ['HeapProfiler.collectGarbage'],
        ['Runtime.evaluate', { expression: 'JSON.stringify(process.memoryUsage())' }],
      ]);
      return JSON.parse((evaluated as { result: { value: string } }).result.value) as NodeJS.MemoryUsage;
    },
    tail,
  };
  return operator;
}

/** Calls DevTools protocol methods in order over one inspector connection; returns their results. */
async function devtoolsCalls(url: string, calls: readonly [string, object?][]): Promise<unknown[]> {
  const ws = new WebSocket(url);
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = reject;
  });
  const pending = new Map<number, (result: unknown) => void>();
  ws.onmessage = (event) => {
    const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown };
    if (message.id !== undefined) pending.get(message.id)?.(message.result);
  };
  const results: unknown[] = [];
  try {
    for (const [i, [method, params]] of calls.entries())
      results.push(
        await new Promise((resolve) => {
          pending.set(i, resolve);
          ws.send(JSON.stringify({ id: i, method, params: params ?? {} }));
        }),
      );
  } finally {
    ws.close();
  }
  return results;
}
