// Learning from history, against the real control plane and both audit stores: a seeded history
// raises a step's retries and sets another's timeout, which the children carry; the decision is kept
// through a restart and new history; an empty or unreachable store plans as declared and says so.
// And at run time (dynamicStepAdjustment): a step not yet started takes what this run's earlier
// steps of the same action taught, in its children; too little signal changes nothing.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { KubeConfig } from '@kubernetes/client-node';
import type { KubernetesExecution, WorkflowExecution } from '../../src/api/generated/types.ts';
import { openPostgresAuditStore } from '../../src/audit/postgres.ts';
import type { AuditStore, WorkflowExecutionAudit } from '../../src/audit/record.ts';
import { openSqliteAuditStore } from '../../src/audit/sqlite.ts';
import { parseDuration } from '../../src/core/duration.ts';
import { APPROVED_BY } from '../../src/core/observe.ts';
import { sharedControlPlane } from '../support/shared-control-plane.ts';
import type { KubeClient } from '../../src/shell/kube/client.ts';
import { KUBERNETES_EXECUTIONS, resourcePath } from '../../src/shell/kube/resources.ts';
import type { RunningOperator } from '../../src/shell/operator.ts';
import { customStep, specWith } from '../fixtures/specs.ts';
import { until } from '../support/cluster.ts';
import { ScriptedExecutor, type Script } from '../support/executor.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';
import {
  SkewClock,
  Workflows,
  adminClient,
  createNamespace,
  inPhase,
  startOperatorFor,
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
  clock: SkewClock;
  workflows: Workflows;
}

async function world(
  audit: AuditStore | undefined,
  script: Script = failFirstAttemptOfStep1,
): Promise<World> {
  const namespace = await createNamespace(client, 'learn');
  const executor = new ScriptedExecutor(kc, client, script, namespace);
  await executor.start();
  const clock = new SkewClock();
  const operator = await startOperatorFor(sharedControlPlane().kubeconfigPath, namespace, clock, audit);
  return { namespace, operator, executor, clock, workflows: new Workflows({ client, namespace }) };
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
      await w.workflows.apply('learns', learningSpec(workflowName, true));
      const planned = await w.workflows.waitFor('learns', (wf) => learned(wf).length > 0, 'its learned plan');
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
      await w.workflows.annotate('learns', APPROVED_BY, username);

      const done = await w.workflows.waitFor('learns', inPhase('completed', 'failed'), 'finished', 60_000);
      expect(done.status?.phase).toBe('completed');
      expect(learned(done)).toEqual(decisions);
      const children = await w.workflows.childrenOf('learns');
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
      // An action type no run ever had, so neither this workflow nor its targets have history.
      const spec = learningSpec(`never-ran-${storeName}-${Date.now()}`);
      spec.workflowDefinition.steps = spec.workflowDefinition.steps.map((s) => ({
        ...s,
        parameters: { custom: { actionType: `fresh-${Date.now()}` } },
      }));
      await w.workflows.apply('unlearned', spec);
      const done = await w.workflows.waitFor('unlearned', inPhase('completed', 'failed'), 'finished', 60_000);
      // As declared: step 1 has no retries, so its transient failure fails it.
      expect(done.status?.stepStatuses?.find((s) => s.stepNumber === 1)?.status).toBe('failed');
      expect(learned(done)).toEqual([{ kind: 'declared', from: 0, runs: 0, source: 'none' }]);
      expect(done.status?.adaptiveAdjustments?.[0]?.reason).toBe(
        'too little history: 0 runs at most for any step, 5 needed',
      );
      expect(
        (await w.workflows.childrenOf('unlearned')).find((c) => c.spec.stepNumber === 2)?.spec.timeout,
      ).toBe('30s');
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
      await w.workflows.apply('no-store', learningSpec('no-store'));
      const done = await w.workflows.waitFor('no-store', inPhase('completed', 'failed'), 'finished', 60_000);
      expect(learned(done)).toEqual([{ kind: 'declared', from: 0, runs: 0, source: 'none' }]);
      expect(done.status?.adaptiveAdjustments?.[0]?.reason).toMatch(/^the audit store could not be read: /);
      expect((await eventsOf(w.namespace, 'PlannedAsDeclared'))[0]?.note).toContain('could not be read');
    } finally {
      await stopWorld(w);
    }
  });
});

/** A custom step of action type `type`: steps of one type are the same action on the same target. */
const typed = (n: number, type: string, overrides: Parameters<typeof customStep>[1] = {}) =>
  customStep(n, { parameters: { custom: { actionType: type } }, ...overrides });

/** Steps in a row (no dependencies declared), adjusted at run time. */
const dynamicSpec = (steps: ReturnType<typeof customStep>[]) => ({
  ...specWith(steps),
  adaptiveOrchestration: { dynamicStepAdjustment: true },
});

const adjustedAtRunTime = (wf: WorkflowExecution) =>
  (wf.status?.adaptiveAdjustments ?? []).filter((a) => a.kind === 'runTime').map((a) => a.learned);

/** The first attempt of each listed step fails (transient); everything else succeeds. */
const failFirstAttemptOf =
  (...steps: number[]): Script =>
  (c) =>
    c.spec.kind === 'step' && steps.includes(c.spec.stepNumber) && c.spec.attempt === 1
      ? { phase: 'failed', message: 'connection reset' }
      : { phase: 'completed' };

const attempts = (children: readonly KubernetesExecution[]) =>
  children.map((c) => [c.spec.stepNumber, c.spec.attempt]);

describe('adjusting steps at run time', () => {
  it('gives a step not yet started the retries its action needed earlier in this run, in its children', async () => {
    // Step 1 (flaky, one retry) fails once and is fixed; step 3 (flaky, no retries) fails once too.
    const w = await world(undefined, failFirstAttemptOf(1, 3));
    try {
      await w.workflows.apply(
        'adjusted',
        dynamicSpec([typed(1, 'flaky', { maxRetries: 1 }), typed(2, 'steady'), typed(3, 'flaky')]),
      );
      const done = await w.workflows.waitFor('adjusted', inPhase('completed', 'failed'), 'finished', 75_000);
      expect(done.status?.phase).toBe('completed');
      expect(adjustedAtRunTime(done)).toEqual([
        { kind: 'retries', step: 3, from: 0, to: 1, runs: 1, source: 'run' },
      ]);
      // Declared without retries, step 3 was retried after its first attempt failed.
      expect(attempts(await w.workflows.childrenOf('adjusted'))).toEqual([
        [1, 1],
        [1, 2],
        [2, 1],
        [3, 1],
        [3, 2],
      ]);
      expect(w.executor.duplicates()).toEqual([]);
      expect((await eventsOf(w.namespace, 'AdjustedAtRunTime')).map((e) => e.note)).toEqual([
        expect.stringContaining(
          'step 3: retries 0 -> 1 (step 1 (step-1), the same action on the same target',
        ),
      ]);
      expect(
        await w.operator.metrics.registry.getSingleMetricAsString(
          'kubernaut_workflowexecution_adaptive_adjustments_total',
        ),
      ).toMatch(/adjustment_type="retries_at_run_time"[^\n]* 1$/m);
    } finally {
      await stopWorld(w);
    }
  });

  it('gives a step not yet started a longer timeout after its action nearly timed out, in its child', async () => {
    // Step 1 hangs until the test completes it, 250 s of its 5 m later by the operator's clock.
    const w = await world(undefined, (c) =>
      c.spec.stepNumber === 1 ? { phase: 'hang' } : { phase: 'completed' },
    );
    try {
      await w.workflows.apply('slow', dynamicSpec([typed(1, 'slow'), typed(2, 'slow')]));
      const first = await until(
        'the first child of slow',
        async () => (await w.workflows.childrenOf('slow'))[0],
      );
      w.clock.advance(250_000);
      const now = new Date(w.clock.now()).toISOString();
      await client.request(
        resourcePath(KUBERNETES_EXECUTIONS, w.namespace, first.metadata.name ?? '', 'status'),
        {
          method: 'PATCH',
          patchType: 'merge',
          body: { status: { phase: 'completed', startTime: now, completionTime: now } },
        },
      );
      const done = await w.workflows.waitFor('slow', inPhase('completed', 'failed'), 'finished', 60_000);
      expect(done.status?.phase).toBe('completed');
      const [decision] = adjustedAtRunTime(done);
      // Twice step 1's duration (250 s and the moments the operator took to see it), whole seconds.
      expect(decision).toMatchObject({ kind: 'timeout', step: 2, from: 300_000, runs: 1, source: 'run' });
      expect(decision?.to).toBeGreaterThanOrEqual(500_000);
      expect(decision?.to).toBeLessThan(560_000);
      const step2 = (await w.workflows.childrenOf('slow')).find((c) => c.spec.stepNumber === 2);
      expect(parseDuration(step2?.spec.timeout ?? '')).toBe(decision?.to);
    } finally {
      await stopWorld(w);
    }
  });

  it('changes nothing with too little signal: the same action succeeded at once', async () => {
    // Step 1 (flaky) succeeds at its first attempt; step 2 (flaky, no retries) fails its first.
    const w = await world(undefined, failFirstAttemptOf(2));
    try {
      await w.workflows.apply('unadjusted', dynamicSpec([typed(1, 'flaky'), typed(2, 'flaky')]));
      const done = await w.workflows.waitFor(
        'unadjusted',
        inPhase('completed', 'failed'),
        'finished',
        60_000,
      );
      expect(done.status?.stepStatuses?.map((s) => [s.stepNumber, s.status])).toEqual([
        [1, 'completed'],
        [2, 'failed'],
      ]);
      expect(adjustedAtRunTime(done)).toEqual([]);
      expect(attempts(await w.workflows.childrenOf('unadjusted'))).toEqual([
        [1, 1],
        [2, 1],
      ]);
      expect(await eventsOf(w.namespace, 'AdjustedAtRunTime')).toEqual([]);
    } finally {
      await stopWorld(w);
    }
  });
});
