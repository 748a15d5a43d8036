/** Per-target locks and storm limits, the pure part: what a run locks, who may take a lock, the limits. */
import { describe, expect, it } from '@jest/globals';
import {
  LOCK_NAME_PREFIX,
  admissionRetryMs,
  describeBlock,
  executionLimitBlock,
  holderIdentity,
  holderStateOf,
  lockTargetsOf,
  nodeLockFor,
  parseHolder,
  podTargetsOf,
  reclaimable,
  withNodeLocks,
} from '../../src/core/target-locks.ts';
import { customStep, specWith } from '../fixtures/specs.ts';
import type { WorkflowExecution, WorkflowStep } from '../../src/api/generated/types.ts';
import { RETRY_REQUESTED_BY, ROLLBACK_REQUESTED_BY } from '../../src/core/observe.ts';

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

describe('the Nodes a run locks for its pods', () => {
  const cordon = (n: number, nodeName: string): WorkflowStep => ({
    stepNumber: n,
    name: `cordon-${nodeName}`,
    action: 'cordon-node',
    parameters: { cordonNode: { nodeName } },
  });
  const restartPod = (
    n: number,
    parameters: { podName?: string; selector?: string },
    targetCluster?: string,
  ) => ({
    stepNumber: n,
    name: `restart-pod-${String(n)}`,
    action: 'restart-pod' as const,
    parameters: { restartPod: { namespace: 'shop', ...parameters } },
    ...(targetCluster ? { targetCluster } : {}),
  });

  it('are read for the pods of pod steps in this cluster, by name or selector', () => {
    const spec = specWith([
      restartPod(1, { podName: 'web-1' }),
      restartPod(2, { selector: 'app=api' }),
      restartPod(3, { podName: 'far' }, 'east'),
      scale(4, 'web'),
    ]);
    expect(podTargetsOf(spec)).toEqual([
      { namespace: 'shop', name: 'web-1' },
      { namespace: 'shop', name: '', selector: 'app=api' },
    ]);
  });

  it('take the Lease a step on that Node takes, so a drain and a pod restart there exclude each other', () => {
    const [own] = lockTargetsOf(specWith([cordon(1, 'worker-1')]));
    expect(nodeLockFor('worker-1')).toEqual(own);
    expect(nodeLockFor('worker-1').description).toBe('Node worker-1');
  });

  it('join the run’s own locks in Lease-name order, marked as for pods unless the run acts on the Node itself', () => {
    const own = lockTargetsOf(specWith([restartPod(1, { podName: 'web-1' }), cordon(2, 'worker-1')]));
    const locks = withNodeLocks(own, [nodeLockFor('worker-1'), nodeLockFor('worker-2')]);
    expect(locks.map((l) => l.lease)).toEqual([...locks.map((l) => l.lease)].sort());
    expect(locks.filter((l) => l.forPods).map((l) => l.description)).toEqual(['Node worker-2']);
    expect(locks).toHaveLength(3);
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
      { kind: 'exists' as const, uid: 'uid-2', phase: 'executing', requestPending: false },
      true,
    ],
    [
      'the holder completed',
      'shop/first/uid-1',
      { kind: 'exists' as const, uid: 'uid-1', phase: 'completed', requestPending: false },
      true,
    ],
    [
      'the holder failed',
      'shop/first/uid-1',
      { kind: 'exists' as const, uid: 'uid-1', phase: 'failed', requestPending: false },
      true,
    ],
    [
      'the holder executes',
      'shop/first/uid-1',
      { kind: 'exists' as const, uid: 'uid-1', phase: 'executing', requestPending: false },
      false,
    ],
    [
      'the holder rolls back',
      'shop/first/uid-1',
      { kind: 'exists' as const, uid: 'uid-1', phase: 'rolling_back', requestPending: false },
      false,
    ],
    [
      'the holder monitors',
      'shop/first/uid-1',
      { kind: 'exists' as const, uid: 'uid-1', phase: 'monitoring', requestPending: false },
      false,
    ],
    [
      'the holder is in planning (its first reconcile may take its locks before its first write)',
      'shop/first/uid-1',
      { kind: 'exists' as const, uid: 'uid-1', phase: 'planning', requestPending: false },
      false,
    ],
    [
      'the holder failed and has a retry or rollback request not yet decided',
      'shop/first/uid-1',
      { kind: 'exists' as const, uid: 'uid-1', phase: 'failed', requestPending: true },
      false,
    ],
    [
      'the holder is about to execute',
      'shop/first/uid-1',
      { kind: 'exists' as const, uid: 'uid-1', phase: 'validating', requestPending: false },
      false,
    ],
  ])('is reclaimable when %s: %s', (_what, identity, state, expected) => {
    expect(reclaimable(identity, state)).toBe(expected);
  });
});

describe('a holder as read from the apiserver', () => {
  type Status = NonNullable<WorkflowExecution['status']>;
  const failed = (annotations: Record<string, string>, status: Partial<Status> = {}): WorkflowExecution => ({
    apiVersion: 'workflowexecution.kubernaut.io/v1',
    kind: 'WorkflowExecution',
    metadata: { name: 'first', namespace: 'shop', uid: 'uid-1', annotations },
    spec: specWith([]),
    status: { phase: 'failed', ...status },
  });
  const statechart = (value: unknown): Partial<Status> => ({
    statechart: { schema: 'xstate/v5', machineVersion: 6, specHash: 'h', snapshot: { value } },
  });

  it('is in planning without a status', () => {
    const { status: _none, ...fresh } = failed({});
    expect(holderStateOf(fresh)).toEqual({
      kind: 'exists',
      uid: 'uid-1',
      phase: 'planning',
      requestPending: false,
    });
  });

  it('has a request pending while a retry is undecided, or a rollback is asked of a run awaiting one', () => {
    const retry = { [RETRY_REQUESTED_BY]: 'erin/r1' };
    expect(holderStateOf(failed(retry))).toMatchObject({ phase: 'failed', requestPending: true });
    const refused = {
      requestedBy: 'erin',
      request: 'r1',
      time: 'T',
      reason: 'NotRetryable',
      message: 'no',
    } as const;
    const decided = failed(retry, { retries: { count: 0, history: [], refused } });
    expect(holderStateOf(decided)).toMatchObject({ requestPending: false });
    const rollback = { [ROLLBACK_REQUESTED_BY]: 'dave' };
    expect(holderStateOf(failed(rollback, statechart({ failed: 'awaitingRollback' })))).toMatchObject({
      requestPending: true,
    });
    expect(holderStateOf(failed(rollback, statechart({ failed: 'terminal' })))).toMatchObject({
      requestPending: false,
    });
    expect(holderStateOf(failed({}))).toMatchObject({ requestPending: false });
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
