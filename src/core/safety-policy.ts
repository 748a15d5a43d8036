/**
 * What validation asks, as data (DESIGN 12, safe by default). Every workflow runs the four checks;
 * `executionStrategy.safetyChecks` only says how a failure of one is treated: a check not listed, or
 * listed without `required: false`, blocks the run; `required: false` turns its failure into a
 * warning that is shown (condition, Event, metric label), never hidden. Also here: the
 * SubjectAccessReview questions the `rbac` check asks (one per distinct question, for each step and
 * its rollback, from the action catalogue), and whether each step can be undone (BR-WF-019).
 * Pure: the shell asks the questions and reads the cluster.
 */
import type { ResolvedSpec } from '../api/resolved-spec.ts';
import {
  ROLLBACK_ACTION_CATALOGUE,
  STEP_ACTION_CATALOGUE,
  type ApiCall,
  type ApiVerb,
} from '../api/action-catalogue.ts';
import type { RollbackAction } from '../api/actions.ts';
import type { SafetyCheck, WorkflowStep } from '../api/generated/types.ts';
import { SAFETY_CHECK_TYPES } from '../api/schema/workflowexecution.ts';

export type SafetyCheckType = (typeof SAFETY_CHECK_TYPES)[number];

/**
 * The four checks, in a fixed order, each with how its failure is treated: required unless the spec
 * lists it with `required: false`. A spec written to the specification's example (listing some
 * checks, `required: true`) therefore gets every check, the unlisted ones blocking too.
 */
export function checkPolicy(spec: ResolvedSpec): SafetyCheck[] {
  const listed = new Map((spec.executionStrategy.safetyChecks ?? []).map((c) => [c.type, c]));
  return SAFETY_CHECK_TYPES.map((type) => {
    const declared = listed.get(type);
    return {
      type,
      required: declared?.required ?? true,
      ...(declared?.description ? { description: declared.description } : {}),
    };
  });
}

/** One SubjectAccessReview: who needs it says why, in the check's message when it is denied. */
export interface AccessQuestion {
  group: string;
  resource: string;
  subresource?: string;
  verb: ApiVerb;
  /** Empty: cluster-scoped, or every namespace (a drain evicts pods wherever they run). */
  namespace: string;
}

export interface AccessNeed {
  question: AccessQuestion;
  /** `step 2 (scale web)`, `rollback of step 2 (scale-to-previous)`: each one that needs it, with why. */
  neededBy: string[];
}

/** The namespace a step's calls are made in: its target's, or for a custom action the run's own. */
export function stepNamespace(step: WorkflowStep, runNamespace: string): string {
  const p = step.parameters;
  return (
    p.scaleDeployment?.namespace ??
    p.restartDeployment?.namespace ??
    p.updateImage?.namespace ??
    p.restartPod?.namespace ??
    p.deletePod?.namespace ??
    p.updateConfigMap?.namespace ??
    p.updateSecret?.namespace ??
    (p.cordonNode || p.drainNode ? '' : runNamespace)
  );
}

/** The rollback a step would get: its rollbackSpec, else the catalogue's inverse; null when none. */
export function rollbackActionOf(step: WorkflowStep): RollbackAction | null {
  if (step.rollbackSpec) return step.rollbackSpec.action;
  const reversal = STEP_ACTION_CATALOGUE[step.action].reversal;
  return reversal.kind === 'inverse' ? reversal.action : null;
}

export const questionKey = (q: AccessQuestion): string =>
  [q.group, q.resource, q.subresource ?? '', q.verb, q.namespace].join('|');

export const describeQuestion = (q: AccessQuestion): string =>
  `${q.verb} ${q.group ? `${q.group}/` : ''}${q.resource}${q.subresource ? `/${q.subresource}` : ''} ${
    q.namespace ? `in namespace ${q.namespace}` : 'cluster-wide'
  }`;

/**
 * Every API call of every step and of its rollback, as distinct SubjectAccessReview questions, each
 * with the steps that need it: a 150-step workflow on one Deployment asks a handful, not hundreds.
 */
export function accessNeeds(spec: ResolvedSpec, runNamespace: string): AccessNeed[] {
  const needs = new Map<string, AccessNeed>();
  const add = (calls: readonly ApiCall[], namespace: string, who: string) => {
    for (const call of calls)
      for (const verb of call.verbs) {
        const question: AccessQuestion = {
          group: call.group,
          resource: call.resource,
          ...(call.subresource ? { subresource: call.subresource } : {}),
          verb,
          namespace: call.scope === 'target' ? namespace : '',
        };
        const key = questionKey(question);
        const need = needs.get(key) ?? { question, neededBy: [] };
        const reason = `${who}: ${call.why}`;
        if (!need.neededBy.includes(reason)) need.neededBy.push(reason);
        needs.set(key, need);
      }
  };
  for (const step of spec.workflowDefinition.steps) {
    const namespace = stepNamespace(step, runNamespace);
    add(STEP_ACTION_CATALOGUE[step.action].calls, namespace, `step ${step.stepNumber} (${step.action})`);
    const rollback = rollbackActionOf(step);
    if (rollback !== null)
      add(
        ROLLBACK_ACTION_CATALOGUE[rollback].calls,
        namespace,
        `rollback of step ${step.stepNumber} (${rollback})`,
      );
  }
  return [...needs.values()];
}

/** BR-WF-019: how each step is undone, or why it cannot be. */
export interface Reversibility {
  step: number;
  reversible: boolean;
  /** `rollbackSpec scale-to-previous`, `inverse uncordon-node`, or why it is irreversible. */
  how: string;
}

export function reversibilityOf(spec: ResolvedSpec): Reversibility[] {
  return spec.workflowDefinition.steps.map((step) => {
    if (step.rollbackSpec)
      return { step: step.stepNumber, reversible: true, how: `rollbackSpec ${step.rollbackSpec.action}` };
    const reversal = STEP_ACTION_CATALOGUE[step.action].reversal;
    return reversal.kind === 'inverse'
      ? { step: step.stepNumber, reversible: true, how: `inverse ${reversal.action}` }
      : { step: step.stepNumber, reversible: false, how: reversal.why };
  });
}

/**
 * The rollback part of the `rbac` check's message, and a warning when `rollbackStrategy: automatic`
 * has nothing to undo (every step irreversible): a rollback that would do nothing is shown, not implied.
 */
/** How many step numbers a note names per reason before it counts the rest. */
const MAX_LISTED_STEPS = 5;

export function reversibilityNote(spec: ResolvedSpec): { note: string; warning: string | null } {
  const all = reversibilityOf(spec);
  const irreversible = all.filter((r) => !r.reversible);
  // Grouped by reason, a few step numbers each: the note travels in a bounded status message, and a
  // list of every step grew with the workflow past it (a 60-step chain's status write was refused).
  const byReason = new Map<string, number[]>();
  for (const r of irreversible) byReason.set(r.how, [...(byReason.get(r.how) ?? []), r.step]);
  const stepsText = (steps: number[]) =>
    steps.length > MAX_LISTED_STEPS
      ? `steps ${steps.slice(0, MAX_LISTED_STEPS).join(', ')} and ${steps.length - MAX_LISTED_STEPS} more`
      : `step${steps.length > 1 ? 's' : ''} ${steps.join(', ')}`;
  const note =
    irreversible.length === 0
      ? `every step is reversible`
      : `irreversible: ${[...byReason].map(([how, steps]) => `${stepsText(steps)} (${how})`).join('; ')}`;
  const warning =
    spec.executionStrategy.rollbackStrategy === 'automatic' && irreversible.length === all.length
      ? 'rollbackStrategy automatic, but no step can be undone: a failure will roll nothing back'
      : null;
  return { note, warning };
}
