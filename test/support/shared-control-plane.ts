// The control plane test/integration/global-setup.ts started, seen from a jest worker: global setup
// passes where it is through the environment the workers inherit.
import { addControlPlaneUser, type ControlPlaneUser } from '../../tooling/controlplane/launcher.ts';

export interface SharedControlPlane {
  readonly kubeconfigPath: string;
  readonly server: string;
  readonly dataDir: string;
  addUser(user: ControlPlaneUser): Promise<string>;
}

export function sharedControlPlane(env: NodeJS.ProcessEnv = process.env): SharedControlPlane {
  const kubeconfigPath = env['WFE_KUBECONFIG'];
  const server = env['WFE_CONTROLPLANE_SERVER'];
  const dataDir = env['WFE_CONTROLPLANE_DATA_DIR'];
  if (kubeconfigPath === undefined || server === undefined || dataDir === undefined) {
    throw new Error('no control plane: WFE_KUBECONFIG is set by test/integration/global-setup.ts');
  }
  return {
    kubeconfigPath,
    server,
    dataDir,
    addUser: (user) => addControlPlaneUser(dataDir, server, user),
  };
}
