/**
 * Rollback without writing one: for a step with no rollbackSpec, the inverse action the action
 * catalogue names (its `reversal`), with parameters that locate what the step changed. The values to
 * put back are not here: the rollback's executor reads what the step recorded in its result (the
 * replicas it found, the revision before the rollout, the snapshot of the keys, the node's
 * schedulability), so nothing is guessed at planning time.
 */
import { STEP_ACTION_CATALOGUE } from './action-catalogue.ts';
import type { RollbackParameters, WorkflowStep } from './generated/types.ts';
import type { RollbackAction } from './actions.ts';

export interface InferredRollback {
  action: RollbackAction;
  parameters: RollbackParameters;
}

/** The inverse of a step's action with its target, or null when the catalogue says it has none. */
export function inferredRollback(step: Pick<WorkflowStep, 'action' | 'parameters'>): InferredRollback | null {
  const reversal = STEP_ACTION_CATALOGUE[step.action].reversal;
  if (reversal.kind !== 'inverse') return null;
  const p = step.parameters;
  const parameters = ((): RollbackParameters | null => {
    switch (step.action) {
      case 'scale-deployment':
        return p.scaleDeployment
          ? {
              scaleToPrevious: {
                namespace: p.scaleDeployment.namespace,
                deployment: p.scaleDeployment.deployment,
              },
            }
          : null;
      case 'update-image':
        return p.updateImage
          ? {
              restorePreviousDeployment: {
                namespace: p.updateImage.namespace,
                deployment: p.updateImage.deployment,
              },
            }
          : null;
      case 'update-configmap':
        return p.updateConfigMap
          ? {
              restorePreviousConfig: {
                namespace: p.updateConfigMap.namespace,
                name: p.updateConfigMap.name,
                type: 'ConfigMap',
              },
            }
          : null;
      case 'update-secret':
        return p.updateSecret
          ? {
              restorePreviousConfig: {
                namespace: p.updateSecret.namespace,
                name: p.updateSecret.name,
                type: 'Secret',
              },
            }
          : null;
      case 'cordon-node':
        return p.cordonNode ? { uncordonNode: { nodeName: p.cordonNode.nodeName } } : null;
      case 'drain-node':
        return p.drainNode ? { uncordonNode: { nodeName: p.drainNode.nodeName } } : null;
      default:
        return null;
    }
  })();
  return parameters === null ? null : { action: reversal.action, parameters };
}
