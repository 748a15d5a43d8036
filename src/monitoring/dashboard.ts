/**
 * The Grafana dashboard shipped with the operator (manifests/monitoring/dashboard.json is generated
 * from here by `npm run generate`): the specification's panels (active workflows, creation and
 * deletion rate, lifecycle duration p95, validation status) and the operator's (phases, step
 * outcomes, rollbacks, reconcile latency, work queue, leader), with a namespace variable.
 */

const M = 'kubernaut_workflowexecution';
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
const quantile = (q: number, metric: string, by = '') =>
  `histogram_quantile(${String(q)}, sum by (le${by ? `, ${by}` : ''}) (rate(${M}_${metric}_bucket[${RATE}])))`;
const p95 = (metric: string, by = '') => quantile(0.95, metric, by);
const increaseBy = (by: string, metric: string) => `sum by (${by}) (increase(${M}_${metric}[${RATE}]))`;
const rate = (metric: string, selector = '') => `sum(rate(${M}_${metric}${selector}[${RATE}]))`;
const countWithReason = (reason: string) =>
  `count(${M}_workflow_status{${NS}, reason="${reason}"}) or vector(0)`;

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
      t(`sum(${M}_active_total{${NS}})`, 'Active'),
      t(rate('created_total', `{${NS}}`), 'Creation rate'),
      t(rate('deleted_total', `{${NS}}`), 'Deletion rate'),
    ],
  ),
  series(
    'Lifecycle duration (p95)',
    'Time from planning to completion or failure, by outcome.',
    [t(p95('lifecycle_duration_seconds', 'outcome'), '{{outcome}}')],
    's',
  ),
  series(
    'Validation status',
    'Safety checks passed and failed, and workflows refused by validation, by reason.',
    [
      t(increaseBy('result', 'safety_validation_total'), 'safety {{result}}'),
      t(increaseBy('reason', 'validation_failures_total'), 'refused {{reason}}'),
    ],
  ),
  series(
    'Workflows by phase',
    'Every WorkflowExecution by its phase (finished ones too, while they exist).',
    [t(`count by (phase) (${M}_workflow_status{${NS}})`, '{{phase}}')],
  ),
  series(
    'Phase duration (p95)',
    'How long each phase lasts.',
    [t(p95('phase_duration_seconds', 'phase'), '{{phase}}')],
    's',
  ),
  series(
    'Executions by outcome',
    'Finished runs per outcome (success, partial_success, unknown, ineffective, failed).',
    [t(increaseBy('outcome', 'executions_total'), '{{outcome}}')],
  ),
  series('Step outcomes', 'Steps started by action, and completed by result.', [
    t(increaseBy('action', 'steps_created_total'), 'created {{action}}'),
    t(increaseBy('status', 'steps_completed_total'), 'completed {{status}}'),
  ]),
  series(
    'Rollbacks',
    'Rollbacks started by reason, and workflows whose rollback failed (a person must act).',
    [
      t(increaseBy('reason', 'rollbacks_total'), '{{reason}}'),
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
      t(quantile(0.5, 'reconcile_duration_seconds'), 'p50'),
      t(quantile(0.99, 'reconcile_duration_seconds'), 'p99'),
      t(`sum by (result) (rate(${M}_reconcile_total[${RATE}]))`, '{{result}} /s'),
      t(rate('reconcile_errors_total'), 'errors /s'),
    ],
    's',
  ),
  series('Work queue', 'Keys waiting, added, retried, and how long they wait (p99).', [
    t(`max(${M}_workqueue_depth)`, 'depth'),
    t(rate('workqueue_adds_total'), 'adds /s'),
    t(rate('workqueue_retries_total'), 'retries /s'),
    t(quantile(0.99, 'workqueue_queue_duration_seconds'), 'queue latency p99 (s)'),
  ]),
  series(
    'Apiserver traffic',
    'Requests to kube-apiserver by verb and answer (error: none came), and watches reopened.',
    [
      t(`sum by (method, code) (rate(${M}_apiserver_requests_total[${RATE}]))`, '{{method}} {{code}} /s'),
      t(rate('watch_restarts_total'), 'watch restarts /s'),
    ],
  ),
  series('Leader', 'Which instance holds the leader lease (1).', [
    t(`max by (instance) (${M}_leader)`, '{{instance}}'),
  ]),
  series('Steps per workflow (p95)', 'Workflow complexity (the specification alerts above 10).', [
    t(p95('workflow_steps'), 'p95 steps'),
  ]),
  series('Effectiveness score (p50)', 'How well completed remediations worked (0-1).', [
    t(quantile(0.5, 'effectiveness_score'), 'p50'),
  ]),
  series('Audit writes', 'Audit records written and failed.', [
    t(increaseBy('result', 'audit_writes_total'), '{{result}}'),
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
          query: { query: `label_values(${M}_workflow_status, namespace)`, refId: 'namespaces' },
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
