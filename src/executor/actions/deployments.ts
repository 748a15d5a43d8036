/**
 * Deployment actions, as kubectl does them: scale (the scale subresource, recording the replicas it
 * found), restart (`kubectl rollout restart`: the pod template's restartedAt annotation) and
 * update-image, both waiting for the rollout to complete and recording the revision before it; and
 * the rollbacks scale-to-previous (the replicas the step recorded) and restore-previous-deployment
 * (`kubectl rollout undo`: the template of the ReplicaSet of the revision the step recorded).
 */
import type { StepExecutionResult } from '../../api/generated/types.ts';
import { DEPLOYMENTS, core, resourcePath } from '../../shell/kube/resources.ts';
import { ActionError, required, type ActionContext, type ActionOutcome } from '../context.ts';
import { REVISION, waitForRollout, type Deployment, type PodTemplate } from './rollout.ts';

export const RESTARTED_AT = 'kubectl.kubernetes.io/restartedAt';
const REPLICA_SETS = { ...core('replicasets', 'ReplicaSet'), group: 'apps' };

interface ReplicaSet {
  metadata: { name: string; annotations?: Record<string, string>; ownerReferences?: { uid: string }[] };
  spec?: { template?: PodTemplate };
}

const path = (namespace: string, name: string, sub?: string): string =>
  resourcePath(DEPLOYMENTS, namespace, name, sub);

const read = (ctx: ActionContext, namespace: string, name: string): Promise<Deployment> =>
  ctx.request<Deployment>(path(namespace, name));

const revisionOf = (d: Deployment): number | undefined => {
  const value = Number(d.metadata.annotations?.[REVISION]);
  return Number.isInteger(value) && value > 0 ? value : undefined;
};

async function scaleTo(
  ctx: ActionContext,
  namespace: string,
  name: string,
  replicas: number,
): Promise<ActionOutcome> {
  const before = await read(ctx, namespace, name);
  const previous = before.spec?.replicas ?? 1;
  await ctx.request(path(namespace, name, 'scale'), {
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

/** The step recorded what it found; the spec's previousReplicas only stands in when it did not. */
export async function scaleToPrevious(ctx: ActionContext): Promise<ActionOutcome> {
  const p = required(ctx.child.spec.rollbackParameters?.scaleToPrevious, 'scaleToPrevious');
  const recorded = (await ctx.stepChild())?.status?.executionResult?.scaleResult?.previousReplicas;
  const replicas = recorded ?? p.previousReplicas;
  if (replicas === undefined)
    throw new ActionError(
      `step ${ctx.child.spec.stepNumber} recorded no replicas to restore and the rollback names no previousReplicas`,
    );
  const outcome = await scaleTo(ctx, p.namespace, p.deployment, replicas);
  const source = recorded === undefined ? 'previousReplicas of the rollbackSpec' : 'recorded by the step';
  return { ...outcome, message: `${outcome.message} (${source})` };
}

/** Patches the pod template and waits for the rollout; the result records the revision before. */
async function changeTemplate(
  ctx: ActionContext,
  namespace: string,
  name: string,
  change: { body: unknown; patchType: 'strategic' | 'json' },
): Promise<{ before: Deployment; revision: number | undefined }> {
  const before = await read(ctx, namespace, name);
  const after = await ctx.request<Deployment>(path(namespace, name), { method: 'PATCH', ...change });
  await waitForRollout(ctx, namespace, name, after.metadata.generation ?? 0);
  return { before, revision: revisionOf(before) };
}

function templateResult(
  namespace: string,
  name: string,
  update: { updateType: string; previousValue?: string | undefined; newValue: string },
  previousRevision: number | undefined,
  changeType: string,
): StepExecutionResult {
  return {
    success: true,
    updateResult: {
      resourceType: 'Deployment',
      resourceName: name,
      namespace,
      updateType: update.updateType,
      ...(update.previousValue === undefined ? {} : { previousValue: update.previousValue }),
      newValue: update.newValue,
      ...(previousRevision === undefined ? {} : { previousRevision }),
    },
    resourcesAffected: [{ resourceType: 'Deployment', name, namespace, changeType }],
  };
}

export async function restartDeployment(ctx: ActionContext): Promise<ActionOutcome> {
  const p = required(ctx.child.spec.parameters?.restartDeployment, 'restartDeployment');
  const now = new Date().toISOString();
  const { before, revision } = await changeTemplate(ctx, p.namespace, p.deployment, {
    patchType: 'strategic',
    body: { spec: { template: { metadata: { annotations: { [RESTARTED_AT]: now } } } } },
  });
  return {
    message: `${ctx.dryRun ? 'would restart' : 'restarted'} deployment ${p.namespace}/${p.deployment}${ctx.dryRun ? '' : ' and its rollout completed'}`,
    result: templateResult(
      p.namespace,
      p.deployment,
      {
        updateType: 'restart',
        previousValue: before.spec?.template?.metadata?.annotations?.[RESTARTED_AT],
        newValue: now,
      },
      revision,
      'restarted',
    ),
  };
}

export async function updateImage(ctx: ActionContext): Promise<ActionOutcome> {
  const p = required(ctx.child.spec.parameters?.updateImage, 'updateImage');
  const current = await read(ctx, p.namespace, p.deployment);
  if (!current.spec?.template?.spec?.containers?.some((c) => c.name === p.container))
    throw new ActionError(`deployment ${p.namespace}/${p.deployment} has no container ${p.container}`);
  const { before, revision } = await changeTemplate(ctx, p.namespace, p.deployment, {
    patchType: 'strategic',
    body: { spec: { template: { spec: { containers: [{ name: p.container, image: p.newImage }] } } } },
  });
  const previous = before.spec?.template?.spec?.containers?.find((c) => c.name === p.container)?.image;
  return {
    message: `${ctx.dryRun ? 'would set' : 'set'} image of ${p.namespace}/${p.deployment} container ${p.container} to ${p.newImage}${ctx.dryRun ? '' : ' and its rollout completed'}`,
    result: templateResult(
      p.namespace,
      p.deployment,
      { updateType: 'image', previousValue: previous, newValue: p.newImage },
      revision,
      'modified',
    ),
  };
}

/** The template of the deployment's ReplicaSet at `revision`, or of the one before the current. */
async function templateAt(
  ctx: ActionContext,
  namespace: string,
  deployment: Deployment,
  revision: number | undefined,
): Promise<{ template: PodTemplate; revision: number }> {
  const sets = await ctx.request<{ items: ReplicaSet[] }>(resourcePath(REPLICA_SETS, namespace));
  const owned = sets.items
    .filter((rs) => rs.metadata.ownerReferences?.some((o) => o.uid === deployment.metadata.uid))
    .map((rs) => ({ rs, revision: Number(rs.metadata.annotations?.[REVISION] ?? 0) }))
    .sort((a, b) => b.revision - a.revision);
  const chosen = revision === undefined ? owned[1] : owned.find((o) => o.revision === revision);
  if (!chosen?.rs.spec?.template)
    throw new ActionError(
      `deployment ${namespace}/${deployment.metadata.name} has no ${revision === undefined ? 'previous revision' : `ReplicaSet of revision ${revision} (its revisionHistoryLimit may have removed it)`} to restore`,
    );
  const template = structuredClone(chosen.rs.spec.template);
  // As kubectl rollout undo: the ReplicaSet's own hash label is not part of the Deployment's template.
  delete template.metadata?.labels?.['pod-template-hash'];
  return { template, revision: chosen.revision };
}

/**
 * `kubectl rollout undo --to-revision`: the revision named in the rollback, else the one the step
 * recorded before its rollout, else the one before the current.
 */
export async function restorePreviousDeployment(ctx: ActionContext): Promise<ActionOutcome> {
  const p = required(
    ctx.child.spec.rollbackParameters?.restorePreviousDeployment,
    'restorePreviousDeployment',
  );
  const named = p.revision !== undefined && p.revision > 0 ? p.revision : undefined;
  const recorded = (await ctx.stepChild())?.status?.executionResult?.updateResult?.previousRevision;
  const deployment = await read(ctx, p.namespace, p.deployment);
  const { template, revision } = await templateAt(ctx, p.namespace, deployment, named ?? recorded);
  const { revision: before } = await changeTemplate(ctx, p.namespace, p.deployment, {
    patchType: 'json',
    body: [{ op: 'replace', path: '/spec/template', value: template }],
  });
  return {
    message: `${ctx.dryRun ? 'would roll back' : 'rolled back'} deployment ${p.namespace}/${p.deployment} to revision ${revision}${ctx.dryRun ? '' : ' and its rollout completed'}`,
    result: templateResult(
      p.namespace,
      p.deployment,
      { updateType: 'spec', newValue: `revision ${revision}` },
      before,
      'modified',
    ),
  };
}
