/** Node actions: cordon (spec.unschedulable), drain (cordon, then delete the pods on the node), uncordon. */
import { NODES, PODS, resourcePath } from '../../shell/kube/resources.ts';
import { objectUpdated, required, type ActionContext, type ActionOutcome } from '../context.ts';
import { deletePods, type PodRef } from './pods.ts';

async function setUnschedulable(ctx: ActionContext, node: string, unschedulable: boolean): Promise<boolean> {
  const before = await ctx.request<{ spec?: { unschedulable?: boolean } }>(resourcePath(NODES, '', node));
  await ctx.request(resourcePath(NODES, '', node), {
    method: 'PATCH',
    patchType: 'merge',
    body: { spec: { unschedulable: unschedulable ? true : null } },
  });
  return before.spec?.unschedulable === true;
}

const nodeResult = (node: string, previous: boolean, now: boolean) =>
  objectUpdated(
    { resourceType: 'Node', name: node },
    {
      updateType: 'spec',
      previousValue: `unschedulable=${String(previous)}`,
      newValue: `unschedulable=${String(now)}`,
    },
  );

/** Cordons (unschedulable) or uncordons a node; the result records what it was before. */
async function markNode(
  ctx: ActionContext,
  nodeName: string,
  verb: 'cordon' | 'uncordon',
): Promise<ActionOutcome> {
  const unschedulable = verb === 'cordon';
  const previous = await setUnschedulable(ctx, nodeName, unschedulable);
  return {
    message: `${ctx.dryRun ? `would ${verb}` : `${verb}ed`} node ${nodeName}`,
    result: nodeResult(nodeName, previous, unschedulable),
  };
}

export function cordonNode(ctx: ActionContext): Promise<ActionOutcome> {
  return markNode(ctx, required(ctx.child.spec.parameters?.cordonNode, 'cordonNode').nodeName, 'cordon');
}

export async function drainNode(ctx: ActionContext): Promise<ActionOutcome> {
  const p = required(ctx.child.spec.parameters?.drainNode, 'drainNode');
  const previous = await setUnschedulable(ctx, p.nodeName, true);
  const pods = await ctx.request<{ items: PodRef[] }>(resourcePath(PODS), {
    query: { fieldSelector: `spec.nodeName=${p.nodeName}` },
  });
  const evictable = pods.items.filter(
    (pod) =>
      !pod.metadata.deletionTimestamp &&
      !(p.ignoreDaemonSets !== false && pod.metadata.ownerReferences?.some((o) => o.kind === 'DaemonSet')),
  );
  const deleted: string[] = [];
  const byNamespace = new Map<string, string[]>();
  for (const pod of evictable) {
    const ns = pod.metadata.namespace ?? 'default';
    byNamespace.set(ns, [...(byNamespace.get(ns) ?? []), pod.metadata.name]);
  }
  for (const [ns, names] of byNamespace) {
    for (const name of await deletePods(ctx, ns, names, p.gracePeriod)) deleted.push(`${ns}/${name}`);
  }
  const result = nodeResult(p.nodeName, previous, true);
  return {
    message: `${ctx.dryRun ? 'would drain' : 'drained'} node ${p.nodeName}: cordoned, ${deleted.length} pod(s) deleted`,
    result: {
      ...result,
      restartResult: { podsRestarted: deleted.length, restartedPods: deleted.slice(0, 50) },
    },
  };
}

export function uncordonNode(ctx: ActionContext): Promise<ActionOutcome> {
  return markNode(
    ctx,
    required(ctx.child.spec.rollbackParameters?.uncordonNode, 'uncordonNode').nodeName,
    'uncordon',
  );
}
