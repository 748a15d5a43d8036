/**
 * The AlertRoute schema: which Alertmanager alerts become runs of which template version, with which
 * parameters (taken from the alert's labels and annotations) and which strategy. Namespaced: a route
 * makes runs in its own namespace, from templates of that namespace, so the team that owns a
 * namespace owns its routes (and RBAC on alertroutes says who may write one).
 */
import { bool, enumOf, list, obj, str } from './builders.ts';
import { PARAMETER_NAME_PATTERN, TEMPLATE_LIMITS, workflowTemplateRef } from './template-ref.ts';
import { LIMITS, ROLLBACK_STRATEGIES } from './workflowexecution.ts';

/** Alertmanager's matcher operators: equal, not equal, regex match, regex no match (fully anchored). */
export const MATCH_OPERATORS = ['=', '!=', '=~', '!~'] as const;
export const ROUTE_LIMITS = { matchers: 16, parameters: TEMPLATE_LIMITS.parameters } as const;

export const alertMatcher = obj(
  'A condition on one alert label, as Alertmanager writes it; a missing label is the empty string.',
  {
    label: str(LIMITS.stepName, 'The label name.', { minLength: 1 }),
    operator: enumOf(MATCH_OPERATORS, 'How to compare; regexes match the whole value.'),
    value: str(LIMITS.shortText, 'The value or regex.'),
  },
  ['label', 'operator', 'value'],
);

export const routeParameter = obj(
  'One template parameter: a literal value, or the value of an alert label or annotation.',
  {
    name: str(63, 'The template parameter.', { pattern: PARAMETER_NAME_PATTERN }),
    value: str(TEMPLATE_LIMITS.parameterValue, 'A literal value.'),
    fromLabel: str(LIMITS.stepName, 'The alert label whose value it takes.'),
    fromAnnotation: str(LIMITS.stepName, 'The alert annotation whose value it takes.'),
  },
  ['name'],
  {
    'x-kubernetes-validations': [
      {
        rule: '[has(self.value), has(self.fromLabel), has(self.fromAnnotation)].filter(x, x).size() == 1',
        message: 'exactly one of value, fromLabel and fromAnnotation must be set',
        reason: 'FieldValueInvalid',
      },
    ],
  },
);

export const alertRouteSpec = obj(
  'Alerts this route takes, and the run each one becomes.',
  {
    matchers: list(alertMatcher, ROUTE_LIMITS.matchers, 'All must hold for an alert to match.', {
      minItems: 1,
      'x-kubernetes-list-type': 'atomic',
    }),
    workflowTemplateRef,
    parameters: list(routeParameter, ROUTE_LIMITS.parameters, 'The run’s parameters.', {
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['name'],
    }),
    executionStrategy: obj('The run’s strategy.', {
      approvalRequired: bool('Wait for an approval before executing.'),
      dryRunFirst: bool('Dry-run every step before executing.'),
      rollbackStrategy: enumOf(ROLLBACK_STRATEGIES, 'What happens when a critical step fails (automatic).'),
    }),
  },
  ['matchers', 'workflowTemplateRef'],
);
