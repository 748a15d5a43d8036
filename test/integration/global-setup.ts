// One real control plane per jest run (jest's parent process), shared by every integration suite
// through WFE_KUBECONFIG (workers inherit the parent's environment).
import { startControlPlane, type ControlPlane } from '../../src/shell/controlplane/launcher.ts';

declare global {
  var wfeControlPlane: ControlPlane | undefined;
}

export default async function globalSetup(): Promise<void> {
  const started = Date.now();
  const cp = await startControlPlane({
    workloads: true,
    log: (m) => process.stderr.write(`\ncontrolplane: ${m}`),
  });
  globalThis.wfeControlPlane = cp;
  process.env['WFE_KUBECONFIG'] = cp.kubeconfigPath;
  process.env['WFE_CONTROLPLANE_SERVER'] = cp.server;
  process.env['WFE_CONTROLPLANE_DATA_DIR'] = cp.dataDir;
  process.stderr.write(`\ncontrolplane: up in ${Date.now() - started} ms at ${cp.server}\n`);
}
