/**
 * The Grafana dashboard shipped with the operator (manifests/monitoring/dashboard.json is generated
 * from here by `npm run generate`): the specification's panels (active workflows, creation and
 * deletion rate, lifecycle duration p95, validation status) and the operator's (phases, step
 * outcomes, rollbacks, reconcile latency, work queue, leader), with a namespace variable.
 */

import { metricName, type MetricKeyOf } from './metric-names.ts';

/** Series that carry a namespace label are filtered by the dashboard's variable. */
const NS = 'namespace=~"$namespace"';
const RATE = '$__rate_interval';

interface Target {
  expr: string;
  legendFormat: string;
}

interface PanelSpec {
  title: string;
  description: string;
  type: 'timeseries' | 'stat';
  unit?: string;
  targets: Target[];
}

const t = (expr: string, legendFormat: string): Target => ({ expr, legendFormat });
type Histogram = MetricKeyOf<'histogram'>;
type Counter = MetricKeyOf<'counter'>;
const quantile = (q: number, metric: Histogram, by = '') =>
  `histogram_quantile(${String(q)}, sum by (le${by ? `, ${by}` : ''}) (rate(${metricName(metric)}_bucket[${RATE}])))`;
const p95 = (metric: Histogram, by = '') => quantile(0.95, metric, by);
const increaseBy = (by: string, metric: Counter) =>
  `sum by (${by}) (increase(${metricName(metric)}[${RATE}]))`;
const rate = (metric: Counter, selector = '') => `sum(rate(${metricName(metric)}${selector}[${RATE}]))`;
const countWithReason = (reason: string) =>
  `count(${metricName('workflowStatus')}{${NS}, reason="${reason}"}) or vector(0)`;

const series = (title: string, description: string, targets: Target[], unit?: string): PanelSpec => ({
  title,
  description,
  type: 'timeseries',
  ...(unit === undefined ? {} : { unit }),
  targets,
});

export const PANELS: readonly PanelSpec[] = [
  series(
    'WorkflowExecution lifecycle',
    'Workflows not yet finished, and how fast they are created and deleted (the specification).',
    [
      t(`sum(${metricName('activeTotal')}{${NS}})`, 'Active'),
      t(rate('createdTotal', `{${NS}}`), 'Creation rate'),
      t(rate('deletedTotal', `{${NS}}`), 'Deletion rate'),
    ],
  ),
  series(
    'Lifecycle duration (p95)',
    'Time from planning to completion or failure, by outcome.',
    [t(p95('lifecycleDuration', 'outcome'), '{{outcome}}')],
    's',
  ),
  series(
    'Validation status',
    'Safety checks passed and failed, and workflows refused by validation, by reason.',
    [
      t(increaseBy('result', 'safetyValidationTotal'), 'safety {{result}}'),
      t(increaseBy('reason', 'validationFailuresTotal'), 'refused {{reason}}'),
    ],
  ),
  series(
    'Workflows by phase',
    'Every WorkflowExecution by its phase (finished ones too, while they exist).',
    [t(`count by (phase) (${metricName('workflowStatus')}{${NS}})`, '{{phase}}')],
  ),
  series(
    'Phase duration (p95)',
    'How long each phase lasts.',
    [t(p95('phaseDuration', 'phase'), '{{phase}}')],
    's',
  ),
  series(
    'Executions by outcome',
    'Finished runs per outcome (success, partial_success, unknown, ineffective, failed).',
    [t(increaseBy('outcome', 'executionsTotal'), '{{outcome}}')],
  ),
  series('Step outcomes', 'Steps started by action, and completed by result.', [
    t(increaseBy('action', 'stepsCreatedTotal'), 'created {{action}}'),
    t(increaseBy('status', 'stepsCompletedTotal'), 'completed {{status}}'),
  ]),
  series(
    'Rollbacks',
    'Rollbacks started by reason, and workflows whose rollback failed (a person must act).',
    [
      t(increaseBy('reason', 'rollbacksTotal'), '{{reason}}'),
      t(countWithReason('RollbackFailed'), 'RollbackFailed'),
    ],
  ),
  {
    title: 'Awaiting approval',
    description: 'Workflows waiting at their approval gate.',
    type: 'stat',
    targets: [t(countWithReason('AwaitingApproval'), 'waiting')],
  },
  series(
    'Reconcile latency',
    'Time per reconcile (p50, p99) and reconciles by result.',
    [
      t(quantile(0.5, 'reconcileDuration'), 'p50'),
      t(quantile(0.99, 'reconcileDuration'), 'p99'),
      t(`sum by (result) (rate(${metricName('reconcileTotal')}[${RATE}]))`, '{{result}} /s'),
      t(rate('reconcileErrorsTotal'), 'errors /s'),
    ],
    's',
  ),
  series('Work queue', 'Keys waiting, added, retried, and how long they wait (p99).', [
    t(`max(${metricName('workqueueDepth')})`, 'depth'),
    t(rate('workqueueAdds'), 'adds /s'),
    t(rate('workqueueRetries'), 'retries /s'),
    t(quantile(0.99, 'workqueueLatency'), 'queue latency p99 (s)'),
  ]),
  series(
    'Apiserver traffic',
    'Requests to kube-apiserver by verb and answer (error: none came), and watches reopened.',
    [
      t(
        `sum by (method, code) (rate(${metricName('apiserverRequestsTotal')}[${RATE}]))`,
        '{{method}} {{code}} /s',
      ),
      t(rate('watchRestartsTotal'), 'watch restarts /s'),
    ],
  ),
  series('Leader', 'Which instance holds the leader lease (1).', [
    t(`max by (instance) (${metricName('leaderStatus')})`, '{{instance}}'),
  ]),
  series('Steps per workflow (p95)', 'Workflow complexity (the specification alerts above 10).', [
    t(p95('workflowSteps'), 'p95 steps'),
  ]),
  series('Effectiveness score (p50)', 'How well completed remediations worked (0-1).', [
    t(quantile(0.5, 'effectivenessScore'), 'p50'),
  ]),
  series('Audit writes', 'Audit records written and failed.', [
    t(increaseBy('result', 'auditWritesTotal'), '{{result}}'),
  ]),
];

const WIDTH = 12;
const HEIGHT = 8;

export function grafanaDashboard(): Record<string, unknown> {
  const datasource = { type: 'prometheus', uid: '${datasource}' };
  return {
    uid: 'workflowexecution-operator',
    title: 'WorkflowExecution operator',
    tags: ['kubernaut', 'workflowexecution'],
    timezone: 'browser',
    schemaVersion: 39,
    version: 1,
    refresh: '30s',
    time: { from: 'now-6h', to: 'now' },
    templating: {
      list: [
        { name: 'datasource', label: 'Data source', type: 'datasource', query: 'prometheus' },
        {
          name: 'namespace',
          label: 'Namespace',
          type: 'query',
          datasource,
          query: { query: `label_values(${metricName('workflowStatus')}, namespace)`, refId: 'namespaces' },
          refresh: 2,
          includeAll: true,
          multi: true,
          allValue: '.*',
          current: { text: 'All', value: '$__all' },
        },
      ],
    },
    panels: PANELS.map((panel, i) => ({
      id: i + 1,
      title: panel.title,
      description: panel.description,
      type: panel.type,
      datasource,
      gridPos: { h: HEIGHT, w: WIDTH, x: (i % 2) * WIDTH, y: Math.floor(i / 2) * HEIGHT },
      fieldConfig: { defaults: panel.unit ? { unit: panel.unit } : {}, overrides: [] },
      targets: panel.targets.map((target, j) => ({
        datasource,
        refId: String.fromCharCode(65 + j),
        expr: target.expr,
        legendFormat: target.legendFormat,
      })),
    })),
  };
}
