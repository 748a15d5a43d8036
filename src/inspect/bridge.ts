/**
 * The inspection bridge: turns changes of a workflow's persisted statechart into events of the
 * standard XState inspection protocol (@statelyai/inspect's `StatelyInspectionEvent`), so that any
 * tool that reads that protocol can follow a workflow the operator runs.
 *
 * A workflow is an actor whose session id is `<namespace>/<name>`. When it is first seen it is
 * registered (`@xstate.actor`, with its machine definition). Each new persisted snapshot then gives
 * one `@xstate.event` per transition the operator committed since the last one (derived by
 * `transitions(before, after)`: the events the machine received are not persisted, what they did
 * is), followed by one `@xstate.snapshot` with the snapshot's status, value and context.
 *
 * The events are produced by @statelyai/inspect's own `createInspector`, with an adapter that
 * hands them to a sink (the inspector's SSE stream, a test, a file).
 */
import { createInspector, type StatelyInspectionEvent } from '@statelyai/inspect';
import type { AnyEventObject } from 'xstate';
import type { WorkflowMachine, WorkflowSnapshot } from '../../machines/workflow.ts';
import { transitions, type Transition } from '../core/transitions.ts';

export type { StatelyInspectionEvent };

/** The event a committed transition is reported as. */
export type TransitionEvent =
  | { type: 'workflow.phase'; from: string | null; to: string; at: number }
  | { type: `workflow.step.${string}`; step: number; attempt: number; outcome: string; at: number }
  | { type: 'workflow.retry.accepted' | 'workflow.retry.refused'; segment: number; at: number }
  | { type: 'workflow.blocked'; reason: string; at: number }
  | {
      type: `workflow.stop.${string}`;
      step: number;
      attempt: number;
      reason: string;
      at: number;
    };

export function transitionEvent(t: Transition): TransitionEvent {
  switch (t.kind) {
    case 'phase':
      return { type: 'workflow.phase', from: t.from, to: t.to, at: t.at };
    case 'retry':
      return {
        type: t.accepted ? 'workflow.retry.accepted' : 'workflow.retry.refused',
        segment: t.segment,
        at: t.at,
      };
    case 'blocked':
      return { type: 'workflow.blocked', reason: t.block.reason, at: t.at };
    case 'stop':
      return {
        type: `workflow.stop.${t.ended ?? 'requested'}`,
        step: t.step,
        attempt: t.attempt,
        reason: t.reason,
        at: t.at,
      };
    case 'step':
      return {
        type: `workflow.step.${t.outcome}`,
        step: t.step,
        attempt: t.attempt,
        outcome: t.outcome,
        at: t.at,
      };
  }
}

export interface InspectionBridge {
  /** Registers a workflow actor (`@xstate.actor`), with its machine's definition. */
  register(sessionId: string, machine: WorkflowMachine, snapshot: WorkflowSnapshot | undefined): void;
  /**
   * Reports a new persisted snapshot: one `@xstate.event` per transition since `before` (null: since
   * the start, which replays the history the snapshot records), then the `@xstate.snapshot`.
   * Returns the transition events, in order.
   */
  observe(sessionId: string, before: WorkflowSnapshot | null, after: WorkflowSnapshot): TransitionEvent[];
  stop(): void;
}

export function createInspectionBridge(sink: (event: StatelyInspectionEvent) => void): InspectionBridge {
  const inspector = createInspector({ send: sink }, { autoStart: true });
  return {
    register(sessionId, machine, snapshot) {
      // createInspector reads the definition from the actor's logic; a workflow has no live actor
      // (the operator only transitions snapshots), so this stands in for one.
      const actorRef = {
        sessionId,
        id: sessionId,
        logic: machine,
        send: () => undefined,
        getSnapshot: () => snapshot,
      };
      inspector.actor(
        actorRef,
        snapshot
          ? { status: snapshot.status, value: snapshot.value, context: snapshot.context }
          : { status: 'active' },
      );
    },
    observe(sessionId, before, after) {
      const events = transitions(before, after).map(transitionEvent);
      for (const event of events) inspector.event(sessionId, event);
      const last: AnyEventObject = events[events.length - 1] ?? { type: 'workflow.observed' };
      inspector.snapshot(
        sessionId,
        { status: after.status, value: after.value, context: after.context },
        { event: last },
      );
      return events;
    },
    stop() {
      inspector.stop();
    },
  };
}
