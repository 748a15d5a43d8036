#!/usr/bin/env node
/**
 * wfx: the WorkflowExecution command line.
 *   wfx operator [flags]               run the operator
 *   wfx executor [flags]               run the executor (carries out KubernetesExecutions)
 *   wfx get [-A]                       list workflows with progress
 *   wfx describe NAME [--timeline]     phase, steps, conditions, what it waits for (and the run as a timeline)
 *   wfx approve|reject NAME            answer an approval gate as yourself
 *   wfx cancel|rollback NAME           request cancellation or a manual rollback as yourself
 *   wfx retry NAME [--wait 30]         re-run a failed run's failed and skipped steps, as yourself
 *   wfx diagram NAME [--format svg|mermaid|dot]   the workflow's statechart, active states marked
 *   wfx inspect [--port P] [-n NS] [--stately-port P]   the live statechart inspector (a web page on
 *                                      loopback; with --stately-port, Stately's inspector attaches too)
 *   wfx template list | show NAME [--version V]   workflow templates, their versions and parameters
 *   wfx run TEMPLATE [--version V] [-p key=value]... [--name N] [--approval] [--dry-run-first]
 * Common flags: --kubeconfig PATH, -n/--namespace NS.
 */
import { RETENTION_PATTERN } from '../api/schema/workflowexecution.ts';
import { parseArgs } from 'node:util';
import { connect, getWorkflow } from './context.ts';
import { CliError } from './errors.ts';
import { describeWithTimeline, describeWorkflow } from './commands/describe.ts';
import { getWorkflows } from './commands/get.ts';
import { REQUESTS, request, type RequestVerb } from './commands/request.ts';
import { runOperator } from './commands/operator.ts';
import { retry } from './commands/retry.ts';
import { listTemplates, parseParameters, runTemplate, showTemplate } from './commands/template.ts';
import { PROGRESS_WRITE_DELAY_MS } from '../core/status-writes.ts';
import { DEFAULT_RATE_LIMIT } from '../shell/kube/rate-limit.ts';
import { DEFAULT_COOLDOWN_POLICY } from '../core/target-cooldown.ts';
import { DEFAULT_STABILITY_WINDOW_MS } from '../core/monitoring-verdict.ts';
import { EXECUTOR_USAGE, OPERATOR_USAGE, USAGE } from './usage.ts';

const OPTIONS = {
  kubeconfig: { type: 'string' },
  namespace: { type: 'string', short: 'n' },
  'all-namespaces': { type: 'boolean', short: 'A' },
  format: { type: 'string' },
  output: { type: 'string', short: 'o' },
  help: { type: 'boolean', short: 'h' },
  port: { type: 'string' },
  wait: { type: 'string' },
  // template, run
  version: { type: 'string' },
  param: { type: 'string', short: 'p', multiple: true },
  name: { type: 'string' },
  approval: { type: 'boolean' },
  'dry-run-first': { type: 'boolean' },
  timeline: { type: 'boolean' },
  'stately-port': { type: 'string' },
  // operator
  namespaces: { type: 'string' },
  workers: { type: 'string' },
  'health-port': { type: 'string' },
  'metrics-port': { type: 'string' },
  'bind-address': { type: 'string' },
  'leader-elect': { type: 'boolean' },
  shards: { type: 'string' },
  'leader-election-namespace': { type: 'string' },
  'leader-election-id': { type: 'string' },
  'lease-duration': { type: 'string' },
  'renew-deadline': { type: 'string' },
  'retry-period': { type: 'string' },
  'log-level': { type: 'string' },
  'audit-db': { type: 'string' },
  'audit-postgres-url': { type: 'string' },
  'progress-write-delay': { type: 'string' },
  'executor-user': { type: 'string' },
  'pickup-timeout': { type: 'string' },
  'lock-namespace': { type: 'string' },
  'max-executing': { type: 'string' },
  'max-executing-per-namespace': { type: 'string' },
  'target-cooldown': { type: 'string' },
  'target-failure-threshold': { type: 'string' },
  'target-failure-block': { type: 'string' },
  'target-backoff': { type: 'string' },
  'target-backoff-max': { type: 'string' },
  // executor
  identity: { type: 'string' },
  'cluster-namespace': { type: 'string' },
  'max-in-flight': { type: 'string' },
  development: { type: 'boolean' },
  'alertmanager-url': { type: 'string' },
  'stability-window': { type: 'string' },
  'kube-api-qps': { type: 'string' },
  'metrics-cert-dir': { type: 'string' },
  'kube-api-burst': { type: 'string' },
  'alert-webhook-port': { type: 'string' },
  retention: { type: 'string' },
  'audit-retention-days': { type: 'string' },
} as const;

/** A flag in seconds, as milliseconds; `fallbackMs` when unset. */
function seconds(value: string | undefined, fallbackMs: number, flag: string): number {
  return int(value, fallbackMs / 1000, flag) * 1000;
}

/** --stability-window: whole seconds within the spec's bounds (STABILITY_WINDOW_BOUNDS, 0s to 1h). */
function stabilityWindow(value: string | undefined): number {
  const ms = seconds(value, DEFAULT_STABILITY_WINDOW_MS, 'stability-window');
  if (ms > 3_600_000)
    throw new CliError(`--stability-window must be at most 3600 (1h), not ${String(value)}`);
  return ms;
}

function int(value: string | undefined, fallback: number, flag: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw new CliError(`--${flag} must be a whole number, not ${JSON.stringify(value)}`);
  return n;
}

function rate(value: string | undefined, fallback: number, flag: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0)
    throw new CliError(`--${flag} must be a number of requests per second, not ${JSON.stringify(value)}`);
  return n;
}

/** --retention: a duration such as 24h (the CRD's spec.retention pattern), or "forever". */
function retentionFlag(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (!new RegExp(RETENTION_PATTERN).test(value))
    throw new CliError(
      `--retention must be a duration such as 24h, or forever, not ${JSON.stringify(value)}`,
    );
  return value;
}

async function main(argv: string[]): Promise<string | undefined> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw new CliError(`${(error as Error).message}\n${USAGE}`, 2);
  }
  const { values: v, positionals } = parsed;
  const [command, name, ...extra] = positionals;
  if (command === 'operator' && v.help) return OPERATOR_USAGE;
  if (command === 'executor' && v.help) return EXECUTOR_USAGE;
  if (v.help || command === undefined) return USAGE;
  if (command === 'template' || command === 'run') return templateCommand(v, positionals);
  if (extra.length > 0) throw new CliError(`unexpected arguments: ${extra.join(' ')}\n${USAGE}`, 2);

  if (command === 'executor') {
    const { runExecutor } = await import('./commands/executor.ts');
    const leaseDurationSeconds = int(v['lease-duration'], 15, 'lease-duration');
    if (leaseDurationSeconds < 1) throw new CliError('--lease-duration must be at least 1 (second)', 2);
    await runExecutor({
      kubeconfig: v.kubeconfig,
      namespace: v.namespace,
      identity: v.identity ?? process.env['POD_NAME'],
      leaseDurationSeconds,
      maxInFlight: Math.max(1, int(v['max-in-flight'], 32, 'max-in-flight')),
      clusterNamespace: v['cluster-namespace'] ?? process.env['POD_NAMESPACE'] ?? 'kubernaut-system',
      healthPort: int(v['health-port'], 8080, 'health-port'),
      metricsPort: int(v['metrics-port'], 9090, 'metrics-port'),
      metricsCertDir: v['metrics-cert-dir'],
      bindAddress: v['bind-address'] ?? '0.0.0.0',
      logLevel: v['log-level'] ?? 'info',
      development: v.development ?? false,
    });
    return undefined;
  }

  if (command === 'inspect') {
    const { runInspect } = await import('./commands/inspect.ts');
    await runInspect({
      kubeconfig: v.kubeconfig,
      namespaces: (v.namespaces ?? v.namespace ?? '').split(',').filter(Boolean),
      port: int(v.port, 8090, 'port'),
      host: v['bind-address'] ?? '127.0.0.1',
      statelyPort: v['stately-port'] === undefined ? undefined : int(v['stately-port'], 8080, 'stately-port'),
    });
    return undefined;
  }

  if (command === 'operator') {
    await runOperator({
      kubeconfig: v.kubeconfig,
      namespaces: (v.namespaces ?? v.namespace ?? '').split(',').filter(Boolean),
      workers: int(v.workers, 4, 'workers'),
      healthPort: int(v['health-port'], 8080, 'health-port'),
      metricsPort: int(v['metrics-port'], 9090, 'metrics-port'),
      alertWebhookPort:
        v['alert-webhook-port'] === undefined
          ? undefined
          : int(v['alert-webhook-port'], 0, 'alert-webhook-port'),
      bindAddress: v['bind-address'] ?? '0.0.0.0',
      leaderElect: v['leader-elect'] ?? false,
      shards: int(v.shards, 1, 'shards'),
      leaderElectionNamespace: v['leader-election-namespace'] ?? 'kubernaut-system',
      leaderElectionId: v['leader-election-id'] ?? 'workflowexecution-operator',
      leaseDurationMs: int(v['lease-duration'], 15, 'lease-duration') * 1000,
      renewDeadlineMs: int(v['renew-deadline'], 10, 'renew-deadline') * 1000,
      retryPeriodMs: int(v['retry-period'], 2, 'retry-period') * 1000,
      logLevel: v['log-level'] ?? 'info',
      auditDb: v['audit-db'],
      auditPostgresUrl: v['audit-postgres-url'] ?? process.env['WFE_AUDIT_POSTGRES_URL'],
      executorUser: v['executor-user'] ?? 'system:serviceaccount:kubernaut-system:kubernetes-executor',
      alertmanagerUrl: v['alertmanager-url'] ?? process.env['WFE_ALERTMANAGER_URL'],
      stabilityWindowMs: stabilityWindow(v['stability-window']),
      retention: retentionFlag(v['retention']),
      auditRetentionDays: int(v['audit-retention-days'], 90, 'audit-retention-days'),
      progressWriteDelayMs: int(v['progress-write-delay'], PROGRESS_WRITE_DELAY_MS, 'progress-write-delay'),
      metricsCertDir: v['metrics-cert-dir'],
      kubeApiQps: rate(v['kube-api-qps'], DEFAULT_RATE_LIMIT.qps, 'kube-api-qps'),
      kubeApiBurst: int(v['kube-api-burst'], DEFAULT_RATE_LIMIT.burst, 'kube-api-burst'),
      pickupTimeoutMs: int(v['pickup-timeout'], 60, 'pickup-timeout') * 1000,
      lockNamespace: v['lock-namespace'] ?? v['leader-election-namespace'] ?? 'kubernaut-system',
      maxExecuting: int(v['max-executing'], 0, 'max-executing'),
      maxExecutingPerNamespace: int(v['max-executing-per-namespace'], 0, 'max-executing-per-namespace'),
      cooldown: {
        cooldownMs: seconds(v['target-cooldown'], DEFAULT_COOLDOWN_POLICY.cooldownMs, 'target-cooldown'),
        failureThreshold: int(
          v['target-failure-threshold'],
          DEFAULT_COOLDOWN_POLICY.failureThreshold,
          'target-failure-threshold',
        ),
        failureBlockMs: seconds(
          v['target-failure-block'],
          DEFAULT_COOLDOWN_POLICY.failureBlockMs,
          'target-failure-block',
        ),
        backoffBaseMs: seconds(v['target-backoff'], DEFAULT_COOLDOWN_POLICY.backoffBaseMs, 'target-backoff'),
        backoffMaxMs: seconds(
          v['target-backoff-max'],
          DEFAULT_COOLDOWN_POLICY.backoffMaxMs,
          'target-backoff-max',
        ),
      },
    });
    return undefined;
  }

  const ctx = await connect(v.kubeconfig, v.namespace);
  try {
    if (command === 'get') return await getWorkflows(ctx, v['all-namespaces'] ?? false);
    if (!name) throw new CliError(`${command} needs a workflow name\n${USAGE}`, 2);
    if (command === 'describe') {
      const wf = await getWorkflow(ctx, name);
      if (!v.timeline) return describeWorkflow(wf);
      const { listChildren } = await import('../inspect/timeline.ts');
      return describeWithTimeline(wf, await listChildren(ctx.client, wf), Date.now());
    }
    if (command in REQUESTS) return await request(ctx, command as RequestVerb, name);
    if (command === 'retry') return await retry(ctx, name, { waitMs: int(v.wait, 30, 'wait') * 1000 });
    if (command === 'diagram') {
      const { diagram } = await import('./commands/diagram.ts');
      return await diagram(await getWorkflow(ctx, name), v.format ?? 'svg', v.output);
    }
    throw new CliError(`unknown command ${JSON.stringify(command)}\n${USAGE}`, 2);
  } finally {
    ctx.client.close();
  }
}

/** `wfx template list|show NAME` and `wfx run TEMPLATE`. */
async function templateCommand(
  v: { kubeconfig?: string | undefined; namespace?: string | undefined } & Partial<
    Record<'version' | 'name', string> & Record<'approval' | 'dry-run-first', boolean> & { param: string[] }
  >,
  positionals: readonly string[],
): Promise<string> {
  const [command, first, second, ...extra] = positionals;
  const run = command === 'run';
  const templateName = run ? first : second;
  const shape = run
    ? second === undefined
    : first === 'list'
      ? second === undefined
      : first === 'show' && second !== undefined;
  if (!shape || extra.length > 0 || (run && templateName === undefined))
    throw new CliError(`usage: wfx template list | wfx template show NAME | wfx run TEMPLATE\n${USAGE}`, 2);
  const ctx = await connect(v.kubeconfig, v.namespace);
  try {
    if (!run && first === 'list') return await listTemplates(ctx);
    if (!run) return await showTemplate(ctx, templateName ?? '', v.version);
    return await runTemplate(ctx, templateName ?? '', {
      version: v.version,
      parameters: parseParameters(v.param ?? []),
      name: v.name,
      approvalRequired: v.approval ?? false,
      dryRunFirst: v['dry-run-first'] ?? false,
    });
  } finally {
    ctx.client.close();
  }
}

try {
  const output = await main(process.argv.slice(2));
  if (output !== undefined) process.stdout.write(`${output}\n`);
} catch (error) {
  const cliError =
    error instanceof CliError ? error : new CliError((error as Error).message || String(error));
  process.stderr.write(`wfx: ${cliError.message}\n`);
  process.exitCode = cliError.exitCode;
}
