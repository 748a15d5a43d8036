/**
 * Prometheus metrics: the specification's `kubernaut_workflowexecution_*` metrics and lifecycle
 * metrics, plus the controller metrics SREs expect (reconciles, work queue, leader status), in a
 * registry of their own so tests can run several operators in one process. Names, types, help and
 * labels come from the catalogue (src/monitoring/metrics.yaml, generated into a typed module); this
 * file builds them and says how the ones read at scrape time are read.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { WorkflowExecution } from '../api/generated/types.ts';
import { BLOCKED_CONDITION, EXECUTOR_PICKUP_CONDITION } from '../api/conditions.ts';
import {
  METRICS,
  type ExecutorMetricKey,
  type MetricKey,
  type OperatorMetricKey,
} from '../monitoring/generated/metrics.ts';

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

type Spec<K extends MetricKey> = (typeof METRICS)[K];
type LabelOf<K extends MetricKey> = Spec<K>['labelNames'][number];
/** The prom-client metric a catalogue entry becomes, with its label names as types. */
export type MetricOf<K extends MetricKey> = Spec<K>['type'] extends 'counter'
  ? Counter<LabelOf<K>>
  : Spec<K>['type'] extends 'histogram'
    ? Histogram<LabelOf<K>>
    : Gauge<LabelOf<K>>;

export type OperatorMetrics = { readonly [K in OperatorMetricKey]: MetricOf<K> } & {
  readonly registry: Registry;
  /**
   * Where the gauges of workflows read at scrape time come from (the controller's cache): not
   * counted up and down, which would drift across operator restarts and leader changes.
   */
  observeWorkflows(source: WorkflowSource): void;
  /** Where the apiserver traffic counters are read from at scrape time (the client and the caches). */
  observeApiserver(traffic: ApiserverTraffic): void;
};

/** Every metric of the catalogue, registered in a registry of its own. */
export function createOperatorMetrics(processMetrics = false): OperatorMetrics {
  const registry = new Registry();
  if (processMetrics) collectDefaultMetrics({ register: registry });
  let workflows: WorkflowSource = () => [];
  let apiserver: ApiserverTraffic | undefined;
  const built = new Map<MetricKey, Counter | Gauge | Histogram>();
  const metric = <K extends OperatorMetricKey>(key: K): MetricOf<K> => built.get(key) as MetricOf<K>;

  const inFlight = (): { namespace: string; phase: string; count: number }[] => {
    const byKey = new Map<string, { namespace: string; phase: string; count: number }>();
    for (const wf of workflows()) {
      const phase = wf.status?.phase ?? 'planning';
      if (isFinished(phase)) continue;
      const namespace = wf.metadata?.namespace ?? '';
      const entry = byKey.get(`${namespace}/${phase}`) ?? { namespace, phase, count: 0 };
      entry.count++;
      byKey.set(`${namespace}/${phase}`, entry);
    }
    return [...byKey.values()];
  };

  /** How the metrics read at scrape time are read: each sets its values from scratch. */
  const collectors: {
    [K in OperatorMetricKey as Spec<K>['readAtScrape'] extends true ? K : never]: () => void;
  } = {
    activeExecutions: () => {
      metric('activeExecutions').set(
        inFlight()
          .filter((w) => w.phase === 'executing')
          .reduce((n, w) => n + w.count, 0),
      );
    },
    activeTotal: () => {
      const gauge = metric('activeTotal');
      gauge.reset();
      for (const { namespace, phase, count } of inFlight()) gauge.set({ namespace, phase }, count);
    },
    // One series per unfinished workflow, for its current phase only: a series set per transition
    // would stay for every workflow and phase ever seen until a scrape replaced it.
    phaseStartTimestamp: () => {
      const gauge = metric('phaseStartTimestamp');
      gauge.reset();
      for (const wf of workflows()) {
        const phase = wf.status?.phase ?? 'planning';
        if (isFinished(phase) || !(phase in PHASE_START_FIELDS)) continue;
        const field = PHASE_START_FIELDS[phase];
        const started = Date.parse(wf.status?.[field] ?? '');
        if (!Number.isFinite(started)) continue;
        gauge.set(
          { namespace: wf.metadata?.namespace ?? '', name: wf.metadata?.name ?? '', phase },
          started / 1000,
        );
      }
    },
    // 1 per workflow (finished ones too, while the resource exists) with the typed reason of its
    // Ready condition, so alerts can name the workflows a person must act on.
    workflowStatus: () => {
      const gauge = metric('workflowStatus');
      gauge.reset();
      for (const wf of workflows()) {
        gauge.set(
          {
            namespace: wf.metadata?.namespace ?? '',
            name: wf.metadata?.name ?? '',
            phase: wf.status?.phase ?? 'planning',
            reason: wf.status?.conditions?.find((c) => c.type === 'Ready')?.reason ?? '',
          },
          1,
        );
      }
    },
    // Level-based: workflows whose status says a child waits for an executor (the operator's
    // ExecutorPickup condition), so the alert holds exactly while one waits.
    workflowsAwaitingExecutor: () => {
      const gauge = metric('workflowsAwaitingExecutor');
      gauge.reset();
      const byNamespace = new Map<string, number>();
      for (const wf of workflows()) {
        const waiting = wf.status?.conditions?.some(
          (c) => c.type === EXECUTOR_PICKUP_CONDITION && c.status === 'False',
        );
        const namespace = wf.metadata?.namespace ?? '';
        if (waiting) byNamespace.set(namespace, (byNamespace.get(namespace) ?? 0) + 1);
      }
      for (const [namespace, count] of byNamespace) gauge.set({ namespace }, count);
    },
    // Level-based, from the Blocked condition the status carries: exactly the runs waiting now.
    workflowsBlocked: () => {
      const gauge = metric('workflowsBlocked');
      gauge.reset();
      const byKey = new Map<string, { namespace: string; reason: string; count: number }>();
      for (const wf of workflows()) {
        const blocked = wf.status?.conditions?.find(
          (c) => c.type === BLOCKED_CONDITION && c.status === 'True',
        );
        if (!blocked) continue;
        const namespace = wf.metadata?.namespace ?? '';
        const key = `${namespace}/${blocked.reason}`;
        const entry = byKey.get(key) ?? { namespace, reason: blocked.reason, count: 0 };
        entry.count++;
        byKey.set(key, entry);
      }
      for (const { namespace, reason, count } of byKey.values()) gauge.set({ namespace, reason }, count);
    },
    apiserverRequestsTotal: () => {
      const counter = metric('apiserverRequestsTotal');
      counter.reset();
      for (const { method, code, count } of apiserver?.requests() ?? []) counter.inc({ method, code }, count);
    },
    watchRestartsTotal: () => {
      const counter = metric('watchRestartsTotal');
      counter.reset();
      counter.inc(apiserver?.watchRestarts() ?? 0);
    },
  };

  const operatorKeys = (Object.keys(METRICS) as MetricKey[]).filter(
    (key): key is OperatorMetricKey => METRICS[key].section !== 'executor',
  );
  for (const [key, made] of registerMetrics(operatorKeys, registry, collectors)) built.set(key, made);

  return Object.assign(Object.fromEntries(built) as { [K in OperatorMetricKey]: MetricOf<K> }, {
    registry,
    observeWorkflows: (source: WorkflowSource) => {
      workflows = source;
    },
    observeApiserver: (traffic: ApiserverTraffic) => {
      apiserver = traffic;
    },
  });
}

/** Builds the catalogue's metrics of these keys into the registry, with their scrape-time collectors. */
export function registerMetrics<K extends MetricKey>(
  keys: readonly K[],
  registry: Registry,
  collectors: Partial<Record<K, () => void>> = {},
): Map<K, Counter | Gauge | Histogram> {
  const built = new Map<K, Counter | Gauge | Histogram>();
  for (const key of keys) {
    const spec: Spec<MetricKey> = METRICS[key];
    const collect = collectors[key];
    const config = {
      name: spec.name,
      help: spec.help,
      labelNames: spec.labelNames,
      registers: [registry],
      ...(collect ? { collect } : {}),
    };
    built.set(
      key,
      spec.type === 'counter'
        ? new Counter(config)
        : spec.type === 'gauge'
          ? new Gauge(config)
          : new Histogram({ ...config, buckets: [...spec.buckets] }),
    );
  }
  return built;
}

export type { ExecutorMetricKey };
