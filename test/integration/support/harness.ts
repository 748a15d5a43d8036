/**
 * An operator running in-process against the shared real control plane, a scripted executor, and a
 * namespace of its own, with helpers that speak the domain: the namespace's workflows by name (apply
 * one, wait for a phase, list its children, approve it), and the operator's clock to move.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig } from '@kubernetes/client-node';
import type {
  KubernetesExecution,
  WorkflowExecution,
  WorkflowExecutionSpec,
} from '../../../src/api/generated/types.ts';
import { openSqliteAuditStore } from '../../../src/audit/sqlite.ts';
import type { AuditStore } from '../../../src/audit/record.ts';
import { sharedControlPlane } from '../../support/shared-control-plane.ts';
import { createKubeClient, type KubeClient } from '../../../src/shell/kube/client.ts';
import {
  KUBERNETES_EXECUTIONS,
  WORKFLOW_EXECUTIONS,
  resourcePath,
} from '../../../src/shell/kube/resources.ts';
import { createLogger, type Logger } from '../../../src/shell/logger.ts';
import { startOperator, type OperatorConfig, type RunningOperator } from '../../../src/shell/operator.ts';
import { Cleanup } from '../../../src/shell/cleanup.ts';
import { ScriptedExecutor, succeedAll, type Script } from '../../support/executor.ts';
import { EXECUTOR_USER, permitExecutorIn } from '../../support/executor-permissions.ts';

/** Real time plus an offset tests can move forward, to reach deadlines without waiting for them. */
export class SkewClock {
  offsetMs = 0;
  readonly now = (): number => Date.now() + this.offsetMs;
  advance(ms: number): void {
    this.offsetMs += ms;
  }
}

export interface Harness {
  kc: KubeConfig;
  client: KubeClient;
  namespace: string;
  operator: RunningOperator;
  executor: ScriptedExecutor;
  clock: SkewClock;
  audit: AuditStore;
  /** The name the kubeconfig's user has in the apiserver. */
  username: string;
  /** The workflows of the harness's namespace. */
  workflows: Workflows;
  /** Moves the operator's clock and makes it look at the workflow now. */
  travel(ms: number, name: string): void;
  /**
   * Runs one reconcile of the workflow now, once the operator's cache holds `seen` (a copy read from
   * the apiserver), and returns the workflow as the apiserver has it afterwards: what that reconcile
   * decided, without waiting for time to pass.
   */
  reconcileNow(seen: WorkflowExecution): Promise<WorkflowExecution>;
  stop(): Promise<void>;
}

export async function adminClient(): Promise<{ kc: KubeConfig; client: KubeClient }> {
  const kc = new KubeConfig();
  kc.loadFromFile(sharedControlPlane().kubeconfigPath);
  // The test's own requests (setting the scene, the scripted executor, polling) are not the
  // operator's: no client-side rate limit on them.
  return { kc, client: await createKubeClient(kc, { rateLimit: { qps: 0, burst: 0 } }) };
}

export async function whoAmI(client: KubeClient): Promise<string> {
  const review = await client.request<{ status: { userInfo: { username: string } } }>(
    '/apis/authentication.k8s.io/v1/selfsubjectreviews',
    { body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' } },
  );
  return review.status.userInfo.username;
}

/**
 * A fresh namespace in which the executor is permitted (as an installed one is), so the rbac safety
 * check passes for that reason; `permitExecutor: false` leaves it unpermitted.
 */
export async function createNamespace(
  client: KubeClient,
  prefix = 'it',
  permitExecutor = true,
): Promise<string> {
  const namespace = `${prefix}-${randomUUID().slice(0, 8)}`;
  await client.request('/api/v1/namespaces', {
    body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } },
  });
  if (permitExecutor) await permitExecutorIn(client, namespace);
  return namespace;
}

export async function startOperatorFor(
  kubeconfig: string,
  namespace: string,
  clock: SkewClock,
  audit?: AuditStore,
  tuning: Pick<
    OperatorConfig,
    'log' | 'progressWriteDelayMs' | 'pickupTimeoutMs' | 'admission' | 'alertmanagerUrl' | 'stabilityWindowMs'
  > = {},
): Promise<RunningOperator> {
  return startOperator({
    kubeconfig,
    namespaces: [namespace],
    workers: 4,
    log: tuning.log ?? createLogger(process.env['WFE_TEST_LOG'] ?? 'error'),
    progressWriteDelayMs: tuning.progressWriteDelayMs,
    // The scripted executor leaves `hang` children without a claim, and tests move the clock past
    // their deadlines: only the tests of the pick-up bound want it reported.
    pickupTimeoutMs: tuning.pickupTimeoutMs ?? 24 * 3600_000,
    clock: clock.now,
    monitoringPollMs: 200,
    // The first healthy check completes a run, as before the stability window: tests of the window
    // set it in the spec (executionStrategy.stabilityWindow) or here.
    stabilityWindowMs: tuning.stabilityWindowMs ?? 0,
    alertmanagerUrl: tuning.alertmanagerUrl,
    ...(audit ? { audit } : {}),
    executorUser: EXECUTOR_USER,
    // The target lock Leases in the test's own namespace (the shared control plane has no
    // kubernaut-system), with the storm limits the test asks for.
    admission: { lockNamespace: namespace, ...tuning.admission },
  });
}

/** Deletes a test namespace (and so everything in it); already gone is fine. */
export async function deleteNamespace(client: KubeClient, namespace: string): Promise<void> {
  await client.request(`/api/v1/namespaces/${namespace}`, { method: 'DELETE' }).catch(() => undefined);
}

/** A fresh namespace, deleted by `cleanup`. */
export async function scratchNamespace(
  cleanup: Cleanup,
  client: KubeClient,
  prefix: string,
): Promise<string> {
  const namespace = await createNamespace(client, prefix);
  cleanup.add(`namespace ${namespace}`, () => deleteNamespace(client, namespace));
  return namespace;
}

/** The admin's client and a fresh namespace, both handed to `cleanup` (the namespace deleted first). */
export async function adminInNamespace(
  cleanup: Cleanup,
  prefix: string,
): Promise<{ kc: KubeConfig; client: KubeClient; namespace: string }> {
  const { kc, client } = await adminClient();
  cleanup.add('the admin client', () => {
    client.close();
  });
  return { kc, client, namespace: await scratchNamespace(cleanup, client, prefix) };
}

export interface HarnessOptions {
  /** The operator's log (default: errors only, or WFE_TEST_LOG's level). */
  log?: Logger;
  /** The operator's audit store, closed when it stops (default: a fresh SQLite file). */
  audit?: AuditStore;
  /** How long step progress may wait to share a status write (default: the operator's). */
  progressWriteDelayMs?: number;
  /** How long a child may wait for an executor before its workflow says so (default: a day). */
  pickupTimeoutMs?: number;
  /** Storm limits (default: none); the lock Leases live in the harness's namespace. */
  admission?: OperatorConfig['admission'];
}

/**
 * The operator in-process, a scripted executor and a namespace of their own. Whatever was started is
 * stopped again when a later part fails to start, and by `stop()`.
 */
export async function startHarness(
  script: Script = succeedAll,
  options: HarnessOptions = {},
): Promise<Harness> {
  const { log, progressWriteDelayMs, pickupTimeoutMs, admission } = options;
  const cleanup = new Cleanup();
  try {
    const { kc, client, namespace } = await adminInNamespace(cleanup, 'it');
    const clock = new SkewClock();
    const audit =
      options.audit ?? openSqliteAuditStore(join(mkdtempSync(join(tmpdir(), 'wfe-audit-')), 'audit.db'));
    const operator = cleanup.track(
      'the operator',
      await startOperatorFor(sharedControlPlane().kubeconfigPath, namespace, clock, audit, {
        ...(log ? { log } : {}),
        progressWriteDelayMs,
        pickupTimeoutMs,
        admission,
      }),
      (o) => o.stop(),
    );
    const executor = cleanup.track('the executor', new ScriptedExecutor(kc, client, script, namespace), (e) =>
      e.stop(),
    );
    await executor.start();
    const username = await whoAmI(client);
    const workflows = new Workflows({ client, namespace });
    return {
      kc,
      client,
      namespace,
      operator,
      executor,
      clock,
      audit,
      username,
      workflows,
      travel(ms, name) {
        clock.advance(ms);
        operator.controller.queue.add(`${namespace}/${name}`);
      },
      async reconcileNow(seen) {
        const name = seen.metadata.name ?? '';
        const version = BigInt(seen.metadata.resourceVersion ?? '0');
        const cached = () => operator.controller.workflows.get(name, namespace)?.metadata.resourceVersion;
        const deadline = Date.now() + 10_000;
        while (BigInt(cached() ?? '0') < version) {
          if (Date.now() > deadline) throw new Error(`the operator's cache never saw ${name} at ${version}`);
          await sleep(20);
        }
        await operator.controller.reconciler.reconcile(`${namespace}/${name}`);
        return workflows.get(name);
      },
      stop: () => cleanup.run(),
    };
  } catch (error) {
    await cleanup.run().catch(() => undefined);
    throw error;
  }
}

/**
 * The workflows of one namespace, as the apiserver has them (never a cache), spoken of by name:
 * apply one, read it, wait for it to reach a state, list its children, annotate it.
 */
export class Workflows {
  readonly client: KubeClient;
  readonly namespace: string;

  constructor({ client, namespace }: { client: KubeClient; namespace: string }) {
    this.client = client;
    this.namespace = namespace;
  }

  async apply(
    name: string,
    spec: WorkflowExecutionSpec,
    annotations: Record<string, string> = {},
  ): Promise<WorkflowExecution> {
    const manifest: WorkflowExecution = {
      apiVersion: 'workflowexecution.kubernaut.io/v1',
      kind: 'WorkflowExecution',
      metadata: { name, namespace: this.namespace, annotations },
      spec,
    };
    return this.client.request<WorkflowExecution>(resourcePath(WORKFLOW_EXECUTIONS, this.namespace), {
      body: manifest,
    });
  }

  async get(name: string): Promise<WorkflowExecution> {
    return this.client.request<WorkflowExecution>(resourcePath(WORKFLOW_EXECUTIONS, this.namespace, name));
  }

  /** Polls the apiserver until the workflow satisfies `done`. */
  async waitFor(
    name: string,
    done: (wf: WorkflowExecution) => boolean,
    what = 'the expected state',
    timeoutMs = 30_000,
  ): Promise<WorkflowExecution> {
    const deadline = Date.now() + timeoutMs;
    let last: WorkflowExecution | undefined;
    for (;;) {
      last = await this.get(name);
      if (done(last)) return last;
      if (Date.now() > deadline) {
        throw new Error(
          `${name} did not reach ${what} in ${timeoutMs} ms; status: ${JSON.stringify({ ...last.status, statechart: undefined })}`,
        );
      }
      await sleep(50);
    }
  }

  /** The workflow's children (KubernetesExecutions it owns), by name. */
  async childrenOf(name: string): Promise<KubernetesExecution[]> {
    const wf = await this.get(name);
    const list = await this.client.request<{ items: KubernetesExecution[] }>(
      resourcePath(KUBERNETES_EXECUTIONS, this.namespace),
    );
    return list.items
      .filter((c) => c.metadata.ownerReferences?.some((o) => o.uid === wf.metadata.uid))
      .sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''));
  }

  async annotate(name: string, key: string, value: string): Promise<WorkflowExecution> {
    return this.client.request<WorkflowExecution>(resourcePath(WORKFLOW_EXECUTIONS, this.namespace, name), {
      method: 'PATCH',
      patchType: 'merge',
      body: { metadata: { annotations: { [key]: value } } },
    });
  }
}

export const inPhase =
  (...phases: string[]) =>
  (wf: WorkflowExecution): boolean =>
    phases.includes(wf.status?.phase ?? '');

export const conditionOf = (wf: WorkflowExecution, type: string) =>
  wf.status?.conditions?.find((c) => c.type === type);

/** Waiting at its approval gate (Ready=False, AwaitingApproval). */
export const awaitingApproval = (wf: WorkflowExecution): boolean =>
  conditionOf(wf, 'Ready')?.reason === 'AwaitingApproval';
