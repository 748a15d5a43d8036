/** A workflow as the inspector lists it: phase, readiness, progress, steps, what it waits for. */
import type { WorkflowExecution } from '../api/generated/types.ts';
import { activeStateIds } from '../core/diagram.ts';
import { waitingFor } from '../core/transitions.ts';
import { MACHINE_ID } from '../../machines/workflow.ts';
import type { Inspected } from './read-statechart.ts';
import { definitionOf, workflowLabel } from '../api/resolved-spec.ts';

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

export const keyOf = (namespace: string, name: string): string => `${namespace}/${name}`;

export function summarize(wf: WorkflowExecution, inspected: Inspected): WorkflowSummary {
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
    workflow: workflowLabel(wf),
    createdAt: wf.metadata.creationTimestamp ?? null,
    phase: s.phase ?? 'pending',
    ready: ready ? { status: ready.status, reason: ready.reason, message: ready.message } : null,
    progress: { done: s.currentStep ?? 0, total: s.totalSteps ?? definitionOf(wf)?.steps.length ?? 0 },
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
