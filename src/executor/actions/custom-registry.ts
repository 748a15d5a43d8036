/**
 * The custom action registry: the ConfigMap `kubernaut-custom-actions` in the executor's namespace,
 * one key per actionType, each a YAML (or JSON) Job template:
 *
 *   restart-cache: |
 *     image: registry.example/cache-tools:1.4
 *     command: [cache-tool, flush]
 *     serviceAccountName: cache-admin     # optional; the namespace's default otherwise
 *     resources: {limits: {cpu: 200m, memory: 64Mi}}
 *     backoffLimit: 0                     # optional, default 0: a failed run fails the attempt
 *     activeDeadlineSeconds: 300          # optional; the attempt's timeout otherwise
 *
 * A ConfigMap rather than a CRD: administrators edit it with kubectl like any configuration, the
 * executor needs `get` on one object in its own namespace, and there is no new API to version.
 */
import { parse } from 'yaml';
import { CUSTOM_ACTIONS_CONFIGMAP, EXECUTOR_NAMESPACE } from '../../api/executor-rbac.ts';
import { isRecord } from '../../api/json.ts';
import { isNotFound } from '../../shell/kube/client.ts';
import { CONFIG_MAPS, resourcePath } from '../../shell/kube/resources.ts';
import { ActionError, type ActionContext } from '../context.ts';

export interface CustomActionTemplate {
  image: string;
  command?: string[];
  args?: string[];
  serviceAccountName?: string;
  resources?: Record<string, unknown>;
  backoffLimit?: number;
  activeDeadlineSeconds?: number;
}

const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string');
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

/** Parses one registry entry; a malformed one fails naming the key and what is wrong. */
export function parseTemplate(actionType: string, text: string): CustomActionTemplate {
  const where = `custom action ${actionType} in ConfigMap ${CUSTOM_ACTIONS_CONFIGMAP}`;
  let value: unknown;
  try {
    value = parse(text);
  } catch (error) {
    throw new ActionError(`${where} is not YAML: ${(error as Error).message}`);
  }
  if (!isRecord(value)) throw new ActionError(`${where} is not a mapping`);
  const { image, command, args, serviceAccountName, resources, backoffLimit, activeDeadlineSeconds } = value;
  const known = [
    'image',
    'command',
    'args',
    'serviceAccountName',
    'resources',
    'backoffLimit',
    'activeDeadlineSeconds',
  ];
  const unknown = Object.keys(value).filter((k) => !known.includes(k));
  if (unknown.length > 0) throw new ActionError(`${where} has unknown field ${unknown.join(', ')}`);
  if (typeof image !== 'string' || image === '') throw new ActionError(`${where} needs an image`);
  if (command !== undefined && !isStrings(command))
    throw new ActionError(`${where}: command must be a list of strings`);
  if (args !== undefined && !isStrings(args))
    throw new ActionError(`${where}: args must be a list of strings`);
  if (serviceAccountName !== undefined && typeof serviceAccountName !== 'string')
    throw new ActionError(`${where}: serviceAccountName must be a string`);
  if (resources !== undefined && !isRecord(resources))
    throw new ActionError(`${where}: resources must be a mapping`);
  if (backoffLimit !== undefined && !isCount(backoffLimit))
    throw new ActionError(`${where}: backoffLimit must be a whole number`);
  if (activeDeadlineSeconds !== undefined && (!isCount(activeDeadlineSeconds) || activeDeadlineSeconds === 0))
    throw new ActionError(`${where}: activeDeadlineSeconds must be a positive whole number`);
  return {
    image,
    ...(command === undefined ? {} : { command }),
    ...(args === undefined ? {} : { args }),
    ...(serviceAccountName === undefined ? {} : { serviceAccountName }),
    ...(resources === undefined ? {} : { resources }),
    ...(backoffLimit === undefined ? {} : { backoffLimit }),
    ...(activeDeadlineSeconds === undefined ? {} : { activeDeadlineSeconds }),
  };
}

/** The registered template of `actionType`; an unregistered one fails naming it. */
export async function registeredTemplate(
  ctx: ActionContext,
  actionType: string,
): Promise<CustomActionTemplate> {
  const namespace = ctx.executorNamespace ?? EXECUTOR_NAMESPACE;
  let data: Record<string, string> = {};
  try {
    const registry = await ctx.client.request<{ data?: Record<string, string> }>(
      resourcePath(CONFIG_MAPS, namespace, CUSTOM_ACTIONS_CONFIGMAP),
    );
    data = registry.data ?? {};
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  const text = data[actionType];
  if (text === undefined)
    throw new ActionError(
      `custom action ${actionType} is not registered: add it to ConfigMap ${namespace}/${CUSTOM_ACTIONS_CONFIGMAP}`,
    );
  return parseTemplate(actionType, text);
}
