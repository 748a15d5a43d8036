/** Action name -> handler: the step actions, the rollback actions, and custom. */
import type { KubernetesExecutionSpec } from '../../api/generated/types.ts';
import type { ActionHandler } from '../context.ts';
import { updateConfigMap, updateSecret, restorePreviousConfig } from './config.ts';
import { custom } from './custom.ts';
import {
  restartDeployment,
  restorePreviousDeployment,
  scaleDeployment,
  scaleToPrevious,
  updateImage,
} from './deployments.ts';
import { cordonNode, drainNode, uncordonNode } from './nodes.ts';
import { deletePod, restartPod } from './pods.ts';

export const HANDLERS: Record<KubernetesExecutionSpec['action'], ActionHandler> = {
  'scale-deployment': scaleDeployment,
  'restart-deployment': restartDeployment,
  'update-image': updateImage,
  'restart-pod': restartPod,
  'delete-pod': deletePod,
  'update-configmap': updateConfigMap,
  'update-secret': updateSecret,
  'cordon-node': cordonNode,
  'drain-node': drainNode,
  custom,
  'restore-previous-deployment': restorePreviousDeployment,
  'scale-to-previous': scaleToPrevious,
  'restore-previous-config': restorePreviousConfig,
  'uncordon-node': uncordonNode,
};
