/**
 * The project step of a reconcile (DESIGN 3), after decide: the status the outcome projects (a
 * running statechart's, a refused spec's, a stalled one's), whether it differs from what the resource
 * has (only then is it written), and the Events and metrics that follow once it is.
 */
import { conditionsFor, type Condition } from '../api/conditions.ts';
import { fitToSchema } from '../api/fit-to-schema.ts';
import type { WorkflowExecutionStatus } from '../api/generated/types.ts';
import { workflowExecutionStatus } from '../api/schema/workflowexecution-status.ts';
import { describeIssues, type SpecIssue } from '../api/issues.ts';
import type { Loaded } from './load.ts';
import { consequencesOf, refusalConsequences, type Consequences } from './outcomes.ts';
import { canonicalJson } from './spec-hash.ts';
import { persist } from './statechart.ts';
import { projectStatus, type ProjectedStatus } from './status.ts';
import { isoOf } from './time.ts';
import type { Transition } from './transitions.ts';

/** The status of a spec the planner refused: failed, naming each reason and path. */
function projectInvalidSpec(
  issues: readonly SpecIssue[],
  previousConditions: readonly Condition[],
  generation: number,
  now: number,
): ProjectedStatus {
  const message = describeIssues(issues);
  return {
    phase: 'failed',
    failureReason: `InvalidSpec: ${message}`,
    conditions: conditionsFor(
      previousConditions,
      { state: 'failed', reason: 'InvalidSpec', message },
      generation,
      isoOf(now),
    ),
  };
}

/** What the status is projected over: the resource as read. */
export interface ResourceView {
  name: string;
  generation: number;
  status: WorkflowExecutionStatus | undefined;
}

/**
 * The status for every outcome of a reconcile: a running statechart (its projection and envelope),
 * a refused spec, or a statechart that cannot be trusted (the status as it was, Stalled=True). The
 * only place `observedGeneration` is set.
 */
export function projectWorkflow(
  loaded: Loaded,
  resource: ResourceView,
  now: number,
): WorkflowExecutionStatus {
  const previousConditions = (resource.status?.conditions ?? []) as Condition[];
  const { generation } = resource;
  const projected = ((): WorkflowExecutionStatus => {
    switch (loaded.kind) {
      case 'running': {
        const { plan, hash } = loaded.compiled;
        return {
          ...projectStatus(loaded.snapshot, plan, { name: resource.name, generation, previousConditions }),
          // Recorded once, at planning; the hash below covers it (src/core/templates.ts).
          ...(resource.status?.resolvedTemplate
            ? { resolvedTemplate: resource.status.resolvedTemplate }
            : {}),
          statechart: persist(loaded.snapshot, hash),
        };
      }
      case 'invalid':
        return projectInvalidSpec(loaded.issues, previousConditions, generation, now);
      case 'stalled':
        return {
          ...resource.status,
          conditions: conditionsFor(
            previousConditions,
            { state: 'stalled', reason: loaded.reason, message: loaded.message },
            generation,
            isoOf(now),
          ),
        };
    }
  })();
  return { ...projected, observedGeneration: generation };
}

export type Projection =
  { changed: false } | { changed: true; status: WorkflowExecutionStatus; consequences: Consequences };

/**
 * `outcome`: the loaded workflow (a running one with its decided snapshot); `happened`: what its
 * decision found happened since the written snapshot.
 */
export function project(
  outcome: Loaded,
  resource: ResourceView,
  happened: readonly Transition[],
  now: number,
  /** What the shell adds from outside the snapshot (e.g. the ExecutorPickup condition). */
  amend: (status: WorkflowExecutionStatus) => WorkflowExecutionStatus = (status) => status,
): Projection {
  // Within the CRD's bounds: one message too long would make the apiserver refuse the whole write.
  const status = fitToSchema(amend(projectWorkflow(outcome, resource, now)), workflowExecutionStatus);
  if (canonicalJson(status) === canonicalJson(resource.status ?? {})) return { changed: false };
  const consequences =
    outcome.kind === 'running'
      ? consequencesOf(happened, outcome.snapshot, outcome.compiled.plan)
      : refusalConsequences(outcome);
  return { changed: true, status, consequences };
}
