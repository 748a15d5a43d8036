/**
 * The WorkflowExecution spec's rules as a ValidatingAdmissionPolicy (generated into
 * manifests/admission/ by `npm run generate`). It matches the resource itself, never its /status
 * subresource, so the operator's status writes evaluate none of it (DESIGN 11): the rules run once,
 * on create, and the immutability check on updates of the resource itself. Every refusal names its
 * JSON path, as the CRD's rules did. The planner re-checks everything (src/api/validation.ts), so a
 * cluster without this policy still ends a bad spec `failed` with `InvalidSpec`, reason and path.
 */
import { ROLLBACK_ACTIONS, STEP_ACTIONS } from '../actions.ts';
import { durationAtMost, durationAtMostMessage } from './builders.ts';
import { WORKFLOW_GROUP } from './crds.ts';
import { RULES } from './workflowexecution.ts';

export const SPEC_POLICY_NAME = 'workflowexecution-spec.kubernaut.io';
const STEPS = 'spec.workflowDefinition.steps';

interface Validation {
  expression: string;
  messageExpression: string;
  reason: 'Invalid';
}

/**
 * A rule every step must pass on create: `rule(s)` over the step `s`, refused with the path of each
 * step that fails (`steps[i]` + `suffix`) and `message(s)`, a CEL string expression.
 */
function everyStep(rule: (s: string) => string, suffix: string, message: (s: string) => string): Validation {
  return {
    expression: `!variables.creating || variables.steps.all(s, ${rule('s')})`,
    messageExpression: `variables.steps.transformList(i, s, !(${rule('s')}), '${STEPS}[' + string(i) + ']${suffix}: ' + ${message('s')}).join('; ')`,
    reason: 'Invalid',
  };
}

const quoted = (text: string) => `'${text}'`;

/** Every step's `field` (a path below the step, each level optional) at most 720h. */
function durationBound(field: string): Validation {
  const levels = field.split('.');
  const present = (s: string) =>
    levels.map((_, i) => `has(${s}.${levels.slice(0, i + 1).join('.')})`).join(' && ');
  return everyStep(
    (s) => `!(${present(s)}) || ${durationAtMost(`${s}.${field}`)}`,
    `.${field}`,
    () => quoted(durationAtMostMessage),
  );
}
/** The parameter members that take a grace period. */
const GRACE_PERIOD_MEMBERS = ['restartDeployment', 'restartPod', 'deletePod', 'drainNode'] as const;
const knownStep = 'd in variables.stepNumbers';

export const specValidations: Validation[] = [
  {
    expression: "request.operation != 'UPDATE' || object.spec == oldObject.spec",
    messageExpression: "'spec: spec is immutable after creation'",
    reason: 'Invalid',
  },
  {
    expression:
      '!variables.creating || has(object.spec.workflowDefinition) != has(object.spec.workflowTemplateRef)',
    messageExpression: `'spec: ${RULES.oneDefinitionMessage}'`,
    reason: 'Invalid',
  },
  {
    expression: '!variables.creating || !has(object.spec.parameters) || has(object.spec.workflowTemplateRef)',
    messageExpression: `'spec.parameters: ${RULES.parametersNeedTemplateMessage}'`,
    reason: 'Invalid',
  },
  everyStep(
    (s) => RULES.actionMatchesMember(STEP_ACTIONS, s),
    '.parameters',
    (s) => RULES.actionMatchesMemberMessage('action', s),
  ),
  everyStep(
    (s) => `!has(${s}.rollbackSpec) || ${RULES.actionMatchesMember(ROLLBACK_ACTIONS, `${s}.rollbackSpec`)}`,
    '.rollbackSpec.parameters',
    (s) => RULES.actionMatchesMemberMessage('rollback action', `${s}.rollbackSpec`),
  ),
  everyStep(
    (s) => `!has(${s}.parameters.restartPod) || ${RULES.restartPodTarget(`${s}.parameters.restartPod`)}`,
    '.parameters.restartPod',
    () => quoted(RULES.restartPodTargetMessage),
  ),
  everyStep(
    (s) =>
      `!has(${s}.parameters.updateSecret) || ${RULES.secretValuesSource(`${s}.parameters.updateSecret`)}`,
    '.parameters.updateSecret',
    () => quoted(RULES.secretValuesSourceMessage),
  ),
  durationBound('timeout'),
  durationBound('rollbackSpec.timeout'),
  ...GRACE_PERIOD_MEMBERS.map((member) => durationBound(`parameters.${member}.gracePeriod`)),
  everyStep(RULES.notSelfDependent, '.dependsOn', () => quoted(RULES.notSelfDependentMessage)),
  {
    // Linear: step numbers are a list-map key (unique before admission runs), so they index a map.
    expression: `!variables.creating || variables.steps.all(s, !has(s.dependsOn) || s.dependsOn.all(d, ${knownStep}))`,
    messageExpression: `variables.steps.transformList(i, s, has(s.dependsOn) && s.dependsOn.exists(d, !(${knownStep})), s.dependsOn.transformList(j, d, !(${knownStep}), '${STEPS}[' + string(i) + '].dependsOn[' + string(j) + ']: step ' + string(d) + ' does not exist in this workflow').join('; ')).join('; ')`,
    reason: 'Invalid',
  },
];

export const specPolicy = {
  apiVersion: 'admissionregistration.k8s.io/v1',
  kind: 'ValidatingAdmissionPolicy',
  metadata: { name: SPEC_POLICY_NAME },
  spec: {
    failurePolicy: 'Fail',
    matchConstraints: {
      resourceRules: [
        {
          apiGroups: [WORKFLOW_GROUP],
          apiVersions: ['v1'],
          operations: ['CREATE', 'UPDATE'],
          // The resource only: workflowexecutions/status is not matched.
          resources: ['workflowexecutions'],
        },
      ],
    },
    variables: [
      { name: 'creating', expression: "request.operation == 'CREATE'" },
      // A run made from a template has no steps of its own until the operator resolves them.
      {
        name: 'steps',
        expression: 'has(object.spec.workflowDefinition) ? object.spec.workflowDefinition.steps : []',
      },
      { name: 'stepNumbers', expression: 'variables.steps.transformMapEntry(i, s, {s.stepNumber: i})' },
    ],
    validations: specValidations,
  },
};

export const specPolicyBinding = {
  apiVersion: 'admissionregistration.k8s.io/v1',
  kind: 'ValidatingAdmissionPolicyBinding',
  metadata: { name: SPEC_POLICY_NAME },
  spec: { policyName: SPEC_POLICY_NAME, validationActions: ['Deny'] },
};

/**
 * Optional (not in the admission kustomization): a cluster that wants no Secret value inside a
 * WorkflowExecution applies this policy and binding, and update-secret must then use `secretRef`.
 * Its own policy rather than a parameter of the spec policy, so installing it is one `kubectl apply`.
 */
export const INLINE_SECRET_POLICY_NAME = 'workflowexecution-refuse-inline-secret-values.kubernaut.io';
const inlineSecretRule = (s: string): string =>
  `!has(${s}.parameters.updateSecret) || !has(${s}.parameters.updateSecret.dataUpdates)`;

export const inlineSecretPolicy = {
  apiVersion: 'admissionregistration.k8s.io/v1',
  kind: 'ValidatingAdmissionPolicy',
  metadata: { name: INLINE_SECRET_POLICY_NAME },
  spec: {
    failurePolicy: 'Fail',
    matchConstraints: specPolicy.spec.matchConstraints,
    variables: specPolicy.spec.variables.slice(0, 2),
    validations: [
      everyStep(inlineSecretRule, '.parameters.updateSecret.dataUpdates', () =>
        quoted(
          'this cluster refuses Secret values inline in a WorkflowExecution: use secretRef to name a Secret that holds them',
        ),
      ),
    ],
  },
};

export const inlineSecretPolicyBinding = {
  apiVersion: 'admissionregistration.k8s.io/v1',
  kind: 'ValidatingAdmissionPolicyBinding',
  metadata: { name: INLINE_SECRET_POLICY_NAME },
  spec: { policyName: INLINE_SECRET_POLICY_NAME, validationActions: ['Deny'] },
};
