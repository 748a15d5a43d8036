/**
 * The rules on step numbers, names and `dependsOn` that the CRD states in CEL: shared by the
 * validator (which answers as the apiserver would) and the planner (which builds the graph).
 */
import type { SpecIssue } from './issues.ts';
import type { WorkflowStep } from './generated/types.ts';
import type { ResolvedSpec } from './resolved-spec.ts';

export const STEPS = 'spec.workflowDefinition.steps';

/** Each key's first step index; a later step with a key already used is an issue at its field. */
function firstIndexBy<F extends 'stepNumber' | 'name'>(
  steps: readonly WorkflowStep[],
  field: F,
  reason: string,
  issues: SpecIssue[],
): Map<WorkflowStep[F], number> {
  const first = new Map<WorkflowStep[F], number>();
  steps.forEach((step, index) => {
    const key = step[field];
    const used = first.get(key);
    if (used === undefined) first.set(key, index);
    else
      issues.push({
        reason,
        path: `${STEPS}[${index}].${field}`,
        message: `step ${field === 'name' ? 'name' : 'number'} ${JSON.stringify(key)} is already used by steps[${used}]`,
      });
  });
  return first;
}

/** step number -> index; reports duplicate numbers and names. */
export function indexSteps(steps: readonly WorkflowStep[], issues: SpecIssue[]): Map<number, number> {
  const byNumber = firstIndexBy(steps, 'stepNumber', 'DuplicateStepNumber', issues);
  firstIndexBy(steps, 'name', 'DuplicateStepName', issues);
  return byNumber;
}

export function numberedDependencies(spec: ResolvedSpec, byNumber: Map<number, number>, issues: SpecIssue[]) {
  const result = new Map<number, number[]>();
  spec.workflowDefinition.steps.forEach((step, index) => {
    if (!step.dependsOn) return;
    const seen = new Set<number>();
    step.dependsOn.forEach((dep, depIndex) => {
      const path = `${STEPS}[${index}].dependsOn[${depIndex}]`;
      if (dep === step.stepNumber) {
        issues.push({ reason: 'SelfDependency', path, message: `step ${dep} cannot depend on itself` });
      } else if (!byNumber.has(dep)) {
        issues.push({
          reason: 'UnknownDependency',
          path,
          message: `step ${dep} does not exist in this workflow`,
        });
      } else if (seen.has(dep)) {
        issues.push({ reason: 'DuplicateDependency', path, message: `step ${dep} is listed twice` });
      }
      seen.add(dep);
    });
    result.set(
      step.stepNumber,
      [...seen].filter((d) => d !== step.stepNumber && byNumber.has(d)),
    );
  });
  return result;
}
