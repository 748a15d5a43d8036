// Cooldown and backoff per target against the real apiserver: a run on a Deployment another run
// completed on moments ago waits Blocked/RecentlyRemediated naming it and runs once the window passed;
// after failed runs the next waits Backoff, and after the threshold TargetFailing; a window of 0 lets
// runs follow each other at once. The memory is the target's lock Lease, handed back unheld with
// annotations. Time passes by moving the operator's clock, never by sleeping.
import { describe, expect, it, jest } from '@jest/globals';
import type { WorkflowExecution, WorkflowStep } from '../../src/api/generated/types.ts';
import { describeWorkflow } from '../../src/cli/commands/describe.ts';
import { DEFAULT_COOLDOWN_POLICY, HISTORY_ANNOTATIONS } from '../../src/core/target-cooldown.ts';
import { lockTargetsOf } from '../../src/core/target-locks.ts';
import { isNotFound } from '../../src/shell/kube/client.ts';
import type { Lease } from '../../src/shell/leases.ts';
import { succeedAll, type Script } from '../support/executor.ts';
import { specWith } from '../fixtures/specs.ts';
import { createDeployment, eventually, waitAvailable } from './support/actions.ts';
import { conditionOf, inPhase, type Harness } from './support/harness.ts';
import { harnessForSuite } from './support/suite.ts';

jest.setTimeout(120_000);

/** The steps of workflows named `fail*` fail (their rollbacks succeed); every other child succeeds. */
const failNamed: Script = (child) =>
  child.spec.workflowExecutionRef.name.startsWith('fail') && child.spec.kind === 'step'
    ? { phase: 'failed', message: 'boom' }
    : succeedAll(child);

const MIN = 60_000;

const scale = (namespace: string, deployment: string): WorkflowStep => ({
  stepNumber: 1,
  name: `scale-${deployment}`,
  action: 'scale-deployment',
  parameters: { scaleDeployment: { namespace, deployment, replicas: 1 } },
  criticalStep: true,
});

async function deployment(harness: Harness, name: string): Promise<void> {
  await createDeployment(harness.client, harness.namespace, name, 1);
  await waitAvailable(harness.client, harness.namespace, name, 1);
}

const blockedBy = (reason: string) => (wf: WorkflowExecution) =>
  conditionOf(wf, 'Blocked')?.status === 'True' && conditionOf(wf, 'Blocked')?.reason === reason;

async function leaseOf(harness: Harness, deploymentName: string): Promise<Lease | undefined> {
  const [lock] = lockTargetsOf(specWith([scale(harness.namespace, deploymentName)]));
  if (!lock) throw new Error('no lock');
  try {
    return await harness.client.request<Lease>(
      `/apis/coordination.k8s.io/v1/namespaces/${harness.namespace}/leases/${lock.lease}`,
    );
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

/** The Lease once the run settled and handed it back (the release follows the status write). */
const handedBackBy = (harness: Harness, deploymentName: string, run: string): Promise<Lease> =>
  eventually(`the Lease of ${deploymentName} handed back by ${run}`, async () => {
    const lease = await leaseOf(harness, deploymentName);
    return lease?.metadata.annotations?.[HISTORY_ANNOTATIONS.lastRun] === `${harness.namespace}/${run}` &&
      (lease.spec.holderIdentity ?? '') === ''
      ? lease
      : undefined;
  });

/** Once the Lease of the Deployment is gone. */
const leaseGone = (harness: Harness, deploymentName: string): Promise<true> =>
  eventually(`the Lease of ${deploymentName} deleted`, async () =>
    (await leaseOf(harness, deploymentName)) === undefined ? true : undefined,
  );

describe('cooldown after a completed run', () => {
  const h = harnessForSuite(failNamed, {
    admission: { cooldown: { ...DEFAULT_COOLDOWN_POLICY, cooldownMs: MIN } },
  });

  it('keeps the next run on the Deployment waiting RecentlyRemediated, named, until the window passed', async () => {
    await deployment(h, 'web');
    await h.workflows.apply('first', specWith([scale(h.namespace, 'web')]));
    await h.workflows.waitFor('first', inPhase('completed'));
    const lease = await handedBackBy(h, 'web', 'first');
    expect(lease.metadata.annotations).toMatchObject({
      [HISTORY_ANNOTATIONS.lastRun]: `${h.namespace}/first`,
      [HISTORY_ANNOTATIONS.lastOutcome]: 'completed',
      [HISTORY_ANNOTATIONS.consecutiveFailures]: '0',
    });

    await h.workflows.apply('second', specWith([scale(h.namespace, 'web')]));
    const waiting = await h.workflows.waitFor(
      'second',
      blockedBy('RecentlyRemediated'),
      'Blocked/RecentlyRemediated',
    );
    expect(waiting.status?.phase).toBe('validating');
    expect(conditionOf(waiting, 'Blocked')?.message).toMatch(
      new RegExp(
        `^waiting to execute: Deployment ${h.namespace}/web was remediated by WorkflowExecution ${h.namespace}/first; its cooldown ends at \\S+Z$`,
      ),
    );
    expect(describeWorkflow(waiting)).toMatch(/Blocked +True +RecentlyRemediated .*first/);
    expect(await h.workflows.childrenOf('second')).toEqual([]);
    const gauge = await h.operator.metrics.workflowsBlocked.get();
    expect(gauge.values).toContainEqual(
      expect.objectContaining({ labels: { namespace: h.namespace, reason: 'RecentlyRemediated' }, value: 1 }),
    );

    h.travel(MIN, 'second');
    const done = await h.workflows.waitFor('second', inPhase('completed'), 'completed', 60_000);
    expect(conditionOf(done, 'Blocked')).toBeUndefined();
    await handedBackBy(h, 'web', 'second');
  });

  it('lets a run whose spec opts out (executionStrategy.targetCooldown: 0s) follow at once', async () => {
    await deployment(h, 'shop');
    await h.workflows.apply('before', specWith([scale(h.namespace, 'shop')]));
    await h.workflows.waitFor('before', inPhase('completed'));
    await handedBackBy(h, 'shop', 'before');
    await h.workflows.apply('opted-out', specWith([scale(h.namespace, 'shop')], { targetCooldown: '0s' }));
    const done = await h.workflows.waitFor('opted-out', inPhase('completed'), 'completed', 60_000);
    expect(conditionOf(done, 'Blocked')).toBeUndefined();
  });
});

describe('backoff after failed runs', () => {
  const h = harnessForSuite(failNamed, {
    admission: {
      cooldown: {
        cooldownMs: 0,
        failureThreshold: 2,
        failureBlockMs: 4 * MIN,
        backoffBaseMs: MIN,
        backoffMaxMs: 2 * MIN,
      },
    },
  });

  it('waits Backoff after a failure, TargetFailing after two in a row, and runs once the period passed', async () => {
    await deployment(h, 'api');
    await h.workflows.apply('fail-one', specWith([scale(h.namespace, 'api')]));
    await h.workflows.waitFor('fail-one', inPhase('failed'), 'failed', 60_000);
    await handedBackBy(h, 'api', 'fail-one');

    await h.workflows.apply('fail-two', specWith([scale(h.namespace, 'api')]));
    const backingOff = await h.workflows.waitFor('fail-two', blockedBy('Backoff'), 'Blocked/Backoff');
    expect(conditionOf(backingOff, 'Blocked')?.message).toContain(
      `failed its last run, WorkflowExecution ${h.namespace}/fail-one; backing off until`,
    );
    h.travel(MIN, 'fail-two');
    await h.workflows.waitFor('fail-two', inPhase('failed'), 'failed', 60_000);
    expect(
      (await handedBackBy(h, 'api', 'fail-two')).metadata.annotations?.[
        HISTORY_ANNOTATIONS.consecutiveFailures
      ],
    ).toBe('2');

    await h.workflows.apply('third', specWith([scale(h.namespace, 'api')]));
    const failing = await h.workflows.waitFor('third', blockedBy('TargetFailing'), 'Blocked/TargetFailing');
    expect(conditionOf(failing, 'Blocked')?.message).toContain(
      `failed 2 runs in a row, the last WorkflowExecution ${h.namespace}/fail-two; it is left alone until`,
    );
    // Past the backoff (2 min) it still waits: the period after the threshold is 4 min.
    h.travel(2 * MIN, 'third');
    await h.reconcileNow(failing);
    expect(blockedBy('TargetFailing')(await h.workflows.get('third'))).toBe(true);
    h.travel(2 * MIN, 'third');
    await h.workflows.waitFor('third', inPhase('completed'), 'completed', 60_000);
    // A completion resets the failures in a row; with no cooldown it is not remembered: the Lease goes.
    await leaseGone(h, 'api');
  });
});

describe('a window of 0', () => {
  const h = harnessForSuite(succeedAll, {
    admission: { cooldown: { ...DEFAULT_COOLDOWN_POLICY, cooldownMs: 0 } },
  });

  it('lets a run follow a completed one on the same Deployment at once, and leaves no Lease', async () => {
    await deployment(h, 'cache');
    await h.workflows.apply('one', specWith([scale(h.namespace, 'cache')]));
    await h.workflows.waitFor('one', inPhase('completed'));
    await leaseGone(h, 'cache');
    await h.workflows.apply('two', specWith([scale(h.namespace, 'cache')]));
    const done = await h.workflows.waitFor('two', inPhase('completed'), 'completed', 60_000);
    expect(conditionOf(done, 'Blocked')).toBeUndefined();
  });
});
