/** Pushes an OCI image layout to a registry with crane (built from Go modules on first use). */
import { execFileSync } from 'node:child_process';
import { ensureDeployTool } from '../controlplane/deploy-tools.ts';

/** Pushes `layout` as `ref` (REGISTRY/NAME:TAG) and returns the digest the registry stored. */
export async function pushImage(layout: string, ref: string): Promise<string> {
  const crane = await ensureDeployTool('crane');
  // Loopback registries speak plain HTTP; crane already treats localhost and 127.0.0.0/8 so.
  execFileSync(crane, ['push', layout, ref], { stdio: ['ignore', 'ignore', 'inherit'] });
  return execFileSync(crane, ['digest', ref], { encoding: 'utf8' }).trim();
}
