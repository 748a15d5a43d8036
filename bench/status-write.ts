/**
 * `npm run bench -- status-write`: what one status write of a WorkflowExecution costs the apiserver,
 * by workflow size (10, 60 and 150 steps) and by kind of write, figures only:
 * - PUT /status of the whole object (what the reconciler sends today);
 * - JSON merge patch of /status carrying the whole status;
 * - JSON merge patch of /status carrying only what one step's completion changes (arrays are
 *   replaced whole by a merge patch, so stepStatuses and conditions travel in full);
 * - and, for scale, a create of the same workflow (spec rules run there).
 * Every write changes the object (the next step completes), carries a resourceVersion precondition,
 * and is measured as kube-apiserver CPU (user + system from /proc/<pid>/stat) per write, less the
 * apiserver's idle CPU over the same time.
 *
 * Each case runs with the CRD as shipped and again with every x-kubernetes-validations rule removed
 * from the spec schema: that floor is what a status write costs when nothing of the spec is evaluated,
 * so shipped / floor shows what the spec's rules still cost each status write.
 *
 * The statuses are synthesized in the layout src/core/status.ts projects (a workflow in the middle of
 * its run: every step before k completed, step k executing), so this file needs neither the operator
 * nor an executor.
 */
import { performance } from 'node:perf_hooks';

import type { WorkflowExecution, WorkflowExecutionStatus } from '../src/api/generated/types.ts';
import { withoutValidations, type Schema } from '../src/api/schema/builders.ts';
import { workflowExecutionCrd } from '../src/api/schema/crds.ts';
import { initialContext } from '../machines/context.ts';
import type { ExecutionPlan } from '../machines/plan.ts';
import { MACHINE_VERSION } from '../machines/workflow.ts';
import { planWorkflow } from '../src/core/plan.ts';
import { STATECHART_SCHEMA } from '../src/core/statechart.ts';
import type { KubeClient } from '../src/shell/kube/client.ts';
import { WORKFLOW_EXECUTIONS, resourcePath } from '../src/shell/kube/resources.ts';
import { customStep, specWith } from '../test/fixtures/specs.ts';
import { cpuDuring, idleRate } from './support/apiserver-cpu.ts';
import { withBenchCluster } from './support/fresh-cluster.ts';
import { percentile, printTable } from './support/measure.ts';
import type { ResolvedSpec } from '../src/api/resolved-spec.ts';

const SIZES = [10, 60, 150] as const;
const WRITES = 40;
const WARMUP = 5;
const CREATES = 5;
const NAMESPACE = 'bench-status-write';
const EXECUTION_API = 'kubernetesexecution.kubernaut.io/v1';
const T0 = Date.parse('2026-01-01T00:00:00Z');

type Status = WorkflowExecutionStatus;
type StepStatus = NonNullable<Status['stepStatuses']>[number];
type Condition = NonNullable<Status['conditions']>[number];

const iso = (ms: number) => new Date(ms).toISOString();

/** A chain: step k waits for step k-1, so the dependsOn rules have every edge to check. */
const chainSpec = (steps: number): ResolvedSpec =>
  specWith(
    Array.from({ length: steps }, (_, i) =>
      customStep(i + 1, i === 0 ? {} : { dependsOn: [i], criticalStep: true, timeout: '2m' }),
    ),
  );

function stepStatus(name: string, n: number, current: number): StepStatus {
  const start = T0 + n * 1000;
  const base = { stepNumber: n, name: `step-${n}`, action: 'custom' as const };
  if (n > current) return { ...base, status: 'pending' };
  const ref = {
    apiVersion: EXECUTION_API,
    kind: 'KubernetesExecution',
    namespace: NAMESPACE,
    name: `${name}-step-${n}-a1`,
    uid: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
  };
  if (n === current)
    return { ...base, status: 'executing', startTime: iso(start), retriesAttempted: 0, k8sExecutionRef: ref };
  return {
    ...base,
    status: 'completed',
    startTime: iso(start),
    endTime: iso(start + 400),
    result: { success: true, executionTime: '400ms' },
    retriesAttempted: 0,
    k8sExecutionRef: ref,
  };
}

function conditions(current: number, steps: number): Condition[] {
  const at = iso(T0 + current * 1000);
  const message = `step ${current} (step-${current}) is running; ${current - 1}/${steps} finished`;
  return [
    {
      type: 'Ready',
      status: 'False',
      observedGeneration: 1,
      lastTransitionTime: iso(T0),
      reason: 'Executing',
      message,
    },
    {
      type: 'Reconciling',
      status: 'True',
      observedGeneration: 1,
      lastTransitionTime: at,
      reason: 'Executing',
      message,
    },
    {
      type: 'Stalled',
      status: 'False',
      observedGeneration: 1,
      lastTransitionTime: iso(T0),
      reason: 'Executing',
      message: 'making progress',
    },
  ];
}

function planOf(spec: ResolvedSpec): ExecutionPlan {
  const planned = planWorkflow(spec);
  if (!planned.ok) throw new Error(`the bench's spec is refused: ${JSON.stringify(planned.issues)}`);
  return planned.plan;
}

/** The persisted statechart: one region per step while executing, one run record per step. */
function statechart(current: number, steps: number): NonNullable<Status['statechart']> {
  const numbers = Array.from({ length: steps }, (_, i) => i + 1);
  const state = (n: number) => (n < current ? 'succeeded' : n === current ? 'running' : 'pending');
  const run = (n: number) => ({
    status: state(n),
    attempt: n <= current ? 1 : 0,
    startedAt: n <= current ? T0 + n * 1000 : null,
    finishedAt: n < current ? T0 + n * 1000 + 400 : null,
    retryAt: null,
    message: null,
    result: n < current ? { success: true, executionTime: '400ms' } : null,
    rollback: null,
  });
  const initial = initialContext(planOf(chainSpec(steps)), T0);
  return {
    schema: STATECHART_SCHEMA,
    machineVersion: MACHINE_VERSION,
    specHash: 'sha256:' + 'ab'.repeat(32),
    snapshot: {
      status: 'active',
      value: { executing: Object.fromEntries(numbers.map((n) => [`step${n}`, state(n)])) },
      context: {
        ...initial,
        steps: Object.fromEntries(numbers.map((n) => [String(n), run(n)])),
        times: { ...initial.times, validating: T0 + 5, executing: T0 + 10 },
      },
    },
  };
}

/** The status of `name` while step `current` of `steps` runs. */
function statusAt(name: string, current: number, steps: number): Status {
  const numbers = Array.from({ length: steps }, (_, i) => i + 1);
  return {
    observedGeneration: 1,
    phase: 'executing',
    currentStep: current - 1,
    totalSteps: steps,
    progress: `${current - 1}/${steps}`,
    executionPlan: {
      strategy: 'sequential',
      estimatedDuration: `${steps * 2}m`,
      rollbackStrategy: 'automatic',
      safetyChecks: [],
      parallelGroups: numbers.map((n) => [n]),
      rollbackOrder: [...numbers].reverse(),
    },
    validationResults: { safetyChecksPassed: true, dryRunPerformed: false },
    stepStatuses: numbers.map((n) => stepStatus(name, n, current)),
    executionMetrics: {
      totalDuration: `${current}s`,
      stepSuccessRate: 1,
      rollbacksPerformed: 0,
      resourcesAffected: 0,
    },
    adaptiveAdjustments: [],
    planningStartTime: iso(T0),
    validationStartTime: iso(T0 + 5),
    executionStartTime: iso(T0 + 10),
    conditions: conditions(current, steps),
    statechart: statechart(current, steps),
  };
}

/** What a merge patch must carry when step `current` completes and `current + 1` starts. */
function stepDelta(name: string, current: number, steps: number): Record<string, unknown> {
  const next = statusAt(name, current + 1, steps);
  const runs = (next.statechart?.snapshot as { context: { steps: Record<string, unknown> } }).context.steps;
  const value = (next.statechart?.snapshot as { value: { executing: Record<string, string> } }).value
    .executing;
  return {
    currentStep: next.currentStep,
    progress: next.progress,
    stepStatuses: next.stepStatuses,
    executionMetrics: { totalDuration: next.executionMetrics?.totalDuration },
    conditions: next.conditions,
    statechart: {
      snapshot: {
        value: {
          executing: {
            [`step${current}`]: value[`step${current}`],
            [`step${current + 1}`]: value[`step${current + 1}`],
          },
        },
        context: {
          steps: {
            [String(current)]: runs[String(current)],
            [String(current + 1)]: runs[String(current + 1)],
          },
        },
      },
    },
  };
}

type WriteKind =
  'PUT /status (whole object)' | 'merge patch /status (whole status)' | 'merge patch /status (one step)';
const WRITE_KINDS: readonly WriteKind[] = [
  'PUT /status (whole object)',
  'merge patch /status (whole status)',
  'merge patch /status (one step)',
];

interface Cell {
  cpuMsPerWrite: number;
  wallP50Ms: number;
  bytesPerWrite: number;
}

const workflowBody = (name: string, spec: ResolvedSpec) => ({
  apiVersion: `${WORKFLOW_EXECUTIONS.group}/${WORKFLOW_EXECUTIONS.version}`,
  kind: WORKFLOW_EXECUTIONS.kind,
  metadata: { name },
  spec,
});

/** Writes `WRITES` statuses of one kind to a fresh `steps`-step workflow; CPU per write. */
async function measureWrites(
  client: KubeClient,
  pid: number,
  idle: number,
  steps: number,
  kind: WriteKind,
  name: string,
): Promise<Cell> {
  let wf = await client.request<WorkflowExecution>(resourcePath(WORKFLOW_EXECUTIONS, NAMESPACE), {
    body: workflowBody(name, chainSpec(steps)),
  });
  const statusPath = resourcePath(WORKFLOW_EXECUTIONS, NAMESPACE, name, 'status');
  const first = Math.max(1, Math.floor(steps / 2) - Math.floor((WRITES + WARMUP) / 2));
  wf = await client.request<WorkflowExecution>(statusPath, {
    method: 'PUT',
    body: { ...wf, status: statusAt(name, first, steps) },
  });
  const samples: number[] = [];
  let bytes = 0;
  let current = first;
  // Cycles through the steps, so every write moves the run on by one step.
  const write = async () => {
    const rv = wf.metadata.resourceVersion;
    const next = current + 1 > steps - 1 ? 1 : current + 1;
    let body: unknown;
    let init: Parameters<KubeClient['request']>[1];
    if (kind === 'PUT /status (whole object)') {
      body = { ...wf, status: statusAt(name, next, steps) };
      init = { method: 'PUT', body };
    } else {
      const status =
        kind === 'merge patch /status (whole status)' || next !== current + 1
          ? statusAt(name, next, steps)
          : stepDelta(name, current, steps);
      body = { metadata: { resourceVersion: rv }, status };
      init = { method: 'PATCH', patchType: 'merge', body };
    }
    bytes += Buffer.byteLength(JSON.stringify(body));
    const t = performance.now();
    wf = await client.request<WorkflowExecution>(statusPath, init);
    samples.push(performance.now() - t);
    current = next;
  };
  for (let i = 0; i < WARMUP; i++) await write();
  samples.length = 0;
  bytes = 0;
  const cpu = await cpuDuring(pid, idle, async () => {
    for (let i = 0; i < WRITES; i++) await write();
  });
  samples.sort((a, b) => a - b);
  await client.request(resourcePath(WORKFLOW_EXECUTIONS, NAMESPACE, name), { method: 'DELETE' });
  return { cpuMsPerWrite: cpu / WRITES, wallP50Ms: percentile(samples, 50), bytesPerWrite: bytes / WRITES };
}

async function measureCreates(
  client: KubeClient,
  pid: number,
  idle: number,
  steps: number,
  tag: string,
): Promise<number> {
  const spec = chainSpec(steps);
  const names = Array.from({ length: CREATES }, (_, i) => `create-${tag}-${steps}-${i}`);
  const cpu = await cpuDuring(pid, idle, async () => {
    for (const name of names)
      await client.request(resourcePath(WORKFLOW_EXECUTIONS, NAMESPACE), { body: workflowBody(name, spec) });
  });
  for (const name of names)
    await client.request(resourcePath(WORKFLOW_EXECUTIONS, NAMESPACE, name), { method: 'DELETE' });
  return cpu / CREATES;
}

interface Crd {
  metadata: { name: string; resourceVersion?: string };
  spec: { versions: { schema: { openAPIV3Schema: { properties: { spec: Schema } } } }[] };
}

const CRD_PATH = `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${(workflowExecutionCrd['metadata'] as { name: string }).name}`;

/** Replaces the installed CRD's spec schema with one without rules; how many it removed (0: none). */
async function installFloorCrd(client: KubeClient): Promise<number> {
  const crd = await client.request<Crd>(CRD_PATH);
  const version = crd.spec.versions[0];
  if (!version) throw new Error('the CRD has no version');
  const { schema: spec, removed } = withoutValidations(version.schema.openAPIV3Schema.properties.spec);
  if (removed === 0) return 0;
  version.schema.openAPIV3Schema.properties.spec = spec;
  await client.request(CRD_PATH, { method: 'PUT', body: crd });
  // The apiserver swaps a CRD's handler asynchronously: wait until a spec only the rules refuse
  // (two steps of one name, which the planner refuses later) is accepted by a dry-run create.
  const probe = chainSpec(2);
  const [a, b] = probe.workflowDefinition.steps;
  if (a && b) b.name = a.name;
  const deadline = performance.now() + 30_000;
  for (;;) {
    try {
      await client.request(resourcePath(WORKFLOW_EXECUTIONS, NAMESPACE), {
        body: workflowBody('floor-probe', probe),
        query: { dryRun: 'All' },
      });
      return removed;
    } catch (error) {
      if (performance.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

const round = (v: number, digits = 1) => Math.round(v * 10 ** digits) / 10 ** digits;

export async function benchStatusWrite(): Promise<void> {
  await withBenchCluster(NAMESPACE, async ({ client, apiserverPid: pid }) => {
    const idle = await idleRate(pid);
    const variants: { label: string; cells: Map<string, Cell>; creates: Map<number, number> }[] = [];
    let rulesRemoved = -1;
    for (const label of ['as shipped', 'no spec rules (floor)']) {
      if (label !== 'as shipped') {
        rulesRemoved = await installFloorCrd(client);
        if (rulesRemoved === 0) break;
      }
      const cells = new Map<string, Cell>();
      const creates = new Map<number, number>();
      for (const steps of SIZES) {
        creates.set(steps, await measureCreates(client, pid, idle, steps, String(variants.length)));
        for (const [i, kind] of WRITE_KINDS.entries())
          cells.set(
            `${steps} ${kind}`,
            await measureWrites(client, pid, idle, steps, kind, `wf-${variants.length}-${steps}-${i}`),
          );
      }
      variants.push({ label, cells, creates });
    }
    const [shipped, floor] = variants;
    if (!shipped) return;
    const rows = SIZES.flatMap((steps) => [
      ...WRITE_KINDS.map((kind) => {
        const s = shipped.cells.get(`${steps} ${kind}`);
        const f = floor?.cells.get(`${steps} ${kind}`);
        return {
          steps,
          write: kind,
          'KiB sent': round((s?.bytesPerWrite ?? 0) / 1024),
          'p50 ms': round(s?.wallP50Ms ?? Number.NaN),
          'apiserver CPU ms/write': round(s?.cpuMsPerWrite ?? Number.NaN),
          ...(f
            ? {
                'floor CPU ms/write': round(f.cpuMsPerWrite),
                'shipped / floor': round((s?.cpuMsPerWrite ?? Number.NaN) / f.cpuMsPerWrite, 2),
              }
            : {}),
        };
      }),
      {
        steps,
        write: 'create (spec rules run here)',
        'KiB sent': round(Buffer.byteLength(JSON.stringify(workflowBody('x', chainSpec(steps)))) / 1024),
        'p50 ms': '',
        'apiserver CPU ms/write': round(shipped.creates.get(steps) ?? Number.NaN),
        ...(floor
          ? {
              'floor CPU ms/write': round(floor.creates.get(steps) ?? Number.NaN),
              'shipped / floor': round(
                (shipped.creates.get(steps) ?? Number.NaN) / (floor.creates.get(steps) ?? Number.NaN),
                2,
              ),
            }
          : {}),
      },
    ]);
    printTable(
      `status-write: kube-apiserver CPU per write of a WorkflowExecution (${WRITES} writes each, less idle ${round(idle)} ms/s)`,
      rows,
    );
    if (rulesRemoved === 0) console.log('  the shipped CRD has no rule on the spec: it is its own floor');
    else console.log(`  floor: the CRD with its ${rulesRemoved} spec rules removed`);
    const perStep = (steps: number, kind: WriteKind) =>
      (shipped.cells.get(`${steps} ${kind}`)?.cpuMsPerWrite ?? Number.NaN) / steps;
    for (const kind of WRITE_KINDS)
      console.log(
        `  ${kind}: CPU per write 150 / 10 steps ${round((shipped.cells.get(`150 ${kind}`)?.cpuMsPerWrite ?? Number.NaN) / (shipped.cells.get(`10 ${kind}`)?.cpuMsPerWrite ?? Number.NaN), 2)}x for 15x the steps; per step ${round(perStep(10, kind), 3)} -> ${round(perStep(150, kind), 3)} ms`,
      );
    const [put, whole, delta] = WRITE_KINDS.map(
      (kind) => shipped.cells.get(`150 ${kind}`)?.cpuMsPerWrite ?? Number.NaN,
    );
    if (put !== undefined && whole !== undefined && delta !== undefined)
      console.log(
        `  at 150 steps, merge patch / PUT: ${round(whole / put, 2)} (whole status), ${round(delta / put, 2)} (one step's change)`,
      );
  });
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) await benchStatusWrite();
