// Learning from history, against the real control plane and both audit stores: a seeded history
// raises a step's retries and sets another's timeout, which the children carry; the decision is kept
// through a restart and new history; an empty or unreachable store plans as declared and says so.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { KubeConfig } from '@kubernetes/client-node';
import type { KubernetesExecution, WorkflowExecution } from '../../src/api/generated/types.ts';
import { openPostgresAuditStore } from '../../src/audit/postgres.ts';
import type { AuditStore, WorkflowExecutionAudit } from '../../src/audit/record.ts';
import { openSqliteAuditStore } from '../../src/audit/sqlite.ts';
import { APPROVED_BY } from '../../src/core/observe.ts';
import { sharedControlPlane } from '../../src/shell/controlplane/launcher.ts';
import type { KubeClient } from '../../src/shell/kube/client.ts';
import type { RunningOperator } from '../../src/shell/operator.ts';
import { customStep, specWith } from '../fixtures/specs.ts';
import { ScriptedExecutor } from '../support/executor.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';
import {
  SkewClock,
  adminClient,
  annotate,
  applyWorkflow,
  childrenOf,
  createNamespace,
  inPhase,
  startOperatorFor,
  waitForWorkflow,
  whoAmI,
} from './support/harness.ts';

jest.setTimeout(90_000);

let postgres: TestPostgres;
let kc: KubeConfig;
let client: KubeClient;
let username: string;
beforeAll(async () => {
  postgres = await startPostgres();
  ({ kc, client } = await adminClient());
  username = await whoAmI(client);
});
afterAll(() => {
  postgres.stop();
  client.close();
});

const DAY = 24 * 3_600_000;

/** A finished run of `workflowName`: step 1 fixed by its third attempt, step 2 taking `step2Ms`. */
function pastRun(workflowName: string, i: number, step2Ms: number): WorkflowExecutionAudit {
  const completedAt = new Date(Date.now() - DAY + i * 60_000).toISOString();
  return {
    id: `${workflowName}-past-${i}`,
    segment: 1,
    namespace: 'elsewhere',
    name: `${workflowName}-${i}`,
    remediationId: '',
    workflowName,
    workflowVersion: '1',
    totalSteps: 2,
    stepsCompleted: 2,
    stepsFailed: 0,
    totalDurationMs: 60_000,
    outcome: 'success',
    effectivenessScore: 1,
    rollbacksPerformed: 0,
    stepExecutions: [
      {
        stepNumber: 1,
        action: 'custom',
        target: 'custom noop',
        durationMs: 1000,
        status: 'completed',
        retriesAttempted: 2,
      },
      {
        stepNumber: 2,
        action: 'custom',
        target: 'custom noop',
        durationMs: step2Ms,
        status: 'completed',
        retriesAttempted: 0,
      },
    ],
    adaptiveAdjustments: [],
    completedAt,
    status: 'completed',
  };
}

/** Two independent custom steps, step 2 declared with a 30 s timeout, learning from history. */
const learningSpec = (workflowName: string, approval = false) => {
  const spec = specWith([customStep(1), customStep(2, { timeout: '30s', dependsOn: [] })], {
    approvalRequired: approval,
  });
  return {
    ...spec,
    workflowDefinition: { ...spec.workflowDefinition, name: workflowName, version: '1' },
    adaptiveOrchestration: { learningFromHistory: true },
  };
};

/** Step 1's first attempt fails (a transient failure); everything else succeeds. */
const failFirstAttemptOfStep1 = (c: KubernetesExecution) =>
  c.spec.kind === 'step' && c.spec.stepNumber === 1 && c.spec.attempt === 1
    ? ({ phase: 'failed', message: 'connection reset' } as const)
    : ({ phase: 'completed' } as const);

const learned = (wf: WorkflowExecution) =>
  (wf.status?.adaptiveAdjustments ?? []).filter((a) => a.kind === 'learned').map((a) => a.learned);

async function eventsOf(namespace: string, reason: string): Promise<{ note?: string; reason?: string }[]> {
  const list = await client.request<{ items: { note?: string; reason?: string }[] }>(
    `/apis/events.k8s.io/v1/namespaces/${namespace}/events`,
  );
  return list.items.filter((e) => e.reason === reason);
}

interface World {
  namespace: string;
  operator: RunningOperator;
  executor: ScriptedExecutor;
  audit: AuditStore;
}

async function world(audit: AuditStore): Promise<World> {
  const namespace = await createNamespace(client, 'learn');
  const executor = new ScriptedExecutor(kc, client, failFirstAttemptOfStep1, namespace);
  await executor.start();
  const operator = await startOperatorFor(
    sharedControlPlane().kubeconfigPath,
    namespace,
    new SkewClock(),
    audit,
  );
  return { namespace, operator, executor, audit };
}

async function stopWorld(w: World): Promise<void> {
  await w.executor.stop();
  await w.operator.stop();
  await client.request(`/api/v1/namespaces/${w.namespace}`, { method: 'DELETE' }).catch(() => undefined);
}

/** Per store: a fresh store, and a way to open it again (as a restarted operator does). */
const stores: [string, () => () => Promise<AuditStore>][] = [
  [
    'SQLite',
    () => {
      const path = join(mkdtempSync(join(tmpdir(), 'wfe-learn-')), 'audit.db');
      return () => Promise.resolve(openSqliteAuditStore(path));
    },
  ],
  ['PostgreSQL', () => () => openPostgresAuditStore(postgres.url)],
];

describe.each(stores)('learning from history in %s', (storeName, fresh) => {
  it('raises the retries of a step whose failures were transient and sets a timeout from p99, in the children, once', async () => {
    const workflowName = `learned-${storeName.toLowerCase()}-${Date.now()}`;
    // Six runs: step 1 always needed a third attempt; step 2 took 40-61 s (its declared timeout is 30 s).
    const open = fresh();
    const seed = await open();
    for (let i = 0; i < 6; i++) await seed.upsert(pastRun(workflowName, i, 40_000 + i * 4_200));
    const w = await world(seed);
    try {
      const h = { client, namespace: w.namespace };
      await applyWorkflow(h, 'learns', learningSpec(workflowName, true));
      const planned = await waitForWorkflow(h, 'learns', (wf) => learned(wf).length > 0, 'its learned plan');
      const decisions = learned(planned);
      expect(decisions).toEqual(
        expect.arrayContaining([
          { kind: 'retries', step: 1, from: 0, to: 2, runs: 6, source: 'workflow' },
          { kind: 'timeout', step: 2, from: 30_000, to: 61_000, runs: 6, source: 'workflow' },
        ]),
      );

      // Counted right after the status that records them is written.
      let counted = '';
      for (let i = 0; i < 100 && !counted.includes('retries_from_history'); i++) {
        counted = await w.operator.metrics.registry.getSingleMetricAsString(
          'kubernaut_workflowexecution_adaptive_adjustments_total',
        );
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(counted).toMatch(/adjustment_type="retries_from_history"[^\n]* 1$/m);
      expect(counted).toMatch(/adjustment_type="timeout_from_history"[^\n]* 1$/m);

      // New history that would decide otherwise, and a restart: the running plan does not change.
      const more = await open();
      for (let i = 6; i < 30; i++) await more.upsert(pastRun(workflowName, i, 1_000));
      await more.close();
      // The operator closes its store when it stops; the new one opens the same store again.
      await w.operator.stop();
      w.operator = await startOperatorFor(
        sharedControlPlane().kubeconfigPath,
        w.namespace,
        new SkewClock(),
        await open(),
      );
      await annotate(h, 'learns', APPROVED_BY, username);

      const done = await waitForWorkflow(h, 'learns', inPhase('completed', 'failed'), 'finished', 60_000);
      expect(done.status?.phase).toBe('completed');
      expect(learned(done)).toEqual(decisions);
      const children = await childrenOf(h, 'learns');
      // Step 1 failed once and was retried (declared: no retries), step 2 ran with the learned timeout.
      expect(children.map((c) => [c.spec.stepNumber, c.spec.attempt, c.spec.timeout])).toEqual([
        [1, 1, '5m'],
        [1, 2, '5m'],
        [2, 1, '1m1s'],
      ]);
      expect((await eventsOf(w.namespace, 'AdjustedFromHistory'))[0]?.note).toContain(
        'step 1: retries 0 -> 2',
      );
      // Counted once, at the first planning: not again by the restarted operator.
      expect(
        await w.operator.metrics.registry.getSingleMetricAsString(
          'kubernaut_workflowexecution_adaptive_adjustments_total',
        ),
      ).not.toContain('retries_from_history');
    } finally {
      await stopWorld(w);
    }
  });

  it('with an empty store plans as declared and says so', async () => {
    const w = await world(await fresh()());
    try {
      const h = { client, namespace: w.namespace };
      // An action type no run ever had, so neither this workflow nor its targets have history.
      const spec = learningSpec(`never-ran-${storeName}-${Date.now()}`);
      spec.workflowDefinition.steps = spec.workflowDefinition.steps.map((s) => ({
        ...s,
        parameters: { custom: { actionType: `fresh-${Date.now()}` } },
      }));
      await applyWorkflow(h, 'unlearned', spec);
      const done = await waitForWorkflow(h, 'unlearned', inPhase('completed', 'failed'), 'finished', 60_000);
      // As declared: step 1 has no retries, so its transient failure fails it.
      expect(done.status?.stepStatuses?.find((s) => s.stepNumber === 1)?.status).toBe('failed');
      expect(learned(done)).toEqual([{ kind: 'declared', from: 0, runs: 0, source: 'none' }]);
      expect(done.status?.adaptiveAdjustments?.[0]?.reason).toBe(
        'too little history: 0 runs at most for any step, 5 needed',
      );
      expect((await childrenOf(h, 'unlearned')).find((c) => c.spec.stepNumber === 2)?.spec.timeout).toBe(
        '30s',
      );
      expect((await eventsOf(w.namespace, 'PlannedAsDeclared'))[0]?.note).toContain('too little history');
    } finally {
      await stopWorld(w);
    }
  });
});

describe('learning from an unreachable audit store', () => {
  it('plans as declared and says why', async () => {
    const gone = await startPostgres();
    const audit = await openPostgresAuditStore(gone.url);
    gone.stop();
    const w = await world(audit);
    try {
      const h = { client, namespace: w.namespace };
      await applyWorkflow(h, 'no-store', learningSpec('no-store'));
      const done = await waitForWorkflow(h, 'no-store', inPhase('completed', 'failed'), 'finished', 60_000);
      expect(learned(done)).toEqual([{ kind: 'declared', from: 0, runs: 0, source: 'none' }]);
      expect(done.status?.adaptiveAdjustments?.[0]?.reason).toMatch(/^the audit store could not be read: /);
      expect((await eventsOf(w.namespace, 'PlannedAsDeclared'))[0]?.note).toContain('could not be read');
    } finally {
      await stopWorld(w);
    }
  });
});
