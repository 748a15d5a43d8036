/**
 * ConfigMap and Secret actions. Before changing keys, the executor saves their values in a snapshot
 * object of the same kind beside the target, named after the workflow and the step (not the
 * attempt): the first attempt creates it, and a retried attempt finds it and never snapshots values
 * an earlier attempt already changed. restore-previous-config puts exactly that snapshot back.
 *
 * update-secret takes its values inline (dataUpdates) or from a Secret named by secretRef, which
 * only the executor reads. Secret values never leave the apiserver's Secrets: status, messages and
 * logs carry key names only.
 */
import type { KubernetesExecution } from '../../api/generated/types.ts';
import { LABELS } from '../../shell/children.ts';
import { isAlreadyExists } from '../../shell/kube/client.ts';
import {
  CONFIG_MAPS,
  SECRETS,
  WORKFLOW_EXECUTIONS,
  apiVersionOf,
  resourcePath,
  type ResourceType,
} from '../../shell/kube/resources.ts';
import { ActionError, required, type ActionContext, type ActionOutcome } from '../context.ts';

/** Keys the target did not have before the change (a restore removes them). */
export const ABSENT_KEYS = 'executor.kubernaut.io/absent-keys';
export const SNAPSHOT_OF = 'executor.kubernaut.io/snapshot-of';

type Kind = 'ConfigMap' | 'Secret';
const TYPES: Record<Kind, ResourceType> = { ConfigMap: CONFIG_MAPS, Secret: SECRETS };

interface DataObject {
  metadata: { name: string; annotations?: Record<string, string> };
  data?: Record<string, string>;
}

/** One snapshot per workflow and step: every attempt of the step, and its rollback, name the same. */
export function snapshotName(child: KubernetesExecution): string {
  const uid = child.spec.workflowExecutionRef.uid ?? child.metadata.labels?.[LABELS.workflowUid];
  if (!uid) throw new ActionError('the child names no workflow uid, so its snapshot cannot be found');
  return `kubernaut-previous-${uid}-step-${child.spec.stepNumber}`;
}

/** Creates the snapshot unless an earlier attempt of the step did; returns its name. */
async function saveSnapshot(
  ctx: ActionContext,
  kind: Kind,
  namespace: string,
  target: DataObject,
  keys: readonly string[],
): Promise<string> {
  const child = ctx.child;
  const name = snapshotName(child);
  const data: Record<string, string> = {};
  const absent: string[] = [];
  for (const key of keys) {
    const value = target.data?.[key];
    if (value === undefined) absent.push(key);
    else data[key] = value;
  }
  const workflow = child.spec.workflowExecutionRef;
  // Owned by the workflow where it can be (same namespace), so it goes when the workflow does.
  const owned = (workflow.namespace ?? child.metadata.namespace) === namespace && workflow.uid;
  try {
    await ctx.request(resourcePath(TYPES[kind], namespace), {
      method: 'POST',
      body: {
        apiVersion: 'v1',
        kind,
        metadata: {
          name,
          namespace,
          labels: {
            [LABELS.workflowUid]: workflow.uid ?? '',
            [LABELS.step]: String(child.spec.stepNumber),
          },
          annotations: { [ABSENT_KEYS]: absent.join(','), [SNAPSHOT_OF]: `${kind}/${target.metadata.name}` },
          ...(owned
            ? {
                ownerReferences: [
                  {
                    apiVersion: apiVersionOf(WORKFLOW_EXECUTIONS),
                    kind: WORKFLOW_EXECUTIONS.kind,
                    name: workflow.name,
                    uid: workflow.uid,
                  },
                ],
              }
            : {}),
        },
        ...(kind === 'Secret' ? { type: 'Opaque' } : {}),
        data,
      },
    });
  } catch (error) {
    // A retried attempt: the first snapshot holds the values from before any change.
    if (!isAlreadyExists(error)) throw error;
  }
  return name;
}

/** The values a secretRef names, read from that Secret; a missing key is named, never a value. */
async function referencedValues(
  ctx: ActionContext,
  namespace: string,
  ref: { name: string; keys?: string[] | undefined },
): Promise<Record<string, string>> {
  const source = await ctx.request<DataObject>(resourcePath(SECRETS, namespace, ref.name));
  const data = source.data ?? {};
  const keys = ref.keys ?? Object.keys(data);
  const missing = keys.filter((k) => data[k] === undefined);
  if (missing.length > 0)
    throw new ActionError(`Secret ${namespace}/${ref.name} has no key ${missing.join(', ')}`);
  if (keys.length === 0) throw new ActionError(`Secret ${namespace}/${ref.name} has no keys to copy`);
  return Object.fromEntries(keys.map((k) => [k, data[k] ?? '']));
}

async function update(
  ctx: ActionContext,
  kind: Kind,
  p: { namespace: string; name: string },
  values: Record<string, string>,
): Promise<ActionOutcome> {
  const type = TYPES[kind];
  const target = await ctx.request<DataObject>(resourcePath(type, p.namespace, p.name));
  const keys = Object.keys(values).sort();
  const snapshot = await saveSnapshot(ctx, kind, p.namespace, target, keys);
  await ctx.request(resourcePath(type, p.namespace, p.name), {
    method: 'PATCH',
    patchType: 'merge',
    body: { data: values },
  });
  const secret = kind === 'Secret';
  const previous = Object.fromEntries(keys.map((k) => [k, target.data?.[k] ?? null]));
  return {
    message: `${ctx.dryRun ? 'would update' : 'updated'} ${kind} ${p.namespace}/${p.name} keys ${keys.join(', ')} (values before the step ${ctx.dryRun ? 'would be ' : ''}kept in ${kind} ${snapshot})`,
    result: {
      success: true,
      updateResult: {
        resourceType: kind,
        resourceName: p.name,
        namespace: p.namespace,
        updateType: 'config',
        snapshot,
        ...(secret
          ? { newValue: `keys ${keys.join(',')} (values withheld)` }
          : { previousValue: JSON.stringify(previous), newValue: JSON.stringify(values) }),
      },
      resourcesAffected: [
        { resourceType: kind, name: p.name, namespace: p.namespace, changeType: 'modified' },
      ],
    },
  };
}

export async function updateConfigMap(ctx: ActionContext): Promise<ActionOutcome> {
  const p = required(ctx.child.spec.parameters?.updateConfigMap, 'updateConfigMap');
  return update(ctx, 'ConfigMap', p, p.dataUpdates);
}

export async function updateSecret(ctx: ActionContext): Promise<ActionOutcome> {
  const p = required(ctx.child.spec.parameters?.updateSecret, 'updateSecret');
  if ((p.dataUpdates === undefined) === (p.secretRef === undefined))
    throw new ActionError('updateSecret takes its values from exactly one of dataUpdates and secretRef');
  const values = p.secretRef ? await referencedValues(ctx, p.namespace, p.secretRef) : (p.dataUpdates ?? {});
  return update(ctx, 'Secret', p, values);
}

/** Puts back the step's snapshot: its values, and removes the keys the target did not have. */
export async function restorePreviousConfig(ctx: ActionContext): Promise<ActionOutcome> {
  const p = required(ctx.child.spec.rollbackParameters?.restorePreviousConfig, 'restorePreviousConfig');
  const type = TYPES[p.type];
  const name = p.snapshot ?? snapshotName(ctx.child);
  const snapshot = await ctx.request<DataObject>(resourcePath(type, p.namespace, name));
  const absent = (snapshot.metadata.annotations?.[ABSENT_KEYS] ?? '').split(',').filter(Boolean);
  const data: Record<string, string | null> = { ...snapshot.data };
  for (const key of absent) data[key] = null;
  await ctx.request(resourcePath(type, p.namespace, p.name), {
    method: 'PATCH',
    patchType: 'merge',
    body: { data },
  });
  const keys = Object.keys(data).sort();
  return {
    message: `${ctx.dryRun ? 'would restore' : 'restored'} ${p.type} ${p.namespace}/${p.name} keys ${keys.join(', ')} from ${name}`,
    result: {
      success: true,
      updateResult: {
        resourceType: p.type,
        resourceName: p.name,
        namespace: p.namespace,
        updateType: 'config',
        snapshot: name,
        ...(p.type === 'Secret' ? {} : { newValue: JSON.stringify(data) }),
      },
      resourcesAffected: [
        { resourceType: p.type, name: p.name, namespace: p.namespace, changeType: 'modified' },
      ],
    },
  };
}
