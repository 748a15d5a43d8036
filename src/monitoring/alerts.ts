/**
 * The alert rules shipped with the operator (manifests/monitoring/prometheus-rule.yaml is generated
 * from here by `npm run generate`). One set of rules; thresholds, windows and `for` durations are
 * parameters, so tests run the very same rules with short ones.
 * Metrics are named through the catalogue (src/monitoring/metric-names.ts).
 */
import { metricName } from './metric-names.ts';

/** A Prometheus duration such as `30s`, `5m`, `1h`. */
export type PromDuration = `${number}${'ms' | 's' | 'm' | 'h' | 'd'}`;

export interface AlertParameters {
  /** Where docs/runbooks.md is published; each alert links to its own anchor. */
  runbookBaseUrl: string;
  /** Rate windows of the lifecycle alerts (the specification: 5m). */
  rateWindow: PromDuration;
  /** A phase lasting longer than this counts as stuck (the specification: 300 s). */
  stuckInPhaseSeconds: number;
  stuckInPhaseFor: PromDuration;
  /** Validation failures per workflow created (the specification: more than 10%). */
  validationFailureRatio: number;
  validationFailureFor: PromDuration;
  /** Deletions faster than creations by this factor (the specification: 1.5). */
  deletionToCreationRatio: number;
  deletionFor: PromDuration;
  /** p95 of steps per workflow (the specification: 10, for 10m) over this window. */
  complexStepsP95: number;
  complexWindow: PromDuration;
  complexFor: PromDuration;
  /** Share of reconciles that end in an error. */
  reconcileErrorRatio: number;
  reconcileErrorFor: PromDuration;
  workqueueDepth: number;
  workqueueDepthFor: PromDuration;
  /** p99 of the time a key waits in the queue before a worker takes it (buckets end at 10 s). */
  workqueueLatencySeconds: number;
  workqueueLatencyFor: PromDuration;
  noLeaderFor: PromDuration;
  /**
   * How long a workflow may wait at its approval gate before on-call is told. The operator fails it
   * (ValidationTimeout) 5 minutes after validation began, so the default leaves an approver time.
   */
  approvalTimeoutSeconds: number;
  approvalFor: PromDuration;
  auditFailureWindow: PromDuration;
  auditFailureFor: PromDuration;
  /**
   * How long workflows may report a child no executor picked up (the operator's --pickup-timeout,
   * 60 s, already passed when the condition appears) before on-call is told.
   */
  executorMissingFor: PromDuration;
}

export const DEFAULT_ALERT_PARAMETERS: AlertParameters = {
  runbookBaseUrl: 'https://github.com/kubernaut/workflowexecution-operator/blob/main/docs/runbooks.md',
  rateWindow: '5m',
  stuckInPhaseSeconds: 300,
  stuckInPhaseFor: '5m',
  validationFailureRatio: 0.1,
  validationFailureFor: '5m',
  deletionToCreationRatio: 1.5,
  deletionFor: '5m',
  complexStepsP95: 10,
  complexWindow: '1h',
  complexFor: '10m',
  reconcileErrorRatio: 0.1,
  reconcileErrorFor: '10m',
  workqueueDepth: 100,
  workqueueDepthFor: '10m',
  workqueueLatencySeconds: 5,
  workqueueLatencyFor: '10m',
  noLeaderFor: '5m',
  approvalTimeoutSeconds: 180,
  approvalFor: '1m',
  auditFailureWindow: '15m',
  auditFailureFor: '1m',
  executorMissingFor: '2m',
};

export type Severity = 'critical' | 'warning' | 'info';

export interface AlertRule {
  alert: string;
  expr: string;
  for: PromDuration;
  labels: { severity: Severity };
  annotations: { summary: string; description: string; runbook_url: string };
}

export interface RuleGroup {
  name: string;
  rules: AlertRule[];
}

/** The anchor of an alert's section in docs/runbooks.md (GitHub's heading slugs: lower case). */
export const runbookAnchor = (alert: string): string => alert.toLowerCase();

export function alertGroups(overrides: Partial<AlertParameters> = {}): RuleGroup[] {
  const p = { ...DEFAULT_ALERT_PARAMETERS, ...overrides };
  const rule = (
    alert: string,
    severity: Severity,
    expr: string,
    forDuration: PromDuration,
    summary: string,
    description: string,
  ): AlertRule => ({
    alert,
    expr,
    for: forDuration,
    labels: { severity },
    annotations: { summary, description, runbook_url: `${p.runbookBaseUrl}#${runbookAnchor(alert)}` },
  });
  const w = p.rateWindow;
  return [
    {
      name: 'workflowexecution-lifecycle',
      rules: [
        rule(
          'WorkflowExecutionStuckInPhase',
          'warning',
          `time() - ${metricName('phaseStartTimestamp')} > ${String(p.stuckInPhaseSeconds)}`,
          p.stuckInPhaseFor,
          `WorkflowExecution stuck in phase for more than ${String(p.stuckInPhaseSeconds)} s`,
          'WorkflowExecution {{ $labels.namespace }}/{{ $labels.name }} has been in phase {{ $labels.phase }} for {{ $value | humanizeDuration }}.',
        ),
        rule(
          'WorkflowExecutionHighValidationFailureRate',
          'warning',
          `sum(rate(${metricName('validationFailuresTotal')}[${w}])) / sum(rate(${metricName('createdTotal')}[${w}])) > ${String(p.validationFailureRatio)}`,
          p.validationFailureFor,
          'High workflow validation failure rate',
          `Validation or safety checks refused {{ $value | humanizePercentage }} of the workflows created in the last ${w} (threshold ${String(p.validationFailureRatio * 100)}%).`,
        ),
        rule(
          'WorkflowExecutionHighDeletionRate',
          'warning',
          `sum(rate(${metricName('deletedTotal')}[${w}])) > sum(rate(${metricName('createdTotal')}[${w}])) * ${String(p.deletionToCreationRatio)}`,
          p.deletionFor,
          'WorkflowExecution deletion rate exceeds creation rate',
          'More WorkflowExecutions are being deleted than created (possible cascade deletion from their AlertRemediations).',
        ),
        rule(
          'WorkflowExecutionComplexWorkflows',
          'info',
          `histogram_quantile(0.95, sum by (le) (rate(${metricName('workflowSteps')}_bucket[${p.complexWindow}]))) > ${String(p.complexStepsP95)}`,
          p.complexFor,
          `P95 workflow complexity exceeds ${String(p.complexStepsP95)} steps`,
          'The 95th percentile of steps per workflow is {{ $value }}: review the quality of the recommendations.',
        ),
        rule(
          'WorkflowExecutionAwaitingApproval',
          'warning',
          `(time() - max by (namespace, name) (${metricName('phaseStartTimestamp')}{phase="validating"}) > ${String(p.approvalTimeoutSeconds)})` +
            ` and on (namespace, name) (${metricName('workflowStatus')}{reason="AwaitingApproval"} == 1)`,
          p.approvalFor,
          `WorkflowExecution waiting for approval for more than ${String(p.approvalTimeoutSeconds)} s`,
          'WorkflowExecution {{ $labels.namespace }}/{{ $labels.name }} has waited {{ $value | humanizeDuration }} at its approval gate; it fails with ValidationTimeout 5 minutes after validation began.',
        ),
        rule(
          'WorkflowExecutionRollbackFailed',
          'critical',
          `max by (namespace, name) (${metricName('workflowStatus')}{reason="RollbackFailed"}) == 1`,
          '0m',
          'WorkflowExecution failed and its rollback failed: a person must act',
          'WorkflowExecution {{ $labels.namespace }}/{{ $labels.name }} ended RollbackFailed: some of its steps are applied and could not be undone.',
        ),
        rule(
          'WorkflowExecutionExecutorMissing',
          'critical',
          `sum by (namespace) (${metricName('workflowsAwaitingExecutor')}) > 0`,
          p.executorMissingFor,
          'No executor picks up the steps of WorkflowExecutions',
          '{{ $value }} WorkflowExecution(s) in {{ $labels.namespace }} have a step no executor has picked up (condition ExecutorPickup=False, reason ExecutorMissing): every such step will time out.',
        ),
      ],
    },
    {
      name: 'workflowexecution-controller',
      rules: [
        rule(
          'WorkflowExecutionReconcileErrors',
          'warning',
          `sum(rate(${metricName('reconcileErrorsTotal')}[${w}])) / sum(rate(${metricName('reconcileTotal')}[${w}])) > ${String(p.reconcileErrorRatio)}`,
          p.reconcileErrorFor,
          'WorkflowExecution reconciles are failing',
          `{{ $value | humanizePercentage }} of reconciles ended in an error over the last ${w}.`,
        ),
        rule(
          'WorkflowExecutionWorkQueueDepthHigh',
          'warning',
          `max(${metricName('workqueueDepth')}) > ${String(p.workqueueDepth)}`,
          p.workqueueDepthFor,
          'WorkflowExecution work queue is backing up',
          '{{ $value }} keys wait in the operator work queue.',
        ),
        rule(
          'WorkflowExecutionWorkQueueLatencyHigh',
          'warning',
          `histogram_quantile(0.99, sum by (le) (rate(${metricName('workqueueLatency')}_bucket[${w}]))) > ${String(p.workqueueLatencySeconds)}`,
          p.workqueueLatencyFor,
          'WorkflowExecution work queue latency is high',
          'The 99th percentile of the time a workflow waits for a worker is {{ $value | humanizeDuration }}.',
        ),
        rule(
          'WorkflowExecutionNoLeader',
          'critical',
          `(max(${metricName('leaderStatus')}) or vector(0)) < 1`,
          p.noLeaderFor,
          `No WorkflowExecution operator has held the leader lease for ${p.noLeaderFor}`,
          'No operator instance reports holding the leader lease: no workflow is being reconciled.',
        ),
        rule(
          'WorkflowExecutionAuditWritesFailing',
          'warning',
          `sum(increase(${metricName('auditWritesTotal')}{result="failure"}[${p.auditFailureWindow}])) > 0`,
          p.auditFailureFor,
          'WorkflowExecution audit records are not being written',
          `Audit writes failed over the last ${p.auditFailureWindow}; the records of finished runs are retried on their next reconcile.`,
        ),
      ],
    },
  ];
}

export const ALERT_NAMES: readonly string[] = alertGroups().flatMap((g) => g.rules.map((r) => r.alert));

/** The prometheus-operator resource that carries the groups. */
export function prometheusRule(overrides: Partial<AlertParameters> = {}): Record<string, unknown> {
  return {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: {
      name: 'workflowexecution-operator',
      namespace: 'kubernaut-system',
      labels: { 'app.kubernetes.io/name': 'workflowexecution-operator' },
    },
    spec: { groups: alertGroups(overrides) },
  };
}
