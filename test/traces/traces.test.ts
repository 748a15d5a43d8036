// Traces against a real Jaeger (built from Go modules): the operator in-process exporting over OTLP,
// the real executor as a process (`wfx executor`) exporting too. A run whose critical step fails
// and whose first step is rolled back gives one trace with the expected span tree: the run, its
// phases, each attempt and the rollback under their phase, and the executor's spans under the
// attempt (or rollback) they carried out.
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import { traceIdOf } from '../../src/core/trace-spans.ts';
import { ALERT_TRACEPARENT_ANNOTATION } from '../../src/core/alerts.ts';
import { Cleanup } from '../../src/shell/cleanup.ts';
import { createLogger } from '../../src/shell/logger.ts';
import { startOperator } from '../../src/shell/operator.ts';
import { startTracing } from '../../src/shell/tracing.ts';
import { TRACEPARENT_ANNOTATION } from '../../src/shell/children.ts';
import { sharedControlPlane } from '../support/shared-control-plane.ts';
import { startJaeger, type RunningJaeger } from '../../tooling/monitoring/jaeger.ts';
import { customStep, specWith } from '../fixtures/specs.ts';
import { adminInNamespace, inPhase, Workflows } from '../integration/support/harness.ts';

jest.setTimeout(600_000);

interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  references: { refType: string; traceID: string; spanID: string }[];
  processID: string;
  tags: { key: string; value: unknown }[];
}
interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
  processes: Record<string, { serviceName: string }>;
}

const OTEL_ENV = ['OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_BSP_SCHEDULE_DELAY'] as const;
const savedEnv = new Map(OTEL_ENV.map((k) => [k, process.env[k]]));

const cleanup = new Cleanup();
let jaeger: RunningJaeger;
let workflows: Workflows;

beforeAll(async () => {
  jaeger = cleanup.track('jaeger', await startJaeger(), (j) => j.stop());
  // The SDK reads its exporter's settings from the environment, as in production.
  process.env['OTEL_EXPORTER_OTLP_ENDPOINT'] = jaeger.otlpEndpoint;
  process.env['OTEL_BSP_SCHEDULE_DELAY'] = '200';
  cleanup.add('the environment', () => {
    for (const [k, v] of savedEnv)
      if (v === undefined) Reflect.deleteProperty(process.env, k);
      else process.env[k] = v;
  });
  const { client, namespace } = await adminInNamespace(cleanup, 'traces');
  const log = createLogger(process.env['WFE_TEST_LOG'] ?? 'error');
  const tracing = await startTracing('workflowexecution-operator', log);
  expect(tracing).toBeDefined();
  const kubeconfig = sharedControlPlane().kubeconfigPath;
  cleanup.track(
    'the operator',
    await startOperator({
      kubeconfig,
      namespaces: [namespace],
      workers: 2,
      log,
      monitoringPollMs: 200,
      executorUser: 'system:serviceaccount:kubernaut-system:kubernetes-executor',
      tracing,
    }),
    (o) => o.stop(),
  );
  const executor: ChildProcess = spawn(
    'node_modules/.bin/node',
    [
      'src/cli/wfx.ts',
      'executor',
      '-n',
      namespace,
      '--kubeconfig',
      kubeconfig,
      '--log-level',
      'warn',
      '--development',
    ],
    { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env } },
  );
  cleanup.add('the executor', async () => {
    const exited = new Promise((resolve) => executor.once('exit', resolve));
    executor.kill('SIGTERM');
    await exited;
  });
  workflows = new Workflows({ client, namespace });
});

afterAll(() => cleanup.run());

async function traceOf(traceId: string, until: (t: JaegerTrace) => boolean): Promise<JaegerTrace> {
  let last: JaegerTrace | undefined;
  for (let i = 0; i < 600; i++) {
    const res = await fetch(`${jaeger.queryUrl}/api/traces/${traceId}`);
    if (res.ok) {
      const body = (await res.json()) as { data?: JaegerTrace[] };
      last = body.data?.[0];
      if (last && until(last)) return last;
    }
    await sleep(200);
  }
  throw new Error(
    `trace ${traceId} never had the expected spans; it had: ${JSON.stringify(last?.spans.map((s) => s.operationName))}`,
  );
}

const tag = (s: JaegerSpan, key: string) => s.tags.find((t) => t.key === key)?.value;

describe('traces in Jaeger', () => {
  it('one trace per run: the run, its phases, attempts and rollback, and the executor’s spans under them', async () => {
    const name = 'traced';
    await workflows.apply(
      name,
      specWith([
        // The real executor runs only test hooks among custom actions (with --development): a
        // short sleep succeeds, and its rollback is one too.
        customStep(1, {
          parameters: { custom: { actionType: 'sleep', config: { duration: '100ms' } } },
          rollbackSpec: {
            action: 'custom',
            parameters: { custom: { actionType: 'sleep', config: { duration: '100ms' } } },
          },
        }),
        customStep(2, {
          criticalStep: true,
          parameters: { custom: { actionType: 'fail', config: { message: 'broken on purpose' } } },
        }),
      ]),
    );
    const wf = await workflows.waitFor(
      name,
      (w) => inPhase('failed')(w) && w.status?.stepStatuses?.[0]?.status === 'rolled_back',
      'the rollback of step 1',
    );
    const uid = wf.metadata.uid ?? '';
    const children = await workflows.childrenOf(name);
    const traceId = traceIdOf(uid);
    for (const c of children)
      expect(c.metadata.annotations?.[TRACEPARENT_ANNOTATION]).toContain(`00-${traceId}-`);

    const expected = [
      'workflow remediate-web',
      'phase validating',
      'phase executing',
      'phase rolling back',
      'step 1 step-1 attempt 1',
      'step 2 step-2 attempt 1',
      'rollback step 1 step-1',
      'carry out step custom',
      'carry out rollback custom',
    ];
    const trace = await traceOf(traceId, (t) => {
      const names = t.spans.map((s) => s.operationName);
      return (
        expected.every((n) => names.includes(n)) &&
        names.filter((n) => n === 'carry out step custom').length === 2
      );
    });
    const spans = trace.spans;
    const named = (n: string) => spans.filter((s) => s.operationName === n);
    const one = (n: string) => {
      const found = named(n);
      expect(found).toHaveLength(1);
      return found[0] as JaegerSpan;
    };
    const parentOf = (s: JaegerSpan) => s.references.find((r) => r.refType === 'CHILD_OF')?.spanID ?? null;
    const service = (s: JaegerSpan) => trace.processes[s.processID]?.serviceName;

    // Each span once: a run's spans are emitted by the commits that end them.
    for (const n of expected.filter((e) => e !== 'carry out step custom')) one(n);
    const root = one('workflow remediate-web');
    expect(parentOf(root)).toBeNull();
    expect(tag(root, 'workflow.uid')).toBe(uid);
    expect(tag(root, 'workflow.failure')).toBe('CriticalStepFailed');
    for (const phase of ['phase validating', 'phase executing', 'phase rolling back'])
      expect(parentOf(one(phase))).toBe(root.spanID);
    const executing = one('phase executing');
    const attempt1 = one('step 1 step-1 attempt 1');
    const attempt2 = one('step 2 step-2 attempt 1');
    const rollback = one('rollback step 1 step-1');
    expect(parentOf(attempt1)).toBe(executing.spanID);
    expect(parentOf(attempt2)).toBe(executing.spanID);
    expect(parentOf(rollback)).toBe(one('phase rolling back').spanID);
    expect(tag(attempt2, 'workflow.step.action')).toBe('custom');
    expect(tag(attempt2, 'otel.status_code')).toBe('ERROR');

    // The executor's spans, from its own process, under the attempt or rollback they carried out.
    const carried = [...named('carry out step custom'), one('carry out rollback custom')];
    for (const s of carried) expect(service(s)).toBe('kubernetes-executor');
    expect(service(root)).toBe('workflowexecution-operator');
    const underStep = (n: number) =>
      named('carry out step custom').find((s) => tag(s, 'workflow.step.number') === n);
    expect(parentOf(underStep(1) as JaegerSpan)).toBe(attempt1.spanID);
    expect(parentOf(underStep(2) as JaegerSpan)).toBe(attempt2.spanID);
    expect(parentOf(one('carry out rollback custom'))).toBe(rollback.spanID);

    // One trace for the run: searching the operator's traces by the workflow's uid finds this one.
    const search = (await (
      await fetch(
        `${jaeger.queryUrl}/api/traces?service=workflowexecution-operator&tags=${encodeURIComponent(JSON.stringify({ 'workflow.uid': uid }))}&limit=50`,
      )
    ).json()) as { data: JaegerTrace[] };
    expect(search.data.map((t) => t.traceID)).toEqual([traceId]);
  });

  it('links the run of an alert to the trace of the notification that made it', async () => {
    // What the alert receiver records when Alertmanager's webhook request carries a traceparent.
    const alertTrace = '4bf92f3577b34da6a3ce929d0e0e4736';
    const alertSpan = '00f067aa0ba902b7';
    const name = 'traced-alert';
    await workflows.apply(
      name,
      specWith([
        customStep(1, { parameters: { custom: { actionType: 'sleep', config: { duration: '10ms' } } } }),
      ]),
      { [ALERT_TRACEPARENT_ANNOTATION]: `00-${alertTrace}-${alertSpan}-01` },
    );
    const wf = await workflows.waitFor(name, inPhase('completed'));
    const trace = await traceOf(traceIdOf(wf.metadata.uid ?? ''), (t) =>
      t.spans.some((s) => s.operationName === 'workflow remediate-web'),
    );
    const root = trace.spans.find((s) => s.operationName === 'workflow remediate-web') as JaegerSpan;
    expect(root.references.filter((r) => r.refType !== 'CHILD_OF')).toEqual([
      { refType: 'FOLLOWS_FROM', traceID: alertTrace, spanID: alertSpan },
    ]);
  });
});
