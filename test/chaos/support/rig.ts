/**
 * The chaos rig: a control plane of its own, Toxiproxy in front of its apiserver (the base, which
 * the soak uses with operator and executor processes), then the operator in-process talking
 * through the proxy, and the scripted executor talking to the apiserver directly; /ready and
 * /health sampled every 200 ms. Used by the fault suite.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubernetesExecution, WorkflowExecution } from '../../../src/api/generated/types.ts';
import { APPROVED_BY } from '../../../src/core/observe.ts';
import { startControlPlane, type ControlPlane } from '../../../tooling/controlplane/launcher.ts';
import { controlPlaneTuning } from '../../../tooling/controlplane/environment.ts';
import type { KubeConfig } from '@kubernetes/client-node';
import type { KubeClient } from '../../../src/shell/kube/client.ts';
import {
  KUBERNETES_EXECUTIONS,
  WORKFLOW_EXECUTIONS,
  resourcePath,
} from '../../../src/shell/kube/resources.ts';
import { createLogger } from '../../../src/shell/logger.ts';
import { startOperator, type RunningOperator } from '../../../src/shell/operator.ts';
import { ScriptedExecutor } from '../../support/executor.ts';
import { adminClientOf, retrying } from './chaos.ts';
import { startToxiproxy, type Proxy } from './toxiproxy.ts';
import { SHAPES, isFinished, shapesScript, type Shape } from './workloads.ts';
import { permitExecutorIn } from '../../support/executor-permissions.ts';

export interface HealthSample {
  at: number;
  ready: boolean;
  live: boolean;
}

/** The control plane, the proxy in front of it, a namespace and the test's own calls: what the rig and the soak share. */
export interface RigBase {
  cp: ControlPlane;
  proxy: Proxy;
  client: KubeClient;
  kc: KubeConfig;
  namespace: string;
  /** A kubeconfig naming the proxy instead of the apiserver: what the operator uses. */
  proxiedKubeconfig: string;
  listWorkflows(prefix?: string): Promise<WorkflowExecution[]>;
  listChildren(): Promise<KubernetesExecution[]>;
  /** One workflow of every shape, named `<prefix>-<shape>`; the approval one approved up front. */
  startBatch(prefix: string, shapes?: readonly Shape[]): Promise<string[]>;
  /** Until every named workflow has a phase (the operator has picked it up). */
  waitStarted(prefix: string, names: readonly string[]): Promise<void>;
  /** Until the `count` workflows with the prefix have all finished. */
  waitFinished(prefix: string, count: number, timeoutMs: number): Promise<WorkflowExecution[]>;
  /** Run `stop` when the rig stops, before whatever was registered earlier. */
  onStop(stop: () => Promise<void>): void;
  stop(): Promise<void>;
}

/** The base with the operator in-process (through the proxy) and the scripted executor. */
export interface Rig extends RigBase {
  operator: RunningOperator;
  executor: ScriptedExecutor;
  readonly samples: HealthSample[];
}

export async function startRigBase(namespace: string): Promise<RigBase> {
  const cleanup: (() => Promise<void>)[] = [];
  const stopAll = async (): Promise<void> => {
    for (const stop of cleanup.splice(0).reverse()) await stop().catch(() => undefined);
  };
  try {
    const workDir = await mkdtemp(join(tmpdir(), 'wfe-chaos-'));
    cleanup.push(() => rm(workDir, { recursive: true, force: true }));
    const cp = await startControlPlane({
      ...controlPlaneTuning(process.env),
      dataRoot: workDir,
      // A loaded machine (CI, or the soak beside other work) can take over a minute.
      startTimeoutMs: 180_000,
      log: (m) => process.stderr.write(`controlplane: ${m}\n`),
    });
    cleanup.push(() => cp.stop());
    const toxiproxy = await startToxiproxy(join(workDir, 'toxiproxy'));
    cleanup.push(() => toxiproxy.stop());
    const proxy = await toxiproxy.createProxy('apiserver', new URL(cp.server).host);
    // The operator's kubeconfig names the proxy; the tests and the executor use the apiserver itself.
    const proxiedKubeconfig = join(workDir, 'proxied.kubeconfig');
    const kubeconfig = await readFile(cp.kubeconfigPath, 'utf8');
    await writeFile(proxiedKubeconfig, kubeconfig.replace(cp.server, `https://${proxy.listen}`));
    const admin = await adminClientOf(cp.kubeconfigPath);
    const client = admin.client;
    cleanup.push(() => {
      client.close();
      return Promise.resolve();
    });
    await client.request('/api/v1/namespaces', {
      body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } },
    });
    // The executor is permitted what the action catalogue says, as the shipped RBAC does: the rbac
    // check then passes for the right reason.
    await permitExecutorIn(client, namespace);

    const listWorkflows = async (prefix?: string): Promise<WorkflowExecution[]> =>
      (
        await retrying(() =>
          client.request<{ items: WorkflowExecution[] }>(resourcePath(WORKFLOW_EXECUTIONS, namespace)),
        )
      ).items.filter((w) => prefix === undefined || (w.metadata.name ?? '').startsWith(`${prefix}-`));

    return {
      cp,
      proxy,
      client,
      kc: admin.kc,
      namespace,
      proxiedKubeconfig,
      listWorkflows,
      listChildren: async () =>
        (
          await retrying(() =>
            client.request<{ items: KubernetesExecution[] }>(resourcePath(KUBERNETES_EXECUTIONS, namespace)),
          )
        ).items,
      async startBatch(prefix, shapes = SHAPES) {
        const names: string[] = [];
        for (const { shape, spec, approve } of shapes) {
          const name = `${prefix}-${shape}`;
          names.push(name);
          const annotations = approve ? { [APPROVED_BY]: admin.username } : {};
          await retrying(() =>
            client.request(resourcePath(WORKFLOW_EXECUTIONS, namespace), {
              body: {
                apiVersion: 'workflowexecution.kubernaut.io/v1',
                kind: 'WorkflowExecution',
                metadata: { name, namespace, annotations },
                spec,
              },
            }),
          );
        }
        return names;
      },
      async waitStarted(prefix, names) {
        const deadline = Date.now() + 60_000;
        while (Date.now() < deadline) {
          const seen = await listWorkflows(prefix);
          if (names.every((n) => seen.find((w) => w.metadata.name === n)?.status?.phase)) return;
          await sleep(100);
        }
        throw new Error(`workflows ${names.join(', ')} not picked up within 60 s`);
      },
      async waitFinished(prefix, count, timeoutMs) {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const all = await listWorkflows(prefix);
          if (all.length === count && all.every(isFinished)) return all;
          if (Date.now() > deadline)
            throw new Error(
              `not finished after ${timeoutMs} ms: ${all
                .filter((w) => !isFinished(w))
                .map((w) => `${w.metadata.name ?? ''} (${w.status?.phase ?? 'no phase'})`)
                .join(', ')}`,
            );
          await sleep(200);
        }
      },
      onStop: (stop) => cleanup.push(stop),
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

export async function startRig(namespace = 'chaos'): Promise<Rig> {
  const base = await startRigBase(namespace);
  try {
    const operator = await startOperator({
      kubeconfig: base.proxiedKubeconfig,
      namespaces: [namespace],
      workers: 4,
      healthPort: 0,
      bindAddress: '127.0.0.1',
      monitoringPollMs: 200,
      // The retention sweep (a list every second here, every minute by default) meets every fault.
      retentionSweepMs: 1000,
      log: createLogger(process.env['WFE_TEST_LOG'] ?? 'error'),
    });
    base.onStop(() => operator.stop());
    const executor = new ScriptedExecutor(
      base.kc,
      base.client,
      shapesScript,
      namespace,
      () => 300 + Math.random() * 500,
    );
    base.onStop(() => executor.stop());
    await executor.start();

    const samples: HealthSample[] = [];
    const sampling = { on: true };
    const httpOk = async (path: string): Promise<boolean> => {
      try {
        const res = await fetch(`http://127.0.0.1:${String(operator.healthPort)}${path}`, {
          // Generous: the operator shares this process and two cores with everything else here.
          signal: AbortSignal.timeout(5000),
        });
        return res.status === 200;
      } catch {
        return false;
      }
    };
    const sampler = (async () => {
      while (sampling.on) {
        const [ready, live] = await Promise.all([httpOk('/ready'), httpOk('/health')]);
        samples.push({ at: Date.now(), ready, live });
        // Keep an hour at most.
        if (samples.length > 18_000) samples.splice(0, samples.length - 18_000);
        await sleep(200);
      }
    })();
    // Stopped first, before the operator it samples.
    base.onStop(async () => {
      sampling.on = false;
      await sampler;
    });
    return { ...base, operator, executor, samples };
  } catch (error) {
    await base.stop();
    throw error;
  }
}
