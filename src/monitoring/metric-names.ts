/**
 * Metric names for the alert rules and the dashboard, by catalogue key (src/monitoring/metrics.yaml):
 * a metric renamed or removed breaks the build of every rule and panel that names it.
 */
import { METRICS, type MetricKey } from './generated/metrics.ts';

export type { MetricKey, MetricKeyOf } from './generated/metrics.ts';

export const metricName = (key: MetricKey): string => METRICS[key].name;
