import { describe, expect, it } from '@jest/globals';
import { STEP_ACTION_CATALOGUE } from '../../src/api/action-catalogue.ts';
import { STEP_ACTION_NAMES } from '../../src/api/actions.ts';
import { inferredRollback } from '../../src/api/inferred-rollback.ts';
import { parseTemplate } from '../../src/executor/actions/custom-registry.ts';
import { configEnv } from '../../src/executor/actions/custom.ts';
import type { Pod } from '../../src/executor/actions/eviction.ts';
import { classify } from '../../src/executor/actions/nodes.ts';
import { rolloutState, type Deployment } from '../../src/executor/actions/rollout.ts';

const deployment = (
  generation: number,
  spec: number,
  status: NonNullable<Deployment['status']>,
): Deployment => ({
  metadata: { name: 'web', generation },
  spec: { replicas: spec },
  status,
});

describe('a rollout, judged as kubectl rollout status does', () => {
  it('waits until the controller observed the change, every replica is updated, old ones gone, new ones available', () => {
    expect(rolloutState(deployment(2, 3, { observedGeneration: 1 }), 2)).toMatchObject({ done: false });
    expect(
      rolloutState(deployment(2, 3, { observedGeneration: 2, updatedReplicas: 2, replicas: 3 }), 2),
    ).toEqual({
      done: false,
      waiting: '2 of 3 new replicas updated',
    });
    expect(
      rolloutState(
        deployment(2, 3, { observedGeneration: 2, updatedReplicas: 3, replicas: 4, availableReplicas: 3 }),
        2,
      ),
    ).toEqual({ done: false, waiting: '1 old replicas pending termination' });
    expect(
      rolloutState(
        deployment(2, 3, { observedGeneration: 2, updatedReplicas: 3, replicas: 3, availableReplicas: 2 }),
        2,
      ),
    ).toEqual({ done: false, waiting: '2 of 3 updated replicas available' });
    expect(
      rolloutState(
        deployment(2, 3, { observedGeneration: 2, updatedReplicas: 3, replicas: 3, availableReplicas: 3 }),
        2,
      ),
    ).toEqual({ done: true });
  });

  it('fails when the progress deadline passed', () => {
    expect(() =>
      rolloutState(
        deployment(2, 3, {
          observedGeneration: 2,
          conditions: [
            { type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: 'stuck' },
          ],
        }),
        2,
      ),
    ).toThrow(/exceeded its progress deadline: stuck/);
  });
});

const pod = (name: string, extra: Partial<Pod['metadata']> = {}, spec: Pod['spec'] = {}): Pod => ({
  metadata: { name, namespace: 'shop', uid: name, ...extra },
  spec,
  status: { phase: 'Running' },
});
const owned = (kind: string) => ({ ownerReferences: [{ kind, name: 'owner', uid: 'o', controller: true }] });

describe("a drain's filters, as kubectl drain's", () => {
  const pods = [
    pod('web-1', owned('ReplicaSet')),
    pod('agent', owned('DaemonSet')),
    pod('bare'),
    pod('cache', owned('ReplicaSet'), { volumes: [{ name: 'scratch', emptyDir: {} }] }),
    pod('static', { annotations: { 'kubernetes.io/config.mirror': 'x' } }),
  ];

  it('refuses DaemonSet, unmanaged and emptyDir pods unless told, naming each', () => {
    const { evict, refusals, skipped } = classify(pods, {});
    expect(evict.map((p) => p.metadata.name)).toEqual(['web-1']);
    expect(skipped).toEqual(['shop/static']);
    expect(refusals).toEqual([
      'shop/agent is managed by DaemonSet owner (set ignoreDaemonSets)',
      'shop/bare is managed by no controller and would not come back (set force)',
      'shop/cache has emptyDir data that eviction deletes (set deleteLocalData)',
    ]);
  });

  it('with ignoreDaemonSets, force and deleteLocalData evicts the rest and leaves DaemonSet and mirror pods', () => {
    const { evict, refusals, skipped } = classify(pods, {
      ignoreDaemonSets: true,
      force: true,
      deleteLocalData: true,
    });
    expect(refusals).toEqual([]);
    expect(evict.map((p) => p.metadata.name)).toEqual(['web-1', 'bare', 'cache']);
    expect(skipped).toEqual(['shop/agent', 'shop/static']);
  });

  it('waits for pods already terminating (evicted before a takeover) without evicting them again or refusing them', () => {
    const deleting = { deletionTimestamp: '2026-12-08T04:00:00Z' };
    const { evict, terminating, refusals, skipped } = classify(
      [
        pod('web-1', { ...owned('ReplicaSet'), ...deleting }),
        pod('web-2', owned('ReplicaSet')),
        pod('bare', deleting),
        pod('cache', deleting, { volumes: [{ name: 'scratch', emptyDir: {} }] }),
        pod('agent', { ...owned('DaemonSet'), ...deleting }),
      ],
      { ignoreDaemonSets: true },
    );
    expect(refusals).toEqual([]);
    expect(evict.map((p) => p.metadata.name)).toEqual(['web-2']);
    expect(terminating.map((p) => p.metadata.name)).toEqual(['web-1', 'bare', 'cache']);
    expect(skipped).toEqual(['shop/agent']);
  });
});

describe('rollback without writing one', () => {
  it('infers the inverse the catalogue names, for every action that has one', () => {
    expect(
      inferredRollback({
        action: 'scale-deployment',
        parameters: { scaleDeployment: { namespace: 'a', deployment: 'w', replicas: 3 } },
      }),
    ).toEqual({
      action: 'scale-to-previous',
      parameters: { scaleToPrevious: { namespace: 'a', deployment: 'w' } },
    });
    expect(inferredRollback({ action: 'drain-node', parameters: { drainNode: { nodeName: 'n1' } } })).toEqual(
      { action: 'uncordon-node', parameters: { uncordonNode: { nodeName: 'n1' } } },
    );
    expect(
      inferredRollback({
        action: 'update-secret',
        parameters: { updateSecret: { namespace: 'a', name: 's', secretRef: { name: 'v' } } },
      }),
    ).toEqual({
      action: 'restore-previous-config',
      parameters: { restorePreviousConfig: { namespace: 'a', name: 's', type: 'Secret' } },
    });
    expect(
      inferredRollback({
        action: 'restart-deployment',
        parameters: { restartDeployment: { namespace: 'a', deployment: 'w' } },
      }),
    ).toBeNull();
    for (const action of STEP_ACTION_NAMES) {
      const reversal = STEP_ACTION_CATALOGUE[action].reversal;
      expect(reversal.kind === 'inverse' ? reversal.action.length > 0 : reversal.why.length > 0).toBe(true);
    }
  });
});

describe('the custom action registry', () => {
  it('reads a Job template and refuses a malformed one naming the action and the field', () => {
    expect(parseTemplate('flush', 'image: tools:1\ncommand: [flush]\nbackoffLimit: 1')).toEqual({
      image: 'tools:1',
      command: ['flush'],
      backoffLimit: 1,
    });
    expect(() => parseTemplate('flush', 'command: [flush]')).toThrow(
      'custom action flush in ConfigMap kubernaut-custom-actions needs an image',
    );
    expect(() => parseTemplate('flush', 'image: x\nimagePullPolicy: Always')).toThrow(
      /unknown field imagePullPolicy/,
    );
  });

  it('passes config as environment variables', () => {
    expect(configEnv({ 'cache-name': 'sessions' })).toEqual([
      { name: 'KUBERNAUT_CONFIG', value: '{"cache-name":"sessions"}' },
      { name: 'CONFIG_CACHE_NAME', value: 'sessions' },
    ]);
  });
});
