// The reconcile loop on the real control plane: happy paths, parallel branches, invalid specs.
import { describe, expect, it, jest } from '@jest/globals';
import { customRollback, customStep, diamondSpec, specWith } from '../fixtures/specs.ts';
import type { WorkflowExecution } from '../../src/api/generated/types.ts';
import { canonicalJson } from '../../src/core/spec-hash.ts';
import { createInformer } from '../../src/shell/informer.ts';
import { FINALIZER } from '../../src/shell/workflow-metadata.ts';
import { until } from '../support/cluster.ts';
import { APPROVED_BY } from '../../src/core/observe.ts';
import { isFinishedChild, isFinishedView } from '../../src/core/finished-workflow.ts';
import { WORKFLOW_EXECUTIONS, resourcePath } from '../../src/shell/kube/resources.ts';
import { isNotFound } from '../../src/shell/kube/client.ts';
import { awaitingApproval, conditionOf, inPhase } from './support/harness.ts';
import { harnessForSuite } from './support/suite.ts';

jest.setTimeout(60_000);

const h = harnessForSuite();

describe('a sequential workflow', () => {
  it('runs its steps one after another and completes (unknown: nothing verifiable)', async () => {
    await h.workflows.apply('sequential', specWith([customStep(1), customStep(2), customStep(3)]));
    const wf = await h.workflows.waitFor('sequential', inPhase('completed'), 'completed');

    expect(wf.metadata.finalizers).toContain(FINALIZER);
    // Custom steps name nothing the operator can verify: completed, outcome unknown (issue 19).
    expect(wf.status?.workflowResult).toMatchObject({ outcome: 'unknown', resourceHealth: 'unknown' });
    expect(wf.status?.stepStatuses?.map((s) => [s.stepNumber, s.status])).toEqual([
      [1, 'completed'],
      [2, 'completed'],
      [3, 'completed'],
    ]);
    expect(wf.status?.executionPlan).toMatchObject({ strategy: 'sequential', rollbackOrder: [3, 2, 1] });
    expect(conditionOf(wf, 'Ready')).toMatchObject({ status: 'True' });
    expect(conditionOf(wf, 'Succeeded')).toMatchObject({ status: 'True' });
    expect(conditionOf(wf, 'Reconciling')).toBeUndefined();
    expect(wf.status?.observedGeneration).toBe(wf.metadata.generation);
    // Each step ran after the one before it finished.
    const [s1, s2, s3] = wf.status?.stepStatuses ?? [];
    expect(Date.parse(s2!.startTime!)).toBeGreaterThanOrEqual(Date.parse(s1!.endTime!));
    expect(Date.parse(s3!.startTime!)).toBeGreaterThanOrEqual(Date.parse(s2!.endTime!));

    const children = await h.workflows.childrenOf('sequential');
    expect(children.map((c) => c.metadata.name)).toEqual([
      'sequential-step-1-a1',
      'sequential-step-2-a1',
      'sequential-step-3-a1',
    ]);
    expect(children.every((c) => c.metadata.ownerReferences?.[0]?.controller === true)).toBe(true);
    expect(h.executor.duplicates()).toEqual([]);
  });
});

describe('a finished workflow', () => {
  it('is cached as a small view, its children leave the index, and it is left alone', async () => {
    await h.workflows.apply('finished', specWith([customStep(1), customStep(2)]));
    const done = await h.workflows.waitFor('finished', inPhase('completed'), 'completed');
    const { controller } = h.operator;
    const view = await until('the finished view in the cache', () => {
      const cached = controller.workflows.get('finished', h.namespace);
      return cached && isFinishedView(cached) ? cached : undefined;
    });
    expect(view.status).toEqual({
      phase: 'completed',
      observedGeneration: done.metadata.generation,
      conditions: [conditionOf(done, 'Ready')],
    });
    expect(controller.childIndex.of(done.metadata.uid ?? '')).toEqual([]);
    const cachedChild = controller.children.get('finished-step-2-a1', h.namespace);
    expect(cachedChild && isFinishedChild(cachedChild)).toBe(true);
    // Reconciled again, after an unrelated change too: nothing is written.
    const annotated = await h.workflows.annotate('finished', 'example.com/note', 'looked at');
    const later = await h.reconcileNow(annotated);
    expect(later.metadata.resourceVersion).toBe(annotated.metadata.resourceVersion);
    expect(later.status).toEqual(done.status);
  });

  it('still has its finalizer removed when it is deleted, with its audit record as finished', async () => {
    await h.workflows.apply('finished-deleted', specWith([customStep(1)]));
    const done = await h.workflows.waitFor('finished-deleted', inPhase('completed'), 'completed');
    await until('the finished view in the cache', () => {
      const cached = h.operator.controller.workflows.get('finished-deleted', h.namespace);
      return cached && isFinishedView(cached) ? true : undefined;
    });
    await h.client.request(resourcePath(WORKFLOW_EXECUTIONS, h.namespace, 'finished-deleted'), {
      method: 'DELETE',
    });
    const gone = async () => {
      try {
        await h.client.request(resourcePath(WORKFLOW_EXECUTIONS, h.namespace, 'finished-deleted'));
        return undefined;
      } catch (error) {
        if (isNotFound(error)) return true;
        throw error;
      }
    };
    await until('the workflow gone (its finalizer removed)', gone, 30_000);
    const records = (await h.audit.list(1000)).filter((r) => r.name === 'finished-deleted');
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ status: 'completed', id: done.metadata.uid });
  });
});

describe.each([
  {
    delayMs: 0,
    statusWrites: 4,
    // Start (executing, step 1 launched); step 1 done and 2 launched; 2 done and 3 launched; 3 done,
    // monitored and completed in one write.
    what: 'once to start and once per step result (the last with its verdict)',
  },
  {
    delayMs: 60_000,
    statusWrites: 2,
    // Start; then steps 1 and 2 done (and 2 and 3 launched) wait, and share the write of 3 done,
    // monitored and completed.
    what: 'once to start and once to finish, step progress waiting for the last write',
  },
])(
  'writes to the apiserver, with step progress waiting up to $delayMs ms',
  ({ delayMs, statusWrites, what }) => {
    const w = harnessForSuite(undefined, { progressWriteDelayMs: delayMs });

    it(`writes the status ${what}, the finalizer once`, async () => {
      // Every version of the workflow the apiserver stored, from a watch started before it exists.
      const versions: WorkflowExecution[] = [];
      const watch = createInformer<WorkflowExecution>(w.client, WORKFLOW_EXECUTIONS, {
        namespace: w.namespace,
        onChange: (wf, kind) => {
          if (wf.metadata.name === 'frugal' && kind !== 'delete') versions.push(wf);
        },
      });
      await watch.start();
      try {
        await w.workflows.apply('frugal', specWith([customStep(1), customStep(2), customStep(3)]));
        const done = await w.workflows.waitFor('frugal', inPhase('completed'));
        expect(done.status?.stepStatuses?.map((s) => s.status)).toEqual(Array(3).fill('completed'));
        // Another reconcile of the finished workflow has nothing to write.
        const again = await w.reconcileNow(done);
        expect(again.metadata.resourceVersion).toBe(done.metadata.resourceVersion);
        await until('the watch to deliver the finished workflow', () =>
          versions.some((v) => v.metadata.resourceVersion === done.metadata.resourceVersion)
            ? true
            : undefined,
        );

        const changed = (key: 'status' | 'finalizers') =>
          versions.slice(1).filter((v, i) => {
            const before = versions[i];
            const of = (wf: WorkflowExecution | undefined) =>
              canonicalJson((key === 'status' ? wf?.status : wf?.metadata.finalizers) ?? null);
            return of(v) !== of(before);
          }).length;
        expect(changed('status')).toBe(statusWrites);
        expect(changed('finalizers')).toBe(1);
        expect(versions).toHaveLength(1 + 1 + statusWrites);
        expect((await w.workflows.childrenOf('frugal')).map((c) => c.metadata.name)).toEqual(
          [1, 2, 3].map((n) => `frugal-step-${n}-a1`),
        );
      } finally {
        await watch.stop();
      }
    });
  },
);

describe('kubectl get', () => {
  it('shows phase, progress as steps finished/total, readiness and age; -o wide adds the outcome', async () => {
    await h.workflows.apply('table', specWith([customStep(1), customStep(2)]));
    await h.workflows.waitFor('table', inPhase('completed'), 'completed');
    const table = await h.client.request<{
      columnDefinitions: { name: string; priority: number }[];
      rows: { cells: unknown[] }[];
    }>(`/apis/workflowexecution.kubernaut.io/v1/namespaces/${h.namespace}/workflowexecutions/table`, {
      accept: 'application/json;as=Table;v=v1;g=meta.k8s.io',
    });
    const columns = table.columnDefinitions.map((c) => c.name);
    expect(columns.filter((_, i) => table.columnDefinitions[i]?.priority === 0)).toEqual([
      'Name',
      'Phase',
      'Step',
      'Ready',
      'Age',
    ]);
    const cells = Object.fromEntries(columns.map((name, i) => [name, table.rows[0]?.cells[i]]));
    expect(cells).toMatchObject({
      Name: 'table',
      Phase: 'completed',
      Step: '2/2',
      Ready: 'True',
      Outcome: 'unknown', // custom steps: nothing verifiable
    });
  });
});

describe('a diamond', () => {
  it('runs both branches once the root succeeded, and the join after both', async () => {
    const spec = diamondSpec(customStep);
    await h.workflows.apply('diamond', spec);
    const wf = await h.workflows.waitFor('diamond', inPhase('completed'), 'completed');
    expect(wf.status?.executionPlan).toMatchObject({
      strategy: 'sequential-with-parallel',
      parallelGroups: [[1], [2, 3], [4]],
    });
    const byStep = new Map(wf.status?.stepStatuses?.map((s) => [s.stepNumber, s]));
    const join = Date.parse(byStep.get(4)!.startTime!);
    expect(join).toBeGreaterThanOrEqual(Date.parse(byStep.get(2)!.endTime!));
    expect(join).toBeGreaterThanOrEqual(Date.parse(byStep.get(3)!.endTime!));
    expect(Date.parse(byStep.get(2)!.startTime!)).toBeGreaterThanOrEqual(Date.parse(byStep.get(1)!.endTime!));
    expect((await h.workflows.childrenOf('diamond')).map((c) => c.metadata.name)).toEqual([
      'diamond-step-1-a1',
      'diamond-step-2-a1',
      'diamond-step-3-a1',
      'diamond-step-4-a1',
    ]);
  });
});

describe('an invalid spec the schema admitted', () => {
  const cyclicSpec = () => specWith([customStep(1, { dependsOn: [2] }), customStep(2, { dependsOn: [1] })]);

  it('ends failed with the reason and the JSON path of the cycle, and creates no child', async () => {
    await h.workflows.apply('cyclic', cyclicSpec());
    const wf = await h.workflows.waitFor('cyclic', inPhase('failed'), 'failed');
    expect(conditionOf(wf, 'Ready')).toMatchObject({ status: 'False', reason: 'InvalidSpec' });
    expect(conditionOf(wf, 'Ready')?.message).toContain('spec.workflowDefinition.steps[0].dependsOn');
    expect(conditionOf(wf, 'Ready')?.message).toContain(
      'dependency cycle: step 1 (step-1) -> 2 (step-2) -> 1 (step-1)',
    );
    expect(wf.status?.failureReason).toMatch(/^InvalidSpec: /);
    expect(wf.status?.observedGeneration).toBe(wf.metadata.generation);
    expect(await h.workflows.childrenOf('cyclic')).toEqual([]);
  });

  it('is not written again and again: another reconcile leaves the status as it was', async () => {
    await h.workflows.apply('cyclic-settles', cyclicSpec());
    const failed = await h.workflows.waitFor('cyclic-settles', inPhase('failed'), 'failed');
    const again = await h.reconcileNow(failed);
    expect(again.metadata.resourceVersion).toBe(failed.metadata.resourceVersion);
    expect(again.status).toEqual(failed.status);
  });
});

describe('a statechart that cannot be trusted', () => {
  it('is left alone with Stalled=True and the reason, and not written again', async () => {
    await h.workflows.apply('tampered', specWith([customStep(1)], { approvalRequired: true }));
    const waiting = await h.workflows.waitFor('tampered', awaitingApproval);
    // Another client rewrites the persisted statechart as if it belonged to another spec.
    await h.client.request(
      `/apis/workflowexecution.kubernaut.io/v1/namespaces/${h.namespace}/workflowexecutions/tampered/status`,
      {
        method: 'PATCH',
        patchType: 'merge',
        body: {
          metadata: { resourceVersion: waiting.metadata.resourceVersion },
          status: { statechart: { specHash: '0000000000000000' } },
        },
      },
    );
    const stalled = await h.workflows.waitFor(
      'tampered',
      (wf) => conditionOf(wf, 'Stalled')?.status === 'True',
    );
    expect(conditionOf(stalled, 'Stalled')).toMatchObject({ reason: 'SpecHashMismatch' });
    expect(conditionOf(stalled, 'Ready')).toMatchObject({ status: 'False', reason: 'SpecHashMismatch' });
    expect(conditionOf(stalled, 'Reconciling')).toBeUndefined();
    // Nothing more happens, even when an approval arrives: no write, no child.
    const approved = await h.workflows.annotate('tampered', APPROVED_BY, h.username);
    const later = await h.reconcileNow(approved);
    expect(later.metadata.resourceVersion).toBe(approved.metadata.resourceVersion);
    expect(later.status).toEqual(stalled.status);
    expect(await h.workflows.childrenOf('tampered')).toEqual([]);
  });
});

describe('rollback specs travel with the step', () => {
  it('gives the executor the step’s rollback spec on its child', async () => {
    await h.workflows.apply(
      'carries-rollback',
      specWith([customStep(1, { rollbackSpec: customRollback(1) })]),
    );
    await h.workflows.waitFor('carries-rollback', inPhase('completed'), 'completed');
    const [child] = await h.workflows.childrenOf('carries-rollback');
    expect(child?.spec).toMatchObject({
      kind: 'step',
      stepNumber: 1,
      attempt: 1,
      action: 'custom',
      rollbackSpec: customRollback(1),
    });
  });
});
