/**
 * `wfx retry NAME`: re-runs a failed run's failed and skipped steps. Asks the workflow's own machine
 * first (the operator's decision, on the status as read) and refuses with its reason; otherwise
 * sets the retry annotation as `<you>/<request id>` and reports what the operator decided.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { WorkflowExecution } from '../../api/generated/types.ts';
import { advance, phaseOf } from '../../core/statechart.ts';
import { RETRY_REQUESTED_BY } from '../../core/observe.ts';
import { inspectWorkflow } from '../../inspect/read-statechart.ts';
import { WORKFLOW_EXECUTIONS, resourcePath } from '../../shell/kube/resources.ts';
import { getWorkflow, whoAmI, type CliContext } from '../context.ts';
import { CliError, explain } from '../errors.ts';

export interface RetryOptions {
  /** How long to wait for the operator's decision; 0 does not wait. */
  waitMs: number;
  pollMs?: number;
}

/** The refusal the machine would record for this request now, or null when it would retry. */
function refusalOf(workflow: WorkflowExecution, by: string, request: string, now: number): string | null {
  const inspected = inspectWorkflow(workflow);
  if (!inspected.ok) return `the workflow cannot be retried: ${inspected.problem}`;
  const { machine, snapshot } = inspected;
  if (!snapshot) return 'InFlight: the run has not started yet';
  const after = advance(machine, snapshot, [{ type: 'RETRY_REQUESTED', now, by, request }]);
  if (after.context.retries.length > snapshot.context.retries.length) return null;
  const refused = after.context.retryRefusal;
  return refused?.request === request
    ? `${refused.code}: ${refused.message}`
    : `the run in phase ${phaseOf(snapshot)} took no retry`;
}

/** What the operator decided on this request, once the status records it. */
function decisionOf(workflow: WorkflowExecution, request: string): string | CliError | null {
  const retries = workflow.status?.retries;
  const index = retries?.history?.findIndex((r) => r.request === request) ?? -1;
  const accepted = index >= 0 ? retries?.history?.[index] : undefined;
  if (accepted)
    return `retry ${index + 1} of workflowexecution/${workflow.metadata.name ?? ''} started (run segment ${accepted.segment}): re-running ${accepted.steps.length === 1 ? 'step' : 'steps'} ${accepted.steps.join(', ')}`;
  if (retries?.refused?.request === request)
    return new CliError(
      `retry of workflowexecution/${workflow.metadata.name ?? ''} refused by the operator: ${retries.refused.reason}: ${retries.refused.message}`,
    );
  return null;
}

export async function retry(ctx: CliContext, name: string, options: RetryOptions): Promise<string> {
  const user = await whoAmI(ctx);
  const workflow = await getWorkflow(ctx, name);
  const now = Date.now();
  // The time names the request: a new value each time, within what the admission policy admits.
  const request = new Date(now).toISOString();
  const refusal = refusalOf(workflow, user, request, now);
  if (refusal !== null) throw new CliError(`retry of workflowexecution/${name} refused: ${refusal}`);
  try {
    await ctx.client.request(resourcePath(WORKFLOW_EXECUTIONS, ctx.namespace, name), {
      method: 'PATCH',
      patchType: 'merge',
      body: { metadata: { annotations: { [RETRY_REQUESTED_BY]: `${user}/${request}` } } },
    });
  } catch (error) {
    throw explain(error, { server: ctx.server, namespace: ctx.namespace, name, user });
  }
  const requested = `retry requested for workflowexecution/${name} as ${user} (request ${request})`;
  const deadline = Date.now() + options.waitMs;
  while (options.waitMs > 0) {
    const decision = decisionOf(await getWorkflow(ctx, name), request);
    if (decision instanceof CliError) throw decision;
    if (decision !== null) return decision;
    if (Date.now() >= deadline)
      return `${requested}; the operator has not decided within ${options.waitMs / 1000}s (see wfx describe ${name})`;
    await sleep(options.pollMs ?? 500);
  }
  return requested;
}
