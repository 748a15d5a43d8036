// The deployment tools built from Go modules (scripts/build-deploy-tools.sh) next to the control
// plane's binaries: crane and registry, kustomize, syft (an image scanner), the CNI plugins. Built on
// first use.
import { execFile, spawn } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { REPO_ROOT } from './binaries.ts';

const execFileAsync = promisify(execFile);

export type DeployTool = 'crane' | 'registry' | 'kustomize' | 'syft' | 'cni';

/** Mirrors CNI_PLUGINS_VERSION and CNI_PLUGINS in scripts/build-deploy-tools.sh. */
export const CNI_PLUGINS_VERSION = 'v1.9.0';
const CNI_PLUGINS = ['bridge', 'host-local', 'loopback'];

function cacheDir(env: NodeJS.ProcessEnv): string {
  return env['WFE_CONTROLPLANE_CACHE'] ?? join(homedir(), '.cache', 'wfe-controlplane');
}

export function deployBinDir(env: NodeJS.ProcessEnv = process.env): string {
  return env['WFE_DEPLOY_BIN'] ?? join(cacheDir(env), 'deploy', 'bin');
}

export function cniBinDir(env: NodeJS.ProcessEnv = process.env): string {
  return env['WFE_CNI_BIN'] ?? join(cacheDir(env), 'deploy', 'cni', CNI_PLUGINS_VERSION);
}

function files(tool: DeployTool): string[] {
  return tool === 'cni' ? CNI_PLUGINS.map((p) => join(cniBinDir(), p)) : [join(deployBinDir(), tool)];
}

async function present(tool: DeployTool): Promise<boolean> {
  try {
    await Promise.all(files(tool).map((f) => access(f, constants.X_OK)));
    return true;
  } catch {
    return false;
  }
}

/** The tool's path (for `cni`, the plugin directory), building it first when it is missing. */
export async function ensureDeployTool(tool: DeployTool): Promise<string> {
  if (!(await present(tool))) {
    process.stderr.write(`deploy tools: building ${tool} from Go modules (first time: a minute or more)\n`);
    await new Promise<void>((resolve, reject) => {
      const child = spawn('bash', [join(REPO_ROOT, 'scripts', 'build-deploy-tools.sh'), tool], {
        stdio: ['ignore', process.stderr, process.stderr],
      });
      child.once('error', reject);
      child.once('exit', (code) => {
        if (code === 0) resolve();
        else reject(new Error(`scripts/build-deploy-tools.sh ${tool} failed (exit ${String(code)})`));
      });
    });
    if (!(await present(tool))) throw new Error(`${tool} still missing after its build`);
  }
  return tool === 'cni' ? cniBinDir() : join(deployBinDir(), tool);
}

/** `kustomize build DIR` (kustomize built from Go modules), the YAML stream it prints. */
export async function kustomizeBuild(dir: string): Promise<string> {
  const kustomize = await ensureDeployTool('kustomize');
  const { stdout } = await execFileAsync(kustomize, ['build', dir], { maxBuffer: 64 << 20 });
  return stdout;
}
