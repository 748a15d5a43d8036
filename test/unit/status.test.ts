/** The status projected from a snapshot. */
import { describe, expect, it } from '@jest/globals';
import { projectStatus } from '../../src/core/status.ts';
import { isoOf } from '../../src/core/time.ts';
import { customStep, diamondSpec, specWith, step } from '../fixtures/specs.ts';
import { T0, world } from '../model/workflow-world.ts';

const S = 1000;

describe('status projection', () => {
  it('projects phase, steps, plan and conditions, byte-stable for the same snapshot', () => {
    const w = world(diamondSpec())
      .tick(T0)
      .succeed(1, T0 + S);
    const status = projectStatus(w.snapshot, w.plan, {
      generation: 3,
      previousConditions: [],
      name: 'fix-web',
    });
    expect(status).toMatchObject({
      phase: 'executing',
      currentStep: 1,
      totalSteps: 4,
      executionPlan: {
        strategy: 'sequential-with-parallel',
        parallelGroups: [[1], [2, 3], [4]],
        rollbackOrder: [4, 3, 2, 1],
      },
      planningStartTime: isoOf(T0),
      executionStartTime: isoOf(T0),
    });
    expect(status.stepStatuses?.map((s) => s.status)).toEqual([
      'completed',
      'executing',
      'executing',
      'pending',
    ]);
    expect(status.stepStatuses?.[1]?.k8sExecutionRef).toEqual({ name: 'fix-web-step-2-a1' });
    expect(status.conditions?.map((c) => [c.type, c.status, c.reason])).toEqual([
      ['Ready', 'False', 'Executing'],
      ['Reconciling', 'True', 'Executing'],
      ['SafetyChecks', 'True', 'Passed'],
    ]);
    const again = projectStatus(w.snapshot, w.plan, {
      generation: 3,
      previousConditions: status.conditions ?? [],
      name: 'fix-web',
    });
    expect(JSON.stringify(again)).toBe(JSON.stringify(status));

    w.succeed(2, T0 + 2 * S)
      .succeed(3, T0 + 3 * S)
      .succeed(4, T0 + 4 * S);
    w.send({
      type: 'EFFECTIVENESS_RESULT',
      now: T0 + 5 * S,
      effective: true,
      score: 0.95,
      resourceHealth: 'healthy',
      newAlertsTriggered: false,
      alert: null,
      alertmanager: 'notConfigured',
      stabilityWindowMs: 0,
    });
    const done = projectStatus(w.snapshot, w.plan, {
      generation: 3,
      previousConditions: status.conditions ?? [],
    });
    expect(done.workflowResult).toMatchObject({
      outcome: 'success',
      effectivenessScore: 0.95,
      alertsChecked: true,
      newAlertsTriggered: false,
    });
    expect(done.executionMetrics).toMatchObject({
      totalDuration: '5s',
      stepSuccessRate: 1,
      rollbacksPerformed: 0,
    });
    expect(done.conditions?.find((c) => c.type === 'Succeeded')).toMatchObject({
      status: 'True',
      reason: 'Succeeded',
    });
    expect(done.conditions?.find((c) => c.type === 'Ready')?.lastTransitionTime).toBe(isoOf(T0 + 5 * S));
  });

  it('says which steps a rollback can undo, steps with the same verdict in one entry, so the plan does not grow a verdict per step', () => {
    const steps = [
      step(1),
      ...Array.from({ length: 150 }, (_, i) => customStep(i + 2)),
      step(152, {
        rollbackSpec: {
          action: 'scale-to-previous',
          parameters: { scaleToPrevious: { namespace: 'shop', deployment: 'web-152', previousReplicas: 2 } },
        },
      }),
    ];
    const w = world(specWith(steps));
    const { executionPlan } = projectStatus(w.snapshot, w.plan, { generation: 1, previousConditions: [] });
    expect(executionPlan?.reversibility).toEqual([
      { steps: [1], reversible: true, rollbackAction: 'scale-to-previous', source: 'inverse' },
      {
        steps: Array.from({ length: 150 }, (_, i) => i + 2),
        reversible: false,
        source: 'none',
        reason: 'a custom action is undone only by a rollbackSpec',
      },
      { steps: [152], reversible: true, rollbackAction: 'scale-to-previous', source: 'rollbackSpec' },
    ]);
  });

  it('shows retries, failures and rollbacks of steps', () => {
    const rollbackSpec = {
      action: 'uncordon-node' as const,
      parameters: { uncordonNode: { nodeName: 'n1' } },
    };
    const w = world(
      specWith([step(1, { rollbackSpec }), step(2, { dependsOn: [1], criticalStep: true, maxRetries: 1 })]),
    )
      .tick(T0)
      .succeed(1, T0 + S)
      .failStep(2, T0 + 2 * S);
    let status = projectStatus(w.snapshot, w.plan, { generation: 1, previousConditions: [] });
    expect(status.stepStatuses?.[1]).toMatchObject({ status: 'retrying', errorMessage: 'boom' });
    w.tick(T0 + 12 * S).failStep(2, T0 + 13 * S, 2, 'again');
    status = projectStatus(w.snapshot, w.plan, { generation: 1, previousConditions: [] });
    expect(status.phase).toBe('rolling_back');
    expect(status.stepStatuses?.map((s) => [s.status, s.retriesAttempted])).toEqual([
      ['rolling_back', undefined],
      ['failed', 1],
    ]);
    expect(status.stepStatuses?.[0]?.k8sExecutionRef?.name).toBe('remediate-web-rollback-1');
    expect(status.rollbackReason).toContain('again');
    w.send({ type: 'ROLLBACK_RESULT', now: T0 + 14 * S, step: 1, outcome: 'succeeded' });
    status = projectStatus(w.snapshot, w.plan, {
      generation: 1,
      previousConditions: status.conditions ?? [],
    });
    expect(status).toMatchObject({ phase: 'failed', executionMetrics: { rollbacksPerformed: 1 } });
    expect(status.failureReason).toMatch(/^CriticalStepFailed: /);
    expect(status.stepStatuses?.[0]?.status).toBe('rolled_back');
    expect(status.conditions?.find((c) => c.type === 'Succeeded')).toMatchObject({
      status: 'False',
      reason: 'CriticalStepFailed',
    });
  });
});
