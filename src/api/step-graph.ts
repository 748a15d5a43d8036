/**
 * The rules on step numbers, names and `dependsOn` that the CRD states in CEL: shared by the
 * validator (which answers as the apiserver would) and the planner (which builds the graph).
 */
import type { SpecIssue } from './issues.ts';
import type { WorkflowExecutionSpec, WorkflowStep } from './generated/types.ts';

export const STEPS = 'spec.workflowDefinition.steps';

/** step number -> index; reports duplicate numbers and names. */
export function indexSteps(steps: readonly WorkflowStep[], issues: SpecIssue[]): Map<number, number> {
  const byNumber = new Map<number, number>();
  const byName = new Map<string, number>();
  steps.forEach((step, index) => {
    const first = byNumber.get(step.stepNumber);
    if (first === undefined) byNumber.set(step.stepNumber, index);
    else
      issues.push({
        reason: 'DuplicateStepNumber',
        path: `${STEPS}[${index}].stepNumber`,
        message: `step number ${step.stepNumber} is already used by steps[${first}]`,
      });
    const sameName = byName.get(step.name);
    if (sameName === undefined) byName.set(step.name, index);
    else
      issues.push({
        reason: 'DuplicateStepName',
        path: `${STEPS}[${index}].name`,
        message: `step name ${JSON.stringify(step.name)} is already used by steps[${sameName}]`,
      });
  });
  return byNumber;
}

export function numberedDependencies(
  spec: WorkflowExecutionSpec,
  byNumber: Map<number, number>,
  issues: SpecIssue[],
) {
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
