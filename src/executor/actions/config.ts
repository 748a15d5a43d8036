/**
 * ConfigMap and Secret actions. Before changing keys, the executor saves their previous values in a
 * snapshot object of the same kind beside the target (`<step child>-previous`), which
 * restore-previous-config puts back. For ConfigMaps the previous values are also reported in the
 * result; Secret values never leave this file: not in status, messages or logs, only key names.
 */
import type { KubernetesExecution } from '../../api/generated/types.ts';
import { LABELS } from '../../shell/children.ts';
import { isAlreadyExists } from '../../shell/kube/client.ts';
import { CONFIG_MAPS, SECRETS, resourcePath, type ResourceType } from '../../shell/kube/resources.ts';
import { ActionError, objectUpdated, required, type ActionContext, type ActionOutcome } from '../context.ts';

/** Keys the target did not have before the change (a restore removes them). */
export const ABSENT_KEYS = 'executor.kubernaut.io/absent-keys';
export const SNAPSHOT_OF = 'executor.kubernaut.io/snapshot-of';

type Kind = 'ConfigMap' | 'Secret';
const TYPES: Record<Kind, ResourceType> = { ConfigMap: CONFIG_MAPS, Secret: SECRETS };

interface DataObject {
  metadata: { name: string; annotations?: Record<string, string> };
  data?: Record<string, string>;
}

export const snapshotName = (stepChild: string): string => `${stepChild}-previous`;

async function saveSnapshot(
  ctx: ActionContext,
  kind: Kind,
  namespace: string,
  target: DataObject,
  keys: string[],
): Promise<string> {
  const child = ctx.child;
  const name = snapshotName(child.metadata.name ?? '');
  const data: Record<string, string> = {};
  const absent: string[] = [];
  for (const key of keys) {
    const value = target.data?.[key];
    if (value === undefined) absent.push(key);
    else data[key] = value;
  }
  const sameNamespace = child.metadata.namespace === namespace;
  try {
    await ctx.request(resourcePath(TYPES[kind], namespace), {
      method: 'POST',
      body: {
        apiVersion: 'v1',
        kind,
        metadata: {
          name,
          namespace,
          labels: { [LABELS.workflowUid]: child.metadata.labels?.[LABELS.workflowUid] ?? '' },
          annotations: { [ABSENT_KEYS]: absent.join(','), [SNAPSHOT_OF]: `${kind}/${target.metadata.name}` },
          // Owner references cannot cross namespaces; elsewhere the label finds it.
          ...(sameNamespace && child.metadata.uid
            ? {
                ownerReferences: [
                  {
                    apiVersion: child.apiVersion,
                    kind: child.kind,
                    name: child.metadata.name ?? '',
                    uid: child.metadata.uid,
                  },
                ],
              }
            : {}),
        },
        data,
      },
    });
  } catch (error) {
    // A retried run of the same child: the first snapshot holds the values from before any change.
    if (!isAlreadyExists(error)) throw error;
  }
  return name;
}

async function update(
  ctx: ActionContext,
  kind: Kind,
  p: { namespace: string; name: string; dataUpdates: Record<string, string> },
): Promise<ActionOutcome> {
  const type = TYPES[kind];
  const target = await ctx.request<DataObject>(resourcePath(type, p.namespace, p.name));
  const keys = Object.keys(p.dataUpdates).sort();
  const snapshot = await saveSnapshot(ctx, kind, p.namespace, target, keys);
  await ctx.request(resourcePath(type, p.namespace, p.name), {
    method: 'PATCH',
    patchType: 'merge',
    body: { data: p.dataUpdates },
  });
  const previous = Object.fromEntries(keys.map((k) => [k, target.data?.[k] ?? null]));
  const secret = kind === 'Secret';
  return {
    message: `${ctx.dryRun ? 'would update' : 'updated'} ${kind} ${p.namespace}/${p.name} keys ${keys.join(', ')} (previous values ${ctx.dryRun ? 'would be ' : ''}saved in ${kind} ${snapshot})`,
    result: objectUpdated(
      { resourceType: kind, name: p.name, namespace: p.namespace },
      {
        updateType: 'config',
        ...(secret
          ? {
              previousValue: `keys ${keys.join(',')} (values withheld)`,
              newValue: `keys ${keys.join(',')} (values withheld)`,
            }
          : { previousValue: JSON.stringify(previous), newValue: JSON.stringify(p.dataUpdates) }),
      },
    ),
  };
}

export async function updateConfigMap(ctx: ActionContext): Promise<ActionOutcome> {
  return update(ctx, 'ConfigMap', required(ctx.child.spec.parameters?.updateConfigMap, 'updateConfigMap'));
}

export async function updateSecret(ctx: ActionContext): Promise<ActionOutcome> {
  return update(ctx, 'Secret', required(ctx.child.spec.parameters?.updateSecret, 'updateSecret'));
}

function snapshotFor(stepChild: KubernetesExecution | undefined, explicit: string | undefined): string {
  if (explicit) return explicit;
  if (!stepChild?.metadata.name)
    throw new ActionError('no completed step child to restore from, and no snapshot named');
  return snapshotName(stepChild.metadata.name);
}

export async function restorePreviousConfig(ctx: ActionContext): Promise<ActionOutcome> {
  const p = required(ctx.child.spec.rollbackParameters?.restorePreviousConfig, 'restorePreviousConfig');
  const type = TYPES[p.type];
  const name = snapshotFor(await ctx.stepChild(), p.snapshot);
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
    result: objectUpdated(
      { resourceType: p.type, name: p.name, namespace: p.namespace },
      { updateType: 'config', ...(p.type === 'Secret' ? {} : { newValue: JSON.stringify(data) }) },
    ),
  };
}
