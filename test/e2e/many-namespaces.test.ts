// An operator watching 50 namespaces (two watches each, 100 streams held open) under its default
// client-side rate limit: watches have their own connections and Lease renewals theirs, so the
// leader renews its Lease within every renew deadline while workflows in every namespace run, never
// loses it, and the work queue drains: every workflow ends, each child created once.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { KubeConfig } from '@kubernetes/client-node';
import type { KubernetesExecution, WorkflowExecution } from '../../src/api/generated/types.ts';
import type { KubeClient } from '../../src/shell/kube/client.ts';
import { KUBERNETES_EXECUTIONS, WORKFLOW_EXECUTIONS, resourcePath } from '../../src/shell/kube/resources.ts';
import type { Lease } from '../../src/shell/leases.ts';
import { sharedControlPlane } from '../support/shared-control-plane.ts';
import { customStep, specWith } from '../fixtures/specs.ts';
import { until } from '../support/cluster.ts';
import { ScriptedExecutor } from '../support/executor.ts';
import { spawnOperator, stopOperators } from '../support/operator-process.ts';
import { Workflows, adminClient, createNamespace, deleteNamespace } from '../integration/support/harness.ts';

jest.setTimeout(300_000);

const NAMESPACES = 50;
const WORKFLOWS_PER_NAMESPACE = 2;
const STEPS = 2;
const RENEW_DEADLINE_S = 4;
const LEASE_FLAGS = [
  '--lease-duration',
  '6',
  '--renew-deadline',
  String(RENEW_DEADLINE_S),
  '--retry-period',
  '1',
];

let client: KubeClient;
let kc: KubeConfig;
let namespaces: string[] = [];
let executor: ScriptedExecutor;

beforeAll(async () => {
  ({ client, kc } = await adminClient());
  namespaces = await Promise.all(Array.from({ length: NAMESPACES }, () => createNamespace(client, 'many')));
  // One executor for all of them (every namespace), each child taking a moment.
  executor = new ScriptedExecutor(kc, client, undefined, undefined, () => 50);
  await executor.start();
});

afterAll(async () => {
  await stopOperators();
  await executor.stop();
  await Promise.all(namespaces.map((ns) => deleteNamespace(client, ns)));
  client.close();
});

describe(`an operator watching ${NAMESPACES} namespaces`, () => {
  it('renews its Lease within every renew deadline while the work queue drains', async () => {
    const [leaseNamespace = 'default'] = namespaces;
    const operator = await spawnOperator({
      kubeconfig: sharedControlPlane().kubeconfigPath,
      namespaces,
      leaseName: 'many-namespaces',
      leaseNamespace,
      args: LEASE_FLAGS,
      logLevel: 'warn',
    });
    await operator.ready(120_000);

    // The leader's renewals, as the apiserver saw them, sampled for the whole run.
    const renewals = new Set<string>();
    const sampling = { on: true };
    const sampler = (async () => {
      while (sampling.on) {
        const lease = await client
          .request<Lease>(`/apis/coordination.k8s.io/v1/namespaces/${leaseNamespace}/leases/many-namespaces`)
          .catch(() => undefined);
        if (lease?.spec.renewTime) renewals.add(lease.spec.renewTime);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    })();

    const names: [string, string][] = namespaces.flatMap((ns) =>
      Array.from({ length: WORKFLOWS_PER_NAMESPACE }, (_, i) => [ns, `wf-${i}`] as [string, string]),
    );
    await Promise.all(
      namespaces.map(async (ns) => {
        const workflows = new Workflows({ client, namespace: ns });
        for (let i = 0; i < WORKFLOWS_PER_NAMESPACE; i++)
          await workflows.apply(`wf-${i}`, specWith([customStep(1), customStep(2)]));
      }),
    );
    const ours = new Set(namespaces);
    const completed = async () =>
      (await client.request<{ items: WorkflowExecution[] }>(resourcePath(WORKFLOW_EXECUTIONS))).items.filter(
        (w) => ours.has(w.metadata.namespace ?? '') && w.status?.phase === 'completed',
      ).length;
    await until(
      `all ${names.length} workflows completed`,
      async () => ((await completed()) === names.length ? true : undefined),
      240_000,
      500,
    );
    sampling.on = false;
    await sampler;

    // Never lost the lead: still running, the Lease never changed hands.
    expect(operator.running).toBe(true);
    expect(operator.lines.filter((l) => l.message === 'leader lease lost; exiting')).toEqual([]);
    const lease = await client.request<Lease>(
      `/apis/coordination.k8s.io/v1/namespaces/${leaseNamespace}/leases/many-namespaces`,
    );
    expect(lease.spec.leaseTransitions).toBe(0);
    // Renewals on time: no gap between consecutive renewals reached the renew deadline.
    const times = [...renewals].map((t) => Date.parse(t)).sort((a, b) => a - b);
    const gaps = times.slice(1).map((t, i) => t - (times[i] ?? t));
    const longest = Math.max(0, ...gaps);
    process.stdout.write(
      `${NAMESPACES} namespaces: ${times.length} renewals seen, longest gap ${longest} ms (renew deadline ${RENEW_DEADLINE_S} s)\n`,
    );
    expect(times.length).toBeGreaterThan(2);
    expect(longest).toBeLessThan(RENEW_DEADLINE_S * 1000);

    // Each step's child created once.
    const children = (
      await client.request<{ items: KubernetesExecution[] }>(resourcePath(KUBERNETES_EXECUTIONS))
    ).items.filter((c) => ours.has(c.metadata.namespace ?? ''));
    // (The executor's own duplicate count goes by name alone, and every namespace has a wf-0.)
    expect(children).toHaveLength(names.length * STEPS);
    expect(children.every((c) => c.spec.attempt === 1)).toBe(true);
    await operator.stop();
  });
});
