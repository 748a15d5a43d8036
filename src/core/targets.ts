/**
 * What each step touches: the object, and the verb the executor needs on it. Safety checks (RBAC,
 * health, capacity) and effectiveness monitoring both start from here.
 */
import type { TargetResource } from '../api/actions.ts';
import type { WorkflowStep } from '../api/generated/types.ts';

type Kind = Pick<TargetResource, 'group' | 'resource' | 'kind'>;
const DEPLOYMENT: Kind = { group: 'apps', resource: 'deployments', kind: 'Deployment' };
const POD: Kind = { group: '', resource: 'pods', kind: 'Pod' };
const CONFIG_MAP: Kind = { group: '', resource: 'configmaps', kind: 'ConfigMap' };
const SECRET: Kind = { group: '', resource: 'secrets', kind: 'Secret' };
const NODE: Kind = { group: '', resource: 'nodes', kind: 'Node' };

const target = (
  kind: Kind,
  namespace: string,
  name: string,
  verb: TargetResource['verb'],
  selector?: string,
): TargetResource => ({ ...kind, namespace, name, ...(selector ? { selector } : {}), verb });

export function targetOf(step: WorkflowStep): TargetResource | undefined {
  const p = step.parameters;
  if (p.scaleDeployment)
    return target(DEPLOYMENT, p.scaleDeployment.namespace, p.scaleDeployment.deployment, 'patch');
  if (p.restartDeployment)
    return target(DEPLOYMENT, p.restartDeployment.namespace, p.restartDeployment.deployment, 'patch');
  if (p.updateImage) return target(DEPLOYMENT, p.updateImage.namespace, p.updateImage.deployment, 'patch');
  if (p.restartPod)
    return target(POD, p.restartPod.namespace, p.restartPod.podName ?? '', 'delete', p.restartPod.selector);
  if (p.deletePod) return target(POD, p.deletePod.namespace, p.deletePod.podName, 'delete');
  if (p.updateConfigMap)
    return target(CONFIG_MAP, p.updateConfigMap.namespace, p.updateConfigMap.name, 'patch');
  if (p.updateSecret) return target(SECRET, p.updateSecret.namespace, p.updateSecret.name, 'patch');
  if (p.cordonNode) return target(NODE, '', p.cordonNode.nodeName, 'patch');
  if (p.drainNode) return target(NODE, '', p.drainNode.nodeName, 'patch');
  // A custom action names no object the operator can check.
  return undefined;
}

/** `Deployment shop/web`, `Node worker-1`: how targets are named in messages. */
export const describeTarget = (t: TargetResource): string =>
  `${t.kind} ${t.namespace ? `${t.namespace}/` : ''}${t.name || `(selector ${t.selector ?? ''})`}`;
