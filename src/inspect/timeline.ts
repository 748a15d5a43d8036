/**
 * A WorkflowExecution's timeline from the resource and its KubernetesExecution children, for the
 * inspector and `wfx describe --timeline`: the children's times parsed, the statechart read back,
 * the pure core's timeline built.
 */
import type { KubernetesExecution, WorkflowExecution } from '../api/generated/types.ts';
import { buildTimeline, STARTED_AT_ANNOTATION, type Timeline, type TimelineChild } from '../core/timeline.ts';
import { LABELS } from '../shell/children.ts';
import type { KubeClient } from '../shell/kube/client.ts';
import { KUBERNETES_EXECUTIONS, resourcePath } from '../shell/kube/resources.ts';
import { inspectWorkflow } from './read-statechart.ts';

const msOf = (text: string | undefined): number | null => {
  const ms = Date.parse(text ?? '');
  return Number.isFinite(ms) ? ms : null;
};

export function timelineChildOf(child: KubernetesExecution): TimelineChild {
  const status = child.status ?? {};
  return {
    name: child.metadata.name ?? '',
    kind: child.spec.kind,
    stepNumber: child.spec.stepNumber,
    attempt: child.spec.attempt,
    createdAt: msOf(child.metadata.creationTimestamp),
    startedAt: msOf(child.metadata.annotations?.[STARTED_AT_ANNOTATION]),
    pickedUpAt: msOf(status.startTime),
    completedAt: msOf(status.completionTime),
    phase: status.phase ?? null,
    message: status.message ?? null,
    result: status.executionResult ?? null,
  };
}

/** The workflow's children, found by its uid (names may be shortened, labels too). */
export async function listChildren(
  client: KubeClient,
  wf: WorkflowExecution,
): Promise<KubernetesExecution[]> {
  const uid = wf.metadata.uid;
  if (!uid) return [];
  const list = await client.request<{ items: KubernetesExecution[] }>(
    resourcePath(KUBERNETES_EXECUTIONS, wf.metadata.namespace),
    { query: { labelSelector: `${LABELS.workflowUid}=${uid}` } },
  );
  return list.items;
}

export type WorkflowTimeline = { ok: true; timeline: Timeline } | { ok: false; problem: string };

/** The timeline of a workflow as its status and children record it; `now` extends what goes on. */
export function timelineOfWorkflow(
  wf: WorkflowExecution,
  children: readonly KubernetesExecution[],
  now: number,
): WorkflowTimeline {
  const inspected = inspectWorkflow(wf);
  if (!inspected.ok) return { ok: false, problem: inspected.problem };
  if (!inspected.snapshot) return { ok: false, problem: 'waiting for the operator to pick it up' };
  const uid = wf.metadata.uid;
  const own = children.filter((c) => uid === undefined || c.metadata.labels?.[LABELS.workflowUid] === uid);
  return {
    ok: true,
    timeline: buildTimeline(inspected.snapshot, inspected.plan, own.map(timelineChildOf), {
      workflowName: wf.metadata.name ?? '',
      now,
    }),
  };
}
