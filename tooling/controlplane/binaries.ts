// Where the control plane binaries live, and building them when they are missing.
import { spawn } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const KUBERNETES_VERSION = 'v1.34.4';

export const CONTROL_PLANE_BINARIES = [
  'etcd',
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'kwok',
] as const;
/**
 * Built only when asked for: kubelet and pause (its sandbox), the real node of the deploy tests;
 * kubectl, of the control plane's version, for the tutorial's test.
 */
export type ControlPlaneBinary = (typeof CONTROL_PLANE_BINARIES)[number] | 'kubelet' | 'pause' | 'kubectl';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Everything built from Go modules lives under here (WFE_CONTROLPLANE_CACHE moves it). */
export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  return env['WFE_CONTROLPLANE_CACHE'] ?? join(homedir(), '.cache', 'wfe-controlplane');
}

export function defaultBinDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(cacheRoot(env), KUBERNETES_VERSION, 'bin');
}

/** Whether this process may use `path` so (`constants.X_OK`, `W_OK`, ...): false when it is missing too. */
export async function mayAccess(path: string, mode: number): Promise<boolean> {
  try {
    await access(path, mode);
    return true;
  } catch {
    return false;
  }
}

export const isExecutable = (file: string): Promise<boolean> => mayAccess(file, constants.X_OK);

export async function missingBinaries(
  binDir: string,
  wanted: readonly ControlPlaneBinary[] = CONTROL_PLANE_BINARIES,
): Promise<ControlPlaneBinary[]> {
  const present = await Promise.all(wanted.map((b) => isExecutable(join(binDir, b))));
  return wanted.filter((_, i) => present[i] !== true);
}

/** Runs scripts/build-controlplane.sh for `names` (default: the control plane), output on stderr. */
export function buildBinaries(binDir: string, names: readonly ControlPlaneBinary[] = []): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn('bash', [join(REPO_ROOT, 'scripts', 'build-controlplane.sh'), ...names], {
      stdio: ['ignore', process.stderr, process.stderr],
      env: { ...process.env, WFE_CONTROLPLANE_BIN: binDir, K8S_VERSION: KUBERNETES_VERSION },
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code === 0) resolvePromise();
      else reject(new Error(`scripts/build-controlplane.sh failed (exit ${String(code)})`));
    });
  });
}

/** The binaries' directory, building what is missing first. */
export async function ensureBinaries(binDir: string, wanted: readonly ControlPlaneBinary[]): Promise<string> {
  const missing = await missingBinaries(binDir, wanted);
  if (missing.length > 0) {
    process.stderr.write(
      `control plane: building ${missing.join(', ')} into ${binDir} (first time: minutes)\n`,
    );
    await buildBinaries(binDir, missing);
    const still = await missingBinaries(binDir, wanted);
    if (still.length > 0)
      throw new Error(`control plane binaries still missing after build: ${still.join(', ')}`);
  }
  return binDir;
}
