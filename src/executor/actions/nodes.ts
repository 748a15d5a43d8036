/**
 * Node actions, as kubectl does them. cordon: spec.unschedulable. drain (`kubectl drain`): cordon;
 * refuse, naming them, pods it must not evict (DaemonSet pods unless ignoreDaemonSets, pods no
 * controller manages unless force, pods with emptyDir unless deleteLocalData); leave mirror pods and,
 * with ignoreDaemonSets, DaemonSet pods; evict the rest through the Eviction API, retrying while a
 * PodDisruptionBudget refuses, until the attempt ends; wait until they are gone. Pods already
 * terminating (evicted by a replica killed mid-drain, whose child this one took over) are waited for,
 * never evicted again. Each records whether the node was cordoned before, so uncordon-node undoes
 * only what the step did.
 */
import type { StepExecutionResult } from '../../api/generated/types.ts';
import { NODES, PODS, resourcePath } from '../../shell/kube/resources.ts';
import { ActionError, required, type ActionContext, type ActionOutcome } from '../context.ts';
import { controllerOf, evict, graceSeconds, podKey, waitUntilGone, type Pod } from './eviction.ts';

const MIRROR = 'kubernetes.io/config.mirror';
const LISTED = 256;

/** Marks a node this workflow's step cordoned, so a retried attempt knows the cordon is its own. */
export const CORDONED_BY = 'executor.kubernaut.io/cordoned-by';

interface Node {
  metadata: { annotations?: Record<string, string> };
  spec?: { unschedulable?: boolean };
}

const stepMarker = (ctx: ActionContext): string =>
  `${ctx.child.spec.workflowExecutionRef.uid ?? ctx.child.spec.workflowExecutionRef.name}/step-${ctx.child.spec.stepNumber}`;

/**
 * Sets spec.unschedulable; returns whether the node was cordoned before this step (a cordon left by
 * an earlier attempt of the same step, which the annotation tells, does not count).
 */
async function setUnschedulable(ctx: ActionContext, node: string, unschedulable: boolean): Promise<boolean> {
  const before = await ctx.request<Node>(resourcePath(NODES, '', node));
  const marker = stepMarker(ctx);
  const ours = before.metadata.annotations?.[CORDONED_BY] === marker;
  const previous = before.spec?.unschedulable === true && !ours;
  const annotation = unschedulable ? (previous ? undefined : marker) : null;
  await ctx.request(resourcePath(NODES, '', node), {
    method: 'PATCH',
    patchType: 'merge',
    body: {
      ...(annotation === undefined ? {} : { metadata: { annotations: { [CORDONED_BY]: annotation } } }),
      spec: { unschedulable: unschedulable ? true : null },
    },
  });
  return previous;
}

function nodeResult(
  nodeName: string,
  previouslyUnschedulable: boolean,
  unschedulable: boolean,
  drained?: { evicted: string[]; skipped: string[] },
): StepExecutionResult {
  return {
    success: true,
    updateResult: {
      resourceType: 'Node',
      resourceName: nodeName,
      updateType: 'spec',
      previousValue: `unschedulable=${String(previouslyUnschedulable)}`,
      newValue: `unschedulable=${String(unschedulable)}`,
    },
    nodeResult: {
      nodeName,
      previouslyUnschedulable,
      ...(drained
        ? {
            evictedPods: drained.evicted.slice(0, LISTED),
            podsEvicted: drained.evicted.length,
            skippedPods: drained.skipped.slice(0, LISTED),
          }
        : {}),
    },
    resourcesAffected: [{ resourceType: 'Node', name: nodeName, changeType: 'modified' }],
  };
}

export async function cordonNode(ctx: ActionContext): Promise<ActionOutcome> {
  const { nodeName } = required(ctx.child.spec.parameters?.cordonNode, 'cordonNode');
  const previous = await setUnschedulable(ctx, nodeName, true);
  return {
    message: `${ctx.dryRun ? 'would cordon' : 'cordoned'} node ${nodeName}${previous ? ' (it was already cordoned)' : ''}`,
    result: nodeResult(nodeName, previous, true),
  };
}

interface DrainOptions {
  ignoreDaemonSets?: boolean | undefined;
  deleteLocalData?: boolean | undefined;
  force?: boolean | undefined;
}

/**
 * kubectl drain's filters: which pods to evict, which to leave, and which refuse the drain; plus the
 * pods already terminating, which are only waited for (evicting one again would delete it again).
 */
export function classify(pods: readonly Pod[], options: DrainOptions) {
  const evict: Pod[] = [];
  const terminating: Pod[] = [];
  const skipped: string[] = [];
  const refusals: string[] = [];
  for (const pod of pods) {
    const finished = pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
    const owner = controllerOf(pod);
    if (pod.metadata.annotations?.[MIRROR] !== undefined) skipped.push(podKey(pod));
    else if (owner?.kind === 'DaemonSet' && !finished) {
      if (options.ignoreDaemonSets === true) skipped.push(podKey(pod));
      else refusals.push(`${podKey(pod)} is managed by DaemonSet ${owner.name} (set ignoreDaemonSets)`);
    } else if (pod.metadata.deletionTimestamp !== undefined) terminating.push(pod);
    else if (!owner && !finished && options.force !== true)
      refusals.push(`${podKey(pod)} is managed by no controller and would not come back (set force)`);
    else if (
      !finished &&
      pod.spec?.volumes?.some((v) => v.emptyDir !== undefined) &&
      options.deleteLocalData !== true
    )
      refusals.push(`${podKey(pod)} has emptyDir data that eviction deletes (set deleteLocalData)`);
    else evict.push(pod);
  }
  return { evict, terminating, skipped, refusals };
}

export async function drainNode(ctx: ActionContext): Promise<ActionOutcome> {
  const p = required(ctx.child.spec.parameters?.drainNode, 'drainNode');
  const grace = graceSeconds(p.gracePeriod);
  const previous = await setUnschedulable(ctx, p.nodeName, true);
  const pods = await ctx.request<{ items: Pod[] }>(resourcePath(PODS), {
    query: { fieldSelector: `spec.nodeName=${p.nodeName}` },
  });
  const { evict: toEvict, terminating, skipped, refusals } = classify(pods.items, p);
  if (refusals.length > 0)
    throw new ActionError(
      `node ${p.nodeName} ${ctx.dryRun ? 'would be' : 'is'} cordoned but not drained: ${refusals.join('; ')}`,
    );
  const evicted: string[] = [];
  // Concurrently, as kubectl drain does: one pod's budget does not hold up the others.
  const outcomes = await Promise.allSettled([
    ...toEvict.map(async (pod) => {
      if ((await evict(ctx, pod, grace)) === 'evicted') evicted.push(podKey(pod));
      await waitUntilGone(ctx, pod);
    }),
    ...terminating.map((pod) => waitUntilGone(ctx, pod)),
  ]);
  const failures = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as unknown] : []));
  const unexpected = failures.find((f) => !(f instanceof ActionError));
  if (unexpected !== undefined) throw unexpected instanceof Error ? unexpected : new Error('drain failed');
  if (failures.length > 0)
    throw new ActionError(
      `node ${p.nodeName} cordoned, drain incomplete: ${failures.map((f) => (f as ActionError).message).join('; ')}; evicted so far: ${evicted.sort().join(', ') || 'none'}`,
    );
  evicted.sort();
  return {
    message: `${ctx.dryRun ? 'would drain' : 'drained'} node ${p.nodeName}: cordoned, ${evicted.length} pod(s) evicted${terminating.length > 0 ? `, ${terminating.length} already terminating waited for` : ''}${skipped.length > 0 ? `, ${skipped.length} left (DaemonSet or mirror)` : ''}`,
    result: nodeResult(p.nodeName, previous, true, { evicted, skipped }),
  };
}

/** Uncordons, unless the step found the node already cordoned: then there is nothing of its to undo. */
export async function uncordonNode(ctx: ActionContext): Promise<ActionOutcome> {
  const { nodeName } = required(ctx.child.spec.rollbackParameters?.uncordonNode, 'uncordonNode');
  const recorded = (await ctx.stepChild())?.status?.executionResult?.nodeResult;
  if (recorded?.nodeName === nodeName && recorded.previouslyUnschedulable === true)
    return {
      message: `left node ${nodeName} cordoned: it was cordoned before step ${ctx.child.spec.stepNumber}`,
      result: { success: true },
    };
  const previous = await setUnschedulable(ctx, nodeName, false);
  return {
    message: `${ctx.dryRun ? 'would uncordon' : 'uncordoned'} node ${nodeName}`,
    result: nodeResult(nodeName, previous, false),
  };
}
