// `npm run cluster:up` / `npm run cluster:down`: a local control plane for development, with its
// kubeconfig at .cache/kubeconfig and its state (launcher pid) at .cache/controlplane.json.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { REPO_ROOT } from './binaries.ts';
import { startControlPlane, type ControlPlane } from './launcher.ts';
import { controlPlaneTuning } from './environment.ts';

const CACHE_DIR = join(REPO_ROOT, '.cache');
const STATE_FILE = join(CACHE_DIR, 'controlplane.json');
const KUBECONFIG = join(CACHE_DIR, 'kubeconfig');

/** `serve` prints this prefix and then a JSON object on one line once the control plane is ready. */
export const SERVE_READY_PREFIX = 'WFE_CONTROLPLANE_READY ';

export interface ServeReady {
  readonly pid: number;
  readonly server: string;
  readonly kubeconfigPath: string;
  readonly dataDir: string;
  readonly pids: Readonly<Record<string, number>>;
  /** With --real-node: containerd's socket on the node. */
  readonly containerdAddress?: string;
}

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

async function up(workloads: boolean, realNode: boolean): Promise<void> {
  const previous = await readState();
  if (previous !== undefined && alive(previous.pid)) {
    throw new Error(`a control plane is already running (pid ${previous.pid}); run npm run cluster:down`);
  }
  await mkdir(CACHE_DIR, { recursive: true });
  const cp = await startControlPlane({
    ...controlPlaneTuning(process.env),
    workloads,
    realNode,
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

  keepRunning(cp, async () => {
    await Promise.all([rm(STATE_FILE, { force: true }), rm(KUBECONFIG, { force: true })]);
  });
}

/**
 * Runs until SIGINT/SIGTERM, or until this process's parent dies (when `withParent`): a parent that
 * is killed outright cannot stop us, so we notice re-parenting and stop the control plane ourselves.
 */
function keepRunning(cp: ControlPlane, cleanup: () => Promise<void>, withParent = false): void {
  let stopping = false;
  const shutdown = (why: string): void => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`controlplane: ${why}, stopping\n`);
    void cp
      .stop()
      .then(cleanup)
      .finally(() => process.exit(0));
  };
  process.on('SIGINT', () => {
    shutdown('SIGINT');
  });
  process.on('SIGTERM', () => {
    shutdown('SIGTERM');
  });
  const parent = process.ppid;
  // Also keeps the event loop (and so the control plane) alive.
  setInterval(() => {
    if (withParent && process.ppid !== parent) shutdown('parent process gone');
  }, 250);
}

/** For test/integration/global-setup.ts: one JSON line on stdout when ready; stops with its parent. */
async function serve(workloads: boolean, realNode: boolean): Promise<void> {
  // Until the control plane is up there is nothing to stop: exiting is enough, and the components'
  // watchdogs (see processes.ts) then stop them and remove the data dir.
  const parent = process.ppid;
  const orphanCheck = setInterval(() => {
    if (process.ppid !== parent) process.exit(1);
  }, 250);
  const cp = await startControlPlane({
    ...controlPlaneTuning(process.env),
    workloads,
    realNode,
    log: (m) => process.stderr.write(`controlplane: ${m}\n`),
  });
  const ready: ServeReady = {
    ...(cp.realNode === undefined ? {} : { containerdAddress: cp.realNode.containerdAddress }),
    pid: process.pid,
    server: cp.server,
    kubeconfigPath: cp.kubeconfigPath,
    dataDir: cp.dataDir,
    pids: cp.pids,
  };
  process.stdout.write(`${SERVE_READY_PREFIX}${JSON.stringify(ready)}\n`);
  clearInterval(orphanCheck);
  keepRunning(cp, () => Promise.resolve(), true);
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
  if (command === 'up') await up(!flags.includes('--no-workloads'), flags.includes('--real-node'));
  else if (command === 'serve') await serve(!flags.includes('--no-workloads'), flags.includes('--real-node'));
  else if (command === 'down') await down();
  else throw new Error('usage: cli.ts up|serve [--no-workloads] [--real-node] | down');
} catch (err) {
  process.stderr.write(`controlplane: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
