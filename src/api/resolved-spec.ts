/**
 * A run's spec as it executes: its own workflowDefinition, or the one resolved from its template and
 * recorded in its status (status.resolvedTemplate). Everything that plans, checks or shows steps
 * reads this, so a template edited or deleted after planning changes nothing a run does.
 */
import type {
  WorkflowDefinition,
  WorkflowExecutionSpec,
  WorkflowExecutionStatus,
} from './generated/types.ts';

/** A spec with its definition: inline, or resolved from its template. */
export type ResolvedSpec = WorkflowExecutionSpec & { workflowDefinition: WorkflowDefinition };

interface RunView {
  spec: WorkflowExecutionSpec;
  status?: WorkflowExecutionStatus | undefined;
}

/** The definition the run executes; undefined for a template run not resolved yet (or refused). */
export function definitionOf(run: RunView): WorkflowDefinition | undefined {
  if (run.spec.workflowTemplateRef) return run.status?.resolvedTemplate?.workflowDefinition;
  return run.spec.workflowDefinition;
}

/**
 * The spec as it executes: for a template run, its spec with the recorded definition in place (the
 * spec hash then covers reference, parameters and definition alike); undefined while unresolved.
 */
export function resolvedSpecOf(run: RunView): ResolvedSpec | undefined {
  const definition = definitionOf(run);
  return definition ? { ...run.spec, workflowDefinition: definition } : undefined;
}

/** The spec to compile: the resolved one, or as written (which validation then refuses). */
export const specToCompile = (run: RunView): WorkflowExecutionSpec => resolvedSpecOf(run) ?? run.spec;

/** For code that runs only on a compiled run (whose spec therefore resolved): its resolved spec. */
export function compiledSpecOf(run: RunView): ResolvedSpec {
  const spec = resolvedSpecOf(run);
  if (!spec) throw new Error('the run’s template is not resolved, yet it was compiled');
  return spec;
}

/** "name version" of what the run executes; for a template run, the template's (resolved or asked). */
export function workflowLabel(run: RunView): string {
  const definition = definitionOf(run);
  const ref = run.spec.workflowTemplateRef;
  const [name, version] = definition
    ? [definition.name, definition.version]
    : [ref?.name ?? '', ref?.version ?? 'latest'];
  return `${ref ? 'template ' : ''}${name} ${version ?? ''}`.trim();
}
