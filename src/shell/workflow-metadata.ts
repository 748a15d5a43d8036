/**
 * The operator's marks in a workflow's metadata: its finalizer (so a deletion waits for the last audit
 * row and the release of its target locks) and, on a workflow not started yet, the AlertRemediation
 * it names as owner. Written as merge patches with the copy's resourceVersion as a precondition.
 */
import type { ObjectMeta, WorkflowExecution } from '../api/generated/types.ts';
import { ApiError, type KubeClient } from './kube/client.ts';
import { ALERT_REMEDIATIONS, WORKFLOW_EXECUTIONS, apiVersionOf, resourcePath } from './kube/resources.ts';
import type { Logger } from './logger.ts';
import type { OperatorMetrics } from './metrics.ts';
import { keyOf, type OwnWrites } from './own-writes.ts';

export const FINALIZER = 'workflowexecution.kubernaut.io/workflowexecution-cleanup';

type OwnerReference = NonNullable<ObjectMeta['ownerReferences']>[number];

export class WorkflowMetadata {
  private readonly client: KubeClient;
  private readonly own: OwnWrites;
  private readonly metrics: OperatorMetrics | undefined;

  constructor(client: KubeClient, own: OwnWrites, metrics: OperatorMetrics | undefined) {
    this.client = client;
    this.own = own;
    this.metrics = metrics;
  }

  /** The finalizer and the AlertRemediation owner: one patch for both, and none once they are there. */
  async prepare(workflow: WorkflowExecution, log: Logger): Promise<WorkflowExecution> {
    const meta = workflow.metadata;
    const patch: { finalizers?: string[]; ownerReferences?: OwnerReference[] } = {};
    if (!meta.finalizers?.includes(FINALIZER)) patch.finalizers = [...(meta.finalizers ?? []), FINALIZER];
    const owners = workflow.status?.statechart ? undefined : await this.withAlertRemediationOwner(workflow);
    if (owners) patch.ownerReferences = owners;
    if (!patch.finalizers && !patch.ownerReferences) return workflow;
    const prepared = await this.patch(workflow, patch);
    if (patch.finalizers) this.metrics?.createdTotal.inc({ namespace: meta.namespace ?? '' });
    if (patch.ownerReferences)
      log.info('owned by AlertRemediation', { alertRemediation: workflow.spec.alertRemediationRef?.name });
    return prepared;
  }

  /** Whether the workflow still waits for this operator before it can be deleted. */
  static holds(workflow: WorkflowExecution): boolean {
    return workflow.metadata.finalizers?.includes(FINALIZER) ?? false;
  }

  /** Lets the deletion proceed. */
  async release(workflow: WorkflowExecution): Promise<void> {
    const finalizers = workflow.metadata.finalizers ?? [];
    await this.patch(workflow, { finalizers: finalizers.filter((f) => f !== FINALIZER) });
  }

  private async patch(
    workflow: WorkflowExecution,
    metadata: Record<string, unknown>,
  ): Promise<WorkflowExecution> {
    const namespace = workflow.metadata.namespace ?? '';
    const name = workflow.metadata.name ?? '';
    // resourceVersion in a merge patch is a precondition: a stale copy gets 409, not a lost update.
    const patched = await this.client.request<WorkflowExecution>(
      resourcePath(WORKFLOW_EXECUTIONS, namespace, name),
      {
        method: 'PATCH',
        patchType: 'merge',
        body: { metadata: { ...metadata, resourceVersion: workflow.metadata.resourceVersion } },
      },
    );
    this.own.wroteWorkflow(keyOf(namespace, name), patched.metadata.resourceVersion);
    return patched;
  }

  /** The owners with the AlertRemediation the spec names added, or undefined if nothing changes. */
  private async withAlertRemediationOwner(
    workflow: WorkflowExecution,
  ): Promise<OwnerReference[] | undefined> {
    const ref = workflow.spec.alertRemediationRef;
    if (!ref?.name) return undefined;
    const namespace = ref.namespace ?? workflow.metadata.namespace ?? '';
    if (namespace !== workflow.metadata.namespace) return undefined; // owners must share the namespace
    try {
      const owner = await this.client.request<{ metadata: { uid: string; name: string } }>(
        resourcePath(ALERT_REMEDIATIONS, namespace, ref.name),
      );
      const owners = workflow.metadata.ownerReferences ?? [];
      if (owners.some((o) => o.uid === owner.metadata.uid)) return undefined;
      return [
        ...owners,
        {
          apiVersion: apiVersionOf(ALERT_REMEDIATIONS),
          kind: ALERT_REMEDIATIONS.kind,
          name: owner.metadata.name,
          uid: owner.metadata.uid,
        },
      ];
    } catch (error) {
      // No such AlertRemediation (or its CRD is not installed): nothing to own us.
      if (!(error instanceof ApiError && (error.status === 404 || error.status === 403))) throw error;
      return undefined;
    }
  }
}
