/** Pod actions: restart-pod (delete the pods a name or selector picks; their owner replaces them) and delete-pod. */
import { parseDuration } from '../../core/duration.ts';
import { isNotFound } from '../../shell/kube/client.ts';
import { PODS, resourcePath } from '../../shell/kube/resources.ts';
import { ActionError, required, type ActionContext, type ActionOutcome } from '../context.ts';

export interface PodRef {
  metadata: {
    name: string;
    namespace?: string;
    deletionTimestamp?: string;
    ownerReferences?: { kind: string }[];
  };
}

export function graceSeconds(gracePeriod: string | undefined): number | undefined {
  if (gracePeriod === undefined) return undefined;
  const ms = parseDuration(gracePeriod);
  if (ms === undefined) throw new ActionError(`gracePeriod ${JSON.stringify(gracePeriod)} is not a duration`);
  return Math.round(ms / 1000);
}

/** Deletes the pods; a pod already gone counts as deleted. Returns the names deleted. */
export async function deletePods(
  ctx: ActionContext,
  namespace: string,
  names: readonly string[],
  gracePeriod: string | undefined,
): Promise<string[]> {
  const seconds = graceSeconds(gracePeriod);
  const deleted: string[] = [];
  for (const name of names) {
    try {
      await ctx.request(resourcePath(PODS, namespace, name), {
        method: 'DELETE',
        query: seconds === undefined ? {} : { gracePeriodSeconds: seconds },
      });
      deleted.push(name);
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }
  return deleted;
}

const PAST = { restart: 'restarted', delete: 'deleted' } as const;

function outcome(
  ctx: ActionContext,
  namespace: string,
  pods: string[],
  verb: 'restart' | 'delete',
): ActionOutcome {
  return {
    message: `${ctx.dryRun ? `would ${verb}` : PAST[verb]} ${pods.length} pod(s) in ${namespace}: ${pods.join(', ')}`,
    result: {
      success: true,
      restartResult: { podsRestarted: pods.length, restartedPods: pods.slice(0, 50), namespace },
      resourcesAffected: pods
        .slice(0, 50)
        .map((name) => ({ resourceType: 'Pod', name, namespace, changeType: 'restarted' })),
    },
  };
}

export async function restartPod(ctx: ActionContext): Promise<ActionOutcome> {
  const p = required(ctx.child.spec.parameters?.restartPod, 'restartPod');
  let names: string[];
  if (p.podName) names = [p.podName];
  else {
    const list = await ctx.request<{ items: PodRef[] }>(resourcePath(PODS, p.namespace), {
      query: { labelSelector: p.selector },
    });
    names = list.items.filter((pod) => !pod.metadata.deletionTimestamp).map((pod) => pod.metadata.name);
  }
  if (names.length === 0)
    throw new ActionError(`no pod in ${p.namespace} matches ${p.selector ?? 'the step'}`);
  return outcome(ctx, p.namespace, await deletePods(ctx, p.namespace, names, p.gracePeriod), 'restart');
}

export async function deletePod(ctx: ActionContext): Promise<ActionOutcome> {
  const p = required(ctx.child.spec.parameters?.deletePod, 'deletePod');
  const deleted = await deletePods(ctx, p.namespace, [p.podName], p.gracePeriod);
  if (deleted.length === 0) throw new ActionError(`pod ${p.namespace}/${p.podName} does not exist`);
  return outcome(ctx, p.namespace, deleted, 'delete');
}
