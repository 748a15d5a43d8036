// Thousands of generated specs (valid, and mutations of valid ones) sent to the real apiserver
// with the operator running. Each one is refused by the apiserver with a message naming the field,
// or accepted and then either runs or ends failed with InvalidSpec and a JSON path. Meanwhile a
// canary workflow per batch still completes (nothing stalls it); afterwards the operator is idle
// and its heap is back near its baseline.
//
// FUZZ_SPECS sets the count (default 500 for CI; `npm run test:chaos` sends 10,000).
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { WorkflowExecution } from '../../src/api/generated/types.ts';
import { startControlPlane, type ControlPlane } from '../../tooling/controlplane/launcher.ts';
import { controlPlaneTuning } from '../../tooling/controlplane/environment.ts';
import { ApiError, type KubeClient } from '../../src/shell/kube/client.ts';
import { WORKFLOW_EXECUTIONS, resourcePath } from '../../src/shell/kube/resources.ts';
import { createLogger } from '../../src/shell/logger.ts';
import { startOperator, type RunningOperator } from '../../src/shell/operator.ts';
import { customStep, specWith } from '../fixtures/specs.ts';
import { ScriptedExecutor } from '../support/executor.ts';
import { adminClientOf, counterTotal, retrying, writeResults, type FuzzRow } from './support/chaos.ts';
import { fuzzSpecs, type FuzzSpec } from './support/fuzz-specs.ts';
import { permitExecutorIn } from '../support/executor-permissions.ts';

const COUNT = Number(process.env['FUZZ_SPECS'] ?? '500');
const SEED = Number(process.env['FUZZ_SEED'] ?? '20261201');
const BATCH = 250;
// A 200-step spec costs the apiserver seconds of CEL evaluation here: a few at a time.
const IN_FLIGHT = 4;
const namespace = 'fuzz';

jest.setTimeout(Math.max(15 * 60_000, COUNT * 600));

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const heapMiB = (): number => {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
};

let workDir: string;
let cp: ControlPlane;
let client: KubeClient;
let operator: RunningOperator;
let executor: ScriptedExecutor;
const cleanup: (() => Promise<void>)[] = [];

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'wfe-fuzz-'));
  cleanup.push(() => rm(workDir, { recursive: true, force: true }));
  cp = await startControlPlane({ dataRoot: workDir, ...controlPlaneTuning(process.env) });
  cleanup.push(() => cp.stop());
  const admin = await adminClientOf(cp.kubeconfigPath);
  client = admin.client;
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
  operator = await startOperator({
    kubeconfig: cp.kubeconfigPath,
    namespaces: [namespace],
    workers: 4,
    healthPort: 0,
    bindAddress: '127.0.0.1',
    log: createLogger(process.env['WFE_TEST_LOG'] ?? 'error'),
  });
  cleanup.push(() => operator.stop());
  // Only the canaries' children are carried out; a fuzzed workflow that runs waits on its children.
  executor = new ScriptedExecutor(admin.kc, client, (child) =>
    child.spec.workflowExecutionRef.name.startsWith('canary-')
      ? { phase: 'completed', wouldSucceed: true }
      : { phase: 'hang' },
  );
  cleanup.push(() => executor.stop());
  await executor.start();
});

afterAll(async () => {
  for (const stop of cleanup.reverse()) await stop().catch(() => undefined);
});

type Verdict = { by: 'apiserver'; namesField: boolean; message: string } | { by: 'accepted'; name: string };

/** A refusal names the field when it carries a JSON path into the object (spec.… or a member). */
const namesAField = (message: string): boolean => /\bspec(\.[A-Za-z]|\b)/.test(message);

async function send(fuzz: FuzzSpec, name: string, batch: number): Promise<Verdict> {
  try {
    // An overloaded apiserver may time out (504) after storing the object: retried, and then
    // AlreadyExists means it was accepted.
    await retrying(() =>
      client.request(resourcePath(WORKFLOW_EXECUTIONS, namespace), {
        body: {
          apiVersion: 'workflowexecution.kubernaut.io/v1',
          kind: 'WorkflowExecution',
          metadata: { name, namespace, labels: { 'fuzz-batch': String(batch), 'fuzz-kind': fuzz.kind } },
          spec: fuzz.spec,
        },
        timeoutMs: 90_000,
      }),
    );
    return { by: 'accepted', name };
  } catch (error) {
    if (!(error instanceof ApiError) || error.status >= 500) throw error;
    return { by: 'apiserver', namesField: namesAField(error.message), message: error.message };
  }
}

async function inBatches<T, R>(items: readonly T[], limit: number, run: (item: T, i: number) => Promise<R>) {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      // One failure stops every lane: nothing keeps sending after the test has failed.
      while (next < items.length && !failed) {
        const i = next++;
        try {
          results[i] = await run(items[i] as T, i);
        } catch (error) {
          failed = true;
          throw error;
        }
      }
    }),
  );
  return results;
}

const listBatch = async (batch: number): Promise<WorkflowExecution[]> =>
  (
    await retrying(() =>
      client.request<{ items: WorkflowExecution[] }>(resourcePath(WORKFLOW_EXECUTIONS, namespace), {
        query: { labelSelector: `fuzz-batch=${batch}` },
      }),
    )
  ).items;

const refusedByPlanner = (wf: WorkflowExecution): boolean =>
  wf.status?.phase === 'failed' &&
  wf.status.conditions?.some((c) => c.reason === 'InvalidSpec') === true &&
  (wf.status.failureReason ?? '').startsWith('InvalidSpec: spec.');

/** Refused before any step: a required check failed, and the SafetyChecks condition says which. */
const refusedBySafetyChecks = (wf: WorkflowExecution): boolean =>
  wf.status?.phase === 'failed' &&
  wf.status.conditions?.some(
    (c) => c.type === 'SafetyChecks' && c.status === 'False' && c.message.length > 0,
  ) === true &&
  (wf.status.stepStatuses ?? []).every((s) => s.k8sExecutionRef === undefined);

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(200);
  }
}

describe(`${COUNT} fuzzed specs against the real apiserver and the operator`, () => {
  it('refuses each with a field name or a JSON path, or runs it; never crashes, stalls or leaks', async () => {
    const started = Date.now();
    const specs = fuzzSpecs(COUNT, SEED);
    const row: FuzzRow = {
      specsTried: 0,
      refusedByApiserver: 0,
      refusedWithoutFieldName: 0,
      refusedByPlanner: 0,
      plannerWithoutPath: 0,
      refusedBySafetyChecks: 0,
      ran: 0,
      crashes: 0,
      stalledOthers: 0,
      idleReconcilesPerMinute: 0,
      heapBaselineMiB: 0,
      heapAfterMiB: 0,
      seconds: 0,
    };
    const unnamed: string[] = [];
    const otherFailures: string[] = [];
    let heapBaseline = 0;
    for (let batch = 0; batch * BATCH < specs.length; batch++) {
      const chunk = specs.slice(batch * BATCH, (batch + 1) * BATCH);
      const verdicts = await inBatches(chunk, IN_FLIGHT, (fuzz, i) => send(fuzz, `fz-${batch}-${i}`, batch));
      const canary = `canary-${batch}`;
      await retrying(() =>
        client.request(resourcePath(WORKFLOW_EXECUTIONS, namespace), {
          body: {
            apiVersion: 'workflowexecution.kubernaut.io/v1',
            kind: 'WorkflowExecution',
            metadata: { name: canary, namespace, labels: { 'fuzz-batch': String(batch) } },
            spec: specWith([customStep(1), customStep(2)]),
          },
        }),
      );
      const accepted = verdicts.filter((v) => v.by === 'accepted').map((v) => v.name);
      for (const v of verdicts) {
        row.specsTried++;
        if (v.by === 'apiserver') {
          row.refusedByApiserver++;
          if (!v.namesField) {
            row.refusedWithoutFieldName++;
            unnamed.push(v.message);
          }
        }
      }
      // Every accepted one is picked up: planned and running, or refused by the planner.
      const seen = await until(`batch ${batch} picked up`, 180_000, async () => {
        const all = await listBatch(batch);
        const byName = new Map(all.map((w) => [w.metadata.name, w]));
        return accepted.every((n) => byName.get(n)?.status?.phase !== undefined) ? byName : undefined;
      });
      for (const name of accepted) {
        const wf = seen.get(name);
        if (!wf) continue;
        if (wf.status?.phase === 'failed') {
          if (refusedByPlanner(wf)) row.refusedByPlanner++;
          else if (refusedBySafetyChecks(wf)) row.refusedBySafetyChecks++;
          else if (wf.status.conditions?.some((c) => c.reason === 'InvalidSpec')) row.plannerWithoutPath++;
          else
            otherFailures.push(
              `${name} (${String(wf.metadata.labels?.['fuzz-kind'])}): ${wf.status.failureReason ?? ''}`,
            );
        } else row.ran++;
      }
      // The canary, started after the batch, still completes: nothing stalled it.
      await until(`canary ${canary} completed`, 120_000, async () => {
        const wf = await client.request<WorkflowExecution>(
          resourcePath(WORKFLOW_EXECUTIONS, namespace, canary),
        );
        return wf.status?.phase === 'completed' ? true : undefined;
      }).catch(() => {
        row.stalledOthers++;
      });
      // Delete the batch; the operator removes its finalizer from each.
      await retrying(() =>
        client.request(resourcePath(WORKFLOW_EXECUTIONS, namespace), {
          method: 'DELETE',
          query: { labelSelector: `fuzz-batch=${batch}` },
          timeoutMs: 120_000,
        }),
      );
      await until(`batch ${batch} deleted`, 180_000, async () =>
        (await listBatch(batch)).length === 0 ? true : undefined,
      );
      if (batch === 0) heapBaseline = heapMiB();
    }
    // Idle: nothing changes now, so nothing is reconciled.
    await sleep(3000);
    const before = await counterTotal(operator.metrics.reconcileTotal);
    const cpuBefore = process.cpuUsage();
    await sleep(10_000);
    const cpu = process.cpuUsage(cpuBefore);
    row.idleReconcilesPerMinute = ((await counterTotal(operator.metrics.reconcileTotal)) - before) * 6;
    const health = await fetch(`http://127.0.0.1:${String(operator.healthPort)}/health`);
    row.crashes = health.status === 200 ? 0 : 1;
    row.heapBaselineMiB = Math.round(heapBaseline);
    row.heapAfterMiB = Math.round(heapMiB());
    row.seconds = Math.round((Date.now() - started) / 1000);
    await writeResults('fuzz', row);
    process.stderr.write(
      `fuzz: ${JSON.stringify(row)}; idle CPU ${((cpu.user + cpu.system) / 10_000 / 10).toFixed(1)} % of a core\n`,
    );

    expect(unnamed.slice(0, 5)).toEqual([]);
    expect(otherFailures.slice(0, 5)).toEqual([]);
    expect(row.plannerWithoutPath).toBe(0);
    expect(row.specsTried).toBe(COUNT);
    expect(row.refusedByApiserver + row.refusedByPlanner + row.refusedBySafetyChecks + row.ran).toBe(COUNT);
    expect(row.stalledOthers).toBe(0);
    expect(row.crashes).toBe(0);
    expect(row.idleReconcilesPerMinute).toBe(0);
    // Back near the baseline: what a batch leaves behind is bounded, not growing with the count.
    expect(row.heapAfterMiB).toBeLessThan(heapBaseline + 64);
  });
});
