/**
 * The inspector's HTTP routes (read only):
 *
 *   /                                          the page (inline CSS and JS: works offline)
 *   /healthz                                   JSON: whether the watches have synced
 *   /api/workflows                             JSON: every workflow, summarised
 *   /api/workflows/<ns>/<name>                 JSON: one workflow's summary, snapshot and events
 *   /api/workflows/<ns>/<name>/diagram.svg     its statechart, active states highlighted
 *   /api/workflows/<ns>/<name>/timeline        JSON: its run as a timeline (src/core/timeline.ts)
 *   /events[?workflow=<ns>/<name>]             Server-Sent Events: the inspection protocol
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { KubernetesExecution } from '../api/generated/types.ts';
import type { DiagramRenderer } from './diagrams.ts';
import { timelineOfWorkflow } from './timeline.ts';
import type { EventStreams } from './event-stream.ts';
import type { WorkflowStore } from './store.ts';
import { keyOf } from './summary.ts';

export interface RouteContext {
  page: string;
  store: WorkflowStore;
  streams: EventStreams;
  diagrams: DiagramRenderer;
  /** The workflow's children, for its timeline. */
  children(key: string): KubernetesExecution[];
  synced(): boolean;
}

const send = (res: ServerResponse, status: number, type: string, body: string) => {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
};
const json = (res: ServerResponse, status: number, body: unknown) => {
  send(res, status, 'application/json; charset=utf-8', `${JSON.stringify(body)}\n`);
};

export function routes(context: RouteContext): (req: IncomingMessage, res: ServerResponse) => void {
  const { page, store, streams, diagrams } = context;

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
      json(res, 200, { synced: context.synced() });
      return;
    }
    if (url.pathname === '/api/workflows') {
      json(res, 200, store.summaries());
      return;
    }
    if (url.pathname === '/events') {
      streams.open(req, res, url.searchParams.get('workflow'));
      return;
    }
    const match = /^\/api\/workflows\/([^/]+)\/([^/]+)(\/diagram\.svg|\/timeline)?$/.exec(url.pathname);
    if (match) {
      const key = keyOf(decodeURIComponent(match[1] ?? ''), decodeURIComponent(match[2] ?? ''));
      const entry = store.get(key);
      if (!entry) {
        json(res, 404, { error: `no workflow ${key}` });
        return;
      }
      if (match[3] === '/timeline') {
        const built = timelineOfWorkflow(entry.wf, context.children(key), Date.now());
        if (built.ok) json(res, 200, built.timeline);
        else json(res, 422, { error: built.problem });
        return;
      }
      if (match[3]) {
        const svg = await diagrams.svgOf(entry);
        if (svg === null) json(res, 422, { error: entry.summary.problem });
        else send(res, 200, 'image/svg+xml; charset=utf-8', svg);
        return;
      }
      json(res, 200, {
        summary: entry.summary,
        // As restored (step runs as objects, every region), not the compact form the status stores.
        snapshot:
          entry.inspected.ok && entry.inspected.snapshot
            ? {
                status: entry.inspected.snapshot.status,
                value: entry.inspected.snapshot.value,
                context: entry.inspected.snapshot.context,
              }
            : null,
        events: store.events(key).map((l) => l.event),
      });
      return;
    }
    json(res, 404, { error: 'not found' });
  }

  return (req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) json(res, 500, { error: error instanceof Error ? error.message : String(error) });
      else res.end();
    });
  };
}
