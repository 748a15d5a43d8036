/**
 * The live statechart inspector: an HTTP server on loopback that watches WorkflowExecutions and
 * shows each one's statechart as it moves. The informers feed the store (store.ts), the store's
 * changes go out on the event streams (event-stream.ts), routes.ts answers the requests.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadClientConfig, type KubeCredentials } from '../shell/kube/kubeconfig.ts';
import type { KubernetesExecution, WorkflowExecution } from '../api/generated/types.ts';
import { LABELS } from '../shell/children.ts';
import { ChildrenIndex } from './children.ts';
import { createInformer, type ResourceInformer } from '../shell/informer.ts';
import { createKubeClient, type KubeClient } from '../shell/kube/client.ts';
import { KUBERNETES_EXECUTIONS, WORKFLOW_EXECUTIONS } from '../shell/kube/resources.ts';
import { DiagramRenderer } from './diagrams.ts';
import { EventStreams } from './event-stream.ts';
import { routes } from './routes.ts';
import { startStatelyRelay } from './stately.ts';
import { WorkflowStore } from './store.ts';

export type { StepSummary, WorkflowSummary } from './summary.ts';
export { keyOf } from './summary.ts';

export interface InspectorOptions {
  /** A kubeconfig path or a loaded one; default: found as client-go finds it ($KUBECONFIG, ...). */
  kubeconfig?: string | KubeCredentials | undefined;
  /** A client to reuse (it is not closed on stop); default: one made from the kubeconfig. */
  client?: KubeClient | undefined;
  /** Namespaces to watch; empty or absent: all. */
  namespaces?: readonly string[] | undefined;
  /** 0 picks a free port. */
  port: number;
  /** Default 127.0.0.1: the inspector shows workflow state and is meant for the local machine. */
  host?: string | undefined;
  /**
   * Also serve @statelyai/inspect's WebSocket protocol on this port, so Stately's own inspector
   * attaches (src/inspect/stately.ts); absent: not served.
   */
  statelyPort?: number | undefined;
  /** Where watch errors are reported (default: ignored; the informer retries by itself). */
  onError?: ((message: string) => void) | undefined;
}

export interface RunningInspector {
  port: number;
  url: string;
  /** Stately's inspector, attached, when `statelyPort` was given. */
  statelyUrl?: string | undefined;
  stop(): Promise<void>;
}

const PAGE_PATH = new URL('./page.html', import.meta.url);

export async function startInspector(options: InspectorOptions): Promise<RunningInspector> {
  const kc =
    options.kubeconfig === undefined || typeof options.kubeconfig === 'string'
      ? loadClientConfig(options.kubeconfig)
      : options.kubeconfig;
  const ownClient = options.client === undefined;
  const client = options.client ?? (await createKubeClient(kc));
  const page = readFileSync(PAGE_PATH, 'utf8');

  const stately = options.statelyPort === undefined ? undefined : startStatelyRelay(options.statelyPort);
  const store = new WorkflowStore((change) => {
    streams.publish(change);
    if (change.kind === 'event') stately?.send(change.logged.event);
  });
  const streams = new EventStreams(store);
  const children = new ChildrenIndex((key) => {
    streams.publish({ kind: 'timeline', key });
  });

  const informers: ResourceInformer<WorkflowExecution>[] = (
    options.namespaces && options.namespaces.length > 0 ? options.namespaces : [undefined]
  ).map((namespace) =>
    createInformer<WorkflowExecution>(client, WORKFLOW_EXECUTIONS, {
      namespace,
      onChange: (wf, kind) => {
        store.apply(wf, kind);
      },
      onError: (error, restartInMs) =>
        options.onError?.(
          `watching workflowexecutions${namespace ? ` in ${namespace}` : ''}: ${
            error instanceof Error ? error.message : String(error)
          } (retrying in ${restartInMs} ms)`,
        ),
    }),
  );

  // The children, for the timelines: attempts' times, pickups, messages and results.
  const childInformers: ResourceInformer<KubernetesExecution>[] = (
    options.namespaces && options.namespaces.length > 0 ? options.namespaces : [undefined]
  ).map((namespace) =>
    createInformer<KubernetesExecution>(client, KUBERNETES_EXECUTIONS, {
      namespace,
      labelSelector: LABELS.workflowUid,
      onChange: (child, kind) => {
        children.apply(child, kind);
      },
      onError: (error, restartInMs) =>
        options.onError?.(
          `watching kubernetesexecutions${namespace ? ` in ${namespace}` : ''}: ${
            error instanceof Error ? error.message : String(error)
          } (retrying in ${restartInMs} ms)`,
        ),
    }),
  );
  const allInformers = [...informers, ...childInformers];

  const server = createServer(
    routes({
      page,
      store,
      streams,
      diagrams: new DiagramRenderer(),
      children: (key) => children.of(key),
      synced: () => allInformers.every((i) => i.synced),
    }),
  );
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  await Promise.all(allInformers.map((i) => i.start()));
  const port = (server.address() as AddressInfo).port;
  const shownHost = host.includes(':') ? `[${host}]` : host;

  return {
    port,
    url: `http://${shownHost}:${port}/`,
    statelyUrl: stately?.url,
    async stop() {
      streams.closeAll();
      stately?.stop();
      await Promise.all(allInformers.map((i) => i.stop()));
      store.stop();
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      });
      if (ownClient) client.close();
    },
  };
}
