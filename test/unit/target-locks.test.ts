/** Per-target locks and storm limits, the pure part: what a run locks, who may take a lock, the limits. */
import { describe, expect, it } from '@jest/globals';
import {
  LOCK_NAME_PREFIX,
  admissionRetryMs,
  describeBlock,
  executionLimitBlock,
  holderIdentity,
  lockTargetsOf,
  parseHolder,
  reclaimable,
} from '../../src/core/target-locks.ts';
import { customStep, specWith } from '../fixtures/specs.ts';
import type { WorkflowStep } from '../../src/api/generated/types.ts';

const scale = (n: number, deployment: string, namespace = 'shop', targetCluster?: string): WorkflowStep => ({
  stepNumber: n,
  name: `scale-${deployment}`,
  action: 'scale-deployment',
  parameters: { scaleDeployment: { namespace, deployment, replicas: 2 } },
  ...(targetCluster ? { targetCluster } : {}),
});
const restart = (n: number, deployment: string): WorkflowStep => ({
  stepNumber: n,
  name: `restart-${deployment}`,
  action: 'restart-deployment',
  parameters: { restartDeployment: { namespace: 'shop', deployment } },
});

describe('the targets a run locks', () => {
  it('are the objects its steps touch, once each, in Lease-name order, custom steps none', () => {
    const locks = lockTargetsOf(
      specWith([scale(1, 'web'), restart(2, 'web'), scale(3, 'api'), customStep(4)]),
    );
    expect(locks.map((l) => l.description).sort()).toEqual(['Deployment shop/api', 'Deployment shop/web']);
    expect(locks.map((l) => l.lease)).toEqual([...locks.map((l) => l.lease)].sort());
    for (const l of locks) expect(l.lease).toMatch(new RegExp(`^${LOCK_NAME_PREFIX}[0-9a-f]{16}$`));
  });

  it('name the same Lease for the same object in any run, and another for another object or cluster', () => {
    const [web] = lockTargetsOf(specWith([scale(1, 'web')]));
    const [webAgain] = lockTargetsOf(specWith([restart(7, 'web')]));
    const [elsewhere] = lockTargetsOf(specWith([scale(1, 'web', 'other')]));
    const [remote] = lockTargetsOf(specWith([scale(1, 'web', 'shop', 'east')]));
    expect(webAgain?.lease).toBe(web?.lease);
    expect(new Set([web?.lease, elsewhere?.lease, remote?.lease]).size).toBe(3);
    expect(remote?.description).toBe('Deployment shop/web on cluster east');
  });

  it('are none for a run of custom actions only', () => {
    expect(lockTargetsOf(specWith([customStep(1), customStep(2)]))).toEqual([]);
  });
});

describe('a lock holder', () => {
  const holder = { namespace: 'shop', name: 'first', uid: 'uid-1' };

  it('is namespace/name/uid, read back as written', () => {
    expect(holderIdentity(holder)).toBe('shop/first/uid-1');
    expect(parseHolder('shop/first/uid-1')).toEqual(holder);
    expect(parseHolder('nonsense')).toBeUndefined();
  });

  it.each([
    ['nobody holds it', '', { kind: 'gone' as const }, true],
    ['the holder is gone', 'shop/first/uid-1', { kind: 'gone' as const }, true],
    [
      'a new run has the holder name',
      'shop/first/uid-1',
      { kind: 'exists' as const, uid: 'uid-2', phase: 'executing' },
      true,
    ],
    [
      'the holder completed',
      'shop/first/uid-1',
      { kind: 'exists' as const, uid: 'uid-1', phase: 'completed' },
      true,
    ],
    [
      'the holder failed',
      'shop/first/uid-1',
      { kind: 'exists' as const, uid: 'uid-1', phase: 'failed' },
      true,
    ],
    [
      'the holder executes',
      'shop/first/uid-1',
      { kind: 'exists' as const, uid: 'uid-1', phase: 'executing' },
      false,
    ],
    [
      'the holder rolls back',
      'shop/first/uid-1',
      { kind: 'exists' as const, uid: 'uid-1', phase: 'rolling_back' },
      false,
    ],
    [
      'the holder monitors',
      'shop/first/uid-1',
      { kind: 'exists' as const, uid: 'uid-1', phase: 'monitoring' },
      false,
    ],
    [
      'the holder is about to execute',
      'shop/first/uid-1',
      { kind: 'exists' as const, uid: 'uid-1', phase: 'validating' },
      false,
    ],
  ])('is reclaimable when %s: %s', (_what, identity, state, expected) => {
    expect(reclaimable(identity, state)).toBe(expected);
  });
});

describe('the storm limits', () => {
  it('hold a run back at the namespace limit first, then at the cluster limit; 0 is no limit', () => {
    expect(executionLimitBlock({ perNamespace: 2, cluster: 5 }, { namespace: 2, cluster: 2 })).toEqual({
      reason: 'ExecutionLimit',
      scope: 'namespace',
      limit: 2,
    });
    expect(executionLimitBlock({ perNamespace: 2, cluster: 5 }, { namespace: 1, cluster: 5 })).toEqual({
      reason: 'ExecutionLimit',
      scope: 'cluster',
      limit: 5,
    });
    expect(executionLimitBlock({ perNamespace: 2, cluster: 5 }, { namespace: 1, cluster: 4 })).toBeNull();
    expect(executionLimitBlock({ perNamespace: 0, cluster: 0 }, { namespace: 99, cluster: 999 })).toBeNull();
  });
});

describe('a blocked run', () => {
  it('is described by what holds it, naming the holding run without its uid', () => {
    expect(
      describeBlock({ reason: 'TargetBusy', target: 'Deployment shop/web', holder: 'shop/first/uid-1' }),
    ).toBe('Deployment shop/web is locked by WorkflowExecution shop/first');
    expect(describeBlock({ reason: 'ExecutionLimit', scope: 'namespace', limit: 1 })).toContain(
      '--max-executing-per-namespace',
    );
  });

  it('asks again after 1 s, then a quarter of its wait, at most every 10 s', () => {
    expect(admissionRetryMs(0, 0)).toBe(1000);
    expect(admissionRetryMs(0, 20_000)).toBe(5000);
    expect(admissionRetryMs(0, 600_000)).toBe(10_000);
  });
});
