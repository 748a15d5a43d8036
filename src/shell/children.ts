/**
 * KubernetesExecution children: the object the executor receives for one step attempt, dry-run step
 * or rollback step, built from the committed snapshot's desired child and the workflow's spec.
 */
import type { KubernetesExecution, WorkflowExecution } from '../api/generated/types.ts';
import { inferredRollback } from '../api/inferred-rollback.ts';
import type { ExecutionPlan } from '../../machines/plan.ts';
import { formatDuration } from '../core/duration.ts';
import type { DesiredChild } from '../core/effects.ts';
import { isoOf } from '../core/time.ts';
import { STARTED_AT_ANNOTATION } from '../core/timeline.ts';
import { traceparentOf } from '../core/trace-spans.ts';

/** The W3C trace context of the child's attempt span, when traces are exported. */
export const TRACEPARENT_ANNOTATION = 'workflowexecution.kubernaut.io/traceparent';
import { KUBERNETES_EXECUTIONS, WORKFLOW_EXECUTIONS, apiVersionOf } from './kube/resources.ts';
import { compiledSpecOf } from '../api/resolved-spec.ts';

export const LABELS = {
  workflowUid: 'workflowexecution.kubernaut.io/workflow-uid',
  workflow: 'workflowexecution.kubernaut.io/workflow',
  kind: 'workflowexecution.kubernaut.io/kind',
  step: 'workflowexecution.kubernaut.io/step',
  attempt: 'workflowexecution.kubernaut.io/attempt',
} as const;

/** Label values are at most 63 characters; longer workflow names are found by uid instead. */
const labelValue = (value: string): string =>
  value.length <= 63 ? value : value.slice(0, 63).replace(/[-_.]+$/, '');

export function childManifest(
  workflow: WorkflowExecution,
  plan: ExecutionPlan,
  child: DesiredChild,
  options: { traced?: boolean } = {},
): KubernetesExecution {
  const namespace = workflow.metadata.namespace ?? 'default';
  const uid = workflow.metadata.uid ?? '';
  const step = compiledSpecOf(workflow).workflowDefinition.steps.find(
    (s) => s.stepNumber === child.stepNumber,
  );
  if (!step)
    throw new Error(
      `step ${child.stepNumber} is not in workflow ${namespace}/${workflow.metadata.name ?? ''}`,
    );
  // A rollback is the step's own rollbackSpec or, without one, its action's inverse.
  const rollback =
    child.kind === 'rollback' ? (step.rollbackSpec ?? inferredRollback(step) ?? undefined) : undefined;
  if (child.kind === 'rollback' && !rollback)
    throw new Error(`step ${child.stepNumber} has no rollbackSpec and its action has no inverse`);
  const annotations: Record<string, string> = {
    ...(child.startedAt === undefined ? {} : { [STARTED_AT_ANNOTATION]: isoOf(child.startedAt) }),
    ...(options.traced && uid
      ? { [TRACEPARENT_ANNOTATION]: traceparentOf(uid, child.kind, child.stepNumber, child.attempt) }
      : {}),
  };
  return {
    apiVersion: 'kubernetesexecution.kubernaut.io/v1',
    kind: 'KubernetesExecution',
    metadata: {
      name: child.name,
      namespace,
      labels: {
        [LABELS.workflowUid]: uid,
        [LABELS.workflow]: labelValue(workflow.metadata.name ?? ''),
        [LABELS.kind]: child.kind,
        [LABELS.step]: String(child.stepNumber),
        [LABELS.attempt]: String(child.attempt),
      },
      ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
      ownerReferences: [
        {
          apiVersion: apiVersionOf(WORKFLOW_EXECUTIONS),
          kind: WORKFLOW_EXECUTIONS.kind,
          name: workflow.metadata.name ?? '',
          uid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: {
      workflowExecutionRef: { name: workflow.metadata.name ?? '', namespace, uid },
      kind: child.kind,
      stepNumber: child.stepNumber,
      stepName: step.name,
      attempt: child.attempt,
      ...(rollback
        ? { action: rollback.action, rollbackParameters: rollback.parameters }
        : {
            action: step.action,
            parameters: step.parameters,
            ...(step.rollbackSpec ? { rollbackSpec: step.rollbackSpec } : {}),
          }),
      ...(step.targetCluster ? { targetCluster: step.targetCluster } : {}),
      timeout: formatDuration(child.timeoutMs),
      ...(plan.safetyChecks.length > 0 ? { safetyChecks: plan.safetyChecks } : {}),
    },
  };
}

export const childApiVersion = apiVersionOf(KUBERNETES_EXECUTIONS);
