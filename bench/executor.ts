/**
 * `npm run bench -- executor`: the executor service's pick-up latency and throughput, figures only.
 * A batch of children is created at once (custom `sleep 0s` test hooks: the action costs nothing, so
 * what is measured is the executor's own work: watch, claim, renewals, outcome write) and carried
 * out by 1, then 2, then 4 in-process replicas sharing them through claims.
 * - pick-up latency: from the create's answer (this process's clock) to the claim's acquireTime
 *   (the executor's clock: the same machine), p50 / p95 / max;
 * - actions/s: children finished per second, from the first create to the last outcome written;
 * - carried out: children started across the replicas (equal to the batch: none twice).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubernetesExecution } from '../src/api/generated/types.ts';
import { startExecutor } from '../src/executor/executor.ts';
import { LABELS } from '../src/shell/children.ts';
import { createKubeClient } from '../src/shell/kube/client.ts';
import { KUBERNETES_EXECUTIONS, resourcePath } from '../src/shell/kube/resources.ts';
import { silentLogger } from '../src/shell/logger.ts';
import { benchCluster } from './support/cluster.ts';
import { percentile, printTable, round1 } from './support/measure.ts';

const CHILDREN = 200;
const REPLICAS = [1, 2, 4] as const;

export async function benchExecutor(): Promise<void> {
  const cluster = await benchCluster();
  const rows: Record<string, string | number>[] = [];
  for (const replicas of REPLICAS) {
    const namespace = await cluster.namespace(`bench-exec-${String(replicas)}`);
    // Each replica with a client (and connection pool) of its own, as separate pods would have.
    const clients = await Promise.all(Array.from({ length: replicas }, () => createKubeClient(cluster.kc)));
    const executors = await Promise.all(
      clients.map((client, i) =>
        startExecutor({
          client,
          log: silentLogger(),
          namespace,
          identity: `bench-${String(i)}`,
          development: true,
          clusterNamespace: namespace,
        }),
      ),
    );
    const created = new Map<string, number>();
    const begun = Date.now();
    await Promise.all(
      Array.from({ length: CHILDREN }, async (_, i) => {
        const name = `child-${String(i)}`;
        await cluster.client.request(resourcePath(KUBERNETES_EXECUTIONS, namespace), {
          body: {
            apiVersion: 'kubernetesexecution.kubernaut.io/v1',
            kind: 'KubernetesExecution',
            metadata: { name, namespace, labels: { [LABELS.workflowUid]: 'bench' } },
            spec: {
              workflowExecutionRef: { name: 'bench', namespace },
              kind: 'step',
              stepNumber: 1,
              attempt: 1,
              action: 'custom',
              parameters: { custom: { actionType: 'sleep', config: { duration: '0s' } } },
            },
          },
        });
        created.set(name, Date.now());
      }),
    );
    let items: KubernetesExecution[] = [];
    for (;;) {
      // A slow answer on a loaded machine is asked again, not a failed measurement.
      const listed = await cluster.client
        .request<{ items: KubernetesExecution[] }>(resourcePath(KUBERNETES_EXECUTIONS, namespace), {
          timeoutMs: 120_000,
        })
        .catch(() => undefined);
      if (listed) items = listed.items;
      if (items.length === CHILDREN && items.every((c) => c.status?.phase === 'completed')) break;
      await sleep(100);
    }
    const finished = Math.max(...items.map((c) => Date.parse(c.status?.completionTime ?? '')));
    const latencies = items
      .map(
        (c) => Date.parse(c.status?.claim?.acquireTime ?? '') - (created.get(c.metadata.name ?? '') ?? NaN),
      )
      .filter(Number.isFinite)
      .sort((a, b) => a - b);
    const starts = executors.reduce((n, e) => n + [...e.started.values()].reduce((a, b) => a + b, 0), 0);
    await Promise.all(executors.map((e) => e.stop()));
    for (const client of clients) client.close();
    rows.push({
      replicas,
      children: CHILDREN,
      'pick-up p50 ms': Math.max(0, round1(percentile(latencies, 50))),
      'pick-up p95 ms': Math.max(0, round1(percentile(latencies, 95))),
      'pick-up max ms': Math.max(0, round1(latencies.at(-1) ?? NaN)),
      'actions/s': round1(CHILDREN / ((finished - begun) / 1000)),
      'carried out': starts,
    });
  }
  printTable(
    `executor: ${String(CHILDREN)} children created at once, custom sleep 0s, claims shared by replicas`,
    rows,
  );
  console.log(
    '  carried out = children started across replicas: equal to children means none was carried out twice',
  );
}
