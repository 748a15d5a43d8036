// The operator as a real process, killed with SIGKILL and restarted again and again while workflows
// run: every workflow must still reach its correct end, no child may be created twice, and no
// transition may be lost (the final status equals that of an uninterrupted run).
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type {
  KubernetesExecution,
  WorkflowExecution,
  WorkflowExecutionSpec,
} from '../../src/api/generated/types.ts';
import { sharedControlPlane } from '../../src/shell/controlplane/launcher.ts';
import { customRollback, customStep, specWith } from '../fixtures/specs.ts';
import { ScriptedExecutor, type Verdict } from '../support/executor.ts';
import {
  adminClient,
  applyWorkflow,
  childrenOf,
  createNamespace,
  getWorkflow,
} from '../integration/support/harness.ts';
import type { KubeClient } from '../../src/shell/kube/client.ts';

jest.setTimeout(300_000);

/** Kills that land while at least one workflow is unfinished. */
const KILLS = 50;

interface Case {
  name: string;
  spec: WorkflowExecutionSpec;
  /** What the executor does with a child of this workflow. */
  verdict: (child: KubernetesExecution) => Verdict;
  /** The end an uninterrupted run reaches. */
  expected: { phase: string; reason: string; steps: Record<number, string>; children: string[] };
}

const ok: Verdict = { phase: 'completed', wouldSucceed: true };

function cases(batch: number): Case[] {
  const n = (base: string) => `${base}-${batch}`;
  return [
    {
      name: n('seq'),
      spec: specWith([customStep(1), customStep(2), customStep(3), customStep(4)]),
      verdict: () => ok,
      expected: {
        phase: 'completed',
        reason: 'Succeeded',
        steps: { 1: 'completed', 2: 'completed', 3: 'completed', 4: 'completed' },
        children: ['step-1-a1', 'step-2-a1', 'step-3-a1', 'step-4-a1'],
      },
    },
    {
      name: n('diamond'),
      spec: specWith([
        customStep(1),
        customStep(2, { dependsOn: [1] }),
        customStep(3, { dependsOn: [1] }),
        customStep(4, { dependsOn: [2, 3] }),
      ]),
      verdict: () => ok,
      expected: {
        phase: 'completed',
        reason: 'Succeeded',
        steps: { 1: 'completed', 2: 'completed', 3: 'completed', 4: 'completed' },
        children: ['step-1-a1', 'step-2-a1', 'step-3-a1', 'step-4-a1'],
      },
    },
    {
      name: n('rollback'),
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
      name: n('dryrun'),
      spec: specWith([customStep(1), customStep(2)], { dryRunFirst: true }),
      verdict: () => ok,
      expected: {
        phase: 'completed',
        reason: 'Succeeded',
        steps: { 1: 'completed', 2: 'completed' },
        children: ['dryrun-1', 'dryrun-2', 'step-1-a1', 'step-2-a1'],
      },
    },
    {
      name: n('partial'),
      spec: specWith([customStep(1), customStep(2, { dependsOn: [1] }), customStep(3, { dependsOn: [1] })]),
      verdict: (c) => (c.spec.stepNumber === 3 ? { phase: 'failed', message: 'non-critical' } : ok),
      expected: {
        phase: 'completed',
        reason: 'PartialSuccess',
        steps: { 1: 'completed', 2: 'completed', 3: 'failed' },
        children: ['step-1-a1', 'step-2-a1', 'step-3-a1'],
      },
    },
  ];
}

let client: KubeClient;
let namespace: string;
let executor: ScriptedExecutor;
const verdicts = new Map<string, Case['verdict']>();
let operator: ChildProcess | undefined;

let started: Promise<void> = Promise.resolve();

/** Starts the operator; `started` resolves once its workers run (its log says so). */
function startOperator(): ChildProcess {
  const child = spawn(
    'node_modules/.bin/node',
    [
      'src/cli/wfx.ts',
      'operator',
      '--kubeconfig',
      sharedControlPlane().kubeconfigPath,
      '--namespaces',
      namespace,
      '--health-port',
      '0',
      '--metrics-port',
      '0',
      '--log-level',
      'info',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  started = new Promise<void>((resolve) => {
    const lines = createInterface({ input: child.stderr });
    lines.on('line', (line) => {
      if (line.includes('"controller started"')) resolve();
    });
    child.once('exit', () => {
      resolve();
    });
  });
  return child;
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

beforeAll(async () => {
  const admin = await adminClient();
  client = admin.client;
  namespace = await createNamespace(client, 'kill');
  // A slow executor, so kills land while children are in flight.
  executor = new ScriptedExecutor(
    admin.kc,
    client,
    (child) => verdicts.get(child.spec.workflowExecutionRef.name)?.(child) ?? ok,
    namespace,
    () => 50 + Math.floor(Math.random() * 150),
  );
  await executor.start();
});

afterAll(async () => {
  if (operator) await kill(operator);
  await executor.stop();
  await client.request(`/api/v1/namespaces/${namespace}`, { method: 'DELETE' }).catch(() => undefined);
  client.close();
});

const finished = (wf: WorkflowExecution) => {
  const ready = wf.status?.conditions?.find((c) => c.type === 'Ready');
  return (
    (wf.status?.phase === 'completed' || wf.status?.phase === 'failed') &&
    ready?.reason !== 'AwaitingManualRollback'
  );
};

describe('an operator killed with SIGKILL at random points', () => {
  it(`brings every workflow to its correct end across ${KILLS} kills mid-run, creating no child twice`, async () => {
    const all: Case[] = [];
    let kills = 0;
    let midRunKills = 0;
    let batch = 0;
    operator = startOperator();
    while (midRunKills < KILLS) {
      const running = cases(batch++);
      for (const c of running) {
        verdicts.set(c.name, c.verdict);
        await applyWorkflow({ client, namespace }, c.name, c.spec);
      }
      all.push(...running);
      // Kill and restart until this batch is done (and at least a few times per batch).
      for (let round = 0; ; round++) {
        // Kill at a random point after the operator started working: between reconciles, mid-write,
        // between a status write and a child creation.
        await started;
        await sleep(Math.floor(Math.random() * 400));
        const before = await Promise.all(running.map((c) => getWorkflow({ client, namespace }, c.name)));
        await kill(operator);
        kills++;
        if (!before.every(finished)) midRunKills++;
        operator = startOperator();
        if (before.every(finished) || round > 200) break;
      }
    }
    // Let the last operator settle everything.
    const deadline = Date.now() + 60_000;
    for (;;) {
      const states = await Promise.all(all.map((c) => getWorkflow({ client, namespace }, c.name)));
      if (states.every(finished)) break;
      if (Date.now() > deadline)
        throw new Error(
          `not finished: ${states
            .filter((s) => !finished(s))
            .map((s) => s.metadata.name)
            .join(', ')}`,
        );
      await sleep(200);
    }

    expect(midRunKills).toBeGreaterThanOrEqual(KILLS);
    process.stderr.write(`\nkill test: ${kills} kills, ${midRunKills} mid-run, ${all.length} workflows\n`);
    for (const c of all) {
      const wf = await getWorkflow({ client, namespace }, c.name);
      expect({
        name: c.name,
        phase: wf.status?.phase,
        reason: wf.status?.conditions?.find((x) => x.type === 'Ready')?.reason,
      }).toEqual({
        name: c.name,
        phase: c.expected.phase,
        reason: c.expected.reason,
      });
      expect(Object.fromEntries(wf.status?.stepStatuses?.map((s) => [s.stepNumber, s.status]) ?? [])).toEqual(
        c.expected.steps,
      );
      const children = (await childrenOf({ client, namespace }, c.name)).map((k) =>
        (k.metadata.name ?? '').slice(c.name.length + 1),
      );
      expect(children).toEqual(c.expected.children);
    }
    expect(executor.duplicates()).toEqual([]);
  });
});
