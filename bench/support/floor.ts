/**
 * The control plane's own floor: round trip of a create (ConfigMap) and of a status-subresource
 * update (WorkflowExecution /status, JSON patch) from a client-node client. Shared by the
 * control-plane and operator benchmarks so their ratios use a floor measured in the same run.
 */
import { CustomObjectsApi, KubernetesObjectApi, type KubeConfig } from '@kubernetes/client-node';

import { sequentialSpec } from '../../test/fixtures/specs.ts';
import { cpuMs } from '../../test/support/proc.ts';
import { measure, type Stats } from './measure.ts';

export interface FloorStats extends Stats {
  /** CPU ms the given process (the apiserver) spent per request, warm-up included; NaN without a pid. */
  cpuMsPerRequest: number;
}

/** `measure`, plus the CPU a process (e.g. kube-apiserver) spent per call meanwhile. */
export async function measureWithCpu(
  fn: () => unknown,
  runs: number,
  pid: number | undefined,
  warmup = Math.min(10, runs),
): Promise<FloorStats> {
  const before = pid === undefined ? Number.NaN : await cpuMs(pid);
  const stats = await measure(fn, runs, warmup);
  const after = pid === undefined ? Number.NaN : await cpuMs(pid);
  return { ...stats, cpuMsPerRequest: (after - before) / (runs + warmup) };
}

export interface Floor {
  create: FloorStats;
  statusUpdate: FloorStats;
}

/**
 * Measures in `namespace`, which must exist and be watched by no operator. With `apiserverPid`, also
 * the apiserver's CPU per request.
 */
export async function measureFloor(
  kc: KubeConfig,
  namespace: string,
  runs: number,
  apiserverPid?: number,
): Promise<Floor> {
  const objects = KubernetesObjectApi.makeApiClient(kc);
  const custom = kc.makeApiClient(CustomObjectsApi);
  let n = 0;
  const create = await measureWithCpu(
    async () => {
      const cm: { apiVersion: string; kind: string; metadata: { name: string; namespace: string } } = {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: `cm-${n++}`, namespace },
      };
      await objects.create(cm);
    },
    runs,
    apiserverPid,
  );

  const wfe = { group: 'workflowexecution.kubernaut.io', version: 'v1', plural: 'workflowexecutions' };
  await custom.createNamespacedCustomObject({
    ...wfe,
    namespace,
    body: {
      apiVersion: `${wfe.group}/${wfe.version}`,
      kind: 'WorkflowExecution',
      metadata: { name: 'bench' },
      spec: sequentialSpec(3),
    },
  });
  let m = 0;
  const statusUpdate = await measureWithCpu(
    async () => {
      // JSON patch: add replaces /status whole, whether or not it exists yet.
      await custom.patchNamespacedCustomObjectStatus({
        ...wfe,
        namespace,
        name: 'bench',
        body: [{ op: 'add', path: '/status', value: { phase: 'executing', message: `tick ${m++}` } }],
      });
    },
    runs,
    apiserverPid,
  );
  return { create, statusUpdate };
}
