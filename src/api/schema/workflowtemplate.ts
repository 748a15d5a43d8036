/**
 * The WorkflowTemplate schema: a versioned workflow definition with declared parameters, from which
 * WorkflowExecutions are made (`spec.workflowTemplateRef`).
 *
 * Versions are entries of one resource (`spec.versions`, a list-map keyed by `version`), not one
 * object per version: a user finds, lists and RBACs a template by one name, `kubectl get
 * workflowtemplate x -o yaml` shows its history, and a rule on each entry (`self == oldSelf`, which
 * the apiserver correlates by key) makes a published version immutable without any cost that grows
 * with the list. A new version is a new entry; removing an entry retires it (runs resolved from it
 * keep their copy, recorded in their status).
 *
 * The definition's steps are the WorkflowExecution's, with two changes so that `${params.x}` can
 * stand where a value goes: string formats (patterns) are checked after substitution rather than
 * here, and integer fields also take a string (a whole-value `${params.n}` of an integer parameter).
 * Nothing else is relaxed: unknown fields are pruned, and the resolved run is validated in full.
 */
import { bool, enumOf, list, obj, str, type Schema } from './builders.ts';
import {
  PARAMETER_NAME_PATTERN,
  PARAMETER_TYPES,
  TEMPLATE_LIMITS,
  TEMPLATE_VERSION_PATTERN,
} from './template-ref.ts';
import { LIMITS, workflowStep } from './workflowexecution.ts';

/**
 * A copy of a step schema in which a parameter reference can stand for a value: no patterns, no CEL
 * (the resolved spec gets both), integers may be strings.
 */
export function templated(schema: Schema): Schema {
  const copy: Schema = {};
  for (const [key, value] of Object.entries(schema) as [keyof Schema, unknown][]) {
    if (key === 'pattern' || key === 'x-kubernetes-validations' || key === 'format') continue;
    if (key === 'properties')
      copy.properties = Object.fromEntries(
        Object.entries(value as Record<string, Schema>).map(([name, child]) => [name, templated(child)]),
      );
    else if (key === 'items') copy.items = templated(value as Schema);
    else if (key === 'additionalProperties' && typeof value === 'object')
      copy.additionalProperties = templated(value as Schema);
    else (copy as Record<string, unknown>)[key] = value;
  }
  if (schema.type === 'integer') {
    // int-or-string: a schema with neither type nor bounds (structural rules).
    return {
      ...(schema.description ? { description: schema.description } : {}),
      'x-kubernetes-int-or-string': true,
    };
  }
  return copy;
}

/** A step of a template: a WorkflowExecution step whose values may be parameter references. */
export const templateStep = templated(workflowStep);

export const templateParameter = obj(
  'A parameter a run supplies (spec.parameters), referred to as ${params.NAME} in string fields.',
  {
    name: str(63, 'The name, as referred to by ${params.NAME}.', { pattern: PARAMETER_NAME_PATTERN }),
    type: enumOf(PARAMETER_TYPES, 'Its type; the value is given as text and checked against it.'),
    default: str(TEMPLATE_LIMITS.parameterValue, 'Its value when the run gives none.'),
    required: bool('A run must give it (a default does not count).'),
    description: str(LIMITS.longText, 'What it means.'),
  },
  ['name', 'type'],
  {
    'x-kubernetes-validations': [
      {
        rule: "!has(self.default) || self.type != 'integer' || self.default.matches('^-?[0-9]{1,15}$')",
        message: 'the default of an integer parameter must be an integer',
        reason: 'FieldValueInvalid',
      },
      {
        rule: "!has(self.default) || self.type != 'boolean' || self.default in ['true', 'false']",
        message: 'the default of a boolean parameter must be true or false',
        reason: 'FieldValueInvalid',
      },
    ],
  },
);

export const templateVersion = obj(
  'One published version: immutable once created.',
  {
    version: str(TEMPLATE_LIMITS.version, 'The version, e.g. "1.2.0".', {
      pattern: TEMPLATE_VERSION_PATTERN,
    }),
    description: str(LIMITS.longText, 'What changed in this version.'),
    parameters: list(templateParameter, TEMPLATE_LIMITS.parameters, 'The parameters it declares.', {
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['name'],
    }),
    workflowDefinition: obj(
      'The workflow: the WorkflowExecution definition without name and version (the template’s).',
      {
        steps: list(templateStep, LIMITS.steps, 'The steps; step numbers are unique.', {
          minItems: 1,
          'x-kubernetes-list-type': 'atomic',
        }),
        dependencies: {
          type: 'object',
          description: 'Dependencies by step name: step name -> names of the steps it waits for.',
          maxProperties: LIMITS.namedDependencies,
          additionalProperties: list(str(LIMITS.stepName, 'A step name.'), LIMITS.dependsOn, 'Step names.'),
        },
      },
      ['steps'],
    ),
  },
  ['version', 'workflowDefinition'],
  {
    'x-kubernetes-validations': [
      {
        rule: 'self == oldSelf',
        message: 'a published version is immutable: publish a new version instead',
        reason: 'FieldValueForbidden',
      },
    ],
  },
);

export const workflowTemplateSpec = obj(
  'A versioned workflow definition.',
  {
    description: str(LIMITS.longText, 'What the template remediates.'),
    versions: list(
      templateVersion,
      TEMPLATE_LIMITS.versions,
      'Published versions, oldest first; a run without a version gets the last.',
      {
        minItems: 1,
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['version'],
      },
    ),
  },
  ['versions'],
);
