// The shipped alert rules (manifests/monitoring/prometheus-rule.yaml) checked and unit-tested by a
// real promtool (built from Go modules): for every alert, series that fire it, with its labels and
// rendered annotations, and series that must not. Every alert links to its runbook section.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { parse, stringify } from 'yaml';
import { REPO_ROOT } from '../../tooling/controlplane/binaries.ts';
import { ensureMonitoringTools } from '../../tooling/monitoring/tools.ts';
import {
  ALERT_NAMES,
  DEFAULT_ALERT_PARAMETERS,
  runbookAnchor,
  type RuleGroup,
} from '../../src/monitoring/alerts.ts';
import { PROMETHEUS_RULE_FILE } from '../../src/monitoring/outputs.ts';

const run = promisify(execFile);
// The first run builds promtool from Go modules (minutes); later runs find it in the cache.
jest.setTimeout(30 * 60_000);

const M = 'kubernaut_workflowexecution';
const ns = { namespace: 'shop' };

interface Series {
  series: string;
  values: string;
}
interface ExpectedAlert {
  exp_labels: Record<string, string>;
  exp_annotations: Record<string, string>;
}
interface AlertCase {
  /** What the series describe, in the domain's words. */
  story: string;
  input: Series[];
  eval: string;
  /** Empty: the alert must not fire. */
  fires: ExpectedAlert[];
}

const selector = (name: string, labels: Record<string, string> = {}) =>
  `${name}{${Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(',')}}`;
const s = (name: string, labels: Record<string, string>, values: string): Series => ({
  series: selector(name, labels),
  values,
});
/** A histogram's buckets: `counts` maps each bound to its cumulative values. */
const histogram = (name: string, bounds: string[], valuesOf: (le: string) => string): Series[] =>
  [...bounds, '+Inf'].map((le) => s(`${name}_bucket`, { le }, valuesOf(le)));

const runbook = (alert: string) => `${DEFAULT_ALERT_PARAMETERS.runbookBaseUrl}#${runbookAnchor(alert)}`;
const alert = (
  name: string,
  severity: string,
  labels: Record<string, string>,
  summary: string,
  description: string,
): ExpectedAlert => ({
  exp_labels: { severity, ...labels },
  exp_annotations: { summary, description, runbook_url: runbook(name) },
});

/** Workflow shop/gated, validating since time 0, its Ready condition saying `reason`. */
const validatingSince0 = (reason: string): Series[] => [
  s(`${M}_phase_start_timestamp_seconds`, { ...ns, name: 'gated', phase: 'validating' }, '0x10'),
  s(`${M}_workflow_status`, { ...ns, name: 'gated', phase: 'validating', reason }, '1x10'),
];

const STEP_BOUNDS = ['1', '2', '3', '5', '10', '20', '50', '100', '200'];
const QUEUE_BOUNDS = ['0.0001', '0.001', '0.01', '0.1', '1', '10'];

/** The one alert both ways of losing the leader raise: nobody leads, or nobody is scraped. */
const noLeader = alert(
  'WorkflowExecutionNoLeader',
  'critical',
  {},
  'No WorkflowExecution operator has held the leader lease for 5m',
  'No operator instance reports holding the leader lease: no workflow is being reconciled.',
);

const CASES: Record<string, AlertCase[]> = {
  WorkflowExecutionStuckInPhase: [
    {
      story: 'a workflow executing for 11 minutes',
      input: [s(`${M}_phase_start_timestamp_seconds`, { ...ns, name: 'web', phase: 'executing' }, '0x20')],
      eval: '11m',
      fires: [
        alert(
          'WorkflowExecutionStuckInPhase',
          'warning',
          { ...ns, name: 'web', phase: 'executing' },
          'WorkflowExecution stuck in phase for more than 300 s',
          'WorkflowExecution shop/web has been in phase executing for 11m 0s.',
        ),
      ],
    },
    {
      story: 'a workflow executing for 4 minutes',
      input: [s(`${M}_phase_start_timestamp_seconds`, { ...ns, name: 'web', phase: 'executing' }, '420x20')],
      eval: '11m',
      fires: [],
    },
  ],
  WorkflowExecutionHighValidationFailureRate: [
    {
      story: '2 of every 10 workflows created are refused',
      input: [
        s(`${M}_created_total`, ns, '0+10x20'),
        s(`${M}_validation_failures_total`, { reason: 'SafetyCheckFailed' }, '0+2x20'),
      ],
      eval: '10m',
      fires: [
        alert(
          'WorkflowExecutionHighValidationFailureRate',
          'warning',
          {},
          'High workflow validation failure rate',
          'Validation or safety checks refused 20% of the workflows created in the last 5m (threshold 10%).',
        ),
      ],
    },
    {
      story: '1 of every 20 workflows created is refused',
      input: [
        s(`${M}_created_total`, ns, '0+20x20'),
        s(`${M}_validation_failures_total`, { reason: 'SafetyCheckFailed' }, '0+1x20'),
      ],
      eval: '10m',
      fires: [],
    },
  ],
  WorkflowExecutionHighDeletionRate: [
    {
      story: 'two workflows deleted for every one created',
      input: [
        s(`${M}_created_total`, ns, '0+1x20'),
        s(`${M}_deleted_total`, { ...ns, phase: 'executing' }, '0+2x20'),
      ],
      eval: '10m',
      fires: [
        alert(
          'WorkflowExecutionHighDeletionRate',
          'warning',
          {},
          'WorkflowExecution deletion rate exceeds creation rate',
          'More WorkflowExecutions are being deleted than created (possible cascade deletion from their AlertRemediations).',
        ),
      ],
    },
    {
      story: 'as many deleted as created (the 24-hour cleanup)',
      input: [
        s(`${M}_created_total`, ns, '0+1x20'),
        s(`${M}_deleted_total`, { ...ns, phase: 'completed' }, '0+1x20'),
      ],
      eval: '10m',
      fires: [],
    },
  ],
  WorkflowExecutionComplexWorkflows: [
    {
      story: 'every workflow has 20 steps',
      input: histogram(`${M}_workflow_steps`, STEP_BOUNDS, (le) => (Number(le) < 20 ? '0x40' : '0+1x40')),
      eval: '30m',
      fires: [
        alert(
          'WorkflowExecutionComplexWorkflows',
          'info',
          {},
          'P95 workflow complexity exceeds 10 steps',
          'The 95th percentile of steps per workflow is 19.5: review the quality of the recommendations.',
        ),
      ],
    },
    {
      story: 'every workflow has 3 steps',
      input: histogram(`${M}_workflow_steps`, STEP_BOUNDS, (le) => (Number(le) < 3 ? '0x40' : '0+1x40')),
      eval: '30m',
      fires: [],
    },
  ],
  WorkflowExecutionAwaitingApproval: [
    {
      story: 'a workflow waiting at its approval gate for 5 minutes',
      input: validatingSince0('AwaitingApproval'),
      eval: '5m',
      fires: [
        alert(
          'WorkflowExecutionAwaitingApproval',
          'warning',
          { ...ns, name: 'gated' },
          'WorkflowExecution waiting for approval for more than 180 s',
          'WorkflowExecution shop/gated has waited 5m 0s at its approval gate; it fails with ValidationTimeout 5 minutes after validation began.',
        ),
      ],
    },
    {
      story: 'a workflow waiting at its approval gate for 2 minutes',
      input: validatingSince0('AwaitingApproval'),
      eval: '2m',
      fires: [],
    },
    {
      story: 'a workflow validating for 5 minutes that waits for its dry run, not for approval',
      input: validatingSince0('DryRunning'),
      eval: '5m',
      fires: [],
    },
  ],
  WorkflowExecutionRollbackFailed: [
    {
      story: 'a workflow whose rollback failed',
      input: [
        s(`${M}_workflow_status`, { ...ns, name: 'bad', phase: 'failed', reason: 'RollbackFailed' }, '1x5'),
      ],
      eval: '1m',
      fires: [
        alert(
          'WorkflowExecutionRollbackFailed',
          'critical',
          { ...ns, name: 'bad' },
          'WorkflowExecution failed and its rollback failed: a person must act',
          'WorkflowExecution shop/bad ended RollbackFailed: some of its steps are applied and could not be undone.',
        ),
      ],
    },
    {
      story: 'a workflow that failed and was rolled back',
      input: [
        s(
          `${M}_workflow_status`,
          { ...ns, name: 'undone', phase: 'failed', reason: 'CriticalStepFailed' },
          '1x5',
        ),
      ],
      eval: '1m',
      fires: [],
    },
  ],
  WorkflowExecutionExecutorMissing: [
    {
      story: 'a workflow whose step no executor picked up, for 5 minutes',
      input: [s(`${M}_workflows_awaiting_executor`, ns, '1x5')],
      eval: '4m',
      fires: [
        alert(
          'WorkflowExecutionExecutorMissing',
          'critical',
          ns,
          'No executor picks up the steps of WorkflowExecutions',
          '1 WorkflowExecution(s) in shop have a step no executor has picked up (condition ExecutorPickup=False, reason ExecutorMissing): every such step will time out.',
        ),
      ],
    },
    {
      story: 'a step picked up a minute after it waited past the bound',
      input: [s(`${M}_workflows_awaiting_executor`, ns, '1 0 0 0 0 0')],
      eval: '4m',
      fires: [],
    },
  ],
  WorkflowExecutionReconcileErrors: [
    {
      story: 'half of the reconciles fail for 15 minutes',
      input: [s(`${M}_reconcile_total`, {}, '0+10x30'), s(`${M}_reconcile_errors_total`, {}, '0+5x30')],
      eval: '15m',
      fires: [
        alert(
          'WorkflowExecutionReconcileErrors',
          'warning',
          {},
          'WorkflowExecution reconciles are failing',
          '50% of reconciles ended in an error over the last 5m.',
        ),
      ],
    },
    {
      story: 'one reconcile in a hundred fails',
      input: [s(`${M}_reconcile_total`, {}, '0+100x30'), s(`${M}_reconcile_errors_total`, {}, '0+1x30')],
      eval: '15m',
      fires: [],
    },
  ],
  WorkflowExecutionWorkQueueDepthHigh: [
    {
      story: '500 keys waiting for 15 minutes',
      input: [s(`${M}_workqueue_depth`, {}, '500x20')],
      eval: '15m',
      fires: [
        alert(
          'WorkflowExecutionWorkQueueDepthHigh',
          'warning',
          {},
          'WorkflowExecution work queue is backing up',
          '500 keys wait in the operator work queue.',
        ),
      ],
    },
    {
      story: '500 keys waiting for 5 minutes, then drained',
      input: [s(`${M}_workqueue_depth`, {}, '500x5 0x15')],
      eval: '15m',
      fires: [],
    },
  ],
  WorkflowExecutionWorkQueueLatencyHigh: [
    {
      story: 'every key waits between 1 and 10 seconds',
      input: histogram(`${M}_workqueue_queue_duration_seconds`, QUEUE_BOUNDS, (le) =>
        Number(le) < 10 ? '0x30' : '0+10x30',
      ),
      eval: '15m',
      fires: [
        alert(
          'WorkflowExecutionWorkQueueLatencyHigh',
          'warning',
          {},
          'WorkflowExecution work queue latency is high',
          'The 99th percentile of the time a workflow waits for a worker is 9.91s.',
        ),
      ],
    },
    {
      story: 'every key waits less than 10 ms',
      input: histogram(`${M}_workqueue_queue_duration_seconds`, QUEUE_BOUNDS, (le) =>
        Number(le) < 0.01 ? '0x30' : '0+10x30',
      ),
      eval: '15m',
      fires: [],
    },
  ],
  WorkflowExecutionNoLeader: [
    {
      story: 'the only instance has not held the lease for 6 minutes',
      input: [s(`${M}_leader`, { instance: 'a' }, '0x10')],
      eval: '6m',
      fires: [noLeader],
    },
    {
      story: 'no instance is scraped at all for 6 minutes',
      input: [s('up', { job: 'other' }, '1x10')],
      eval: '6m',
      fires: [noLeader],
    },
    {
      story: 'one of two instances leads',
      input: [s(`${M}_leader`, { instance: 'a' }, '0x10'), s(`${M}_leader`, { instance: 'b' }, '1x10')],
      eval: '6m',
      fires: [],
    },
    {
      story: 'the lease changed hands within a minute',
      input: [s(`${M}_leader`, { instance: 'a' }, '1x3 0x7'), s(`${M}_leader`, { instance: 'b' }, '0x4 1x6')],
      eval: '6m',
      fires: [],
    },
  ],
  WorkflowExecutionAuditWritesFailing: [
    {
      story: 'an audit write fails every minute',
      input: [s(`${M}_audit_writes_total`, { result: 'failure' }, '0+1x20')],
      eval: '5m',
      fires: [
        alert(
          'WorkflowExecutionAuditWritesFailing',
          'warning',
          {},
          'WorkflowExecution audit records are not being written',
          'Audit writes failed over the last 15m; the records of finished runs are retried on their next reconcile.',
        ),
      ],
    },
    {
      story: 'audit writes succeed, and the last failure was 20 minutes ago',
      input: [
        s(`${M}_audit_writes_total`, { result: 'success' }, '0+1x40'),
        s(`${M}_audit_writes_total`, { result: 'failure' }, '0 1 1x38'),
      ],
      eval: '30m',
      fires: [],
    },
  ],
};

let tools: Awaited<ReturnType<typeof ensureMonitoringTools>>;
let dir: string;
let rulesFile: string;

beforeAll(async () => {
  tools = await ensureMonitoringTools();
  dir = mkdtempSync(join(tmpdir(), 'wfe-alerts-'));
  // The rule groups exactly as shipped, out of the PrometheusRule.
  const shipped = parse(readFileSync(join(REPO_ROOT, PROMETHEUS_RULE_FILE), 'utf8')) as {
    spec: { groups: RuleGroup[] };
  };
  rulesFile = join(dir, 'rules.yaml');
  writeFileSync(rulesFile, stringify(shipped.spec));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('the shipped alert rules', () => {
  it('pass promtool check rules', async () => {
    const { stdout } = await run(tools.promtool, ['check', 'rules', rulesFile]);
    expect(stdout).toContain(`SUCCESS: ${String(ALERT_NAMES.length)} rules found`);
  });

  it('have, for every alert, a case that fires it and one that must not', () => {
    expect(Object.keys(CASES).sort()).toEqual([...ALERT_NAMES].sort());
    for (const [name, cases] of Object.entries(CASES)) {
      expect({ name, fires: cases.some((c) => c.fires.length > 0) }).toEqual({ name, fires: true });
      expect({ name, quiet: cases.some((c) => c.fires.length === 0) }).toEqual({ name, quiet: true });
    }
  });

  it('fire, and stay quiet, as the cases say (promtool test rules)', async () => {
    const tests = Object.entries(CASES).flatMap(([alertname, cases]) =>
      cases.map((c) => ({
        name: `${alertname}: ${c.story}`,
        interval: '1m',
        input_series: c.input,
        alert_rule_test: [{ eval_time: c.eval, alertname, exp_alerts: c.fires }],
      })),
    );
    const testFile = join(dir, 'alerts.test.yaml');
    writeFileSync(testFile, stringify({ rule_files: [rulesFile], evaluation_interval: '1m', tests }));
    const { stdout } = await run(tools.promtool, ['test', 'rules', testFile]).catch((error: unknown) => {
      const failed = error as { stdout: string; stderr: string };
      throw new Error(`promtool test rules failed:\n${failed.stdout}${failed.stderr}`);
    });
    expect(stdout).toContain('SUCCESS');
    expect(stdout).not.toContain('FAILED');
  });

  it('each link to a section of docs/runbooks.md', () => {
    const headings = readFileSync(join(REPO_ROOT, 'docs', 'runbooks.md'), 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('## '))
      .map((l) => l.slice(3).trim().toLowerCase());
    const shipped = parse(readFileSync(join(REPO_ROOT, PROMETHEUS_RULE_FILE), 'utf8')) as {
      spec: { groups: RuleGroup[] };
    };
    for (const rule of shipped.spec.groups.flatMap((g) => g.rules)) {
      const anchor = rule.annotations.runbook_url.split('#')[1];
      expect({ alert: rule.alert, anchor: headings.includes(anchor ?? '') }).toEqual({
        alert: rule.alert,
        anchor: true,
      });
    }
  });
});
