/**
 * Pod actions: restart-pod (the pod named, or every pod the selector matched when the step started)
 * and delete-pod. One pod at a time: evicted through the Eviction API (PodDisruptionBudgets
 * honoured, retried while one refuses), then, for a pod a controller owns, a wait until the pod is
 * gone and a replacement is Ready before the next; a pod nobody owns is only waited out.
 */
import { PODS, resourcePath } from '../../shell/kube/resources.ts';
import { ActionError, required, type ActionContext, type ActionOutcome } from '../context.ts';
import { controllerOf, evict, graceSeconds, isReady, podKey, waitUntilGone, type Pod } from './eviction.ts';
import { waitFor } from './wait.ts';

/** Ready pods of the same controller other than `pod`: how many must be Ready after it is replaced. */
async function readySiblings(ctx: ActionContext, pod: Pod, ownerUid: string): Promise<Pod[]> {
  const list = await ctx.request<{ items: Pod[] }>(resourcePath(PODS, pod.metadata.namespace ?? ''));
  return list.items.filter(
    (p) =>
      p.metadata.uid !== pod.metadata.uid &&
      !p.metadata.deletionTimestamp &&
      p.metadata.ownerReferences?.some((o) => o.uid === ownerUid) === true &&
      isReady(p),
  );
}

/** Evicts the pod and waits for it to go and, when a controller owns it, for a Ready replacement. */
async function replacePod(
  ctx: ActionContext,
  pod: Pod,
  grace: number | undefined,
): Promise<'evicted' | 'gone'> {
  const owner = controllerOf(pod);
  const before = owner ? (await readySiblings(ctx, pod, owner.uid)).length : 0;
  const outcome = await evict(ctx, pod, grace);
  if (ctx.dryRun) return outcome;
  await waitUntilGone(ctx, pod);
  if (owner)
    await waitFor(
      ctx,
      `a Ready replacement of pod ${podKey(pod)} (${owner.kind} ${owner.name})`,
      async () => {
        const ready = (await readySiblings(ctx, pod, owner.uid)).length;
        return ready > before
          ? { done: true, value: undefined }
          : { done: false, waiting: `${ready} of ${before + 1} pods of ${owner.kind} ${owner.name} Ready` };
      },
    );
  return outcome;
}

const PAST = { restart: 'restarted', delete: 'deleted' } as const;

async function replaceAll(
  ctx: ActionContext,
  namespace: string,
  pods: Pod[],
  gracePeriod: string | undefined,
  verb: 'restart' | 'delete',
): Promise<ActionOutcome> {
  const grace = graceSeconds(gracePeriod);
  const done: string[] = [];
  // Each replaced pod's controller: monitoring judges the replacement by it (the pod's name is gone).
  const owners = new Map<string, { kind: string; name: string }>();
  for (const pod of pods) {
    const owner = controllerOf(pod);
    if (owner) owners.set(`${owner.kind}/${owner.name}`, { kind: owner.kind, name: owner.name });
    try {
      if ((await replacePod(ctx, pod, grace)) === 'evicted') done.push(pod.metadata.name);
    } catch (error) {
      if (done.length === 0 || !(error instanceof ActionError)) throw error;
      throw new ActionError(`${error.message} (already ${PAST[verb]}: ${done.join(', ')})`);
    }
  }
  return {
    message: `${ctx.dryRun ? `would ${verb}` : PAST[verb]} ${done.length} pod(s) in ${namespace} one at a time through the Eviction API${done.length > 0 ? `: ${done.join(', ')}` : ''}`,
    result: {
      success: true,
      restartResult: {
        podsRestarted: done.length,
        restartedPods: done.slice(0, 256),
        namespace,
        ...(owners.size > 0 ? { owners: [...owners.values()].slice(0, 256) } : {}),
      },
      resourcesAffected: done.slice(0, 256).map((name) => ({
        resourceType: 'Pod',
        name,
        namespace,
        changeType: verb === 'delete' ? 'deleted' : 'restarted',
      })),
    },
  };
}

async function podNamed(ctx: ActionContext, namespace: string, name: string): Promise<Pod> {
  return ctx.request<Pod>(resourcePath(PODS, namespace, name));
}

export async function restartPod(ctx: ActionContext): Promise<ActionOutcome> {
  const p = required(ctx.child.spec.parameters?.restartPod, 'restartPod');
  let pods: Pod[];
  if (p.podName) pods = [await podNamed(ctx, p.namespace, p.podName)];
  else {
    const list = await ctx.request<{ items: Pod[] }>(resourcePath(PODS, p.namespace), {
      query: { labelSelector: p.selector },
    });
    pods = list.items
      .filter((pod) => !pod.metadata.deletionTimestamp)
      .sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  }
  if (pods.length === 0)
    throw new ActionError(`no pod in ${p.namespace} matches ${p.selector ?? 'the step'}`);
  return replaceAll(ctx, p.namespace, pods, p.gracePeriod, 'restart');
}

export async function deletePod(ctx: ActionContext): Promise<ActionOutcome> {
  const p = required(ctx.child.spec.parameters?.deletePod, 'deletePod');
  return replaceAll(ctx, p.namespace, [await podNamed(ctx, p.namespace, p.podName)], p.gracePeriod, 'delete');
}
