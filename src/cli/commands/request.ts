/**
 * `wfx approve|reject|cancel|rollback NAME`: sets the request annotation with the caller's own
 * identity (the admission policy refuses any other name, and checks who may approve).
 */
import { APPROVED_BY, CANCEL_REQUESTED_BY, REJECTED_BY, ROLLBACK_REQUESTED_BY } from '../../core/observe.ts';
import { WORKFLOW_EXECUTIONS, resourcePath } from '../../shell/kube/resources.ts';
import { getWorkflow, whoAmI, type CliContext } from '../context.ts';
import { explain } from '../errors.ts';

export const REQUESTS = {
  approve: { annotation: APPROVED_BY, done: 'approved' },
  reject: { annotation: REJECTED_BY, done: 'rejected' },
  cancel: { annotation: CANCEL_REQUESTED_BY, done: 'cancellation requested for' },
  rollback: { annotation: ROLLBACK_REQUESTED_BY, done: 'rollback requested for' },
} as const;

export type RequestVerb = keyof typeof REQUESTS;

export async function request(ctx: CliContext, verb: RequestVerb, name: string): Promise<string> {
  const user = await whoAmI(ctx);
  await getWorkflow(ctx, name); // a clear "not found" before anything else
  const { annotation, done } = REQUESTS[verb];
  try {
    await ctx.client.request(resourcePath(WORKFLOW_EXECUTIONS, ctx.namespace, name), {
      method: 'PATCH',
      patchType: 'merge',
      body: { metadata: { annotations: { [annotation]: user } } },
    });
  } catch (error) {
    throw explain(error, { server: ctx.server, namespace: ctx.namespace, name, user });
  }
  return `${done} workflowexecution/${name} as ${user}`;
}
