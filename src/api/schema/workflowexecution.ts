/**
 * The WorkflowExecution schema: the one source of truth from which the CRD, the TypeScript types and
 * the ajv validators are generated (`npm run generate`).
 */
import { ROLLBACK_ACTIONS, ROLLBACK_ACTION_NAMES, STEP_ACTION_NAMES } from '../actions.ts';
import {
  bool,
  dnsLabel,
  dnsSubdomain,
  duration,
  specDuration,
  enumOf,
  int,
  list,
  num,
  obj,
  str,
  stringMap,
  time,
  type CelRule,
  type Schema,
  withoutValidations,
} from './builders.ts';
import { TEMPLATE_LIMITS, workflowTemplateRef } from './template-ref.ts';
import { STOP_ENDS, STOP_REASONS } from '../stop-request.ts';

export const LIMITS = {
  steps: 200,
  dependsOn: 32,
  stepName: 128,
  shortText: 256,
  longText: 2048,
  namedDependencies: 200,
  mapEntries: 64,
  mapValue: 4096,
  safetyChecks: 16,
  conditions: 16,
  adjustments: 64,
  recommendations: 32,
  /** Retries after the first attempt, per step and per strategy. */
  maxRetries: 10,
  /** Retries of a whole failed run (`wfx retry`), each re-running what failed. */
  runRetries: 10,
} as const;

export const ROLLBACK_STRATEGIES = ['automatic', 'manual', 'none'] as const;
export const ADJUSTMENT_KINDS = ['applied', 'confirmed', 'ignored', 'learned', 'runTime'] as const;
export const LEARNED_KINDS = ['retries', 'timeout', 'estimate', 'flag', 'declared'] as const;
/** Why a retry request (`wfx retry`) changed nothing. */
export const RETRY_REFUSALS = [
  'InFlight',
  'Completed',
  'RolledBack',
  'NotRetryable',
  'TooManyRetries',
] as const;
/** Bounds of the per-workflow phase timeouts, checked by the planner (InvalidSpec with the path). */
export const PHASE_TIMEOUT_BOUNDS = {
  planning: ['5s', '10m'],
  validation: ['10s', '24h'],
  monitoring: ['30s', '24h'],
} as const;
/** Bounds of the per-workflow stability window (executionStrategy.stabilityWindow). */
export const STABILITY_WINDOW_BOUNDS = ['0s', '1h'] as const;
export const RETENTION_PATTERN = '^(forever|([0-9]+(s|m|h))+)$';
export const SAFETY_CHECK_TYPES = ['rbac', 'capacity', 'health', 'network'] as const;
export const LEVELS = ['low', 'medium', 'high'] as const;
export const PHASES = [
  'planning',
  'validating',
  'executing',
  'monitoring',
  'rolling_back',
  'completed',
  'failed',
] as const;
export const STEP_STATES = [
  'pending',
  'executing',
  'retrying',
  'completed',
  'failed',
  'skipped',
  'rolling_back',
  'rolled_back',
  'rollback_failed',
] as const;
export const OUTCOMES = ['success', 'partial_success', 'failed', 'unknown', 'ineffective'] as const;
export const HEALTH = ['healthy', 'degraded', 'unhealthy', 'unknown'] as const;
export const EXECUTION_STRATEGIES = ['sequential', 'parallel', 'sequential-with-parallel'] as const;
export const CHECK_RESULTS = ['passed', 'failed', 'not_applicable', 'error'] as const;

const namespace = dnsLabel('Namespace of the target object.');
const objectName = dnsSubdomain('Name of the target object.');
const gracePeriod = specDuration('Grace period, e.g. "30s".');
const deploymentRef = { namespace, deployment: objectName };
/** The same members for a custom step and a custom rollback: the executor's own action and config. */
const customParameters = (of: 'action' | 'rollback') =>
  obj(
    `Parameters of a custom ${of}.`,
    {
      actionType: str(LIMITS.stepName, 'Custom action identifier.', { minLength: 1 }),
      config: stringMap(LIMITS.mapEntries, LIMITS.mapValue, 'String-only configuration.'),
    },
    ['actionType'],
  );

const objectReference = obj('A reference to another object.', {
  apiVersion: str(253, 'API version of the referent.'),
  kind: str(63, 'Kind of the referent.'),
  namespace: dnsLabel('Namespace of the referent.'),
  name: dnsSubdomain('Name of the referent.'),
  uid: str(64, 'UID of the referent.'),
  resourceVersion: str(64, 'Resource version of the referent.'),
  fieldPath: str(256, 'A field within the referent.'),
});

/**
 * "Exactly one member set": minProperties and maxProperties say it to the apiserver and to ajv alike,
 * with no CEL to evaluate (unknown members are refused by strict decoding or pruned).
 */
function unionOf(description: string, members: Record<string, Schema>): Schema {
  return obj(description, members, [], { minProperties: 1, maxProperties: 1 });
}

/**
 * The CEL rules on a step and its parts, over the CEL expression `x` that names the object: `self` in
 * a CRD's x-kubernetes-validations, a comprehension variable in the admission policy (admission.ts).
 */
export const RULES = {
  /** The action names a parameter member, so the member set must be the action's own. */
  actionMatchesMember: (table: Record<string, string>, x: string): string =>
    `!has(${x}.parameters) || ${Object.entries(table)
      .map(([action, member]) => `(${x}.action == '${action}' && has(${x}.parameters.${member}))`)
      .join(' || ')}`,
  actionMatchesMemberMessage: (what: string, x: string): string =>
    `'parameters of ${what} ' + ${x}.action + ' must be set in the member named after its action'`,
  restartPodTarget: (x: string): string => `has(${x}.podName) || has(${x}.selector)`,
  restartPodTargetMessage: 'restartPod needs a podName or a selector',
  secretValuesSource: (x: string): string => `has(${x}.dataUpdates) != has(${x}.secretRef)`,
  secretValuesSourceMessage: 'updateSecret takes its values from exactly one of dataUpdates and secretRef',
  notSelfDependent: (x: string): string => `!has(${x}.dependsOn) || !(${x}.stepNumber in ${x}.dependsOn)`,
  notSelfDependentMessage: 'a step cannot depend on itself',
  oneDefinitionMessage: 'exactly one of workflowDefinition and workflowTemplateRef must be set',
  parametersNeedTemplateMessage: 'parameters are for a template: set workflowTemplateRef',
} as const;

function actionMatchesMember(table: Record<string, string>, what: string): CelRule {
  return {
    rule: RULES.actionMatchesMember(table, 'self'),
    messageExpression: RULES.actionMatchesMemberMessage(what, 'self'),
    reason: 'FieldValueInvalid',
  };
}

export const stepParameters = unionOf(
  'Action-specific parameters; exactly one member, matching the action.',
  {
    scaleDeployment: obj(
      'Parameters of scale-deployment.',
      { ...deploymentRef, replicas: int(0, 10000, 'Desired replicas.') },
      ['namespace', 'deployment', 'replicas'],
    ),
    restartDeployment: obj('Parameters of restart-deployment.', { ...deploymentRef, gracePeriod }, [
      'namespace',
      'deployment',
    ]),
    updateImage: obj(
      'Parameters of update-image.',
      {
        ...deploymentRef,
        container: dnsLabel('Container name.'),
        newImage: str(512, 'The image to roll out.', { minLength: 1 }),
      },
      ['namespace', 'deployment', 'container', 'newImage'],
    ),
    restartPod: obj(
      'Parameters of restart-pod.',
      {
        namespace,
        podName: dnsSubdomain('Pod name; empty means every pod the selector matches.'),
        selector: str(1024, 'Label selector, e.g. "app=web".'),
        gracePeriod,
      },
      ['namespace'],
      {
        'x-kubernetes-validations': [
          { rule: RULES.restartPodTarget('self'), message: RULES.restartPodTargetMessage },
        ],
      },
    ),
    deletePod: obj(
      'Parameters of delete-pod.',
      { namespace, podName: dnsSubdomain('Pod name.'), gracePeriod },
      ['namespace', 'podName'],
    ),
    updateConfigMap: obj(
      'Parameters of update-configmap.',
      {
        namespace,
        name: objectName,
        dataUpdates: stringMap(LIMITS.mapEntries, LIMITS.mapValue, 'Keys and values to set.'),
      },
      ['namespace', 'name', 'dataUpdates'],
    ),
    updateSecret: obj(
      'Parameters of update-secret: the values inline (dataUpdates) or, better, by reference (secretRef), exactly one. The values are secret: they never appear in status, events, logs or metrics.',
      {
        namespace,
        name: objectName,
        dataUpdates: stringMap(
          LIMITS.mapEntries,
          LIMITS.mapValue,
          'Keys and base64-encoded values to set, inline in the resource (a cluster may refuse them: manifests/admission/refuse-inline-secret-values.yaml).',
        ),
        secretRef: obj(
          'A Secret in the same namespace whose keys the executor copies into the target; its values never enter this resource.',
          {
            name: objectName,
            keys: list(
              str(253, 'A key of the referenced Secret.', { minLength: 1 }),
              LIMITS.mapEntries,
              'The keys to copy; every key of the referenced Secret when unset.',
              { 'x-kubernetes-list-type': 'set' },
            ),
          },
          ['name'],
        ),
      },
      ['namespace', 'name'],
      {
        'x-kubernetes-validations': [
          { rule: RULES.secretValuesSource('self'), message: RULES.secretValuesSourceMessage },
        ],
      },
    ),
    cordonNode: obj('Parameters of cordon-node.', { nodeName: dnsSubdomain('Node name.') }, ['nodeName']),
    drainNode: obj(
      'Parameters of drain-node.',
      {
        nodeName: dnsSubdomain('Node name.'),
        gracePeriod,
        ignoreDaemonSets: bool(
          'Leave DaemonSet pods on the node (their controller ignores unschedulable); the drain is refused otherwise.',
        ),
        deleteLocalData: bool('Evict pods with emptyDir volumes (their data is lost); refused otherwise.'),
        force: bool('Evict pods no controller manages (they are not recreated); refused otherwise.'),
      },
      ['nodeName'],
    ),
    custom: customParameters('action'),
  },
);

export const rollbackParameters = unionOf(
  'Rollback-specific parameters; exactly one member, matching the rollback action.',
  {
    restorePreviousDeployment: obj(
      'Parameters of restore-previous-deployment.',
      { ...deploymentRef, revision: int(0, 1_000_000, 'Revision to restore; 0 is the previous one.') },
      ['namespace', 'deployment'],
    ),
    scaleToPrevious: obj(
      'Parameters of scale-to-previous.',
      {
        ...deploymentRef,
        previousReplicas: int(
          0,
          10000,
          'Replicas to restore when the step recorded none; the replicas the step found win.',
        ),
      },
      ['namespace', 'deployment'],
    ),
    restorePreviousConfig: obj(
      'Parameters of restore-previous-config.',
      {
        namespace,
        name: objectName,
        type: enumOf(['ConfigMap', 'Secret'], 'Kind of the object.'),
        snapshot: str(LIMITS.shortText, 'Reference to the saved snapshot.'),
      },
      ['namespace', 'name', 'type'],
    ),
    uncordonNode: obj('Parameters of uncordon-node.', { nodeName: dnsSubdomain('Node name.') }, ['nodeName']),
    custom: customParameters('rollback'),
  },
);

export const rollbackSpec = obj(
  'How to undo a step.',
  {
    action: enumOf(ROLLBACK_ACTION_NAMES, 'Rollback action.'),
    parameters: rollbackParameters,
    timeout: specDuration('Timeout of the rollback step, e.g. "5m"; at most 720h.'),
  },
  ['action', 'parameters'],
  { 'x-kubernetes-validations': [actionMatchesMember(ROLLBACK_ACTIONS, 'rollback action')] },
);

export const safetyCheck = obj(
  'A validation requirement checked before execution.',
  {
    type: enumOf(SAFETY_CHECK_TYPES, 'Kind of check.'),
    description: str(LIMITS.shortText, 'What the check guards.'),
    required: bool('A failing required check fails the workflow.'),
  },
  ['type'],
);

const stepNumber = int(1, 10000, 'Step number, unique within the workflow.');

/**
 * The Alertmanager alert a run remediates (set by the alert webhook, or by hand). Monitoring requires
 * it resolved before `completed`: looked up by fingerprint, else by its labels; new alerts count only
 * when they concern a target the run touched.
 */
export const alertRef = obj(
  'The alert this run remediates, as Alertmanager knows it.',
  {
    fingerprint: str(64, 'Alertmanager fingerprint of the alert (hex).', { pattern: '^[0-9a-f]{1,64}$' }),
    labels: {
      ...stringMap(
        LIMITS.mapEntries,
        LIMITS.shortText,
        'The alert labels (alertname, namespace, ...); an alert matches when it carries all of them.',
      ),
      minProperties: 1,
    },
    startsAt: time('When the alert started firing.'),
  },
  ['labels'],
);

export const workflowStep = obj(
  'One step of the workflow.',
  {
    stepNumber,
    name: str(LIMITS.stepName, 'Step name, unique within the workflow.', { minLength: 1 }),
    action: enumOf(STEP_ACTION_NAMES, 'What the step does.'),
    targetCluster: str(LIMITS.shortText, 'Cluster the step acts on.'),
    parameters: stepParameters,
    criticalStep: bool('A failing critical step stops the workflow and triggers rollback per strategy.'),
    maxRetries: int(
      0,
      LIMITS.maxRetries,
      'Retries after the first attempt; falls back to the strategy’s maxRetries.',
    ),
    timeout: specDuration('Per-attempt timeout, e.g. "5m"; 5m when unset; at most 720h.'),
    dependsOn: list(
      int(1, 10000, 'A step number this step waits for.'),
      LIMITS.dependsOn,
      'Step numbers whose results this step needs: it starts once they all succeeded, and is skipped if one failed or was skipped. In a workflow that declares no dependencies the steps run in step-number order instead, and a non-critical failure does not stop the next step.',
      {
        'x-kubernetes-list-type': 'set',
      },
    ),
    rollbackSpec,
  },
  ['stepNumber', 'name', 'action', 'parameters'],
);

const stepOptimization = obj(
  'An AI suggestion for one step.',
  {
    stepNumber,
    recommendation: str(LIMITS.longText, 'Human-readable suggestion.'),
    confidence: num(0, 1, 'Confidence, 0.0-1.0.'),
    impactLevel: enumOf(LEVELS, 'Impact of the change.'),
    parameterChanges: obj('Suggested parameter changes.', {
      suggestedParameters: stringMap(LIMITS.mapEntries, LIMITS.shortText, 'Suggested key-value pairs.'),
      reason: str(LIMITS.longText, 'Why these parameters.'),
    }),
  },
  ['stepNumber'],
);

export const aiRecommendations = obj('Structured AI recommendations (HolmesGPT contract).', {
  overallConfidence: num(0, 1, 'Overall confidence, 0.0-1.0.'),
  recommendationSource: enumOf(['holmesgpt', 'history-based'], 'Where the recommendations come from.'),
  generatedAt: time('When they were generated.'),
  stepOptimizations: list(stepOptimization, LIMITS.steps, 'Per-step suggestions.'),
  parallelExecutionSuggestions: list(
    obj(
      'Steps the AI believes can run in parallel.',
      {
        groupName: str(LIMITS.stepName, 'Group name.'),
        stepNumbers: list(int(1, 10000, 'A step number.'), LIMITS.dependsOn, 'Steps of the group.'),
        confidence: num(0, 1, 'Confidence, 0.0-1.0.'),
      },
      ['stepNumbers'],
    ),
    LIMITS.recommendations,
    'Parallel execution suggestions.',
  ),
  safetyImprovements: list(
    obj('A suggested safety improvement.', {
      description: str(LIMITS.longText, 'What to improve.'),
      stepNumber: int(0, 10000, 'Step; 0 is workflow-level.'),
      safetyCheck: str(LIMITS.shortText, 'Suggested safety check.'),
      priority: enumOf(LEVELS, 'Priority.'),
    }),
    LIMITS.recommendations,
    'Safety improvements.',
  ),
  similarWorkflowSuccessRate: num(0, 1, 'Success rate of similar workflows, 0.0-1.0.'),
  estimatedDuration: duration('Estimated duration, e.g. "5m30s".'),
  riskFactors: list(
    obj('A risk.', {
      factor: str(LIMITS.longText, 'The risk.'),
      severity: enumOf(LEVELS, 'Severity.'),
      probability: num(0, 1, 'Probability, 0.0-1.0.'),
      mitigation: str(LIMITS.longText, 'Suggested mitigation.'),
    }),
    LIMITS.recommendations,
    'Risk factors.',
  ),
});

export const workflowDefinition = obj(
  'The workflow to execute: inline, or resolved from a template (then name and version are the template’s).',
  {
    name: str(LIMITS.stepName, 'Workflow name.', { minLength: 1 }),
    version: str(64, 'Workflow version.'),
    // Atomic, not a map keyed by stepNumber: field tracking of a per-item list keeps an entry per
    // step and member in managedFields (larger than the steps themselves), which every status
    // write decodes and stores again. Unique step numbers are the planner's (DuplicateStepNumber).
    steps: list(workflowStep, LIMITS.steps, 'The steps; step numbers are unique.', {
      minItems: 1,
      'x-kubernetes-list-type': 'atomic',
    }),
    dependencies: {
      type: 'object',
      description: 'Dependencies by step name: step name -> names of the steps it waits for.',
      maxProperties: LIMITS.namedDependencies,
      additionalProperties: list(str(LIMITS.stepName, 'A step name.'), LIMITS.dependsOn, 'Step names.'),
    },
    aiRecommendations,
  },
  ['name', 'steps'],
);

/** The definition as a run records it (status.resolvedTemplate): checked once, on resolution. */
export const recordedWorkflowDefinition = withoutValidations(workflowDefinition).schema;

/**
 * The spec carries no x-kubernetes-validations: the apiserver would evaluate them on every status
 * write, although the spec cannot change (DESIGN 11). Its rules are a ValidatingAdmissionPolicy that
 * runs on create, and on updates of the resource itself for immutability, never on /status
 * (admission.ts); the planner re-checks all of them and adds unique step names (src/api/validation.ts).
 */
export const workflowExecutionSpec = obj(
  'The remediation to run. Immutable after creation.',
  {
    alertRemediationRef: objectReference,
    alertRef,
    retention: str(
      32,
      'How long the finished WorkflowExecution is kept (its audit record is written first), e.g. "24h"; "forever" keeps it. The operator’s --retention when unset (24h).',
      { pattern: RETENTION_PATTERN },
    ),
    workflowDefinition: workflowDefinition,
    workflowTemplateRef,
    parameters: stringMap(
      TEMPLATE_LIMITS.parameters,
      TEMPLATE_LIMITS.parameterValue,
      'Values of the template’s parameters, as text (with workflowTemplateRef only).',
    ),
    executionStrategy: obj(
      'How to execute the workflow.',
      {
        approvalRequired: bool('Wait for an approved-by annotation before executing.'),
        dryRunFirst: bool('Dry-run every step before executing.'),
        rollbackStrategy: enumOf(ROLLBACK_STRATEGIES, 'What happens when a critical step fails.'),
        maxRetries: int(0, LIMITS.maxRetries, 'Default retries per step after the first attempt.'),
        safetyChecks: list(
          safetyCheck,
          LIMITS.safetyChecks,
          'How a check’s failure is treated. rbac, health, capacity and network run for every workflow; a check not listed, or listed without required: false, blocks the run on failure; required: false makes its failure a warning.',
          {
            'x-kubernetes-list-type': 'map',
            'x-kubernetes-list-map-keys': ['type'],
          },
        ),
        targetCooldown: specDuration(
          'How long after a run completed on one of its targets this run waits (Blocked/RecentlyRemediated): it can only shorten the operator’s --target-cooldown, and "0s" opts out; the operator’s window when unset.',
        ),
        stabilityWindow: specDuration(
          `How long the targets must stay healthy (and the alert of alertRef resolved) before the run completes, ${STABILITY_WINDOW_BOUNDS.join(' to ')}, shorter than the monitoring deadline; an unhealthy check restarts it. The operator’s --stability-window when unset (60s).`,
        ),
        phaseTimeouts: obj('How long each phase may last (the specification’s values when unset).', {
          planning: specDuration(
            `Planning deadline, ${PHASE_TIMEOUT_BOUNDS.planning.join(' to ')}; 30s when unset.`,
          ),
          validation: specDuration(
            `Validation deadline (checks, dry run, approval), ${PHASE_TIMEOUT_BOUNDS.validation.join(' to ')}; 5m when unset.`,
          ),
          monitoring: specDuration(
            `Monitoring deadline, ${PHASE_TIMEOUT_BOUNDS.monitoring.join(' to ')}; 10m when unset.`,
          ),
        }),
      },
      ['rollbackStrategy'],
    ),
    adaptiveOrchestration: obj('Runtime optimization.', {
      optimizationEnabled: bool('Apply AI parallel-execution suggestions where dependencies allow.'),
      learningFromHistory: bool(
        'Adjust retries, timeouts and the estimate from the audit store’s history, once, at planning.',
      ),
      dynamicStepAdjustment: bool(
        'Adjust steps not yet started from what this run’s earlier steps of the same action and target did.',
      ),
    }),
  },
  ['executionStrategy'],
);

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
