/**
 * A template run's reference resolved, once (src/core/templates.ts decides): before the run's first
 * status write the template is read, and the resolved definition joins the status that write
 * carries with the first snapshot. From then on the run reads its own copy, never the template.
 */
import type { WorkflowExecution, WorkflowTemplate } from '../api/generated/types.ts';
import type { SpecIssue } from '../api/issues.ts';
import { resolveTemplate } from '../core/templates.ts';
import { isNotFound, type KubeClient } from './kube/client.ts';
import { WORKFLOW_TEMPLATES, resourcePath } from './kube/resources.ts';
import type { OperatorMetrics } from './metrics.ts';

export type TemplateResolution =
  /** Ready to load: inline, resolved before, or resolved now (in its status, not yet written). */
  | { kind: 'ready'; workflow: WorkflowExecution }
  /** Refused now: an InvalidSpec with these issues. */
  | { kind: 'refused'; issues: SpecIssue[] }
  /** Refused before: left as it is. */
  | { kind: 'settled' };

export async function resolveTemplateOnce(
  client: KubeClient,
  workflow: WorkflowExecution,
  metrics: OperatorMetrics | undefined,
): Promise<TemplateResolution> {
  const ref = workflow.spec.workflowTemplateRef;
  const status = workflow.status;
  if (!ref || status?.resolvedTemplate || status?.statechart) return { kind: 'ready', workflow };
  if (status?.phase === 'failed') return { kind: 'settled' };
  const template = await readTemplate(client, workflow.metadata.namespace ?? '', ref.name);
  const resolution = resolveTemplate(workflow.spec, template);
  metrics?.templateResolutionsTotal.inc({ result: resolution.ok ? 'resolved' : 'refused' });
  if (!resolution.ok) return { kind: 'refused', issues: resolution.issues };
  return {
    kind: 'ready',
    workflow: { ...workflow, status: { ...status, resolvedTemplate: resolution.resolved } },
  };
}

async function readTemplate(
  client: KubeClient,
  namespace: string,
  name: string,
): Promise<WorkflowTemplate | undefined> {
  try {
    return await client.request<WorkflowTemplate>(resourcePath(WORKFLOW_TEMPLATES, namespace, name));
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}
