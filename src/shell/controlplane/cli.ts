// `npm run cluster:up` / `npm run cluster:down`: a local control plane for development, with its
// kubeconfig at .cache/kubeconfig and its state (launcher pid) at .cache/controlplane.json.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { REPO_ROOT } from './binaries.ts';
import { startControlPlane } from './launcher.ts';

const CACHE_DIR = join(REPO_ROOT, '.cache');
const STATE_FILE = join(CACHE_DIR, 'controlplane.json');
const KUBECONFIG = join(CACHE_DIR, 'kubeconfig');

interface State {
  readonly pid: number;
  readonly server: string;
  readonly kubeconfigPath: string;
  readonly dataDir: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function readState(): Promise<State | undefined> {
  try {
    return JSON.parse(await readFile(STATE_FILE, 'utf8')) as State;
  } catch {
    return undefined;
  }
}

async function up(workloads: boolean): Promise<void> {
  const previous = await readState();
  if (previous !== undefined && alive(previous.pid)) {
    throw new Error(`a control plane is already running (pid ${previous.pid}); run npm run cluster:down`);
  }
  await mkdir(CACHE_DIR, { recursive: true });
  const cp = await startControlPlane({
    workloads,
    kubeconfigPath: KUBECONFIG,
    log: (m) => process.stderr.write(`controlplane: ${m}\n`),
  });
  const state: State = {
    pid: process.pid,
    server: cp.server,
    kubeconfigPath: cp.kubeconfigPath,
    dataDir: cp.dataDir,
  };
  await writeFile(STATE_FILE, `${JSON.stringify(state, null, 2)}\n`);
  process.stdout.write(`export KUBECONFIG=${cp.kubeconfigPath}\n`);
  process.stderr.write(`controlplane: logs in ${join(cp.dataDir, 'logs')}; Ctrl-C to stop\n`);

  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`controlplane: ${signal}, stopping\n`);
    void cp
      .stop()
      .then(() => rm(STATE_FILE, { force: true }))
      .then(() => process.exit(0));
  };
  process.on('SIGINT', () => {
    shutdown('SIGINT');
  });
  process.on('SIGTERM', () => {
    shutdown('SIGTERM');
  });
  // Keeps the event loop (and so the control plane) alive until a signal.
  setInterval(() => undefined, 1 << 30);
}

async function down(): Promise<void> {
  const state = await readState();
  if (state === undefined || !alive(state.pid)) {
    process.stderr.write('controlplane: none running\n');
    await rm(STATE_FILE, { force: true });
    return;
  }
  process.kill(state.pid, 'SIGTERM');
  const deadline = Date.now() + 20_000;
  while (alive(state.pid) && Date.now() < deadline) await sleep(100);
  // The children's watchdogs clean up after a launcher that had to be killed.
  if (alive(state.pid)) process.kill(state.pid, 'SIGKILL');
  await rm(STATE_FILE, { force: true });
  process.stderr.write(`controlplane: stopped (pid ${state.pid})\n`);
}

const [command, ...flags] = process.argv.slice(2);
try {
  if (command === 'up') await up(!flags.includes('--no-workloads'));
  else if (command === 'down') await down();
  else throw new Error('usage: cli.ts up [--no-workloads] | down');
} catch (err) {
  process.stderr.write(`controlplane: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
