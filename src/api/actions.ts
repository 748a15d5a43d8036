/**
 * The step and rollback actions of the specification, each tied to the one parameter member that
 * carries its arguments. The CEL rules (CRDs, admission policy), the validators and the planner all read this table.
 */

export const STEP_ACTIONS = {
  'scale-deployment': 'scaleDeployment',
  'restart-deployment': 'restartDeployment',
  'update-image': 'updateImage',
  'restart-pod': 'restartPod',
  'delete-pod': 'deletePod',
  'update-configmap': 'updateConfigMap',
  'update-secret': 'updateSecret',
  'cordon-node': 'cordonNode',
  'drain-node': 'drainNode',
  custom: 'custom',
} as const;

export const ROLLBACK_ACTIONS = {
  'restore-previous-deployment': 'restorePreviousDeployment',
  'scale-to-previous': 'scaleToPrevious',
  'restore-previous-config': 'restorePreviousConfig',
  'uncordon-node': 'uncordonNode',
  custom: 'custom',
} as const;

export type StepAction = keyof typeof STEP_ACTIONS;
export type StepParameterMember = (typeof STEP_ACTIONS)[StepAction];
export type RollbackAction = keyof typeof ROLLBACK_ACTIONS;
export type RollbackParameterMember = (typeof ROLLBACK_ACTIONS)[RollbackAction];

export const STEP_ACTION_NAMES = Object.keys(STEP_ACTIONS) as StepAction[];
export const ROLLBACK_ACTION_NAMES = Object.keys(ROLLBACK_ACTIONS) as RollbackAction[];

export const isStepAction = (value: string): value is StepAction => Object.hasOwn(STEP_ACTIONS, value);
export const isRollbackAction = (value: string): value is RollbackAction =>
  Object.hasOwn(ROLLBACK_ACTIONS, value);

/** What a step touches, for RBAC checks and effectiveness monitoring. */
export interface TargetResource {
  group: string;
  resource: 'deployments' | 'pods' | 'configmaps' | 'secrets' | 'nodes';
  kind: 'Deployment' | 'Pod' | 'ConfigMap' | 'Secret' | 'Node';
  /** Empty for cluster-scoped resources. */
  namespace: string;
  /** Empty when the step targets every object a selector matches. */
  name: string;
  selector?: string;
  /** The verb the executor needs on the target. */
  verb: 'patch' | 'delete' | 'update';
}
