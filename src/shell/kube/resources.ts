/** REST paths of the resources the operator reads and writes. */

export interface ResourceType {
  group: string;
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
}

export const WORKFLOW_EXECUTIONS: ResourceType = {
  group: 'workflowexecution.kubernaut.io',
  version: 'v1',
  plural: 'workflowexecutions',
  kind: 'WorkflowExecution',
  namespaced: true,
};

export const KUBERNETES_EXECUTIONS: ResourceType = {
  group: 'kubernetesexecution.kubernaut.io',
  version: 'v1',
  plural: 'kubernetesexecutions',
  kind: 'KubernetesExecution',
  namespaced: true,
};

export const WORKFLOW_TEMPLATES: ResourceType = {
  group: 'workflowexecution.kubernaut.io',
  version: 'v1',
  plural: 'workflowtemplates',
  kind: 'WorkflowTemplate',
  namespaced: true,
};

export const ALERT_REMEDIATIONS: ResourceType = {
  group: 'kubernaut.io',
  version: 'v1',
  plural: 'alertremediations',
  kind: 'AlertRemediation',
  namespaced: true,
};

export const apiVersionOf = (type: ResourceType): string =>
  type.group ? `${type.group}/${type.version}` : type.version;

/** `/apis/<group>/<version>[/namespaces/<ns>]/<plural>[/<name>[/<sub>]]` (or `/api/v1/...` for core). */
export function resourcePath(
  type: ResourceType,
  namespace?: string,
  name?: string,
  subresource?: string,
): string {
  const base = type.group ? `/apis/${type.group}/${type.version}` : `/api/${type.version}`;
  const ns = type.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  const tail = name ? `/${encodeURIComponent(name)}${subresource ? `/${subresource}` : ''}` : '';
  return `${base}${ns}/${type.plural}${tail}`;
}

export const core = (plural: string, kind: string, namespaced = true): ResourceType => ({
  group: '',
  version: 'v1',
  plural,
  kind,
  namespaced,
});

export const DEPLOYMENTS: ResourceType = {
  group: 'apps',
  version: 'v1',
  plural: 'deployments',
  kind: 'Deployment',
  namespaced: true,
};
export const PODS = core('pods', 'Pod');
export const CONFIG_MAPS = core('configmaps', 'ConfigMap');
export const SECRETS = core('secrets', 'Secret');
export const NODES = core('nodes', 'Node', false);
