/**
 * What one write costs the control plane (figures, never assertions): the floor of a client-node
 * create and of a tiny status patch, and the operator's own writes replayed on a finished 10-step
 * workflow (its operator stopped): a PUT of the whole /status as the reconciler sends it, creates
 * of copies of one of its children and of one of its Events. Latency and the apiserver's CPU per
 * request.
 */
import type { KubernetesExecution, WorkflowExecution } from '../src/api/generated/types.ts';
import { LABELS } from '../src/shell/children.ts';
import type { KubeClient } from '../src/shell/kube/client.ts';
import { KUBERNETES_EXECUTIONS, WORKFLOW_EXECUTIONS, resourcePath } from '../src/shell/kube/resources.ts';
import { benchCluster } from './support/cluster.ts';
import { measureFloor, measureWithCpu, type FloorStats } from './support/floor.ts';
import { printTable, round1 } from './support/measure.ts';
import { chain } from './support/shapes.ts';
import { runWorkload } from './support/workload.ts';

const RUNS = 100;
const SHAPE = chain(10);

/** A stored object made creatable again under a new name (server-set metadata dropped). */
function copyOf(object: object, name: string): object {
  const { metadata, ...rest } = object as { metadata?: Record<string, unknown> };
  const {
    uid: _u,
    resourceVersion: _r,
    creationTimestamp: _c,
    managedFields: _m,
    generation: _g,
    ...meta
  } = metadata ?? {};
  return { ...rest, metadata: { ...meta, name } };
}

async function operatorWriteFloors(
  client: KubeClient,
  namespace: string,
  name: string,
  apiserverPid: number | undefined,
): Promise<{ statusPut: FloorStats; childCreate: FloorStats; eventCreate: FloorStats }> {
  const path = resourcePath(WORKFLOW_EXECUTIONS, namespace, name, 'status');
  let wf = await client.request<WorkflowExecution>(resourcePath(WORKFLOW_EXECUTIONS, namespace, name));
  let n = 0;
  // One condition message changed each time, so every PUT writes.
  const statusPut = await measureWithCpu(
    async () => {
      const conditions = (wf.status?.conditions ?? []).map((c, i) =>
        i === 0 ? { ...c, message: `floor ${n++}` } : c,
      );
      wf = await client.request<WorkflowExecution>(path, {
        method: 'PUT',
        body: { ...wf, status: { ...wf.status, conditions } },
      });
    },
    RUNS,
    apiserverPid,
  );
  const children = await client.request<{ items: KubernetesExecution[] }>(
    resourcePath(KUBERNETES_EXECUTIONS, namespace),
    { query: { labelSelector: `${LABELS.workflow}=${name}` } },
  );
  const child = children.items[0];
  if (!child) throw new Error(`no child of ${name}`);
  const childCreate = await measureWithCpu(
    () =>
      client.request(resourcePath(KUBERNETES_EXECUTIONS, namespace), {
        body: copyOf(child, `floor-child-${n++}`),
      }),
    RUNS,
    apiserverPid,
  );
  const eventsPath = `/apis/events.k8s.io/v1/namespaces/${namespace}/events`;
  const events = await client.request<{ items: object[] }>(eventsPath);
  const event = events.items[0];
  if (!event) throw new Error(`no event in ${namespace}`);
  const eventCreate = await measureWithCpu(
    () => client.request(eventsPath, { body: copyOf(event, `floor-event-${n++}`) }),
    RUNS,
    apiserverPid,
  );
  return { statusPut, childCreate, eventCreate };
}

export async function benchWriteCost(): Promise<void> {
  const cluster = await benchCluster();
  const apiserverPid = cluster.pids['kube-apiserver'];
  const floor = await measureFloor(cluster.kc, await cluster.namespace('bench-floor'), RUNS, apiserverPid);
  const run = await runWorkload(cluster, { shape: SHAPE, concurrent: 1, rounds: 1 });
  const writes = await operatorWriteFloors(cluster.client, run.namespace, 'wf-r0-0', apiserverPid);
  const row = (operation: string, f: FloorStats) => ({
    operation,
    medianMs: f.medianMs,
    p99Ms: f.p99Ms,
    minMs: f.minMs,
    'apiserver CPU ms/req': round1(f.cpuMsPerRequest),
  });
  printTable(`write-cost: one request, ${RUNS} runs each (client-node, then the operator's client)`, [
    row('create ConfigMap', floor.create),
    row('update WorkflowExecution /status (JSON patch, tiny status)', floor.statusUpdate),
    row(
      `PUT /status of a finished ${SHAPE.name} workflow (${run.statusBytes.object} B object)`,
      writes.statusPut,
    ),
    row('create a copy of one of its children', writes.childCreate),
    row('create a copy of one of its Events', writes.eventCreate),
  ]);
  printTable(`write-cost: status bytes of a finished ${SHAPE.name} workflow`, [
    { part: '.status (JSON)', bytes: run.statusBytes.status },
    { part: '.status.statechart', bytes: run.statusBytes.statechart },
    { part: '.status.statechart.snapshot', bytes: run.statusBytes.snapshot },
    { part: 'whole object', bytes: run.statusBytes.object },
  ]);
}
