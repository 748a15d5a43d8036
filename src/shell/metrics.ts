/**
 * Prometheus metrics: the specification's `kubernaut_workflowexecution_*` metrics and lifecycle
 * metrics, plus the controller metrics SREs expect (reconciles, work queue, leader status), in a
 * registry of their own so tests can run several operators in one process.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { WorkflowExecution } from '../api/generated/types.ts';

interface ObservedWorkflow {
  metadata?: Pick<WorkflowExecution['metadata'], 'namespace' | 'name'>;
  status?: WorkflowExecution['status'];
}
type WorkflowSource = () => readonly ObservedWorkflow[];

interface ApiserverTraffic {
  requests(): Iterable<{ method: string; code: string; count: number }>;
  watchRestarts(): number;
}

const isFinished = (phase: string) => phase === 'completed' || phase === 'failed';

/** Where the status records when each unfinished phase began. */
const PHASE_START_FIELDS = {
  planning: 'planningStartTime',
  validating: 'validationStartTime',
  executing: 'executionStartTime',
  monitoring: 'monitoringStartTime',
  rolling_back: 'rollbackStartTime',
} as const;

export class OperatorMetrics {
  readonly registry = new Registry();

  // The specification's service metrics.
  readonly executionsTotal = this.counter(
    'kubernaut_workflowexecution_executions_total',
    'Total number of workflow executions',
    ['workflow_name', 'outcome'],
  );
  readonly phaseDuration = this.histogram(
    'kubernaut_workflowexecution_phase_duration_seconds',
    'Duration of workflow phases',
    ['phase'],
    [1, 5, 10, 30, 60, 120, 300, 600],
  );
  readonly activeExecutions: Gauge = new Gauge({
    name: 'kubernaut_workflowexecution_active_executions',
    help: 'Number of workflows currently executing',
    registers: [this.registry],
    collect: () => {
      this.activeExecutions.set(
        this.inFlight()
          .filter((w) => w.phase === 'executing')
          .reduce((n, w) => n + w.count, 0),
      );
    },
  });
  readonly stepsCreatedTotal = this.counter(
    'kubernaut_workflowexecution_steps_created_total',
    'Total workflow steps created',
    ['workflow_name', 'action'],
  );
  readonly stepsCompletedTotal = this.counter(
    'kubernaut_workflowexecution_steps_completed_total',
    'Total workflow steps completed',
    ['workflow_name', 'action', 'status'],
  );
  readonly rollbacksTotal = this.counter(
    'kubernaut_workflowexecution_rollbacks_total',
    'Total rollbacks performed',
    ['workflow_name', 'reason'],
  );
  readonly retriesTotal = this.counter(
    'kubernaut_workflowexecution_retries_total',
    'Retry requests of failed runs (wfx retry) decided, accepted or refused',
    ['workflow_name', 'result'],
  );
  readonly effectivenessScore = this.histogram(
    'kubernaut_workflowexecution_effectiveness_score',
    'Workflow effectiveness score (0.0-1.0)',
    [],
    [0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0],
  );
  readonly safetyValidationTotal = this.counter(
    'kubernaut_workflowexecution_safety_validation_total',
    'Total safety validations performed',
    ['check_type', 'result'],
  );
  readonly adaptiveAdjustmentsTotal = this.counter(
    'kubernaut_workflowexecution_adaptive_adjustments_total',
    'Total adaptive adjustments made during execution',
    ['adjustment_type'],
  );

  // Lifecycle metrics.
  readonly createdTotal = this.counter(
    'kubernaut_workflowexecution_created_total',
    'WorkflowExecution resources seen for the first time',
    ['namespace'],
  );
  readonly deletedTotal = this.counter(
    'kubernaut_workflowexecution_deleted_total',
    'WorkflowExecution resources finalized for deletion',
    ['namespace', 'phase'],
  );
  readonly activeTotal: Gauge<'namespace' | 'phase'> = new Gauge({
    name: 'kubernaut_workflowexecution_active_total',
    help: 'WorkflowExecution resources not yet finished, by phase',
    labelNames: ['namespace', 'phase'],
    registers: [this.registry],
    collect: () => {
      this.activeTotal.reset();
      for (const { namespace, phase, count } of this.inFlight())
        this.activeTotal.set({ namespace, phase }, count);
    },
  });
  readonly lifecycleDuration = this.histogram(
    'kubernaut_workflowexecution_lifecycle_duration_seconds',
    'Time from planning to completion or failure',
    ['outcome'],
    [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600],
  );
  readonly validationFailuresTotal = this.counter(
    'kubernaut_workflowexecution_validation_failures_total',
    'Workflows refused by validation or safety checks',
    ['reason'],
  );
  /**
   * One series per unfinished workflow, for its current phase only, read off the cache at scrape
   * time and never set elsewhere: a series set per transition would stay for every workflow and
   * phase ever seen until a scrape replaced it (without a scraper, forever).
   */
  readonly phaseStartTimestamp: Gauge<'namespace' | 'name' | 'phase'> = new Gauge({
    name: 'kubernaut_workflowexecution_phase_start_timestamp_seconds',
    help: 'When the current phase of a workflow not yet finished started',
    labelNames: ['namespace', 'name', 'phase'],
    registers: [this.registry],
    collect: () => {
      this.phaseStartTimestamp.reset();
      for (const wf of this.workflowSource?.() ?? []) {
        const phase = wf.status?.phase ?? 'planning';
        if (isFinished(phase) || !(phase in PHASE_START_FIELDS)) continue;
        const field = PHASE_START_FIELDS[phase];
        const started = Date.parse(wf.status?.[field] ?? '');
        if (!Number.isFinite(started)) continue;
        this.phaseStartTimestamp.set(
          { namespace: wf.metadata?.namespace ?? '', name: wf.metadata?.name ?? '', phase },
          started / 1000,
        );
      }
    },
  });
  /**
   * 1 per workflow (finished ones too, while the resource exists) with its phase and the reason of its
   * Ready condition (typed: `AwaitingApproval`, `RollbackFailed`, ...), so alerts can name the
   * workflows a person must act on.
   */
  readonly workflowStatus: Gauge<'namespace' | 'name' | 'phase' | 'reason'> = new Gauge({
    name: 'kubernaut_workflowexecution_workflow_status',
    help: 'Each WorkflowExecution with its phase and the reason of its Ready condition (value 1)',
    labelNames: ['namespace', 'name', 'phase', 'reason'],
    registers: [this.registry],
    collect: () => {
      this.workflowStatus.reset();
      for (const wf of this.workflowSource?.() ?? []) {
        const reason = wf.status?.conditions?.find((c) => c.type === 'Ready')?.reason ?? '';
        this.workflowStatus.set(
          {
            namespace: wf.metadata?.namespace ?? '',
            name: wf.metadata?.name ?? '',
            phase: wf.status?.phase ?? 'planning',
            reason,
          },
          1,
        );
      }
    },
  });
  readonly auditWritesTotal = this.counter(
    'kubernaut_workflowexecution_audit_writes_total',
    'Audit record writes by result (success, failure)',
    ['result'],
  );
  readonly workflowSteps = this.histogram(
    'kubernaut_workflowexecution_workflow_steps',
    'Number of steps per workflow',
    [],
    [1, 2, 3, 5, 10, 20, 50, 100, 200],
  );

  // Controller metrics.
  readonly reconcileTotal = this.counter(
    'kubernaut_workflowexecution_reconcile_total',
    'Reconciles by result',
    ['result'],
  );
  readonly conflictsTotal = this.counter(
    'kubernaut_workflowexecution_write_conflicts_total',
    'Writes refused with 409 Conflict and redone from a fresh read',
    [],
  );
  readonly reconcileErrorsTotal = this.counter(
    'kubernaut_workflowexecution_reconcile_errors_total',
    'Reconciles that ended in an error',
    [],
  );
  readonly reconcileDuration = this.histogram(
    'kubernaut_workflowexecution_reconcile_duration_seconds',
    'Time per reconcile',
    [],
    [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  );
  readonly workqueueDepth = this.gauge(
    'kubernaut_workflowexecution_workqueue_depth',
    'Keys waiting in the work queue',
    [],
  );
  readonly workqueueAdds = this.counter(
    'kubernaut_workflowexecution_workqueue_adds_total',
    'Keys added to the work queue',
    [],
  );
  readonly workqueueLatency = this.histogram(
    'kubernaut_workflowexecution_workqueue_queue_duration_seconds',
    'Time a key waits before a worker takes it',
    [],
    [0.0001, 0.001, 0.01, 0.1, 1, 10],
  );
  readonly workqueueWorkDuration = this.histogram(
    'kubernaut_workflowexecution_workqueue_work_duration_seconds',
    'Time a worker spends on a key',
    [],
    [0.001, 0.01, 0.1, 1, 10],
  );
  readonly workqueueRetries = this.counter(
    'kubernaut_workflowexecution_workqueue_retries_total',
    'Rate-limited requeues after errors',
    [],
  );
  /** Read off the client at scrape time: every request it sent, by verb and answer. */
  readonly apiserverRequestsTotal = this.scrapedCounter(
    'kubernaut_workflowexecution_apiserver_requests_total',
    'Requests to kube-apiserver by verb and HTTP status code (code "error": no answer came)',
    ['method', 'code'],
    () => [...(this.apiserver?.requests() ?? [])].map(({ method, code, count }) => [{ method, code }, count]),
  );
  readonly watchRestartsTotal = this.scrapedCounter(
    'kubernaut_workflowexecution_watch_restarts_total',
    'Watches of the caches broken or failed and opened again',
    [],
    () => [[{}, this.apiserver?.watchRestarts() ?? 0]],
  );
  readonly leaderStatus = this.gauge(
    'kubernaut_workflowexecution_leader',
    '1 while this instance holds the leader lease',
    [],
  );

  constructor(processMetrics = false) {
    if (processMetrics) collectDefaultMetrics({ register: this.registry });
  }

  /** Where the in-flight gauges read workflows from at scrape time (the controller's cache). */
  private workflowSource: WorkflowSource | undefined;

  /**
   * The gauges of workflows in flight are read off the cache at scrape time, not counted up and
   * down: counting would drift across operator restarts and leader changes.
   */
  observeWorkflows(source: WorkflowSource): void {
    this.workflowSource = source;
  }

  private apiserver: ApiserverTraffic | undefined;

  /** Where the apiserver traffic counters read from at scrape time (the client and the caches). */
  observeApiserver(traffic: ApiserverTraffic): void {
    this.apiserver = traffic;
  }

  private inFlight(): { namespace: string; phase: string; count: number }[] {
    const byKey = new Map<string, { namespace: string; phase: string; count: number }>();
    for (const wf of this.workflowSource?.() ?? []) {
      const phase = wf.status?.phase ?? 'planning';
      if (isFinished(phase)) continue;
      const namespace = wf.metadata?.namespace ?? '';
      const entry = byKey.get(`${namespace}/${phase}`) ?? { namespace, phase, count: 0 };
      entry.count++;
      byKey.set(`${namespace}/${phase}`, entry);
    }
    return [...byKey.values()];
  }

  private counter<L extends string>(name: string, help: string, labelNames: L[]): Counter<L> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  /** A counter whose totals live elsewhere (a client, the caches), copied in at scrape time. */
  private scrapedCounter<L extends string>(
    name: string,
    help: string,
    labelNames: L[],
    totals: () => [Partial<Record<L, string>>, number][],
  ): Counter<L> {
    const counter: Counter<L> = new Counter({
      name,
      help,
      labelNames,
      registers: [this.registry],
      collect: () => {
        counter.reset();
        for (const [labels, value] of totals()) counter.inc(labels, value);
      },
    });
    return counter;
  }

  private gauge<L extends string>(name: string, help: string, labelNames: L[]): Gauge<L> {
    return new Gauge({ name, help, labelNames, registers: [this.registry] });
  }

  private histogram<L extends string>(
    name: string,
    help: string,
    labelNames: L[],
    buckets: number[],
  ): Histogram<L> {
    return new Histogram({ name, help, labelNames, buckets, registers: [this.registry] });
  }
}
