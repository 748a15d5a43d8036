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
const p95 = (metric: string, by = '') =>
  `histogram_quantile(0.95, sum by (le${by ? `, ${by}` : ''}) (rate(${M}_${metric}_bucket[${RATE}])))`;

export const PANELS: readonly PanelSpec[] = [
  {
    title: 'WorkflowExecution lifecycle',
    description: 'Workflows not yet finished, and how fast they are created and deleted (the specification).',
    type: 'timeseries',
    targets: [
      t(`sum(${M}_active_total{${NS}})`, 'Active'),
      t(`sum(rate(${M}_created_total{${NS}}[${RATE}]))`, 'Creation rate'),
      t(`sum(rate(${M}_deleted_total{${NS}}[${RATE}]))`, 'Deletion rate'),
    ],
  },
  {
    title: 'Lifecycle duration (p95)',
    description: 'Time from planning to completion or failure, by outcome.',
    type: 'timeseries',
    unit: 's',
    targets: [t(p95('lifecycle_duration_seconds', 'outcome'), '{{outcome}}')],
  },
  {
    title: 'Validation status',
    description: 'Safety checks passed and failed, and workflows refused by validation, by reason.',
    type: 'timeseries',
    targets: [
      t(`sum by (result) (increase(${M}_safety_validation_total[${RATE}]))`, 'safety {{result}}'),
      t(`sum by (reason) (increase(${M}_validation_failures_total[${RATE}]))`, 'refused {{reason}}'),
    ],
  },
  {
    title: 'Workflows by phase',
    description: 'Every WorkflowExecution by its phase (finished ones too, while they exist).',
    type: 'timeseries',
    targets: [t(`count by (phase) (${M}_workflow_status{${NS}})`, '{{phase}}')],
  },
  {
    title: 'Phase duration (p95)',
    description: 'How long each phase lasts.',
    type: 'timeseries',
    unit: 's',
    targets: [t(p95('phase_duration_seconds', 'phase'), '{{phase}}')],
  },
  {
    title: 'Executions by outcome',
    description: 'Finished runs per outcome (success, partial_success, unknown, ineffective, failed).',
    type: 'timeseries',
    targets: [t(`sum by (outcome) (increase(${M}_executions_total[${RATE}]))`, '{{outcome}}')],
  },
  {
    title: 'Step outcomes',
    description: 'Steps started by action, and completed by result.',
    type: 'timeseries',
    targets: [
      t(`sum by (action) (increase(${M}_steps_created_total[${RATE}]))`, 'created {{action}}'),
      t(`sum by (status) (increase(${M}_steps_completed_total[${RATE}]))`, 'completed {{status}}'),
    ],
  },
  {
    title: 'Rollbacks',
    description: 'Rollbacks started by reason, and workflows whose rollback failed (a person must act).',
    type: 'timeseries',
    targets: [
      t(`sum by (reason) (increase(${M}_rollbacks_total[${RATE}]))`, '{{reason}}'),
      t(`count(${M}_workflow_status{${NS}, reason="RollbackFailed"}) or vector(0)`, 'RollbackFailed'),
    ],
  },
  {
    title: 'Awaiting approval',
    description: 'Workflows waiting at their approval gate.',
    type: 'stat',
    targets: [t(`count(${M}_workflow_status{${NS}, reason="AwaitingApproval"}) or vector(0)`, 'waiting')],
  },
  {
    title: 'Reconcile latency',
    description: 'Time per reconcile (p50, p99) and reconciles by result.',
    type: 'timeseries',
    unit: 's',
    targets: [
      t(
        `histogram_quantile(0.5, sum by (le) (rate(${M}_reconcile_duration_seconds_bucket[${RATE}])))`,
        'p50',
      ),
      t(
        `histogram_quantile(0.99, sum by (le) (rate(${M}_reconcile_duration_seconds_bucket[${RATE}])))`,
        'p99',
      ),
      t(`sum by (result) (rate(${M}_reconcile_total[${RATE}]))`, '{{result}} /s'),
      t(`sum(rate(${M}_reconcile_errors_total[${RATE}]))`, 'errors /s'),
    ],
  },
  {
    title: 'Work queue',
    description: 'Keys waiting, added, retried, and how long they wait (p99).',
    type: 'timeseries',
    targets: [
      t(`max(${M}_workqueue_depth)`, 'depth'),
      t(`sum(rate(${M}_workqueue_adds_total[${RATE}]))`, 'adds /s'),
      t(`sum(rate(${M}_workqueue_retries_total[${RATE}]))`, 'retries /s'),
      t(
        `histogram_quantile(0.99, sum by (le) (rate(${M}_workqueue_queue_duration_seconds_bucket[${RATE}])))`,
        'queue latency p99 (s)',
      ),
    ],
  },
  {
    title: 'Leader',
    description: 'Which instance holds the leader lease (1).',
    type: 'timeseries',
    targets: [t(`max by (instance) (${M}_leader)`, '{{instance}}')],
  },
  {
    title: 'Steps per workflow (p95)',
    description: 'Workflow complexity (the specification alerts above 10).',
    type: 'timeseries',
    targets: [t(p95('workflow_steps'), 'p95 steps')],
  },
  {
    title: 'Effectiveness score (p50)',
    description: 'How well completed remediations worked (0-1).',
    type: 'timeseries',
    targets: [
      t(`histogram_quantile(0.5, sum by (le) (rate(${M}_effectiveness_score_bucket[${RATE}])))`, 'p50'),
    ],
  },
  {
    title: 'Audit writes',
    description: 'Audit records written and failed.',
    type: 'timeseries',
    targets: [t(`sum by (result) (increase(${M}_audit_writes_total[${RATE}]))`, '{{result}}')],
  },
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
