/**
 * What each step touches: the object, and the verb the executor needs on it. Safety checks (RBAC,
 * health, capacity) and effectiveness monitoring both start from here.
 */
import type { TargetResource } from '../api/actions.ts';
import type { WorkflowStep } from '../api/generated/types.ts';

const deployment = (namespace: string, name: string, verb: TargetResource['verb']): TargetResource => ({
  group: 'apps',
  resource: 'deployments',
  kind: 'Deployment',
  namespace,
  name,
  verb,
});

export function targetOf(step: WorkflowStep): TargetResource | undefined {
  const p = step.parameters;
  if (p.scaleDeployment)
    return deployment(p.scaleDeployment.namespace, p.scaleDeployment.deployment, 'patch');
  if (p.restartDeployment)
    return deployment(p.restartDeployment.namespace, p.restartDeployment.deployment, 'patch');
  if (p.updateImage) return deployment(p.updateImage.namespace, p.updateImage.deployment, 'patch');
  if (p.restartPod) {
    return {
      group: '',
      resource: 'pods',
      kind: 'Pod',
      namespace: p.restartPod.namespace,
      name: p.restartPod.podName ?? '',
      ...(p.restartPod.selector ? { selector: p.restartPod.selector } : {}),
      verb: 'delete',
    };
  }
  if (p.deletePod) {
    return {
      group: '',
      resource: 'pods',
      kind: 'Pod',
      namespace: p.deletePod.namespace,
      name: p.deletePod.podName,
      verb: 'delete',
    };
  }
  if (p.updateConfigMap) {
    return {
      group: '',
      resource: 'configmaps',
      kind: 'ConfigMap',
      namespace: p.updateConfigMap.namespace,
      name: p.updateConfigMap.name,
      verb: 'patch',
    };
  }
  if (p.updateSecret) {
    return {
      group: '',
      resource: 'secrets',
      kind: 'Secret',
      namespace: p.updateSecret.namespace,
      name: p.updateSecret.name,
      verb: 'patch',
    };
  }
  if (p.cordonNode)
    return {
      group: '',
      resource: 'nodes',
      kind: 'Node',
      namespace: '',
      name: p.cordonNode.nodeName,
      verb: 'patch',
    };
  if (p.drainNode)
    return {
      group: '',
      resource: 'nodes',
      kind: 'Node',
      namespace: '',
      name: p.drainNode.nodeName,
      verb: 'patch',
    };
  // A custom action names no object the operator can check.
  return undefined;
}

/** `Deployment shop/web`, `Node worker-1`: how targets are named in messages. */
export const describeTarget = (t: TargetResource): string =>
  `${t.kind} ${t.namespace ? `${t.namespace}/` : ''}${t.name || `(selector ${t.selector ?? ''})`}`;
