// One real control plane per jest run, shared by every integration suite through WFE_KUBECONFIG
// (globalSetup runs in jest's parent process; workers inherit its environment).
//
// The control plane runs in a child Node process (`cli.ts serve`) rather than in this one: jest loads
// this file through Node's own ESM loader, which cannot follow the repo's `.ts` imports once ts-jest
// has rewritten them, and a separate launcher also notices when jest itself is killed.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/** Mirrors SERVE_READY_PREFIX in tooling/controlplane/cli.ts (not importable here, see above). */
const READY_PREFIX = 'WFE_CONTROLPLANE_READY ';
const START_TIMEOUT_MS = 15 * 60_000; // the first run may build the binaries

interface Ready {
  pid: number;
  server: string;
  kubeconfigPath: string;
  dataDir: string;
  containerdAddress?: string;
}

declare global {
  var wfeControlPlane: ChildProcess | undefined;
}

export default async function globalSetup(
  _global: unknown,
  project: { rootDir: string; displayName?: { name: string } },
): Promise<void> {
  const started = Date.now();
  // The deploy project runs Pods: a real kubelet and containerd instead of kwok's fake nodes.
  const realNode = project.displayName?.name === 'deploy' ? ['--real-node'] : [];
  const child = spawn(
    process.execPath,
    [join(project.rootDir, 'tooling', 'controlplane', 'cli.ts'), 'serve', ...realNode],
    { stdio: ['ignore', 'pipe', 'inherit'], env: process.env },
  );
  globalThis.wfeControlPlane = child;
  const ready = await new Promise<Ready>((resolve, reject) => {
    const timer = setTimeout(() => {
      // jest runs no global teardown after a failed setup: the launcher must not outlive it.
      child.kill('SIGTERM');
      reject(new Error(`control plane not ready after ${START_TIMEOUT_MS} ms`));
    }, START_TIMEOUT_MS);
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      if (!line.startsWith(READY_PREFIX)) return;
      clearTimeout(timer);
      resolve(JSON.parse(line.slice(READY_PREFIX.length)) as Ready);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`control plane launcher exited (${String(code ?? signal)}) before it was ready`));
    });
  });
  process.env['WFE_KUBECONFIG'] = ready.kubeconfigPath;
  process.env['WFE_CONTROLPLANE_SERVER'] = ready.server;
  process.env['WFE_CONTROLPLANE_DATA_DIR'] = ready.dataDir;
  if (ready.containerdAddress !== undefined) process.env['WFE_CONTAINERD_ADDRESS'] = ready.containerdAddress;
  process.stderr.write(`\ncontrolplane: up in ${Date.now() - started} ms at ${ready.server}\n`);
}
