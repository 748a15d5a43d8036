// Kubeconfig files for the control plane's clients (admin, components, addUser identities).
import { readFile, writeFile } from 'node:fs/promises';

import type { KeyPair } from './pki.ts';

export interface KubeconfigSpec {
  readonly path: string;
  readonly server: string;
  readonly caFile: string;
  readonly user: string;
  readonly client: KeyPair;
}

const base64File = async (file: string): Promise<string> => (await readFile(file)).toString('base64');

/**
 * Writes a self-contained kubeconfig (certificates inline, so it can be copied or outlive a moved
 * file). JSON is valid YAML, so no YAML writer is needed.
 */
export async function writeKubeconfig(spec: KubeconfigSpec): Promise<string> {
  const [ca, cert, key] = await Promise.all([
    base64File(spec.caFile),
    base64File(spec.client.certFile),
    base64File(spec.client.keyFile),
  ]);
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'wfe', cluster: { server: spec.server, 'certificate-authority-data': ca } }],
    users: [{ name: spec.user, user: { 'client-certificate-data': cert, 'client-key-data': key } }],
    contexts: [{ name: spec.user, context: { cluster: 'wfe', user: spec.user, namespace: 'default' } }],
    'current-context': spec.user,
    preferences: {},
  };
  await writeFile(spec.path, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  return spec.path;
}
