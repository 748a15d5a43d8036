/**
 * How a WorkflowExecution names a WorkflowTemplate version, and the bounds both resources share.
 * Apart from workflowtemplate.ts so that the WorkflowExecution schema can use it without a cycle.
 */
import { dnsSubdomain, obj, str } from './builders.ts';

export const PARAMETER_TYPES = ['string', 'integer', 'boolean'] as const;
export const TEMPLATE_LIMITS = {
  versions: 32,
  parameters: 32,
  parameterValue: 4096,
  version: 64,
} as const;
/** A parameter's name: what `${params.NAME}` refers to. */
export const PARAMETER_NAME_PATTERN = '^[A-Za-z_][A-Za-z0-9_]{0,62}$';
export const TEMPLATE_VERSION_PATTERN = '^[A-Za-z0-9]([-A-Za-z0-9_.]{0,62})$';

export const workflowTemplateRef = obj(
  'The template version to run, instead of an inline workflowDefinition.',
  {
    name: dnsSubdomain('Name of the WorkflowTemplate, in the run’s namespace.'),
    version: str(TEMPLATE_LIMITS.version, 'The version; the template’s last when unset.', {
      pattern: TEMPLATE_VERSION_PATTERN,
    }),
  },
  ['name'],
);
