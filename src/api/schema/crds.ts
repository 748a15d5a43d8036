/** Assembles the two CustomResourceDefinitions from the schemas. */
import { withoutValidations, type Schema } from './builders.ts';
import { kubernetesExecutionSpec, kubernetesExecutionStatus } from './kubernetesexecution.ts';
import { workflowExecutionSpec } from './workflowexecution.ts';
import { workflowExecutionStatus } from './workflowexecution-status.ts';
import { workflowTemplateSpec } from './workflowtemplate.ts';
import { alertRouteSpec } from './alertroute.ts';

interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'date' | 'number' | 'boolean';
  jsonPath: string;
  description?: string;
  priority?: number;
}

interface CrdInput {
  group: string;
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  spec: Schema;
  /** None: the resource has no status subresource. */
  status?: Schema;
  columns: PrinterColumn[];
}

export const WORKFLOW_GROUP = 'workflowexecution.kubernaut.io';
export const EXECUTION_GROUP = 'kubernetesexecution.kubernaut.io';

function crd(input: CrdInput): Record<string, unknown> {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${input.plural}.${input.group}` },
    spec: {
      group: input.group,
      names: {
        kind: input.kind,
        listKind: `${input.kind}List`,
        plural: input.plural,
        singular: input.singular,
        shortNames: input.shortNames,
        categories: ['kubernaut'],
      },
      scope: 'Namespaced',
      versions: [
        {
          name: 'v1',
          served: true,
          storage: true,
          ...(input.status ? { subresources: { status: {} } } : {}),
          additionalPrinterColumns: input.columns,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: `${input.kind} (${input.group}/v1).`,
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: { type: 'object' },
                spec: input.spec,
                ...(input.status ? { status: input.status } : {}),
              },
              required: ['spec'],
            },
          },
        },
      ],
    },
  };
}

export const workflowExecutionCrd = crd({
  group: WORKFLOW_GROUP,
  kind: 'WorkflowExecution',
  plural: 'workflowexecutions',
  singular: 'workflowexecution',
  shortNames: ['wfe'],
  // Its rules are an admission policy instead (admission.ts): none is evaluated on a status write.
  spec: withoutValidations(workflowExecutionSpec).schema,
  status: workflowExecutionStatus,
  columns: [
    { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
    {
      name: 'Step',
      type: 'string',
      jsonPath: '.status.progress',
      description: 'Steps finished / steps in all',
    },
    { name: 'Ready', type: 'string', jsonPath: ".status.conditions[?(@.type=='Ready')].status" },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
    { name: 'Outcome', type: 'string', jsonPath: '.status.workflowResult.outcome', priority: 1 },
    { name: 'Strategy', type: 'string', jsonPath: '.status.executionPlan.strategy', priority: 1 },
    { name: 'Rollback', type: 'string', jsonPath: '.spec.executionStrategy.rollbackStrategy', priority: 1 },
    {
      name: 'Reason',
      type: 'string',
      jsonPath: ".status.conditions[?(@.type=='Ready')].reason",
      priority: 1,
    },
  ],
});

export const kubernetesExecutionCrd = crd({
  group: EXECUTION_GROUP,
  kind: 'KubernetesExecution',
  plural: 'kubernetesexecutions',
  singular: 'kubernetesexecution',
  shortNames: ['kexec'],
  spec: kubernetesExecutionSpec,
  status: kubernetesExecutionStatus,
  columns: [
    { name: 'Workflow', type: 'string', jsonPath: '.spec.workflowExecutionRef.name' },
    { name: 'Kind', type: 'string', jsonPath: '.spec.kind' },
    { name: 'Step', type: 'integer', jsonPath: '.spec.stepNumber' },
    { name: 'Attempt', type: 'integer', jsonPath: '.spec.attempt' },
    { name: 'Action', type: 'string', jsonPath: '.spec.action' },
    { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
    { name: 'Message', type: 'string', jsonPath: '.status.message', priority: 1 },
  ],
});

export const workflowTemplateCrd = crd({
  group: WORKFLOW_GROUP,
  kind: 'WorkflowTemplate',
  plural: 'workflowtemplates',
  singular: 'workflowtemplate',
  shortNames: ['wft'],
  spec: workflowTemplateSpec,
  columns: [
    { name: 'Latest', type: 'string', jsonPath: '.spec.versions[-1:].version' },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
    { name: 'Description', type: 'string', jsonPath: '.spec.description', priority: 1 },
  ],
});

export const alertRouteCrd = crd({
  group: WORKFLOW_GROUP,
  kind: 'AlertRoute',
  plural: 'alertroutes',
  singular: 'alertroute',
  shortNames: ['wfar'],
  spec: alertRouteSpec,
  columns: [
    { name: 'Template', type: 'string', jsonPath: '.spec.workflowTemplateRef.name' },
    { name: 'Version', type: 'string', jsonPath: '.spec.workflowTemplateRef.version' },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
  ],
});
