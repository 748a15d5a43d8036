#!/usr/bin/env node
/**
 * wfx: the WorkflowExecution command line.
 *   wfx operator [flags]               run the operator
 *   wfx executor [-n NS]               run the demo executor (carries out KubernetesExecutions)
 *   wfx get [-A]                       list workflows with progress
 *   wfx describe NAME                  phase, steps, conditions, what it waits for
 *   wfx approve|reject NAME            answer an approval gate as yourself
 *   wfx cancel|rollback NAME           request cancellation or a manual rollback as yourself
 *   wfx retry NAME [--wait 30]         re-run a failed run's failed and skipped steps, as yourself
 *   wfx diagram NAME [--format svg|mermaid|dot]   the workflow's statechart, active states marked
 *   wfx inspect [--port P] [-n NS]     the live statechart inspector (a web page on loopback)
 * Common flags: --kubeconfig PATH, -n/--namespace NS.
 */
import { RETENTION_PATTERN } from '../api/schema/workflowexecution.ts';
import { parseArgs } from 'node:util';
import { connect, getWorkflow } from './context.ts';
import { CliError } from './errors.ts';
import { describeWorkflow } from './commands/describe.ts';
import { getWorkflows } from './commands/get.ts';
import { REQUESTS, request, type RequestVerb } from './commands/request.ts';
import { runOperator } from './commands/operator.ts';
import { retry } from './commands/retry.ts';
import { PROGRESS_WRITE_DELAY_MS } from '../core/status-writes.ts';

const USAGE = `usage: wfx <command> [flags]
commands:
  operator                 run the operator (wfx operator --help: its flags)
  executor [-n NS]         run the demo executor
  get [-A]                 list workflows
  describe NAME            show one workflow and what it waits for
  approve NAME | reject NAME | cancel NAME | rollback NAME
  retry NAME [--wait SECONDS]   re-run the failed and skipped steps of a failed run (waits 30 s for the decision)
  diagram NAME [--format svg|mermaid|dot] [-o FILE]
  inspect [--port 8090] [-n NS]   live statechart inspector on http://127.0.0.1:PORT/
flags: --kubeconfig PATH, -n NAMESPACE`;

const OPERATOR_USAGE = `usage: wfx operator [flags]
  --kubeconfig PATH              default: $KUBECONFIG, else in-cluster, else ~/.kube/config
  --namespaces A,B               namespaces to watch (default: all)
  --workers N                    concurrent reconciles (4)
  --health-port N                /healthz and /ready (8080); --metrics-port N: /metrics (9090)
  --bind-address ADDR            (0.0.0.0)
  --leader-elect                 one active replica, by a Lease
  --shards N                     spread workflows over N shards, a Lease each (1; excludes --leader-elect)
  --leader-election-namespace NS (kubernaut-system); --leader-election-id NAME (workflowexecution-operator)
  --lease-duration S, --renew-deadline S, --retry-period S   (15, 10, 2)
  --log-level LEVEL              error, warn, info, debug (info)
  --audit-db PATH                SQLite audit store; --audit-postgres-url URL (or WFE_AUDIT_POSTGRES_URL)
  --executor-user USER           who may write children's status (system:serviceaccount:kubernaut-system:kubernetes-executor)
  --alertmanager-url URL         where the effectiveness check reads firing alerts
  --retention DURATION           keep finished WorkflowExecutions this long, e.g. 24h, or "forever" (24h)
  --audit-retention-days N       keep audit rows this many days (90)
  --progress-write-delay MS      how long step progress may wait to share a status write (1000; 0: at once)`;

const OPTIONS = {
  kubeconfig: { type: 'string' },
  namespace: { type: 'string', short: 'n' },
  'all-namespaces': { type: 'boolean', short: 'A' },
  format: { type: 'string' },
  output: { type: 'string', short: 'o' },
  help: { type: 'boolean', short: 'h' },
  port: { type: 'string' },
  wait: { type: 'string' },
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
  'alertmanager-url': { type: 'string' },
  retention: { type: 'string' },
  'audit-retention-days': { type: 'string' },
} as const;

function int(value: string | undefined, fallback: number, flag: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw new CliError(`--${flag} must be a whole number, not ${JSON.stringify(value)}`);
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
  if (v.help || command === undefined) return USAGE;
  if (extra.length > 0) throw new CliError(`unexpected arguments: ${extra.join(' ')}\n${USAGE}`, 2);

  if (command === 'executor') {
    const { runExecutor } = await import('./commands/executor.ts');
    await runExecutor({
      kubeconfig: v.kubeconfig,
      namespace: v.namespace,
      logLevel: v['log-level'] ?? 'info',
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
      alertmanagerUrl: v['alertmanager-url'],
      retention: retentionFlag(v['retention']),
      auditRetentionDays: int(v['audit-retention-days'], 90, 'audit-retention-days'),
      progressWriteDelayMs: int(v['progress-write-delay'], PROGRESS_WRITE_DELAY_MS, 'progress-write-delay'),
    });
    return undefined;
  }

  const ctx = await connect(v.kubeconfig, v.namespace);
  try {
    if (command === 'get') return await getWorkflows(ctx, v['all-namespaces'] ?? false);
    if (!name) throw new CliError(`${command} needs a workflow name\n${USAGE}`, 2);
    if (command === 'describe') return describeWorkflow(await getWorkflow(ctx, name));
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

try {
  const output = await main(process.argv.slice(2));
  if (output !== undefined) process.stdout.write(`${output}\n`);
} catch (error) {
  const cliError =
    error instanceof CliError ? error : new CliError((error as Error).message || String(error));
  process.stderr.write(`wfx: ${cliError.message}\n`);
  process.exitCode = cliError.exitCode;
}
