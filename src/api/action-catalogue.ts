/**
 * The action catalogue: for every step action and every rollback action, the API calls the executor
 * makes to carry it out, and how a step is undone. It is the one source of three things (DESIGN 12):
 * the operator's `rbac` safety check asks a SubjectAccessReview for each call of a step and of its
 * rollback; the executor's ClusterRole (and its namespaced Role variant) is generated from it; and
 * validation says which steps are reversible.
 */
import type { RollbackAction, StepAction } from './actions.ts';

export type ApiVerb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete';

/**
 * Where the call's namespace comes from: `target`, the step's own namespace parameter; `cluster`, a
 * cluster-scoped resource (nodes); `any`, every namespace (a drain evicts pods wherever they run).
 */
export type CallScope = 'target' | 'cluster' | 'any';

export interface ApiCall {
  /** API group; '' for the core group. */
  readonly group: string;
  readonly resource: string;
  readonly subresource?: string;
  readonly verbs: readonly ApiVerb[];
  readonly scope: CallScope;
  /** Why the action needs it (shown by the rbac check and in the generated Role). */
  readonly why: string;
}

/** How a step is undone when nobody wrote a rollbackSpec: the inverse of what it recorded, or not at all. */
export type Reversal =
  | { readonly kind: 'inverse'; readonly action: RollbackAction }
  | { readonly kind: 'irreversible'; readonly why: string };

export interface StepActionEntry {
  readonly calls: readonly ApiCall[];
  readonly reversal: Reversal;
}

export interface RollbackActionEntry {
  readonly calls: readonly ApiCall[];
}

const deployments = (verbs: readonly ApiVerb[], why: string, subresource?: string): ApiCall => ({
  group: 'apps',
  resource: 'deployments',
  ...(subresource === undefined ? {} : { subresource }),
  verbs,
  scope: 'target',
  why,
});
const replicaSets: ApiCall = {
  group: 'apps',
  resource: 'replicasets',
  verbs: ['list'],
  scope: 'target',
  why: 'find the ReplicaSet of the recorded revision, whose template is put back',
};
const podsInTarget = (verbs: readonly ApiVerb[], why: string): ApiCall => ({
  group: '',
  resource: 'pods',
  verbs,
  scope: 'target',
  why,
});
const evictionIn = (scope: CallScope): ApiCall => ({
  group: '',
  resource: 'pods',
  subresource: 'eviction',
  verbs: ['create'],
  scope,
  why: 'evict pods through the Eviction API so PodDisruptionBudgets are honoured (a refusal names the budget)',
});
const nodes = (verbs: readonly ApiVerb[], why: string): ApiCall => ({
  group: '',
  resource: 'nodes',
  verbs,
  scope: 'cluster',
  why,
});
const dataObjects = (
  resource: 'configmaps' | 'secrets',
  verbs: readonly ApiVerb[],
  why: string,
): ApiCall => ({
  group: '',
  resource,
  verbs,
  scope: 'target',
  why,
});
const jobs: ApiCall = {
  group: 'batch',
  resource: 'jobs',
  verbs: ['get', 'create', 'delete'],
  scope: 'target',
  why: 'run a registered custom action as a Job in the workflow’s namespace, wait for it, and delete it when the attempt is stopped',
};
const jobPods = podsInTarget(['list'], 'find the custom Job’s pod');
const jobLogs: ApiCall = {
  group: '',
  resource: 'pods',
  subresource: 'log',
  verbs: ['get'],
  scope: 'target',
  why: 'report the last lines of the custom Job’s log',
};

const rollout = deployments(
  ['get', 'patch'],
  'change the pod template, then read the status until the rollout completes (as kubectl rollout status judges)',
);
const podActionCalls = (what: string): ApiCall[] => [
  podsInTarget(['get', 'list'], `find ${what} and wait for each replacement to be Ready`),
  evictionIn('target'),
];

export const STEP_ACTION_CATALOGUE: Readonly<Record<StepAction, StepActionEntry>> = {
  'scale-deployment': {
    calls: [
      deployments(['get'], 'record the replicas it found'),
      deployments(['patch'], 'set the replicas, as kubectl scale does', 'scale'),
    ],
    reversal: { kind: 'inverse', action: 'scale-to-previous' },
  },
  'restart-deployment': {
    calls: [rollout],
    reversal: { kind: 'irreversible', why: 'a restart replaces pods; there is nothing to put back' },
  },
  'update-image': {
    calls: [rollout],
    reversal: { kind: 'inverse', action: 'restore-previous-deployment' },
  },
  'restart-pod': {
    calls: podActionCalls('the pods'),
    reversal: { kind: 'irreversible', why: 'an evicted pod cannot be brought back' },
  },
  'delete-pod': {
    calls: podActionCalls('the pod'),
    reversal: { kind: 'irreversible', why: 'an evicted pod cannot be brought back' },
  },
  'update-configmap': {
    calls: [
      dataObjects('configmaps', ['get', 'patch'], 'change the keys'),
      dataObjects('configmaps', ['create'], 'keep a snapshot of the keys before the change, once per step'),
    ],
    reversal: { kind: 'inverse', action: 'restore-previous-config' },
  },
  'update-secret': {
    calls: [
      dataObjects('secrets', ['get', 'patch'], 'read the referenced Secret and change the keys'),
      dataObjects('secrets', ['create'], 'keep a snapshot of the keys before the change, once per step'),
    ],
    reversal: { kind: 'inverse', action: 'restore-previous-config' },
  },
  'cordon-node': {
    calls: [nodes(['get', 'patch'], 'mark the node unschedulable, as kubectl cordon does')],
    reversal: { kind: 'inverse', action: 'uncordon-node' },
  },
  'drain-node': {
    calls: [
      nodes(['get', 'patch'], 'cordon the node, as kubectl drain does'),
      {
        group: '',
        resource: 'pods',
        verbs: ['get', 'list'],
        scope: 'any',
        why: 'find the node’s pods and wait until they are gone',
      },
      evictionIn('any'),
    ],
    reversal: { kind: 'inverse', action: 'uncordon-node' },
  },
  custom: {
    calls: [jobs, jobPods, jobLogs],
    reversal: { kind: 'irreversible', why: 'a custom action is undone only by a rollbackSpec' },
  },
};

export const ROLLBACK_ACTION_CATALOGUE: Readonly<Record<RollbackAction, RollbackActionEntry>> = {
  'restore-previous-deployment': {
    calls: [
      deployments(
        ['get', 'patch'],
        'put back the recorded revision’s template, as kubectl rollout undo does, and wait for the rollout',
      ),
      replicaSets,
    ],
  },
  'scale-to-previous': {
    calls: [
      deployments(['get'], 'read the replicas before putting back the recorded ones'),
      deployments(['patch'], 'put back the replicas recorded before the step', 'scale'),
    ],
  },
  'restore-previous-config': {
    calls: [
      dataObjects('configmaps', ['get', 'patch'], 'read the snapshot and put it back'),
      dataObjects('secrets', ['get', 'patch'], 'read the snapshot and put it back'),
    ],
  },
  'uncordon-node': { calls: [nodes(['get', 'patch'], 'mark the node schedulable again')] },
  custom: { calls: [jobs, jobPods, jobLogs] },
};
