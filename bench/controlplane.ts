/**
 * The real control plane: start time with built binaries, and round-trip latency of a create
 * (ConfigMap) and of a status-subresource update (WorkflowExecution /status), figures only.
 */
import { performance } from 'node:perf_hooks';

import { CoreV1Api, KubeConfig, KubernetesObjectApi } from '@kubernetes/client-node';

import { startControlPlane, type ControlPlane } from '../tooling/controlplane/launcher.ts';
import { controlPlaneTuning } from '../tooling/controlplane/environment.ts';
import { measureFloor } from './support/floor.ts';
import { percentile, printTable } from './support/measure.ts';

const RUNS = 100;
const STARTS = 3;

async function timedStart(workloads: boolean): Promise<[number, ControlPlane]> {
  const t0 = performance.now();
  const cp = await startControlPlane({ workloads, ...controlPlaneTuning(process.env) });
  return [performance.now() - t0, cp];
}

export async function benchControlPlane(): Promise<void> {
  // Builds the binaries first if needed, so the timed starts below are warm.
  const [coldishMs, first] = await timedStart(false);
  await first.stop();

  const starts: number[] = [];
  for (let i = 0; i < STARTS; i++) {
    const [ms, cp] = await timedStart(false);
    starts.push(ms);
    await cp.stop();
  }
  const [workloadsMs, cp] = await timedStart(true);
  starts.sort((a, b) => a - b);
  printTable('controlplane: start (etcd + kube-apiserver + controller-manager, CRDs installed)', [
    { case: 'first start this run', ms: Math.round(coldishMs) },
    { case: `median of ${STARTS} starts`, ms: Math.round(percentile(starts, 50)) },
    { case: '+ scheduler + kwok, 3 nodes Ready', ms: Math.round(workloadsMs) },
  ]);

  try {
    const kc = new KubeConfig();
    kc.loadFromFile(cp.kubeconfigPath);
    const objects = KubernetesObjectApi.makeApiClient(kc);
    const namespace = 'bench';
    const ns: { apiVersion: string; kind: string; metadata: { name: string } } = {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: namespace },
    };
    await objects.create(ns);
    const { create, statusUpdate } = await measureFloor(kc, namespace, RUNS);

    printTable(`controlplane: round trip, ${RUNS} runs each`, [
      { operation: 'create ConfigMap', medianMs: create.medianMs, p99Ms: create.p99Ms, minMs: create.minMs },
      {
        operation: 'update WorkflowExecution /status',
        medianMs: statusUpdate.medianMs,
        p99Ms: statusUpdate.p99Ms,
        minMs: statusUpdate.minMs,
      },
    ]);
    await kc.makeApiClient(CoreV1Api).deleteNamespace({ name: namespace });
  } finally {
    await cp.stop();
  }
}

// Run directly: node bench/controlplane.ts
if (import.meta.url === `file://${process.argv[1] ?? ''}`) await benchControlPlane();
