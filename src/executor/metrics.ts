/**
 * The executor's metrics, from the same catalogue as the operator's (src/monitoring/metrics.yaml,
 * section `executor`), in a registry of their own: actions by type and how they ended, their
 * duration, the actions in flight, claims won, and pick-up latency (a child's creation to its claim).
 */
import { Registry, collectDefaultMetrics } from 'prom-client';
import { METRICS, type MetricKey } from '../monitoring/generated/metrics.ts';
import { registerMetrics, type ExecutorMetricKey, type MetricOf } from '../shell/metrics.ts';

export type ExecutorMetrics = { readonly [K in ExecutorMetricKey]: MetricOf<K> } & {
  readonly registry: Registry;
};

export function createExecutorMetrics(processMetrics = false): ExecutorMetrics {
  const registry = new Registry();
  if (processMetrics) collectDefaultMetrics({ register: registry });
  const keys = (Object.keys(METRICS) as MetricKey[]).filter(
    (key): key is ExecutorMetricKey => METRICS[key].section === 'executor',
  );
  const built = registerMetrics(keys, registry);
  return Object.assign(Object.fromEntries(built) as { [K in ExecutorMetricKey]: MetricOf<K> }, { registry });
}
