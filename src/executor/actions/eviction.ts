/**
 * Evicting pods through the Eviction API (policy/v1, pods/eviction), so PodDisruptionBudgets are
 * honoured: a budget that would be broken answers 429, and the eviction is retried until it is
 * allowed or the attempt ends (its deadline or a stop request), as `kubectl drain` does.
 */
import { parseDuration } from '../../core/duration.ts';
import { ApiError, isNotFound } from '../../shell/kube/client.ts';
import { PODS, resourcePath } from '../../shell/kube/resources.ts';
import { ActionError, type ActionContext } from '../context.ts';
import { waitFor } from './wait.ts';

export interface Pod {
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    deletionTimestamp?: string;
    annotations?: Record<string, string>;
    ownerReferences?: { kind: string; name: string; uid: string; controller?: boolean }[];
  };
  spec?: { nodeName?: string; volumes?: { name: string; emptyDir?: unknown }[] };
  status?: { phase?: string; conditions?: { type: string; status: string }[] };
}

export const podKey = (pod: Pod): string => `${pod.metadata.namespace ?? ''}/${pod.metadata.name}`;
export const controllerOf = (pod: Pod) => pod.metadata.ownerReferences?.find((o) => o.controller === true);
export const isReady = (pod: Pod): boolean =>
  pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;

export function graceSeconds(gracePeriod: string | undefined): number | undefined {
  if (gracePeriod === undefined) return undefined;
  const ms = parseDuration(gracePeriod);
  if (ms === undefined) throw new ActionError(`gracePeriod ${JSON.stringify(gracePeriod)} is not a duration`);
  return Math.round(ms / 1000);
}

/** Why the apiserver refused the eviction: the budget's own words from the Status causes. */
function blockedBy(error: ApiError): string {
  const body = error.body as { message?: string; details?: { causes?: { message?: string }[] } } | undefined;
  const causes = (body?.details?.causes ?? []).map((c) => c.message).filter(Boolean);
  return causes.length > 0 ? causes.join('; ') : (body?.message ?? error.message);
}

/**
 * Evicts one pod, retrying while a PodDisruptionBudget refuses; resolves `gone` when the pod no
 * longer exists (someone else removed it), `evicted` once the apiserver accepted the eviction.
 */
export async function evict(
  ctx: ActionContext,
  pod: Pod,
  gracePeriodSeconds: number | undefined,
): Promise<'evicted' | 'gone'> {
  const namespace = pod.metadata.namespace ?? '';
  const name = pod.metadata.name;
  return waitFor(ctx, `the eviction of pod ${namespace}/${name}`, async () => {
    try {
      await ctx.request(resourcePath(PODS, namespace, name, 'eviction'), {
        method: 'POST',
        body: {
          apiVersion: 'policy/v1',
          kind: 'Eviction',
          metadata: { name, namespace },
          deleteOptions: {
            ...(gracePeriodSeconds === undefined ? {} : { gracePeriodSeconds }),
            // The pod we looked at, not a replacement that took its name (a StatefulSet's).
            ...(pod.metadata.uid ? { preconditions: { uid: pod.metadata.uid } } : {}),
          },
        },
      });
      return { done: true, value: 'evicted' as const };
    } catch (error) {
      if (isNotFound(error)) return { done: true, value: 'gone' as const };
      if (error instanceof ApiError && error.status === 409 && error.reason === 'Conflict')
        return { done: true, value: 'gone' as const };
      if (error instanceof ApiError && error.status === 429) {
        const why = blockedBy(error);
        if (ctx.dryRun)
          throw new ActionError(`eviction of pod ${namespace}/${name} would be refused: ${why}`);
        return { done: false, waiting: `refused by a PodDisruptionBudget: ${why}` };
      }
      throw error;
    }
  });
}

/** Waits until the pod (this uid) no longer exists. */
export async function waitUntilGone(ctx: ActionContext, pod: Pod): Promise<void> {
  if (ctx.dryRun) return;
  const namespace = pod.metadata.namespace ?? '';
  await waitFor(ctx, `pod ${namespace}/${pod.metadata.name} to be gone`, async () => {
    try {
      const now = await ctx.request<Pod>(resourcePath(PODS, namespace, pod.metadata.name));
      if (now.metadata.uid !== pod.metadata.uid) return { done: true, value: undefined };
      return { done: false, waiting: now.metadata.deletionTimestamp ? 'terminating' : 'still running' };
    } catch (error) {
      if (isNotFound(error)) return { done: true, value: undefined };
      throw error;
    }
  });
}
