/**
 * When a replica may claim a child: judged by when THIS replica saw the claim record change, on its
 * own clock, never by the holder's renewTime (another machine's clock).
 */
import { describe, expect, it } from '@jest/globals';
import type { KubernetesExecution } from '../../src/api/generated/types.ts';
import { ClaimObservations } from '../../src/executor/claims.ts';

const child = (claim?: { holder: string; renewTime: string }, uid = 'u1'): KubernetesExecution => ({
  apiVersion: 'kubernetesexecution.kubernaut.io/v1',
  kind: 'KubernetesExecution',
  metadata: { name: 'wf-step-1-a1', namespace: 'ns', uid },
  spec: {
    workflowExecutionRef: { name: 'wf' },
    kind: 'step',
    stepNumber: 1,
    attempt: 1,
    action: 'custom',
    parameters: { custom: { actionType: 'sleep' } },
  },
  ...(claim ? { status: { phase: 'executing', claim: { ...claim, leaseDurationSeconds: 10 } } } : {}),
});

describe('claim observations', () => {
  it('let anyone claim a child nobody holds, and a holder claim its own child again', () => {
    let now = 0;
    const seen = new ClaimObservations(() => now);
    expect(seen.claimable(child(), 'a')).toBe(true);
    expect(seen.claimable(child({ holder: 'a', renewTime: '2020-01-01T00:00:00Z' }), 'a')).toBe(true);
    now = 1;
    expect(seen.claimable(child({ holder: 'a', renewTime: '2020-01-01T00:00:00Z' }), 'b')).toBe(false);
  });

  it('keep another replica’s claim for a full lease from when this replica first saw it, however old its renewTime', () => {
    let now = 1_000_000;
    const seen = new ClaimObservations(() => now);
    const held = child({ holder: 'a', renewTime: '1999-01-01T00:00:00Z' });
    seen.observe(held);
    now += 9_999;
    expect(seen.claimable(held, 'b')).toBe(false);
    expect(seen.lapsesInMs(held)).toBe(1);
    now += 1;
    expect(seen.claimable(held, 'b')).toBe(true);
  });

  it('start the lease again whenever the holder renews', () => {
    let now = 0;
    const seen = new ClaimObservations(() => now);
    seen.observe(child({ holder: 'a', renewTime: 't1' }));
    now = 8_000;
    seen.observe(child({ holder: 'a', renewTime: 't2' }));
    now = 12_000;
    expect(seen.claimable(child({ holder: 'a', renewTime: 't2' }), 'b')).toBe(false);
    now = 18_000;
    expect(seen.claimable(child({ holder: 'a', renewTime: 't2' }), 'b')).toBe(true);
  });
});
