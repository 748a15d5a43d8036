/**
 * The project step of a reconcile (DESIGN 3), after decide: the status the outcome projects, whether
 * it differs from what the resource has (only then is it written), and the Events and metrics that
 * follow once it is.
 */
import type { WorkflowExecutionStatus } from '../api/generated/types.ts';
import type { Loaded } from './load.ts';
import { consequencesOf, refusalConsequences, type Consequences } from './outcomes.ts';
import { canonicalJson } from './spec-hash.ts';
import { projectWorkflow, type ResourceView } from './status.ts';
import type { Transition } from './transitions.ts';

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
): Projection {
  const status = projectWorkflow(outcome, resource, now);
  if (canonicalJson(status) === canonicalJson(resource.status ?? {})) return { changed: false };
  const consequences =
    outcome.kind === 'running'
      ? consequencesOf(happened, outcome.snapshot, outcome.compiled.plan)
      : refusalConsequences(outcome);
  return { changed: true, status, consequences };
}
