/**
 * The benchmarks' control plane: one per `npm run bench`, started on first use and shared by every
 * measurement that needs a cluster (each in namespaces of its own), stopped by bench/run.ts.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { startControlPlane, type ControlPlane } from '../../tooling/controlplane/launcher.ts';
import { controlPlaneTuning } from '../../tooling/controlplane/environment.ts';
import { createKubeClient, type KubeClient } from '../../src/shell/kube/client.ts';
import { createNamespace } from '../../test/integration/support/harness.ts';

export interface BenchCluster {
  kubeconfigPath: string;
  kc: KubeConfig;
  /** The admin's client. */
  client: KubeClient;
  /** The control plane's processes by name (kube-apiserver, etcd, ...). */
  pids: Readonly<Record<string, number>>;
  /** A fresh namespace named `<prefix>-<random>`. */
  namespace(prefix: string): Promise<string>;
}

let started: Promise<{ cp: ControlPlane; cluster: BenchCluster }> | undefined;

export async function benchCluster(): Promise<BenchCluster> {
  started ??= (async () => {
    const cp = await startControlPlane({ workloads: false, ...controlPlaneTuning(process.env) });
    const kc = new KubeConfig();
    kc.loadFromFile(cp.kubeconfigPath);
    const client = await createKubeClient(kc);
    return {
      cp,
      cluster: {
        kubeconfigPath: cp.kubeconfigPath,
        kc,
        client,
        pids: cp.pids,
        namespace: (prefix) => createNamespace(client, prefix),
      },
    };
  })();
  return (await started).cluster;
}

/** Stops the shared control plane, if one was started. */
export async function stopBenchCluster(): Promise<void> {
  if (!started) return;
  const { cp, cluster } = await started;
  started = undefined;
  cluster.client.close();
  await cp.stop();
}
