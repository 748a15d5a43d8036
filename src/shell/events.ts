/**
 * Kubernetes Events (events.k8s.io/v1), aggregated as client-go's broadcaster does: the same
 * (object, type, reason, note) within six minutes updates one Event's series count instead of
 * writing another. Best effort: a failure to record is logged, never fatal.
 */
import { hostname } from 'node:os';
import { BoundedMap } from './bounded-map.ts';
import type { WorkflowExecution } from '../api/generated/types.ts';
import type { KubeClient } from './kube/client.ts';
import { WORKFLOW_EXECUTIONS, apiVersionOf } from './kube/resources.ts';

export const REPORTING_CONTROLLER = 'workflowexecution.kubernaut.io/operator';
const SERIES_WINDOW_MS = 6 * 60_000;
const CACHE_LIMIT = 4096;

export interface EventTarget {
  apiVersion: string;
  kind: string;
  name: string;
  namespace: string;
  uid: string;
}

export interface RecordedEvent {
  type: 'Normal' | 'Warning';
  /** CamelCase, e.g. `PhaseChanged`, `StepSucceeded`. */
  reason: string;
  note: string;
  action: string;
}

interface SeriesEntry {
  name: string;
  count: number;
  firstAt: number;
}

/** MicroTime: RFC 3339 with microseconds, as the Event API requires for eventTime. */
const microTime = (ms: number): string => new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

export class EventRecorder {
  private readonly series = new BoundedMap<string, SeriesEntry>(CACHE_LIMIT);
  private readonly client: KubeClient;
  private readonly instance: string;
  private readonly onError: (error: unknown) => void;
  private sequence = 0;

  constructor(client: KubeClient, onError: (error: unknown) => void, instance = hostname()) {
    this.client = client;
    this.onError = onError;
    this.instance = instance.slice(0, 128);
  }

  async record(target: EventTarget, event: RecordedEvent, now = Date.now()): Promise<void> {
    const key = `${target.uid}\0${event.type}\0${event.reason}\0${event.note}`;
    const existing = this.series.get(key);
    const base = `/apis/events.k8s.io/v1/namespaces/${encodeURIComponent(target.namespace)}/events`;
    try {
      if (existing && now - existing.firstAt < SERIES_WINDOW_MS) {
        existing.count++;
        await this.client.request(`${base}/${existing.name}`, {
          method: 'PATCH',
          patchType: 'merge',
          body: { series: { count: existing.count, lastObservedTime: microTime(now) } },
        });
        return;
      }
      const name = `${target.name.slice(0, 200)}.${now.toString(16)}${(this.sequence++ % 4096).toString(16)}`;
      await this.client.request(base, {
        body: {
          apiVersion: 'events.k8s.io/v1',
          kind: 'Event',
          metadata: { name, namespace: target.namespace },
          eventTime: microTime(now),
          reportingController: REPORTING_CONTROLLER,
          reportingInstance: this.instance,
          action: event.action,
          reason: event.reason,
          note: event.note.slice(0, 1024),
          type: event.type,
          regarding: target,
        },
      });
      this.series.set(key, { name, count: 1, firstAt: now });
    } catch (error) {
      this.onError(error);
    }
  }
}
/** A workflow as the object its Events are about. */
export function eventTargetOf(workflow: WorkflowExecution): EventTarget {
  return {
    apiVersion: apiVersionOf(WORKFLOW_EXECUTIONS),
    kind: WORKFLOW_EXECUTIONS.kind,
    name: workflow.metadata.name ?? '',
    namespace: workflow.metadata.namespace ?? '',
    uid: workflow.metadata.uid ?? '',
  };
}
