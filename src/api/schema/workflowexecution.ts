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

export const objectReference = obj('A reference to another object.', {
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

export const stepNumber = int(1, 10000, 'Step number, unique within the workflow.');

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
