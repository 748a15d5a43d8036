/**
 * The inspector's Server-Sent Events. Unnamed (`message`) events are @statelyai/inspect
 * `StatelyInspectionEvent`s (`@xstate.actor`, `@xstate.event`, `@xstate.snapshot`), so any consumer
 * of that protocol can read them. Named events carry what the protocol has no place for: `reset` (a
 * fresh replay follows), `workflows` (all summaries), `replayed` (the past events have been sent;
 * what follows is live), `workflow` (one summary changed), `deleted`, `timeline` (a workflow's children
 * changed: its timeline, at /api/workflows/<ns>/<name>/timeline, is worth reading again).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { StoreChange, WorkflowStore } from './store.ts';

const KEEPALIVE_MS = 15_000;

const frame = (name: string | null, data: unknown, id?: number): string =>
  `${name ? `event: ${name}\n` : ''}${id === undefined ? '' : `id: ${id}\n`}data: ${JSON.stringify(data)}\n\n`;

const write = (res: ServerResponse, text: string) => {
  if (!res.writableEnded) res.write(text);
};

export class EventStreams {
  private readonly streams = new Set<{ res: ServerResponse; filter: string | null }>();
  private readonly store: WorkflowStore;

  constructor(store: WorkflowStore) {
    this.store = store;
  }

  /** Streams to `res`: the replay of what is known (only `filter`'s workflow with one), then live. */
  open(req: IncomingMessage, res: ServerResponse, filter: string | null): void {
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
    write(res, frame('workflows', this.store.summaries(filter)));
    for (const l of this.store.events(filter)) write(res, frame(null, l.event, l.seq));
    write(res, frame('replayed', {}));
    this.streams.add(stream);
    const keepalive = setInterval(() => {
      write(res, ': keepalive\n\n');
    }, KEEPALIVE_MS);
    req.on('close', () => {
      clearInterval(keepalive);
      this.streams.delete(stream);
    });
  }

  /** Sends a change of the store to the streams that follow its workflow. */
  publish(change: StoreChange): void {
    const [key, text] =
      change.kind === 'event'
        ? [change.logged.key, frame(null, change.logged.event, change.logged.seq)]
        : change.kind === 'workflow'
          ? [change.summary.key, frame('workflow', change.summary)]
          : change.kind === 'timeline'
            ? [change.key, frame('timeline', { key: change.key })]
            : [change.key, frame('deleted', { key: change.key })];
    for (const s of this.streams) if (s.filter === null || s.filter === key) write(s.res, text);
  }

  closeAll(): void {
    for (const s of this.streams) s.res.end();
    this.streams.clear();
  }
}
