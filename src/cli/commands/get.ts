/** `wfx get`: workflows as a table, like kubectl's, with progress. */
import type { WorkflowExecution } from '../../api/generated/types.ts';
import { WORKFLOW_EXECUTIONS, resourcePath } from '../../shell/kube/resources.ts';
import type { CliContext } from '../context.ts';
import { explain } from '../errors.ts';
import { age, table } from '../format.ts';
import { definitionOf } from '../../api/resolved-spec.ts';

export async function getWorkflows(
  ctx: CliContext,
  allNamespaces: boolean,
  now = Date.now(),
): Promise<string> {
  let list: { items: WorkflowExecution[] };
  try {
    list = await ctx.client.request(
      resourcePath(WORKFLOW_EXECUTIONS, allNamespaces ? undefined : ctx.namespace),
    );
  } catch (error) {
    throw explain(error, { server: ctx.server, namespace: ctx.namespace });
  }
  if (list.items.length === 0)
    return allNamespaces ? 'No workflows found.' : `No workflows found in namespace ${ctx.namespace}.`;
  const rows = list.items.map((wf) => {
    const s = wf.status ?? {};
    const total = s.totalSteps ?? definitionOf(wf)?.steps.length ?? 0;
    const done = s.currentStep ?? 0;
    const ready = s.conditions?.find((c) => c.type === 'Ready');
    return [
      ...(allNamespaces ? [wf.metadata.namespace ?? ''] : []),
      wf.metadata.name ?? '',
      s.phase ?? 'pending',
      `${done}/${total} ${bar(done, total)}`,
      ready?.status ?? 'Unknown',
      ready?.reason ?? '',
      age(wf.metadata.creationTimestamp, now),
    ];
  });
  return table(
    [...(allNamespaces ? ['NAMESPACE'] : []), 'NAME', 'PHASE', 'STEPS', 'READY', 'REASON', 'AGE'],
    rows,
  );
}

function bar(done: number, total: number, width = 10): string {
  const filled = total === 0 ? 0 : Math.round((done / total) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}
