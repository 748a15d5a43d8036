/**
 * The apiserver's own count of requests (`apiserver_request_total` on its /metrics), so a benchmark
 * can tell the operator's writes from the executor's and its own by resource and verb.
 */
import type { KubeClient } from '../../src/shell/kube/client.ts';

/** apiserver_request_total, keyed `VERB resource[/sub] code`. */
export async function requestTotals(client: KubeClient): Promise<Map<string, number>> {
  const text = await client.request<string>('/metrics');
  const totals = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    const labels = Object.fromEntries(
      [...line.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1] ?? '', m[2] ?? '']),
    );
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    const resource = `${labels['resource'] ?? ''}${labels['subresource'] ? `/${labels['subresource']}` : ''}`;
    const key = `${labels['verb'] ?? ''} ${resource} ${labels['code'] ?? ''}`;
    totals.set(key, (totals.get(key) ?? 0) + value);
  }
  return totals;
}

/** The operator's requests: what neither the bench nor the executor sends. */
const OPERATOR_WRITES: Record<string, string> = {
  'PUT workflowexecutions/status': 'status PUT',
  'PATCH workflowexecutions/status': 'status PATCH',
  'POST kubernetesexecutions': 'child create',
  'POST events': 'event create',
  'PATCH events': 'event patch',
  'PATCH workflowexecutions': 'metadata patch (finalizer)',
  'PUT workflowexecutions': 'metadata PUT (finalizer)',
  'POST subjectaccessreviews': 'SubjectAccessReview',
};
/**
 * GETs of a workflow: the operator's reads past a stale cache, and also the garbage collector's
 * owner lookups while it does not watch the CRD yet (its discovery refreshes every 30 s, so in a
 * freshly started cluster every child created in that window costs one).
 */
const OPERATOR_READS: Record<string, string> = { 'GET workflowexecutions': 'workflow GETs' };

export interface RequestDelta {
  /** Writes by kind; a kind with a non-2xx code is counted apart, e.g. `status PUT (409)`. */
  byKind: Map<string, number>;
  writes: number;
  conflicts: number;
  reads: number;
}

/** The operator's requests between two `requestTotals` snapshots. */
export function operatorRequests(before: Map<string, number>, after: Map<string, number>): RequestDelta {
  const byKind = new Map<string, number>();
  let writes = 0;
  let conflicts = 0;
  let reads = 0;
  for (const [key, value] of after) {
    const delta = value - (before.get(key) ?? 0);
    if (delta === 0) continue;
    const [verb = '', resource = '', code = ''] = key.split(' ');
    const write = OPERATOR_WRITES[`${verb} ${resource}`];
    const read = OPERATOR_READS[`${verb} ${resource}`];
    if (write) {
      writes += delta;
      if (code === '409') conflicts += delta;
      const label = code.startsWith('2') ? write : `${write} (${code})`;
      byKind.set(label, (byKind.get(label) ?? 0) + delta);
    } else if (read) reads += delta;
  }
  return { byKind, writes, conflicts, reads };
}
