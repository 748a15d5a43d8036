/**
 * Deployment actions: scale, restart (the pod template's restartedAt annotation, as
 * `kubectl rollout restart` does), update a container's image, and the rollbacks scale-to-previous
 * and restore-previous-deployment (undo what the step recorded: its scale, or its template change
 * by copying the previous ReplicaSet's template back, as `kubectl rollout undo` does).
 */
import { DEPLOYMENTS, core, resourcePath } from '../../shell/kube/resources.ts';
import { ActionError, objectUpdated, required, type ActionContext, type ActionOutcome } from '../context.ts';

export const RESTARTED_AT = 'kubectl.kubernetes.io/restartedAt';
const REVISION = 'deployment.kubernetes.io/revision';
const REPLICA_SETS = { ...core('replicasets', 'ReplicaSet'), group: 'apps' };

interface PodTemplate {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: { containers?: { name: string; image?: string }[] };
}
interface Deployment {
  metadata: { name: string; uid?: string };
  spec?: { replicas?: number; template?: PodTemplate };
}
interface ReplicaSet {
  metadata: {
    name: string;
    annotations?: Record<string, string>;
    ownerReferences?: { uid: string }[];
  };
  spec?: { template?: PodTemplate };
}

const path = (namespace: string, name: string): string => resourcePath(DEPLOYMENTS, namespace, name);

async function read(ctx: ActionContext, namespace: string, name: string): Promise<Deployment> {
  return ctx.request<Deployment>(path(namespace, name));
}

async function scaleTo(
  ctx: ActionContext,
  namespace: string,
  name: string,
  replicas: number,
): Promise<ActionOutcome> {
  const before = await read(ctx, namespace, name);
  const previous = before.spec?.replicas ?? 1;
  await ctx.request(path(namespace, name), {
    method: 'PATCH',
    patchType: 'merge',
    body: { spec: { replicas } },
  });
  return {
    message: `${ctx.dryRun ? 'would scale' : 'scaled'} deployment ${namespace}/${name} from ${previous} to ${replicas}`,
    result: {
      success: true,
      scaleResult: {
        previousReplicas: previous,
        newReplicas: replicas,
        scaledNamespace: namespace,
        scaledDeployment: name,
      },
      resourcesAffected: [{ resourceType: 'Deployment', name, namespace, changeType: 'scaled' }],
    },
  };
}

export async function scaleDeployment(ctx: ActionContext): Promise<ActionOutcome> {
  const p = required(ctx.child.spec.parameters?.scaleDeployment, 'scaleDeployment');
  return scaleTo(ctx, p.namespace, p.deployment, p.replicas);
}

async function restart(ctx: ActionContext, namespace: string, name: string): Promise<ActionOutcome> {
  const before = await read(ctx, namespace, name);
  const previous = before.spec?.template?.metadata?.annotations?.[RESTARTED_AT];
  const now = new Date().toISOString();
  await ctx.request(path(namespace, name), {
    method: 'PATCH',
    patchType: 'strategic',
    body: { spec: { template: { metadata: { annotations: { [RESTARTED_AT]: now } } } } },
  });
  return {
    message: `${ctx.dryRun ? 'would restart' : 'restarted'} deployment ${namespace}/${name}`,
    result: objectUpdated(
      { resourceType: 'Deployment', name, namespace },
      { updateType: 'restart', previousValue: previous, newValue: now },
      'restarted',
    ),
  };
}

export async function restartDeployment(ctx: ActionContext): Promise<ActionOutcome> {
  const p = required(ctx.child.spec.parameters?.restartDeployment, 'restartDeployment');
  return restart(ctx, p.namespace, p.deployment);
}

export async function updateImage(ctx: ActionContext): Promise<ActionOutcome> {
  const p = required(ctx.child.spec.parameters?.updateImage, 'updateImage');
  const before = await read(ctx, p.namespace, p.deployment);
  const container = before.spec?.template?.spec?.containers?.find((c) => c.name === p.container);
  if (!container)
    throw new ActionError(`deployment ${p.namespace}/${p.deployment} has no container ${p.container}`);
  await ctx.request(path(p.namespace, p.deployment), {
    method: 'PATCH',
    patchType: 'strategic',
    body: { spec: { template: { spec: { containers: [{ name: p.container, image: p.newImage }] } } } },
  });
  return {
    message: `${ctx.dryRun ? 'would set' : 'set'} image of ${p.namespace}/${p.deployment} container ${p.container} to ${p.newImage}`,
    result: objectUpdated(
      { resourceType: 'Deployment', name: p.deployment, namespace: p.namespace },
      { updateType: 'image', previousValue: container.image, newValue: p.newImage },
    ),
  };
}

export async function scaleToPrevious(ctx: ActionContext): Promise<ActionOutcome> {
  const p = required(ctx.child.spec.rollbackParameters?.scaleToPrevious, 'scaleToPrevious');
  return scaleTo(ctx, p.namespace, p.deployment, p.previousReplicas);
}

/** The template of the ReplicaSet at `revision` (0: the one before the current). */
async function previousTemplate(
  ctx: ActionContext,
  namespace: string,
  deployment: Deployment,
  revision: number,
): Promise<{ template: PodTemplate; revision: number }> {
  const sets = await ctx.request<{ items: ReplicaSet[] }>(resourcePath(REPLICA_SETS, namespace));
  const owned = sets.items
    .filter((rs) => rs.metadata.ownerReferences?.some((o) => o.uid === deployment.metadata.uid))
    .map((rs) => ({ rs, revision: Number(rs.metadata.annotations?.[REVISION] ?? 0) }))
    .sort((a, b) => b.revision - a.revision);
  const chosen = revision > 0 ? owned.find((o) => o.revision === revision) : owned[1];
  if (!chosen?.rs.spec?.template)
    throw new ActionError(
      `deployment ${namespace}/${deployment.metadata.name} has no ${revision > 0 ? `revision ${revision}` : 'previous revision'} to restore`,
    );
  const template = structuredClone(chosen.rs.spec.template);
  delete template.metadata?.labels?.['pod-template-hash'];
  return { template, revision: chosen.revision };
}

export async function restorePreviousDeployment(ctx: ActionContext): Promise<ActionOutcome> {
  const p = required(
    ctx.child.spec.rollbackParameters?.restorePreviousDeployment,
    'restorePreviousDeployment',
  );
  const step = await ctx.stepChild();
  const recorded = step?.status?.executionResult;
  // The step scaled: scale back to what it found.
  const previousReplicas = recorded?.scaleResult?.previousReplicas;
  if (previousReplicas !== undefined && (p.revision ?? 0) === 0)
    return scaleTo(ctx, p.namespace, p.deployment, previousReplicas);
  // The step changed the template (restart, image): roll the template back.
  const deployment = await read(ctx, p.namespace, p.deployment);
  const { template, revision } = await previousTemplate(ctx, p.namespace, deployment, p.revision ?? 0);
  await ctx.request(path(p.namespace, p.deployment), {
    method: 'PATCH',
    patchType: 'json',
    body: [{ op: 'replace', path: '/spec/template', value: template }],
  });
  return {
    message: `${ctx.dryRun ? 'would restore' : 'restored'} deployment ${p.namespace}/${p.deployment} to revision ${revision}`,
    result: objectUpdated(
      { resourceType: 'Deployment', name: p.deployment, namespace: p.namespace },
      { updateType: 'spec', newValue: `revision ${revision}` },
    ),
  };
}
