/**
 * What the operator keeps in memory of a finished workflow: only settled workflows are trimmed,
 * and their view still says what the reconciler and the metrics read.
 */
import { describe, expect, it } from '@jest/globals';
import type { KubernetesExecution, WorkflowExecution } from '../../src/api/generated/types.ts';
import { compileWorkflow, loadWorkflow } from '../../src/core/load.ts';
import { RETRY_REQUESTED_BY } from '../../src/core/observe.ts';
import {
  finishedChild,
  finishedView,
  isFinishedChild,
  isFinishedView,
  isSettled,
} from '../../src/core/finished-workflow.ts';
import { projectWorkflow } from '../../src/core/project.ts';
import { childManifest } from '../../src/shell/children.ts';
import { customRollback, customStep, specWith } from '../fixtures/specs.ts';
import { T0, world, type World } from '../model/workflow-world.ts';

const S = 1000;
const FINALIZER = 'example.com/cleanup';
const effective = {
  type: 'EFFECTIVENESS_RESULT' as const,
  effective: true,
  score: 1,
  resourceHealth: 'healthy' as const,
  newAlertsTriggered: false,
  alert: null,
  alertmanager: 'notConfigured' as const,
  stabilityWindowMs: 0,
};

/** The resource as the reconciler leaves it after the world's last event. */
function resource(w: World, spec: WorkflowExecution['spec']): WorkflowExecution {
  const compiled = compileWorkflow(spec);
  if (!compiled.ok) throw new Error('invalid spec');
  const loaded = { kind: 'running' as const, compiled, snapshot: w.snapshot, persisted: true };
  return {
    apiVersion: 'workflowexecution.kubernaut.io/v1',
    kind: 'WorkflowExecution',
    metadata: {
      name: 'fix-web',
      namespace: 'shop',
      uid: 'uid-1',
      resourceVersion: '42',
      generation: 1,
      finalizers: [FINALIZER],
      annotations: { 'kubectl.kubernetes.io/last-applied-configuration': JSON.stringify({ spec }) },
    },
    spec,
    status: projectWorkflow(loaded, { name: 'fix-web', generation: 1, status: undefined }, T0),
  };
}

const twoSteps = specWith([customStep(1), customStep(2)]);
const completed = () =>
  resource(
    world(twoSteps)
      .tick(T0)
      .succeed(1, T0 + S)
      .succeed(2, T0 + 2 * S)
      .send({ ...effective, now: T0 + 3 * S }),
    twoSteps,
  );
const manual = specWith(
  [customStep(1, { rollbackSpec: customRollback(1) }), customStep(2, { criticalStep: true })],
  {
    rollbackStrategy: 'manual',
  },
);
const failedAwaitingRollback = () =>
  resource(
    world(manual)
      .tick(T0)
      .succeed(1, T0 + S)
      .failStep(2, T0 + S),
    manual,
  );

describe('a settled workflow', () => {
  it('is one that completed, or failed for good, with its finalizer and its spec observed', () => {
    expect(isSettled(completed(), FINALIZER)).toBe(true);
    const failed = world(specWith([customStep(1, { criticalStep: true })]))
      .tick(T0)
      .failStep(1, T0 + S);
    expect(failed.phase).toBe('failed');
    expect(isSettled(resource(failed, specWith([customStep(1, { criticalStep: true })])), FINALIZER)).toBe(
      true,
    );
  });

  it('is not one still running, awaiting a manual rollback, being deleted, or without its finalizer', () => {
    const running = resource(world(twoSteps).tick(T0), twoSteps);
    expect(isSettled(running, FINALIZER)).toBe(false);
    const awaiting = failedAwaitingRollback();
    expect(awaiting.status?.phase).toBe('failed');
    expect(isSettled(awaiting, FINALIZER)).toBe(false);
    const deleting = completed();
    deleting.metadata.deletionTimestamp = new Date(T0).toISOString();
    expect(isSettled(deleting, FINALIZER)).toBe(false);
    const unguarded = completed();
    unguarded.metadata.finalizers = [];
    expect(isSettled(unguarded, FINALIZER)).toBe(false);
    const newer = completed();
    newer.metadata.generation = 2;
    expect(isSettled(newer, FINALIZER)).toBe(false);
  });

  it('is not one with a retry request (wfx retry) not yet accepted or refused', () => {
    const asked = (value: string, retries?: NonNullable<WorkflowExecution['status']>['retries']) => {
      const wf = completed();
      wf.metadata.annotations = { [RETRY_REQUESTED_BY]: value };
      if (wf.status && retries) wf.status.retries = retries;
      return wf;
    };
    expect(isSettled(asked('frank/r1'), FINALIZER)).toBe(false);
    const refused = {
      requestedBy: 'frank',
      request: 'r1',
      time: new Date(T0).toISOString(),
      reason: 'Completed' as const,
      message: 'the run completed',
    };
    expect(isSettled(asked('frank/r1', { count: 0, refused }), FINALIZER)).toBe(true);
    // A new request on the same run is decided again.
    expect(isSettled(asked('frank/r2', { count: 0, refused }), FINALIZER)).toBe(false);
    const accepted = {
      segment: 2,
      requestedBy: 'frank',
      request: 'r3',
      startTime: new Date(T0).toISOString(),
      steps: [1],
    };
    expect(isSettled(asked('frank/r3', { count: 1, history: [accepted] }), FINALIZER)).toBe(true);
  });

  it('is one refused for its spec', () => {
    const cyclic = specWith([customStep(1, { dependsOn: [2] }), customStep(2, { dependsOn: [1] })]);
    const compiled = compileWorkflow(cyclic);
    const loaded = loadWorkflow(compiled, undefined, T0);
    const refused: WorkflowExecution = {
      ...completed(),
      spec: cyclic,
      status: projectWorkflow(loaded, { name: 'fix-web', generation: 1, status: undefined }, T0),
    };
    expect(refused.status?.phase).toBe('failed');
    expect(isSettled(refused, FINALIZER)).toBe(true);
  });
});

describe('the view of a finished workflow', () => {
  it('keeps its identity, finalizer, phase, generation and Ready condition, and nothing else', () => {
    const wf = completed();
    const view = finishedView(wf, FINALIZER);
    const { annotations: _dropped, ...kept } = wf.metadata;
    expect(view).toEqual({
      apiVersion: 'workflowexecution.kubernaut.io/v1',
      kind: 'WorkflowExecution',
      metadata: kept,
      status: {
        phase: 'completed',
        observedGeneration: 1,
        conditions: [wf.status?.conditions?.find((c) => c.type === 'Ready')],
      },
    });
    expect(view && isFinishedView(view)).toBe(true);
    expect(isFinishedView(wf)).toBe(false);
    expect(view?.status.conditions?.[0]).toMatchObject({ reason: 'Succeeded' });
    expect(JSON.stringify(view).length).toBeLessThan(JSON.stringify(wf).length / 4);
  });

  it('is not taken of a workflow that is not settled', () => {
    expect(finishedView(failedAwaitingRollback(), FINALIZER)).toBeUndefined();
  });

  it('of a child keeps its name, labels and owner, not its spec or what it reported', () => {
    const wf = completed();
    const compiled = compileWorkflow(wf.spec);
    if (!compiled.ok) throw new Error('invalid spec');
    const child: KubernetesExecution = {
      ...childManifest(wf, compiled.plan, {
        name: 'fix-web-step-1-a1',
        kind: 'step',
        stepNumber: 1,
        attempt: 1,
        timeoutMs: 300_000,
      }),
      status: { phase: 'completed', message: 'scaled' },
    };
    child.metadata = { ...child.metadata, uid: 'c1', resourceVersion: '7' };
    const view = finishedChild(child);
    expect(view).toEqual({
      apiVersion: child.apiVersion,
      kind: child.kind,
      metadata: child.metadata,
    });
    expect(isFinishedChild(view)).toBe(true);
    expect(isFinishedChild(child)).toBe(false);
  });
});
