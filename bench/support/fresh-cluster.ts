/**
 * A control plane of its own for a benchmark that changes what is installed (CRDs, admission policies,
 * a peer's controllers), so the shared one (cluster.ts) stays as shipped.
 */
import { KubeConfig } from '@kubernetes/client-node';

import { startControlPlane, type ControlPlane } from '../../tooling/controlplane/launcher.ts';
import { controlPlaneTuning } from '../../tooling/controlplane/environment.ts';
import { createKubeClient, type KubeClient } from '../../src/shell/kube/client.ts';
import { core, resourcePath } from '../../src/shell/kube/resources.ts';

export interface BenchCluster {
  cp: ControlPlane;
  kc: KubeConfig;
  client: KubeClient;
  apiserverPid: number;
}

/** Runs `fn` on a control plane started for it (CRDs and admission policies installed), then stops it. */
export async function withBenchCluster(namespace: string, fn: (cluster: BenchCluster) => Promise<void>) {
  const cp = await startControlPlane({ workloads: false, ...controlPlaneTuning(process.env) });
  try {
    const apiserverPid = cp.pids['kube-apiserver'];
    if (apiserverPid === undefined) throw new Error('no kube-apiserver pid');
    const kc = new KubeConfig();
    kc.loadFromFile(cp.kubeconfigPath);
    const client = await createKubeClient(kc);
    try {
      await client.request(resourcePath(core('namespaces', 'Namespace', false)), {
        body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } },
      });
      await fn({ cp, kc, client, apiserverPid });
    } finally {
      client.close();
    }
  } finally {
    await cp.stop();
  }
}
