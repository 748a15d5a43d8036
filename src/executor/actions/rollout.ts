/**
 * Waiting for a Deployment's rollout to complete, judged as `kubectl rollout status` does
 * (k8s.io/kubectl/pkg/polymorphichelpers/rollout_status.go): the controller has observed the
 * generation written; no progress deadline exceeded; every replica updated; no old replica left; and
 * every updated replica available.
 */
import { DEPLOYMENTS, resourcePath } from '../../shell/kube/resources.ts';
import { ActionError, type ActionContext } from '../context.ts';
import { waitFor } from './wait.ts';

export interface DeploymentStatus {
  observedGeneration?: number;
  replicas?: number;
  updatedReplicas?: number;
  availableReplicas?: number;
  conditions?: { type: string; status: string; reason?: string; message?: string }[];
}

export interface Deployment {
  metadata: { name: string; uid?: string; generation?: number; annotations?: Record<string, string> };
  spec?: { replicas?: number; template?: PodTemplate };
  status?: DeploymentStatus;
}

export interface PodTemplate {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: { containers?: { name: string; image?: string }[] };
}

export const REVISION = 'deployment.kubernetes.io/revision';

export type RolloutState = { done: true } | { done: false; waiting: string };

/** kubectl's verdict on a Deployment written at `generation`; throws when the rollout failed. */
export function rolloutState(deployment: Deployment, generation: number): RolloutState {
  const status = deployment.status ?? {};
  if ((status.observedGeneration ?? 0) < generation)
    return { done: false, waiting: 'the deployment controller has not observed the change yet' };
  const progressing = status.conditions?.find((c) => c.type === 'Progressing');
  if (progressing?.reason === 'ProgressDeadlineExceeded')
    throw new ActionError(
      `deployment ${deployment.metadata.name} exceeded its progress deadline: ${progressing.message ?? ''}`,
    );
  const wanted = deployment.spec?.replicas ?? 1;
  const updated = status.updatedReplicas ?? 0;
  if (updated < wanted) return { done: false, waiting: `${updated} of ${wanted} new replicas updated` };
  const total = status.replicas ?? 0;
  if (total > updated) return { done: false, waiting: `${total - updated} old replicas pending termination` };
  const available = status.availableReplicas ?? 0;
  if (available < updated)
    return { done: false, waiting: `${available} of ${updated} updated replicas available` };
  return { done: true };
}

/** Waits (unless this is a dry run) until the rollout of the change written at `generation` completes. */
export async function waitForRollout(
  ctx: ActionContext,
  namespace: string,
  name: string,
  generation: number,
): Promise<void> {
  if (ctx.dryRun) return;
  await waitFor(ctx, `the rollout of deployment ${namespace}/${name}`, async () => {
    const deployment = await ctx.request<Deployment>(resourcePath(DEPLOYMENTS, namespace, name));
    const state = rolloutState(deployment, generation);
    return state.done ? { done: true, value: undefined } : state;
  });
}
