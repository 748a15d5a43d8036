/**
 * The `health` check: each step's target in its kind's terms. A Deployment exists, is Available and
 * is not stuck in a rollout (its Progressing condition says ProgressDeadlineExceeded); a Node is
 * Ready; a named Pod is present, a selector matches at least one pod; a ConfigMap exists. A Secret
 * is not read (the operator reads no Secret): the executor finds out. A missing target fails the
 * check, naming it, so no step child is created.
 */
import type { ResolvedSpec } from '../../api/resolved-spec.ts';
import type { TargetResource } from '../../api/actions.ts';
import { describeTarget, targetOf } from '../../core/targets.ts';
import { isNotFound, type KubeClient } from '../kube/client.ts';
import { CONFIG_MAPS, DEPLOYMENTS, NODES, PODS, resourcePath } from '../kube/resources.ts';
import { conditionOf, isReady, type Deployment, type Node, type Pod } from './cluster-reads.ts';
import { verdictOf, type CheckVerdict } from './verdict.ts';

/**
 * A Deployment still rolling out within its progress deadline: no verdict yet. The check answers
 * `error` (asked again, until validation's deadline) instead of failing a target that is settling,
 * e.g. one created a moment before the workflow.
 */
const SETTLING = 'is still rolling out';

/** What is wrong with one target, or null when it is healthy. */
async function problemOf(client: KubeClient, t: TargetResource): Promise<string | null> {
  if (t.kind === 'Pod' && !t.name) {
    const pods = await client.request<{ items: Pod[] }>(resourcePath(PODS, t.namespace), {
      query: { labelSelector: t.selector },
    });
    return pods.items.some((p) => !p.metadata.deletionTimestamp) ? null : 'no pod matches';
  }
  try {
    if (t.kind === 'Deployment') {
      const d = await client.request<Deployment>(resourcePath(DEPLOYMENTS, t.namespace, t.name));
      if (d.metadata.deletionTimestamp) return 'is being deleted';
      const progressing = conditionOf(d.status?.conditions, 'Progressing');
      if (progressing?.reason === 'ProgressDeadlineExceeded')
        return `is stuck in a rollout (Progressing: ProgressDeadlineExceeded${progressing.message ? `: ${progressing.message}` : ''})`;
      const available = conditionOf(d.status?.conditions, 'Available');
      const rollingOut =
        progressing?.status === 'True' &&
        progressing.reason !== 'NewReplicaSetAvailable' &&
        available?.status !== 'True';
      if (rollingOut || (available === undefined && progressing === undefined)) return SETTLING;
      if (available?.status !== 'True')
        return `is not Available (${available ? `${available.reason ?? ''} ${available.message ?? ''}`.trim() : 'no Available condition yet'})`;
      return null;
    }
    if (t.kind === 'Node') {
      const n = await client.request<Node>(resourcePath(NODES, '', t.name));
      if (n.metadata.deletionTimestamp) return 'is being deleted';
      return isReady(n) ? null : 'is not Ready';
    }
    if (t.kind === 'Pod') {
      const p = await client.request<Pod>(resourcePath(PODS, t.namespace, t.name));
      return p.metadata.deletionTimestamp ? 'is being deleted' : null;
    }
    if (t.kind === 'ConfigMap') {
      await client.request<unknown>(resourcePath(CONFIG_MAPS, t.namespace, t.name));
      return null;
    }
    return null; // Secret: not read by the operator
  } catch (error) {
    if (isNotFound(error)) return 'does not exist';
    throw error;
  }
}

export async function healthCheck(client: KubeClient, spec: ResolvedSpec): Promise<CheckVerdict> {
  const targets = spec.workflowDefinition.steps.flatMap((s) => {
    const target = targetOf(s);
    return target ? [{ step: s.stepNumber, target }] : [];
  });
  const readable = targets.filter((t) => t.target.kind !== 'Secret');
  if (readable.length === 0)
    return {
      result: 'not_applicable',
      message:
        targets.length === 0
          ? 'no step names an object the operator can check (custom actions)'
          : 'the targets are Secrets, which the operator does not read',
    };
  // One read per distinct target, all at once.
  const distinct = new Map(readable.map((t) => [describeTarget(t.target), t.target]));
  const problems = new Map(
    await Promise.all(
      [...distinct].map(async ([name, target]) => [name, await problemOf(client, target)] as const),
    ),
  );
  const found = readable.flatMap(({ step, target }) => {
    const problem = problems.get(describeTarget(target));
    return problem && problem !== SETTLING ? [`step ${step}: ${describeTarget(target)} ${problem}`] : [];
  });
  const settling = [...problems].filter(([, problem]) => problem === SETTLING).map(([name]) => name);
  if (found.length === 0 && settling.length > 0)
    return { result: 'error', message: `${settling.join(', ')} ${SETTLING}: no verdict yet, asked again` };
  return verdictOf(found, `all ${distinct.size} target(s) healthy: ${[...distinct.keys()].join(', ')}`);
}
