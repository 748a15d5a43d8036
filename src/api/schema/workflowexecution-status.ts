/**
 * The WorkflowExecution status schema: what the operator projects from the statechart, generated
 * with the spec (workflowexecution.ts) into the CRD, the TypeScript types and the validators.
 */
import { ROLLBACK_ACTION_NAMES, STEP_ACTION_NAMES } from '../actions.ts';
import { STOP_ENDS, STOP_REASONS } from '../stop-request.ts';
import { TEMPLATE_LIMITS } from './template-ref.ts';
import { bool, duration, enumOf, int, list, num, obj, str, stringMap, time } from './builders.ts';
import {
  LIMITS,
  ADJUSTMENT_KINDS,
  CHECK_RESULTS,
  EXECUTION_STRATEGIES,
  HEALTH,
  LEARNED_KINDS,
  OUTCOMES,
  PHASES,
  RETRY_REFUSALS,
  ROLLBACK_STRATEGIES,
  SAFETY_CHECK_TYPES,
  STEP_STATES,
  stepNumber,
  recordedWorkflowDefinition,
  safetyCheck,
  objectReference,
} from './workflowexecution.ts';

const safetyCheckResult = obj(
  'The result of one safety check.',
  {
    type: enumOf(SAFETY_CHECK_TYPES, 'Kind of check.'),
    required: bool('Whether the check was required.'),
    result: enumOf(CHECK_RESULTS, 'Outcome of the check.'),
    message: str(LIMITS.longText, 'What was found.'),
    checkedAt: time('When it was checked.'),
  },
  ['type', 'result'],
);

const dryRunResults = obj('Structured dry-run results.', {
  overallSuccess: bool('Every step would succeed.'),
  executionTime: duration('How long the dry run took.'),
  stepsSimulated: int(0, 10000, 'Steps simulated.'),
  stepResults: list(
    obj(
      'Dry run of one step.',
      {
        stepNumber,
        action: enumOf(STEP_ACTION_NAMES, 'The action.'),
        wouldSucceed: bool('Whether it would succeed.'),
        simulatedDuration: duration('Simulated duration.'),
        validationErrors: list(str(LIMITS.longText, 'An error.'), 16, 'Errors found.'),
      },
      ['stepNumber'],
    ),
    LIMITS.steps,
    'Per-step results.',
  ),
});

const affectedResource = obj('A resource a step changed.', {
  resourceType: str(63, 'Kind.'),
  name: str(253, 'Name.'),
  namespace: str(63, 'Namespace.'),
  changeType: str(63, '"modified", "restarted", "scaled".'),
});

export const stepExecutionResult = obj('Structured result of a step.', {
  success: bool('Whether the step succeeded.'),
  executionTime: duration('How long it took.'),
  scaleResult: obj('Result of a scale.', {
    previousReplicas: int(0, 10000, 'Replicas before.'),
    newReplicas: int(0, 10000, 'Replicas after.'),
    scaledNamespace: str(63, 'Namespace.'),
    scaledDeployment: str(253, 'Deployment.'),
  }),
  restartResult: obj('Result of a restart.', {
    podsRestarted: int(0, 100000, 'Pods restarted.'),
    restartedPods: list(str(253, 'Pod name.'), 256, 'Pod names.'),
    namespace: str(63, 'Namespace.'),
    owners: list(
      obj('The controller of a restarted pod.', { kind: str(63, 'Kind.'), name: str(253, 'Name.') }, [
        'kind',
        'name',
      ]),
      256,
      'The controllers of the restarted pods (their replacements are judged by monitoring).',
    ),
  }),
  updateResult: obj('Result of an update.', {
    resourceType: str(63, 'Kind.'),
    resourceName: str(253, 'Name.'),
    namespace: str(63, 'Namespace.'),
    updateType: str(63, '"image", "config", "spec".'),
    previousValue: str(LIMITS.longText, 'Value before (never a secret value).'),
    newValue: str(LIMITS.longText, 'Value after (never a secret value).'),
    previousRevision: int(0, Number.MAX_SAFE_INTEGER, 'A Deployment’s rollout revision before the step.'),
    snapshot: str(253, 'The object holding the values before the step, which a rollback restores.'),
  }),
  nodeResult: obj('Result of a cordon or drain.', {
    nodeName: str(253, 'The node.'),
    previouslyUnschedulable: bool('Whether the node was cordoned before the step.'),
    evictedPods: list(str(317, 'namespace/name of an evicted pod.'), 256, 'Pods evicted, at most 256.'),
    podsEvicted: int(0, 100000, 'How many pods were evicted.'),
    skippedPods: list(
      str(317, 'namespace/name of a pod left in place.'),
      256,
      'DaemonSet and mirror pods left.',
    ),
  }),
  customResult: obj('Result of a custom action.', {
    actionType: str(LIMITS.stepName, 'Custom action identifier.'),
    output: stringMap(LIMITS.mapEntries, LIMITS.mapValue, 'Output values.'),
  }),
  resourcesAffected: list(affectedResource, 256, 'Resources changed.'),
  warnings: list(str(LIMITS.longText, 'A warning.'), 32, 'Warnings.'),
});

const condition = obj(
  'A kstatus condition.',
  {
    type: str(316, 'Condition type.', {
      pattern:
        '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$',
    }),
    status: enumOf(['True', 'False', 'Unknown'], 'Condition status.'),
    observedGeneration: int(0, Number.MAX_SAFE_INTEGER, 'Generation the condition was set for.'),
    lastTransitionTime: time('When the status last changed.'),
    reason: str(1024, 'CamelCase reason.', {
      minLength: 1,
      pattern: '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$',
    }),
    message: str(32768, 'Human-readable message.'),
  },
  ['type', 'status', 'lastTransitionTime', 'reason', 'message'],
);

export const workflowExecutionStatus = obj('Observed state, projected from the statechart.', {
  observedGeneration: int(0, Number.MAX_SAFE_INTEGER, 'The generation this status describes.'),
  phase: enumOf(PHASES, 'Lifecycle phase.'),
  currentStep: int(0, 10000, 'Steps finished so far (completed, failed or skipped).'),
  totalSteps: int(0, 10000, 'Number of steps.'),
  progress: str(16, 'currentStep/totalSteps, for the Step printer column.'),
  executionPlan: obj('The plan made while planning.', {
    strategy: enumOf(EXECUTION_STRATEGIES, 'Execution strategy.'),
    estimatedDuration: duration('Estimated duration along the critical path.'),
    rollbackStrategy: enumOf(ROLLBACK_STRATEGIES, 'Rollback strategy.'),
    safetyChecks: list(safetyCheck, LIMITS.safetyChecks, 'Checks to run.'),
    parallelGroups: list(
      list(int(1, 10000, 'A step number.'), LIMITS.steps, 'Steps that may run together.'),
      LIMITS.steps,
      'Topological levels.',
    ),
    rollbackOrder: list(
      int(1, 10000, 'A step number.'),
      LIMITS.steps,
      'Reverse topological order used for rollback.',
    ),
    reversibility: list(
      obj(
        'Whether a rollback can undo these steps, and how (steps with the same verdict share an entry).',
        {
          steps: list(int(1, 10000, 'A step number.'), LIMITS.steps, 'The steps, in step order.'),
          reversible: bool('A rollback would undo these steps.'),
          rollbackAction: enumOf(ROLLBACK_ACTION_NAMES, 'The action that undoes them.'),
          source: enumOf(
            ['rollbackSpec', 'inverse', 'none'],
            'Where the rollback comes from: written in the step, the inverse of its action from the action catalogue, or none.',
          ),
          reason: str(LIMITS.shortText, 'Why the steps cannot be undone.'),
        },
        ['steps', 'reversible', 'source'],
      ),
      LIMITS.steps,
      "Every step once, grouped by verdict, in order of each group's first step: whether it can be rolled back.",
      { 'x-kubernetes-list-type': 'atomic' },
    ),
  }),
  validationResults: obj('Results of validation.', {
    safetyChecksPassed: bool('Every required check passed.'),
    safetyCheckResults: list(safetyCheckResult, LIMITS.safetyChecks, 'Each check.'),
    dryRunPerformed: bool('A dry run was performed.'),
    dryRunResults,
    approvalReceived: bool('Approval was received.'),
    approvedBy: str(LIMITS.shortText, 'Who approved.'),
    approvalTimestamp: time('When approval was received.'),
    validationErrors: list(str(LIMITS.longText, 'An error.'), 64, 'Errors found.'),
  }),
  stepStatuses: list(
    obj(
      'Progress of one step.',
      {
        stepNumber,
        name: str(LIMITS.stepName, 'Step name.'),
        action: enumOf(STEP_ACTION_NAMES, 'The action.'),
        status: enumOf(STEP_STATES, 'Step state.'),
        startTime: time('When the current or last attempt started.'),
        endTime: time('When the step finished.'),
        result: stepExecutionResult,
        errorMessage: str(LIMITS.longText, 'Why it failed.'),
        retriesAttempted: int(
          0,
          (LIMITS.maxRetries + 1) * (LIMITS.runRetries + 1),
          'Attempts after the first, over all retries of the run; absent when none.',
        ),
        k8sExecutionRef: objectReference,
        stopRequest: obj(
          'The latest stop request of an attempt of this step (annotation kubernetesexecution.kubernaut.io/stop-requested on its child) and how it ended; absent when none was asked.',
          {
            attempt: int(1, (LIMITS.maxRetries + 1) * (LIMITS.runRetries + 1), 'The attempt asked to stop.'),
            reason: enumOf(STOP_REASONS, 'Why: the attempt timed out, or the workflow was cancelled.'),
            requestTime: time('When the operator asked.'),
            answer: enumOf(
              STOP_ENDS,
              'How it ended: stopped as asked, completed or failed anyway, or no answer within the grace period (the run went on without it); absent while awaited.',
            ),
            answerTime: time('When the answer was seen, or the grace period ended.'),
          },
          ['attempt', 'reason', 'requestTime'],
        ),
      },
      ['stepNumber', 'status'],
    ),
    LIMITS.steps,
    'Per-step progress.',
    // Atomic, as statechart below: only the operator writes status, always whole, and the apiserver's
    // field tracking of a per-item list costs every status write a share that grows with the steps.
    { 'x-kubernetes-list-type': 'atomic' },
  ),
  executionMetrics: obj('Performance of the run.', {
    totalDuration: duration('Duration so far or in all.'),
    stepSuccessRate: num(0, 1, 'Completed steps / finished steps.'),
    rollbacksPerformed: int(0, 10000, 'Rollback steps run.'),
    resourcesAffected: int(0, 100000, 'Resources changed.'),
  }),
  adaptiveAdjustments: list(
    obj(
      'A runtime optimization.',
      {
        timestamp: time('When.'),
        adjustment: str(LIMITS.longText, 'What was adjusted.'),
        reason: str(LIMITS.longText, 'Why.'),
        kind: enumOf(
          ADJUSTMENT_KINDS,
          'What kind: an AI suggestion applied, confirmed or ignored, learned from history, or decided at run time.',
        ),
        learned: obj(
          'A decision learned from history (learningFromHistory, at planning) or from this run (dynamicStepAdjustment, as a step starts): taken once and kept.',
          {
            kind: enumOf(
              LEARNED_KINDS,
              'What it changed: retries, timeout, estimate, a flag, or nothing (declared).',
            ),
            step: int(0, 10000, 'The step it concerns; 0 for the whole plan.'),
            from: num(0, 1e12, 'Before: retries, milliseconds, or a flagged step’s success rate.'),
            to: num(0, 1e12, 'After: retries or milliseconds; absent when nothing changes.'),
            runs: int(0, 1_000_000, 'Runs of history it rests on.'),
            source: enumOf(
              ['workflow', 'target', 'none', 'run'],
              'Whose history: this workflow name/version, this action on this target, none, or this run.',
            ),
          },
          ['kind', 'from', 'runs', 'source'],
        ),
      },
      ['adjustment'],
    ),
    LIMITS.adjustments,
    'Adjustments made.',
  ),
  workflowResult: obj('Final outcome.', {
    outcome: enumOf(OUTCOMES, 'Outcome.'),
    effectivenessScore: num(0, 1, 'Effectiveness, 0.0-1.0.'),
    resourceHealth: enumOf(HEALTH, 'Health of the targets.'),
    newAlertsTriggered: bool('Whether new alerts fired.'),
    alertsChecked: bool('Whether alerts could be checked at all.'),
    recommendedActions: list(str(LIMITS.longText, 'An action.'), 16, 'For partial success or failure.'),
  }),
  retries: obj('Retries of the failed run (annotation retry-requested-by, `wfx retry`).', {
    count: int(0, LIMITS.runRetries, 'Retries accepted so far.'),
    history: list(
      obj(
        'One accepted retry: a run segment of its own.',
        {
          segment: int(2, LIMITS.runRetries + 1, 'The run segment it started (the first run is 1).'),
          requestedBy: str(LIMITS.shortText, 'Who asked.'),
          request: str(LIMITS.shortText, 'The request id, from the annotation.'),
          startTime: time('When the retry started.'),
          steps: list(int(1, 10000, 'A step number.'), LIMITS.steps, 'The failed and skipped steps re-run.'),
        },
        ['segment', 'requestedBy', 'request', 'startTime', 'steps'],
      ),
      LIMITS.runRetries,
      'Accepted retries, oldest first.',
    ),
    refused: obj(
      'The last retry request refused, with why.',
      {
        requestedBy: str(LIMITS.shortText, 'Who asked.'),
        request: str(LIMITS.shortText, 'The request id, from the annotation.'),
        time: time('When it was refused.'),
        reason: enumOf(RETRY_REFUSALS, 'Why, as a CamelCase reason.'),
        message: str(LIMITS.longText, 'Why, in words.'),
      },
      ['requestedBy', 'request', 'time', 'reason', 'message'],
    ),
  }),
  resolvedTemplate: obj(
    'The template version this run was made from: resolved once, at planning, and kept, so that a later edit or deletion of the template changes nothing here. The statechart’s specHash covers it.',
    {
      name: str(253, 'The WorkflowTemplate.'),
      version: str(TEMPLATE_LIMITS.version, 'The version resolved.'),
      uid: str(64, 'The template’s uid when it was resolved.'),
      parameters: stringMap(
        TEMPLATE_LIMITS.parameters,
        TEMPLATE_LIMITS.parameterValue,
        'Every declared parameter’s value: given, or its default.',
      ),
      workflowDefinition: recordedWorkflowDefinition,
    },
    ['name', 'version', 'workflowDefinition'],
  ),
  planningStartTime: time('Planning started.'),
  validationStartTime: time('Validation started.'),
  executionStartTime: time('Execution started.'),
  monitoringStartTime: time('Monitoring started.'),
  rollbackStartTime: time('Rollback started.'),
  completionTime: time('The run ended.'),
  failureReason: str(LIMITS.longText, 'Why the run failed.'),
  rollbackReason: str(LIMITS.longText, 'Why rollback started.'),
  conditions: list(condition, LIMITS.conditions, 'Ready, Reconciling, Stalled, Succeeded.', {
    'x-kubernetes-list-type': 'map',
    'x-kubernetes-list-map-keys': ['type'],
  }),
  statechart: obj(
    'The persisted statechart: an envelope (schema, machine version, spec hash) around the XState snapshot.',
    {
      schema: str(64, 'Envelope schema.'),
      machineVersion: int(0, 1000000, 'Version of the machine that wrote the snapshot.'),
      specHash: str(128, 'Hash of the spec the machine was built from.'),
      snapshot: {
        type: 'object',
        description: 'The XState persisted snapshot: the only free-form subtree.',
        'x-kubernetes-preserve-unknown-fields': true,
      },
    },
    ['schema', 'machineVersion', 'specHash', 'snapshot'],
    { 'x-kubernetes-map-type': 'atomic' },
  ),
});
