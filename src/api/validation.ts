/**
 * Validation of a WorkflowExecution spec: the generated schema validator (bounds, enums, required
 * fields, unknown fields) plus the rules of the spec admission policy (src/api/schema/admission.ts),
 * re-stated here so that a resource the apiserver admitted without that policy or under an older
 * one, or one checked offline, gets the same answer with a path; and unique step names, which only
 * the planner checks (an O(n²) rule in CEL).
 */
import type { ErrorObject } from 'ajv';
import { ROLLBACK_ACTIONS, STEP_ACTIONS, isRollbackAction, isStepAction } from './actions.ts';
import type { WorkflowExecutionSpec } from './generated/types.ts';
import type { ResolvedSpec } from './resolved-spec.ts';
import { RULES } from './schema/workflowexecution.ts';
import { validateKubernetesExecutionStatus, validateWorkflowExecutionSpec } from './generated/validators.js';
import { pointerToPath, type SpecIssue } from './issues.ts';
import { indexSteps, numberedDependencies } from './step-graph.ts';

export type ValidationResult<T> = { ok: true; value: T } | { ok: false; issues: SpecIssue[] };

const REASONS: Record<string, string> = {
  required: 'MissingField',
  type: 'WrongType',
  enum: 'UnsupportedValue',
  maxLength: 'TooLong',
  minLength: 'TooShort',
  pattern: 'InvalidFormat',
  maximum: 'OutOfRange',
  minimum: 'OutOfRange',
  maxItems: 'TooMany',
  minItems: 'TooFew',
  maxProperties: 'TooMany',
  minProperties: 'TooFew',
  additionalProperties: 'UnknownField',
};

function describeAjvError(prefix: string, error: ErrorObject): SpecIssue {
  const path = pointerToPath(prefix, error.instancePath);
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required':
      return {
        reason: 'MissingField',
        path: `${path}.${String(params['missingProperty'])}`,
        message: `${String(params['missingProperty'])} is required`,
      };
    case 'additionalProperties':
      return {
        reason: 'UnknownField',
        path: `${path}.${String(params['additionalProperty'])}`,
        message: `unknown field ${String(params['additionalProperty'])}`,
      };
    case 'enum':
      return {
        reason: 'UnsupportedValue',
        path,
        message: `must be one of: ${(params['allowedValues'] as unknown[]).map(String).join(', ')}`,
      };
    case 'maxLength':
      return { reason: 'TooLong', path, message: `must be at most ${String(params['limit'])} characters` };
    case 'minItems':
      return { reason: 'TooFew', path, message: `must have at least ${String(params['limit'])} item(s)` };
    case 'maxItems':
      return { reason: 'TooMany', path, message: `must have at most ${String(params['limit'])} items` };
    case 'pattern':
      return { reason: 'InvalidFormat', path, message: `must match ${String(params['pattern'])}` };
    default:
      return { reason: REASONS[error.keyword] ?? 'Invalid', path, message: error.message ?? 'is invalid' };
  }
}

function schemaIssues(prefix: string, errors: ErrorObject[] | null | undefined): SpecIssue[] {
  const issues = (errors ?? []).map((error) => describeAjvError(prefix, error));
  // ajv repeats an error when several branches see it; one line per (reason, path) is enough.
  const seen = new Set<string>();
  return issues.filter((issue) => {
    const key = `${issue.reason} ${issue.path}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** The rules ajv cannot express: the admission policy's, and unique step names. */
function ruleIssues(spec: ResolvedSpec): SpecIssue[] {
  const issues: SpecIssue[] = [];
  spec.workflowDefinition.steps.forEach((step, index) => {
    const at = `spec.workflowDefinition.steps[${index}]`;
    const members = Object.keys(step.parameters);
    if (isStepAction(step.action)) {
      const expected = STEP_ACTIONS[step.action];
      if (members.length === 1 && members[0] !== expected) {
        issues.push({
          reason: 'ParametersMismatchAction',
          path: `${at}.parameters`,
          message: `action ${step.action} takes parameters.${expected}, not parameters.${members[0] ?? ''}`,
        });
      }
    }
    if (step.rollbackSpec && isRollbackAction(step.rollbackSpec.action)) {
      const expected = ROLLBACK_ACTIONS[step.rollbackSpec.action];
      const given = Object.keys(step.rollbackSpec.parameters);
      if (given.length === 1 && given[0] !== expected) {
        issues.push({
          reason: 'ParametersMismatchAction',
          path: `${at}.rollbackSpec.parameters`,
          message: `rollback action ${step.rollbackSpec.action} takes parameters.${expected}, not parameters.${given[0] ?? ''}`,
        });
      }
    }
    const secret = step.parameters.updateSecret;
    if (secret && (secret.dataUpdates === undefined) === (secret.secretRef === undefined)) {
      issues.push({
        reason: 'MissingField',
        path: `${at}.parameters.updateSecret`,
        message: RULES.secretValuesSourceMessage,
      });
    }
    const restart = step.parameters.restartPod;
    if (restart && !restart.podName && !restart.selector) {
      issues.push({
        reason: 'MissingField',
        path: `${at}.parameters.restartPod`,
        message: 'restartPod needs a podName or a selector',
      });
    }
  });
  // Unique numbers and names, dependsOn naming existing steps and never the step itself.
  numberedDependencies(spec, indexSteps(spec.workflowDefinition.steps, issues), issues);
  return issues;
}

export function validateSpec(spec: unknown): ValidationResult<ResolvedSpec> {
  if (!validateWorkflowExecutionSpec(spec)) {
    return { ok: false, issues: schemaIssues('spec', validateWorkflowExecutionSpec.errors) };
  }
  const written = spec as WorkflowExecutionSpec;
  if (!written.workflowDefinition) {
    const path = written.workflowTemplateRef ? 'spec.workflowTemplateRef' : 'spec.workflowDefinition';
    const message = written.workflowTemplateRef
      ? 'the template has not been resolved'
      : RULES.oneDefinitionMessage;
    return { ok: false, issues: [{ reason: 'MissingField', path, message }] };
  }
  const typed = written as ResolvedSpec;
  const issues = ruleIssues(typed);
  if (typed.parameters && !typed.workflowTemplateRef)
    issues.push({
      reason: 'Forbidden',
      path: 'spec.parameters',
      message: RULES.parametersNeedTemplateMessage,
    });
  return issues.length > 0 ? { ok: false, issues } : { ok: true, value: typed };
}

/** Status written by an executor is checked too: a malformed result is reported, not trusted. */
export function kubernetesExecutionStatusIssues(status: unknown): SpecIssue[] {
  return validateKubernetesExecutionStatus(status)
    ? []
    : schemaIssues('status', validateKubernetesExecutionStatus.errors);
}
