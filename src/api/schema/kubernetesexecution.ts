/** The KubernetesExecution schema: the executor's contract (DESIGN 5). */
import { ROLLBACK_ACTION_NAMES, STEP_ACTION_NAMES } from '../actions.ts';
import { bool, dnsSubdomain, enumOf, int, obj, str, time } from './builders.ts';
import {
  LIMITS,
  rollbackParameters,
  rollbackSpec,
  safetyCheck,
  stepParameters,
} from './workflowexecution.ts';
import { stepExecutionResult } from './workflowexecution-status.ts';
import { list } from './builders.ts';

export const EXECUTION_KINDS = ['step', 'dryRun', 'rollback'] as const;
/** `stopped`: the executor acknowledged a stop request (src/api/stop-request.ts) and acts no more. */
export const EXECUTION_PHASES = ['pending', 'executing', 'completed', 'failed', 'stopped'] as const;

export const kubernetesExecutionSpec = obj(
  'One attempt of one step, one dry-run step or one rollback step, for the executor to carry out.',
  {
    workflowExecutionRef: obj(
      'The WorkflowExecution this belongs to.',
      {
        name: dnsSubdomain('Name of the WorkflowExecution.'),
        namespace: str(63, 'Namespace of the WorkflowExecution.'),
        uid: str(64, 'UID of the WorkflowExecution.'),
      },
      ['name'],
    ),
    kind: enumOf(EXECUTION_KINDS, 'What to do: run the step, simulate it, or undo it.'),
    stepNumber: int(1, 10000, 'The step.'),
    stepName: str(LIMITS.stepName, 'The step name.'),
    attempt: int(1, 11, 'Attempt number, from 1.'),
    action: enumOf(
      [...new Set([...STEP_ACTION_NAMES, ...ROLLBACK_ACTION_NAMES])],
      'The action; a rollback action when kind is rollback.',
    ),
    parameters: stepParameters,
    rollbackParameters,
    targetCluster: str(LIMITS.shortText, 'Cluster to act on.'),
    timeout: str(32, 'How long the attempt may take.'),
    safetyChecks: list(safetyCheck, LIMITS.safetyChecks, 'The workflow’s safety checks.'),
    rollbackSpec,
  },
  ['workflowExecutionRef', 'kind', 'stepNumber', 'attempt', 'action'],
  {
    'x-kubernetes-validations': [
      { rule: 'self == oldSelf', message: 'spec is immutable after creation' },
      {
        rule: "self.kind == 'rollback' ? has(self.rollbackParameters) : has(self.parameters)",
        message: 'a rollback carries rollbackParameters; a step or dry run carries parameters',
      },
    ],
  },
);

export const kubernetesExecutionStatus = obj('What the executor reports.', {
  phase: enumOf(EXECUTION_PHASES, 'Progress of the execution.'),
  executionResult: stepExecutionResult,
  message: str(LIMITS.longText, 'Human-readable message, e.g. the error.'),
  wouldSucceed: bool('For a dry run: whether the real step would succeed.'),
  startTime: time('When an executor first picked the child up (claimed it).'),
  claim: obj(
    'Which executor replica is carrying the child out. Written with a resourceVersion precondition, so one replica wins a race; renewed while it acts; another replica takes the child over once the claim has not changed for leaseDurationSeconds as that replica observes it (src/executor/claims.ts).',
    {
      holder: str(253, 'The executor replica (its pod name, or host and pid).'),
      acquireTime: time('When the holder claimed the child.'),
      renewTime: time('When the holder last renewed its claim.'),
      leaseDurationSeconds: int(1, 3600, 'How long the claim holds without a renewal.'),
      claims: int(1, 1000, 'How many times the child was claimed (more than 1: taken over).'),
    },
    ['holder', 'renewTime', 'leaseDurationSeconds'],
  ),
  completionTime: time('When the executor finished.'),
});
