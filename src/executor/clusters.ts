/**
 * Target clusters, registered as Argo CD registers them: a Secret in the executor's namespace,
 * labelled `executor.kubernaut.io/cluster: <name>`, whose `kubeconfig` key holds a kubeconfig (its
 * current context; credentials inline: certificate, token or exec plugin). A child's `targetCluster`
 * names one; empty or `local` is the cluster the executor runs in. An unknown name fails the child
 * with a message naming it and where it was looked for.
 */
import { parse } from 'yaml';
import { createKubeClient, type KubeClient } from '../shell/kube/client.ts';
import { ClientConfig, resolveKubeconfig, type KubeconfigFile } from '../shell/kube/kubeconfig.ts';
import { SECRETS, resourcePath } from '../shell/kube/resources.ts';
import { ActionError } from './context.ts';

export const CLUSTER_LABEL = 'executor.kubernaut.io/cluster';
export const KUBECONFIG_KEY = 'kubeconfig';
/** The names that mean the executor's own cluster. */
export const LOCAL_CLUSTER_NAMES: readonly string[] = ['', 'local', 'in-cluster'];

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

interface SecretObject {
  metadata: { name?: string; uid?: string; resourceVersion?: string };
  data?: Record<string, string>;
}

export class ClusterRegistry {
  /** Clients of registered clusters, by Secret uid and resourceVersion: a changed Secret gets a new one. */
  private readonly clients = new Map<string, { version: string; client: Promise<KubeClient> }>();

  private readonly local: KubeClient;
  /** Where the cluster Secrets live (the executor's namespace). */
  private readonly namespace: string;

  constructor(local: KubeClient, namespace: string) {
    this.local = local;
    this.namespace = namespace;
  }

  /** The client of the named cluster; ActionError when it is not registered or its kubeconfig is bad. */
  async clientFor(name: string | undefined): Promise<KubeClient> {
    const cluster = name ?? '';
    if (LOCAL_CLUSTER_NAMES.includes(cluster)) return this.local;
    if (cluster.length > 63 || !LABEL_VALUE.test(cluster))
      throw new ActionError(
        `target cluster ${JSON.stringify(cluster)} is not a valid cluster name (a label value: at most 63 letters, digits, '-', '_' or '.')`,
      );
    const list = await this.local.request<{ items: SecretObject[] }>(resourcePath(SECRETS, this.namespace), {
      query: { labelSelector: `${CLUSTER_LABEL}=${cluster}` },
    });
    const where = `labelled ${CLUSTER_LABEL}=${cluster} in namespace ${this.namespace}`;
    const [secret, ...more] = list.items;
    if (!secret)
      throw new ActionError(
        `target cluster ${JSON.stringify(cluster)} is not registered: there is no Secret ${where}`,
      );
    if (more.length > 0)
      throw new ActionError(
        `target cluster ${JSON.stringify(cluster)} is registered twice: ${list.items.map((s) => s.metadata.name ?? '').join(', ')} are each ${where}`,
      );
    const uid = secret.metadata.uid ?? '';
    const version = secret.metadata.resourceVersion ?? '';
    const cached = this.clients.get(uid);
    if (cached?.version === version) return cached.client;
    const encoded = secret.data?.[KUBECONFIG_KEY];
    if (encoded === undefined)
      throw new ActionError(
        `target cluster ${JSON.stringify(cluster)}: Secret ${secret.metadata.name ?? ''} has no ${KUBECONFIG_KEY} key`,
      );
    const client = clientOf(
      Buffer.from(encoded, 'base64').toString('utf8'),
      cluster,
      secret.metadata.name ?? '',
    );
    cached?.client.then(
      (old) => {
        old.close();
      },
      () => undefined,
    );
    this.clients.set(uid, { version, client });
    client.catch(() => this.clients.delete(uid));
    return client;
  }

  close(): void {
    for (const { client } of this.clients.values())
      client.then(
        (c) => {
          c.close();
        },
        () => undefined,
      );
    this.clients.clear();
  }
}

async function clientOf(text: string, cluster: string, secretName: string): Promise<KubeClient> {
  try {
    // Relative file paths mean nothing in a Secret: they resolve under a directory that does not exist.
    const file: KubeconfigFile = { dir: '/nonexistent', doc: (parse(text) ?? {}) as KubeconfigFile['doc'] };
    return await createKubeClient(new ClientConfig(resolveKubeconfig([file])));
  } catch (error) {
    throw new ActionError(
      `target cluster ${JSON.stringify(cluster)}: the kubeconfig in Secret ${secretName} cannot be used: ${(error as Error).message}`,
    );
  }
}
