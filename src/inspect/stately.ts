/**
 * Stately's own inspector, attached live: @statelyai/inspect's WebSocket relay
 * (`createInspectorServer` from `@statelyai/inspect/server`: a WebSocket server, and a page that
 * embeds https://stately.ai/inspect and hands it what the relay receives), fed by a
 * `createWebSocketInspector` client with the inspection events the inspector derives from each
 * workflow's persisted statechart. The relay keeps the last 200 events for a page that connects later.
 */
import { createWebSocketInspector, type StatelyInspectionEvent } from '@statelyai/inspect';
import { createInspectorServer } from '@statelyai/inspect/server';

export interface StatelyRelay {
  /** Open in a browser: Stately's inspector, attached to the relay. */
  url: string;
  /** Where @statelyai/inspect clients connect (`createWebSocketReceiver({ server })`). */
  websocketUrl: string;
  send(event: StatelyInspectionEvent): void;
  stop(): void;
}

export function startStatelyRelay(port: number): StatelyRelay {
  const server = createInspectorServer({ port, autoOpen: false });
  const websocketUrl = `ws://localhost:${port}`;
  const inspector = createWebSocketInspector({ url: websocketUrl });
  return {
    url: `http://localhost:${port}/`,
    websocketUrl,
    send(event) {
      inspector.adapter.send(event);
    },
    stop() {
      inspector.stop();
      server.stop();
    },
  };
}
