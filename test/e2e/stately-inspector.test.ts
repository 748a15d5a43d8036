// Stately's own inspector attaches to a live workflow: the inspector serves @statelyai/inspect's
// WebSocket protocol (its relay, createInspectorServer), and @statelyai/inspect's own client
// (createWebSocketReceiver) receives the workflow's actor, its transitions and its snapshots as
// the operator runs it, and the relay's page embeds Stately's inspector.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { createWebSocketReceiver, type StatelyInspectionEvent } from '@statelyai/inspect';
import { startInspector, type RunningInspector } from '../../src/inspect/server.ts';
import { Cleanup } from '../../src/shell/cleanup.ts';
import { freePorts } from '../../tooling/controlplane/ports.ts';
import { customStep, specWith } from '../fixtures/specs.ts';
import { startHarness, type Harness } from '../integration/support/harness.ts';

jest.setTimeout(180_000);

const cleanup = new Cleanup();
let h: Harness;
let inspector: RunningInspector;
let statelyPort: number;

beforeAll(async () => {
  h = cleanup.track('the harness', await startHarness(), (harness) => harness.stop());
  [statelyPort] = (await freePorts(1)) as [number];
  inspector = cleanup.track(
    'the inspector',
    await startInspector({
      kubeconfig: h.kc,
      client: h.client,
      namespaces: [h.namespace],
      port: 0,
      statelyPort,
    }),
    (i) => i.stop(),
  );
});

afterAll(() => cleanup.run());

describe('Stately’s inspector, attached over @statelyai/inspect’s WebSocket protocol', () => {
  it('receives a workflow’s actor, transitions and snapshots live, through @statelyai/inspect’s own client', async () => {
    const received: StatelyInspectionEvent[] = [];
    const sessionId = `${h.namespace}/over-websocket`;
    const done = new Promise<void>((resolve) => {
      const receiver = createWebSocketReceiver({ server: `ws://localhost:${statelyPort}` });
      const subscription = receiver.subscribe((event) => {
        received.push(event);
        const snapshot = event.type === '@xstate.snapshot' ? (event.snapshot as { value?: unknown }) : null;
        if (event.sessionId === sessionId && snapshot?.value === 'completed') {
          subscription.unsubscribe();
          resolve();
        }
      });
    });
    await h.workflows.apply('over-websocket', specWith([customStep(1), customStep(2)]));
    await done;
    const own = received.filter((e) => e.sessionId === sessionId);
    expect(own[0]?.type).toBe('@xstate.actor');
    const actor = own[0] as Extract<StatelyInspectionEvent, { type: '@xstate.actor' }>;
    expect(JSON.parse(actor.definition ?? '{}')).toMatchObject({ id: 'workflow' });
    const transitions = own.flatMap((e) => (e.type === '@xstate.event' ? [e.event.type] : []));
    expect(transitions).toContain('workflow.phase');
    expect(transitions.filter((t) => t === 'workflow.step.succeeded')).toHaveLength(2);

    // The relay's page embeds Stately's inspector and connects to the relay.
    expect(inspector.statelyUrl).toBe(`http://localhost:${statelyPort}/`);
    const page = await (await fetch(inspector.statelyUrl ?? '')).text();
    expect(page).toContain('https://stately.ai/inspect');
    expect(page).toContain(`ws://localhost:${statelyPort}`);
  });
});
