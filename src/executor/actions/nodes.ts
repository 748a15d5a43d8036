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

export async function cordonNode(ctx: ActionContext): Promise<ActionOutcome> {
  const p = required(ctx.child.spec.parameters?.cordonNode, 'cordonNode');
  const previous = await setUnschedulable(ctx, p.nodeName, true);
  return {
    message: `${ctx.dryRun ? 'would cordon' : 'cordoned'} node ${p.nodeName}`,
    result: nodeResult(p.nodeName, previous, true),
  };
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

export async function uncordonNode(ctx: ActionContext): Promise<ActionOutcome> {
  const p = required(ctx.child.spec.rollbackParameters?.uncordonNode, 'uncordonNode');
  const previous = await setUnschedulable(ctx, p.nodeName, false);
  return {
    message: `${ctx.dryRun ? 'would uncordon' : 'uncordoned'} node ${p.nodeName}`,
    result: nodeResult(p.nodeName, previous, false),
  };
}
