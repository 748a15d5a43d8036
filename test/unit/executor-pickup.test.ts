/** The operator's view of whether an executor picked a workflow's children up, and the condition it sets. */
import { describe, expect, it } from '@jest/globals';
import type { KubernetesExecution } from '../../src/api/generated/types.ts';
import {
  newPickupWarning,
  onlyClaimRenewed,
  pickupState,
  withPickupCondition,
} from '../../src/shell/executor-pickup.ts';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const child = (
  name: string,
  step: number,
  status?: KubernetesExecution['status'],
  annotations?: Record<string, string>,
): KubernetesExecution => ({
  apiVersion: 'kubernetesexecution.kubernaut.io/v1',
  kind: 'KubernetesExecution',
  metadata: {
    name,
    namespace: 'ns',
    creationTimestamp: new Date(T0).toISOString(),
    ...(annotations ? { annotations } : {}),
  },
  spec: {
    workflowExecutionRef: { name: 'wf' },
    kind: 'step',
    stepNumber: step,
    attempt: 1,
    action: 'scale-deployment',
    parameters: {},
  },
  ...(status ? { status } : {}),
});

describe('executor pick-up', () => {
  it('finds nothing overdue within the bound, and says when to look again', () => {
    const state = pickupState([child('wf-step-2-a1', 2)], T0 + 30_000, 60_000);
    expect(state.overdue).toEqual([]);
    expect(state.nextCheckInMs).toBe(31_000);
  });

  it('names the steps whose children nobody claimed past the bound; claimed, started, finished or stop-requested ones are not waiting', () => {
    const state = pickupState(
      [
        child('wf-step-2-a1', 2),
        child('wf-step-1-a1', 1, { claim: { holder: 'x', renewTime: 't', leaseDurationSeconds: 15 } }),
        child('wf-step-3-a1', 3, { phase: 'completed' }),
        child('wf-step-4-a1', 4, { startTime: new Date(T0).toISOString() }),
        child('wf-step-5-a1', 5, undefined, {
          'kubernetesexecution.kubernaut.io/stop-requested': 'AttemptTimedOut',
        }),
      ],
      T0 + 61_000,
      60_000,
    );
    expect(state.overdue.map((c) => c.name)).toEqual(['wf-step-2-a1']);
    const status = withPickupCondition({ phase: 'executing' }, state, 1, new Date(T0 + 61_000).toISOString());
    const condition = status.conditions?.find((c) => c.type === 'ExecutorPickup');
    expect(condition).toMatchObject({ status: 'False', reason: 'ExecutorMissing' });
    expect(condition?.message).toContain('no executor has picked up step 2 (child wf-step-2-a1) within 1m');
    expect(newPickupWarning({ phase: 'executing' }, status)).toBe(condition?.message);
    expect(newPickupWarning(status, status)).toBeUndefined();
  });

  it('removes the condition once the child is picked up', () => {
    const waiting = withPickupCondition(
      { phase: 'executing' },
      pickupState([child('wf-step-2-a1', 2)], T0 + 61_000, 60_000),
      1,
      'now',
    );
    const picked = withPickupCondition(
      waiting,
      pickupState([child('wf-step-2-a1', 2, { phase: 'executing', startTime: 'x' })], T0 + 62_000, 60_000),
      1,
      'later',
    );
    expect(picked.conditions?.some((c) => c.type === 'ExecutorPickup')).toBe(false);
  });

  it('tells a claim renewal (nothing for the workflow) from any other change of the child', () => {
    const claim = { holder: 'x', renewTime: 't1', leaseDurationSeconds: 15, claims: 1 };
    const held = child('wf-step-1-a1', 1, { phase: 'executing', claim });
    const renewed = child('wf-step-1-a1', 1, { phase: 'executing', claim: { ...claim, renewTime: 't2' } });
    renewed.metadata.resourceVersion = '99';
    expect(onlyClaimRenewed(held, renewed)).toBe(true);
    expect(onlyClaimRenewed(held, child('wf-step-1-a1', 1, { phase: 'completed', claim }))).toBe(false);
    expect(
      onlyClaimRenewed(
        held,
        child('wf-step-1-a1', 1, { phase: 'executing', claim: { ...claim, holder: 'y' } }),
      ),
    ).toBe(false);
    expect(onlyClaimRenewed(child('wf-step-1-a1', 1), held)).toBe(false);
  });
});
