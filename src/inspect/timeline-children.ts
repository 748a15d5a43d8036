/** KubernetesExecution children as the timeline reads them (times parsed to epoch ms). */
import type { KubernetesExecution } from '../api/generated/types.ts';
import { STARTED_AT_ANNOTATION, type TimelineChild } from '../core/timeline.ts';

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
