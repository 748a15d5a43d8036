/**
 * The live statechart inspector: an HTTP server on loopback that watches WorkflowExecutions and
 * shows each one's statechart as it moves.
 *
 *   /                                          the page (inline CSS and JS: works offline)
 *   /api/workflows                             JSON: every workflow, summarised
 *   /api/workflows/<ns>/<name>                 JSON: one workflow's summary, snapshot and events
 *   /api/workflows/<ns>/<name>/diagram.svg     its statechart, active states highlighted
 *   /events[?workflow=<ns>/<name>]             Server-Sent Events: the inspection protocol
 *
 * The SSE stream's unnamed (`message`) events are @statelyai/inspect `StatelyInspectionEvent`s
 * (`@xstate.actor`, `@xstate.event`, `@xstate.snapshot`) as the bridge produces them, so any
 * consumer of that protocol can read it. Named events carry what the protocol has no place for:
 * `reset` (a fresh replay follows), `workflows` (all summaries), `replayed` (the past events have
 * been sent; what follows is live), `workflow` (one summary changed), `deleted`.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import type { WorkflowExecution } from '../api/generated/types.ts';
import { inspectWorkflow, type Inspected } from '../cli/commands/inspect.ts';
import { activeStateIds, toDot } from '../core/diagram.ts';
import { waitingFor } from '../core/transitions.ts';
import { createInformer, type ResourceInformer } from '../shell/informer.ts';
import { createKubeClient, type KubeClient } from '../shell/kube/client.ts';
import { WORKFLOW_EXECUTIONS } from '../shell/kube/resources.ts';
import { MACHINE_ID, type WorkflowSnapshot } from '../../machines/workflow.ts';
import { createInspectionBridge, type StatelyInspectionEvent } from './bridge.ts';

export interface InspectorOptions {
  /** A kubeconfig path or a loaded KubeConfig; default: $KUBECONFIG or ~/.kube/config. */
  kubeconfig?: string | KubeConfig | undefined;
  /** A client to reuse (it is not closed on stop); default: one made from the kubeconfig. */
  client?: KubeClient | undefined;
  /** Namespaces to watch; empty or absent: all. */
  namespaces?: readonly string[] | undefined;
  /** 0 picks a free port. */
  port: number;
  /** Default 127.0.0.1: the inspector shows workflow state and is meant for the local machine. */
  host?: string | undefined;
  /** Where watch errors are reported (default: ignored; the informer retries by itself). */
  onError?: ((message: string) => void) | undefined;
}

export interface RunningInspector {
  port: number;
  url: string;
  stop(): Promise<void>;
}

export interface StepSummary {
  number: number;
  name: string;
  action: string;
  status: string;
  retries: number;
  started: string | null;
  ended: string | null;
  message: string | null;
}

export interface WorkflowSummary {
  key: string;
  namespace: string;
  name: string;
  uid: string;
  resourceVersion: string;
  workflow: string;
  createdAt: string | null;
  phase: string;
  ready: { status: string; reason: string; message: string } | null;
  progress: { done: number; total: number };
  /** In plain words, what the workflow waits for now. */
  waitingFor: string;
  /** Active state node ids, e.g. `workflow.validating.approval`. */
  activeStates: string[];
  steps: StepSummary[];
  failureReason: string | null;
  /** Set when the statechart cannot be read (invalid spec, refused snapshot). */
  problem: string | null;
}

interface Entry {
  wf: WorkflowExecution;
  inspected: Inspected;
  /** The persisted snapshot as JSON, to see whether it changed. */
  snapshotJson: string | null;
  registered: boolean;
  summary: WorkflowSummary;
}

interface Logged {
  seq: number;
  key: string;
  event: StatelyInspectionEvent;
}

/** Inspection events kept for replay to newly connected pages. */
const REPLAY_LIMIT = 5000;
const KEEPALIVE_MS = 15_000;

const PAGE_PATH = new URL('./page.html', import.meta.url);

export const keyOf = (namespace: string, name: string): string => `${namespace}/${name}`;

function summarize(wf: WorkflowExecution, inspected: Inspected): WorkflowSummary {
  const s = wf.status ?? {};
  const ready = s.conditions?.find((c) => c.type === 'Ready');
  const snapshot = inspected.ok ? inspected.snapshot : undefined;
  const namespace = wf.metadata.namespace ?? '';
  const name = wf.metadata.name ?? '';
  return {
    key: keyOf(namespace, name),
    namespace,
    name,
    uid: wf.metadata.uid ?? '',
    resourceVersion: wf.metadata.resourceVersion ?? '',
    workflow: `${wf.spec.workflowDefinition.name} ${wf.spec.workflowDefinition.version ?? ''}`.trim(),
    createdAt: wf.metadata.creationTimestamp ?? null,
    phase: s.phase ?? 'pending',
    ready: ready ? { status: ready.status, reason: ready.reason, message: ready.message } : null,
    progress: { done: s.currentStep ?? 0, total: s.totalSteps ?? wf.spec.workflowDefinition.steps.length },
    waitingFor: !inspected.ok
      ? inspected.problem
      : snapshot
        ? waitingFor(snapshot, inspected.plan)
        : 'waiting for the operator to pick it up',
    activeStates: snapshot ? activeStateIds(snapshot.value, MACHINE_ID) : [],
    steps: (s.stepStatuses ?? []).map((st) => ({
      number: st.stepNumber,
      name: st.name ?? '',
      action: st.action ?? '',
      status: st.status,
      retries: st.retriesAttempted ?? 0,
      started: st.startTime ?? null,
      ended: st.endTime ?? null,
      message: st.errorMessage ?? null,
    })),
    failureReason: s.failureReason ?? null,
    problem: inspected.ok ? null : inspected.problem,
  };
}

type Graphviz = Awaited<ReturnType<(typeof import('@hpcc-js/wasm-graphviz'))['Graphviz']['load']>>;

export async function startInspector(options: InspectorOptions): Promise<RunningInspector> {
  const kc =
    options.kubeconfig instanceof KubeConfig
      ? options.kubeconfig
      : (() => {
          const loaded = new KubeConfig();
          if (options.kubeconfig) loaded.loadFromFile(options.kubeconfig);
          else loaded.loadFromDefault();
          return loaded;
        })();
  const ownClient = options.client === undefined;
  const client = options.client ?? (await createKubeClient(kc));
  const page = readFileSync(PAGE_PATH, 'utf8');

  const entries = new Map<string, Entry>();
  const log: Logged[] = [];
  let seq = 0;
  const streams = new Set<{ res: ServerResponse; filter: string | null }>();

  const write = (res: ServerResponse, text: string) => {
    if (!res.writableEnded) res.write(text);
  };
  const frame = (name: string | null, data: unknown, id?: number): string =>
    `${name ? `event: ${name}\n` : ''}${id === undefined ? '' : `id: ${id}\n`}data: ${JSON.stringify(data)}\n\n`;
  const broadcast = (key: string | null, text: string) => {
    for (const s of streams) if (s.filter === null || key === null || s.filter === key) write(s.res, text);
  };

  let current = '';
  const bridge = createInspectionBridge((event) => {
    const logged = { seq: ++seq, key: current, event };
    log.push(logged);
    if (log.length > REPLAY_LIMIT) log.splice(0, log.length - REPLAY_LIMIT);
    broadcast(current, frame(null, event, logged.seq));
  });

  const onChange = (wf: WorkflowExecution, kind: 'add' | 'update' | 'delete') => {
    const key = keyOf(wf.metadata.namespace ?? '', wf.metadata.name ?? '');
    current = key;
    if (kind === 'delete') {
      entries.delete(key);
      for (let i = log.length - 1; i >= 0; i--) if (log[i]?.key === key) log.splice(i, 1);
      broadcast(key, frame('deleted', { key }));
      return;
    }
    const previous = entries.get(key);
    const snapshotData = wf.status?.statechart?.snapshot;
    const snapshotJson = snapshotData ? JSON.stringify(snapshotData) : null;
    const recreated = previous !== undefined && previous.wf.metadata.uid !== wf.metadata.uid;
    const unchanged = previous !== undefined && !recreated && previous.snapshotJson === snapshotJson;
    const inspected = unchanged ? previous.inspected : inspectWorkflow(wf);
    const entry: Entry = {
      wf,
      inspected,
      snapshotJson,
      registered: recreated ? false : (previous?.registered ?? false),
      summary: summarize(wf, inspected),
    };
    entries.set(key, entry);
    if (inspected.ok && !unchanged) {
      if (!entry.registered) {
        bridge.register(key, inspected.machine, inspected.snapshot);
        entry.registered = true;
      }
      if (inspected.snapshot) {
        const before: WorkflowSnapshot | null =
          previous && !recreated && previous.inspected.ok ? (previous.inspected.snapshot ?? null) : null;
        bridge.observe(key, before, inspected.snapshot);
      }
    }
    broadcast(key, frame('workflow', entry.summary));
  };

  const informers: ResourceInformer<WorkflowExecution>[] = (
    options.namespaces && options.namespaces.length > 0 ? options.namespaces : [undefined]
  ).map((namespace) =>
    createInformer<WorkflowExecution>(kc, client, WORKFLOW_EXECUTIONS, {
      namespace,
      onChange,
      onError: (error, restartInMs) =>
        options.onError?.(
          `watching workflowexecutions${namespace ? ` in ${namespace}` : ''}: ${
            error instanceof Error ? error.message : String(error)
          } (retrying in ${restartInMs} ms)`,
        ),
    }),
  );

  let graphviz: Promise<Graphviz> | undefined;
  const svgCache = new Map<string, string>();
  async function diagramOf(entry: Entry): Promise<string | null> {
    if (!entry.inspected.ok) return null;
    const { summary } = entry;
    const cacheKey = `${summary.uid}|${summary.phase}|${summary.activeStates.join(',')}`;
    const cached = svgCache.get(cacheKey);
    if (cached !== undefined) return cached;
    graphviz ??= import('@hpcc-js/wasm-graphviz').then(({ Graphviz: G }) => G.load());
    const dot = toDot(entry.inspected.machine, {
      active: summary.activeStates,
      title: `${summary.key} (${summary.phase})`,
    });
    const svg = (await graphviz).dot(dot);
    if (svgCache.size > 500) svgCache.clear();
    svgCache.set(cacheKey, svg);
    return svg;
  }

  const summaries = () =>
    [...entries.values()].map((e) => e.summary).sort((a, b) => a.key.localeCompare(b.key));

  const send = (res: ServerResponse, status: number, type: string, body: string) => {
    res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
    res.end(body);
  };
  const json = (res: ServerResponse, status: number, body: unknown) => {
    send(res, status, 'application/json; charset=utf-8', `${JSON.stringify(body)}\n`);
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://inspector');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      json(res, 405, { error: 'read only' });
      return;
    }
    if (url.pathname === '/') {
      send(res, 200, 'text/html; charset=utf-8', page);
      return;
    }
    if (url.pathname === '/healthz') {
      json(res, 200, { synced: informers.every((i) => i.synced) });
      return;
    }
    if (url.pathname === '/api/workflows') {
      json(res, 200, summaries());
      return;
    }
    if (url.pathname === '/events') {
      openStream(req, res, url.searchParams.get('workflow'));
      return;
    }
    const match = /^\/api\/workflows\/([^/]+)\/([^/]+)(\/diagram\.svg)?$/.exec(url.pathname);
    if (match) {
      const key = keyOf(decodeURIComponent(match[1] ?? ''), decodeURIComponent(match[2] ?? ''));
      const entry = entries.get(key);
      if (!entry) {
        json(res, 404, { error: `no workflow ${key}` });
        return;
      }
      if (match[3]) {
        const svg = await diagramOf(entry);
        if (svg === null) json(res, 422, { error: entry.summary.problem });
        else send(res, 200, 'image/svg+xml; charset=utf-8', svg);
        return;
      }
      json(res, 200, {
        summary: entry.summary,
        snapshot: entry.inspected.ok ? (entry.wf.status?.statechart?.snapshot ?? null) : null,
        events: log.filter((l) => l.key === key).map((l) => l.event),
      });
      return;
    }
    json(res, 404, { error: 'not found' });
  }

  function openStream(req: IncomingMessage, res: ServerResponse, filter: string | null) {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.flushHeaders();
    const stream = { res, filter };
    write(res, 'retry: 1000\n\n');
    write(res, frame('reset', {}));
    write(res, frame('workflows', filter ? summaries().filter((s) => s.key === filter) : summaries()));
    for (const l of log) if (filter === null || l.key === filter) write(res, frame(null, l.event, l.seq));
    write(res, frame('replayed', {}));
    streams.add(stream);
    const keepalive = setInterval(() => {
      write(res, ': keepalive\n\n');
    }, KEEPALIVE_MS);
    req.on('close', () => {
      clearInterval(keepalive);
      streams.delete(stream);
    });
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) json(res, 500, { error: error instanceof Error ? error.message : String(error) });
      else res.end();
    });
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  await Promise.all(informers.map((i) => i.start()));
  const port = (server.address() as AddressInfo).port;
  const shownHost = host.includes(':') ? `[${host}]` : host;

  return {
    port,
    url: `http://${shownHost}:${port}/`,
    async stop() {
      for (const s of streams) s.res.end();
      streams.clear();
      await Promise.all(informers.map((i) => i.stop()));
      bridge.stop();
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
