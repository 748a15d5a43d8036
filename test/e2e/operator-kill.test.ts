// The operator as a real process, killed with SIGKILL and restarted again and again while workflows
// run. The kills must land while the operator is at work (it advanced a workflow that is still
// unfinished, at many distinct points of the lifecycle, as read from the cluster just before each
// kill); every workflow must then end exactly as the same workflow run by an operator never killed,
// and no child may be created twice.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type {
  KubernetesExecution,
  WorkflowExecution,
  WorkflowExecutionSpec,
} from '../../src/api/generated/types.ts';
import { Cleanup } from '../../src/shell/cleanup.ts';
import { sharedControlPlane } from '../support/shared-control-plane.ts';
import type { KubeClient } from '../../src/shell/kube/client.ts';
import { KUBERNETES_EXECUTIONS, resourcePath } from '../../src/shell/kube/resources.ts';
import { customRollback, customStep, diamondSpec, specWith } from '../fixtures/specs.ts';
import { ScriptedExecutor, type Verdict } from '../support/executor.ts';
import { spawnOperator, stopOperators, type OperatorProcess } from '../support/operator-process.ts';
import { Workflows, adminInNamespace } from '../integration/support/harness.ts';

// Each kill costs a process start (about 2 s, far more on a loaded machine).
jest.setTimeout(900_000);

/** Kills that must land while the killed operator had advanced a still unfinished workflow. */
const KILLS = 50;
/** Give up (and fail) after this many kills. */
const MAX_KILLS = 120;
/** Distinct lifecycle points (per kind of workflow) the kills must have landed at. */
const MIN_POINTS = 15;

interface Case {
  /** The kind of workflow; a batch's workflow is named `<kind>-<batch>`. */
  kind: string;
  spec: WorkflowExecutionSpec;
  /** What the executor does with a child of this workflow. */
  verdict: (child: KubernetesExecution) => Verdict;
  /** The end an uninterrupted run reaches. */
  expected: { phase: string; reason: string; steps: Record<number, string>; children: string[] };
}

const ok: Verdict = { phase: 'completed', wouldSucceed: true };

const fourStepsDone: Case['expected'] = {
  phase: 'completed',
  reason: 'NoVerifiableTarget',
  steps: { 1: 'completed', 2: 'completed', 3: 'completed', 4: 'completed' },
  children: ['step-1-a1', 'step-2-a1', 'step-3-a1', 'step-4-a1'],
};

const CASES: readonly Case[] = [
  {
    kind: 'seq',
    spec: specWith([customStep(1), customStep(2), customStep(3), customStep(4)]),
    verdict: () => ok,
    expected: fourStepsDone,
  },
  {
    kind: 'diamond',
    spec: diamondSpec(customStep),
    verdict: () => ok,
    expected: fourStepsDone,
  },
  {
    kind: 'rollback',
    spec: specWith([
      customStep(1, { rollbackSpec: customRollback(1) }),
      customStep(2, { rollbackSpec: customRollback(2) }),
      customStep(3, { criticalStep: true }),
    ]),
    verdict: (c) =>
      c.spec.kind === 'step' && c.spec.stepNumber === 3 ? { phase: 'failed', message: 'broken' } : ok,
    expected: {
      phase: 'failed',
      reason: 'CriticalStepFailed',
      steps: { 1: 'rolled_back', 2: 'rolled_back', 3: 'failed' },
      children: ['rollback-1', 'rollback-2', 'step-1-a1', 'step-2-a1', 'step-3-a1'],
    },
  },
  {
    kind: 'dryrun',
    spec: specWith([customStep(1), customStep(2)], { dryRunFirst: true }),
    verdict: () => ok,
    expected: {
      phase: 'completed',
      reason: 'NoVerifiableTarget',
      steps: { 1: 'completed', 2: 'completed' },
      children: ['dryrun-1', 'dryrun-2', 'step-1-a1', 'step-2-a1'],
    },
  },
  {
    kind: 'partial',
    spec: specWith([customStep(1), customStep(2, { dependsOn: [1] }), customStep(3, { dependsOn: [1] })]),
    verdict: (c) => (c.spec.stepNumber === 3 ? { phase: 'failed', message: 'non-critical' } : ok),
    expected: {
      phase: 'completed',
      reason: 'NoVerifiableTarget',
      steps: { 1: 'completed', 2: 'completed', 3: 'failed' },
      children: ['step-1-a1', 'step-2-a1', 'step-3-a1'],
    },
  },
];

const cleanup = new Cleanup();
let client: KubeClient;
let namespace: string;
let workflows: Workflows;
let executor: ScriptedExecutor;

const kindOf = (workflow: string) => workflow.slice(0, workflow.lastIndexOf('-'));
const caseOf = (workflow: string) => CASES.find((c) => c.kind === kindOf(workflow));

beforeAll(async () => {
  const admin = await adminInNamespace(cleanup, 'kill');
  ({ client, namespace } = admin);
  workflows = new Workflows(admin);
  // A slow executor, so kills land while children are in flight.
  executor = cleanup.track(
    'the executor',
    new ScriptedExecutor(
      admin.kc,
      client,
      (child) => caseOf(child.spec.workflowExecutionRef.name)?.verdict(child) ?? ok,
      namespace,
      () => 50 + Math.floor(Math.random() * 150),
    ),
    (e) => e.stop(),
  );
  await executor.start();
});

afterAll(async () => {
  await stopOperators();
  await cleanup.run();
});

const startOperator = (): Promise<OperatorProcess> =>
  spawnOperator({ kubeconfig: sharedControlPlane().kubeconfigPath, namespaces: [namespace] });

const finished = (wf: WorkflowExecution) => {
  const ready = wf.status?.conditions?.find((c) => c.type === 'Ready');
  return (
    (wf.status?.phase === 'completed' || wf.status?.phase === 'failed') &&
    ready?.reason !== 'AwaitingManualRollback'
  );
};

async function applyBatch(batch: string): Promise<string[]> {
  const names = CASES.map((c) => `${c.kind}-${batch}`);
  for (const [i, c] of CASES.entries()) await workflows.apply(names[i] ?? '', c.spec);
  return names;
}

const statesOf = (names: readonly string[]) => Promise.all(names.map((name) => workflows.get(name)));

async function childrenByWorkflow(): Promise<Map<string, KubernetesExecution[]>> {
  const list = await client.request<{ items: KubernetesExecution[] }>(
    resourcePath(KUBERNETES_EXECUTIONS, namespace),
  );
  const byWorkflow = new Map<string, KubernetesExecution[]>();
  for (const child of list.items) {
    const name = child.spec.workflowExecutionRef.name;
    byWorkflow.set(name, [...(byWorkflow.get(name) ?? []), child]);
  }
  return byWorkflow;
}

async function untilFinished(names: readonly string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const states = await statesOf(names);
    if (states.every(finished)) return;
    if (Date.now() > deadline)
      throw new Error(
        `not finished: ${states
          .filter((s) => !finished(s))
          .map((s) => s.metadata.name)
          .join(', ')}`,
      );
    await sleep(200);
  }
}

/**
 * Where a workflow stood when the operator was killed, as the cluster shows it: its phase, each
 * step's recorded status, and its children, done or not (a done child whose step is not recorded
 * yet is a result the killed operator had not taken in).
 */
function lifecyclePoint(wf: WorkflowExecution, children: readonly KubernetesExecution[]): string {
  const done = children.filter((c) => c.status?.phase === 'completed' || c.status?.phase === 'failed');
  const steps = (wf.status?.stepStatuses ?? []).map((s) => `${s.stepNumber}:${s.status}`).join(',');
  return `${kindOf(wf.metadata.name ?? '')} ${wf.status?.phase ?? 'new'} [${steps}] children ${done.length}/${children.length} done`;
}

/** What an uninterrupted run decides, without the times. */
async function outcome(name: string) {
  const wf = await workflows.get(name);
  const children = (await childrenByWorkflow()).get(name) ?? [];
  const s = wf.status;
  return {
    phase: s?.phase,
    conditions: (s?.conditions ?? []).map((c) => `${c.type}=${c.status} ${c.reason}`).sort(),
    steps: Object.fromEntries((s?.stepStatuses ?? []).map((st) => [st.stepNumber, st.status])),
    retries: (s?.stepStatuses ?? []).map((st) => st.retriesAttempted ?? 0),
    outcome: s?.workflowResult?.outcome,
    state: s?.statechart?.snapshot.value,
    children: children.map((c) => (c.metadata.name ?? '').slice(name.length + 1)).sort(),
    childPhases: children
      .map((c) => `${(c.metadata.name ?? '').slice(name.length + 1)}=${c.status?.phase ?? ''}`)
      .sort(),
  };
}

describe('an operator killed with SIGKILL at random points', () => {
  it(`brings every workflow to the end an uninterrupted run reaches, across ${KILLS} kills that land mid-work at ${MIN_POINTS}+ distinct points, creating no child twice`, async () => {
    // The reference: the same workflows, one operator, never killed.
    const steady = await startOperator();
    const reference = await applyBatch('ref');
    await untilFinished(reference, 120_000);
    await steady.stop();
    const expected = new Map<string, Awaited<ReturnType<typeof outcome>>>();
    for (const name of reference) {
      const c = caseOf(name);
      const ended = await outcome(name);
      // The reference itself ends as the specification says.
      expect({ name, phase: ended.phase, steps: ended.steps, children: ended.children }).toEqual({
        name,
        phase: c?.expected.phase,
        steps: c?.expected.steps,
        children: c?.expected.children,
      });
      expect(ended.conditions).toContain(
        `Ready=${c?.expected.phase === 'completed' ? 'True' : 'False'} ${c?.expected.reason ?? ''}`,
      );
      expected.set(kindOf(name), ended);
    }

    const killed: string[] = [];
    const points = new Set<string>();
    let kills = 0;
    let midWork = 0;
    for (let batch = 0; midWork < KILLS && kills < MAX_KILLS; batch++) {
      const names = await applyBatch(String(batch));
      killed.push(...names);
      for (;;) {
        const operator = await startOperator();
        const atStart = new Map(
          (await statesOf(names)).map((w) => [w.metadata.name, w.metadata.resourceVersion]),
        );
        // Kill at a random point after the operator started working: between reconciles, mid-write,
        // between a status write and a child creation.
        await operator.started();
        await sleep(Math.floor(Math.random() * 400));
        const [before, children] = await Promise.all([statesOf(names), childrenByWorkflow()]);
        await operator.kill();
        kills++;
        const unfinished = before.filter((w) => !finished(w));
        if (unfinished.length === 0) break;
        // Mid-work: this operator had moved a workflow that is still unfinished.
        if (unfinished.some((w) => atStart.get(w.metadata.name) !== w.metadata.resourceVersion)) midWork++;
        for (const w of unfinished) points.add(lifecyclePoint(w, children.get(w.metadata.name ?? '') ?? []));
        if (midWork >= KILLS || kills >= MAX_KILLS) break;
      }
      process.stderr.write(`kill test: batch ${batch} done, ${kills} kills, ${midWork} mid-work\n`);
    }
    // The last operator settles everything.
    const last = await startOperator();
    await untilFinished(killed, 120_000);
    await last.stop();

    process.stderr.write(
      `\nkill test: ${kills} kills, ${midWork} mid-work, at ${points.size} distinct points, ${killed.length} workflows\n  ${[...points].sort().join('\n  ')}\n`,
    );
    expect(midWork).toBeGreaterThanOrEqual(KILLS);
    expect(points.size).toBeGreaterThanOrEqual(MIN_POINTS);
    for (const name of killed)
      expect({ name, ...(await outcome(name)) }).toEqual({ name, ...expected.get(kindOf(name)) });
    expect(executor.duplicates()).toEqual([]);
  });
});
