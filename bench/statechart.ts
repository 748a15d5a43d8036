/**
 * Statechart figures for 10, 50 and 200 steps: persisted snapshot size, one reconcile's worth of
 * rehydrate + one transition + persist, and machine build time with and without the cache. Then the
 * status bytes per step of chains of 10 and 150 custom steps as the core projects and persists them
 * (no cluster: the same `projectWorkflow` the reconciler writes), part by part.
 */
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { WorkflowExecution, WorkflowStep } from '../src/api/generated/types.ts';
import type { ResolvedSpec } from '../src/api/resolved-spec.ts';
import type { WorkflowEvent } from '../machines/events.ts';
import { compileWorkflow, machineOf } from '../src/core/load.ts';
import { projectWorkflow } from '../src/core/project.ts';
import { CompiledWorkflows } from '../src/shell/compiled-workflows.ts';
import { planWorkflow } from '../src/core/plan.ts';
import { specHash } from '../src/core/spec-hash.ts';
import { advance, initialSnapshot, persist, rehydrate } from '../src/core/statechart.ts';
import { measure, printTable, round1 } from './support/measure.ts';
import { chain, specOf as shapeSpecOf } from './support/shapes.ts';
import { HEALTHY } from '../test/model/workflow-world.ts';

const T0 = 1_735_732_800_000;

/** Groups of 10 parallel steps, each group after the previous one. */
function specOf(count: number): ResolvedSpec {
  const steps: WorkflowStep[] = Array.from({ length: count }, (_, i) => ({
    stepNumber: i + 1,
    name: `step-${i + 1}`,
    action: 'scale-deployment',
    parameters: { scaleDeployment: { namespace: 'shop', deployment: `web-${i + 1}`, replicas: 3 } },
    dependsOn: i < 10 ? [] : [Math.floor(i / 10) * 10],
    maxRetries: 1,
    rollbackSpec: {
      action: 'scale-to-previous',
      parameters: { scaleToPrevious: { namespace: 'shop', deployment: `web-${i + 1}`, previousReplicas: 2 } },
    },
  }));
  return {
    workflowDefinition: { name: `bench-${count}`, steps },
    executionStrategy: { rollbackStrategy: 'automatic' },
  };
}

/** A full GC on demand, for heap figures (the flag is set at run time: `npm run bench` has none). */
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/** The heap one compiled workflow (plan, hash, machine) holds, over `copies` of it. */
function compiledHeapKiB(spec: ResolvedSpec, copies = 20): number {
  const kept: unknown[] = [];
  collectGarbage();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < copies; i++) kept.push(compileWorkflow(spec));
  collectGarbage();
  const after = process.memoryUsage().heapUsed;
  return kept.length === copies ? Math.round((after - before) / copies / 1024) : Number.NaN;
}

export async function benchStatechart(): Promise<void> {
  const rows: Record<string, string | number>[] = [];
  for (const count of [10, 50, 200]) {
    const spec = specOf(count);
    const result = planWorkflow(spec);
    if (!result.ok) throw new Error('bench spec is invalid');
    const plan = result.plan;
    const hash = specHash(spec);
    const machine = machineOf(plan);
    // Mid-run: the first ten steps done, the next group running.
    let snapshot = advance(machine, initialSnapshot(machine, T0), [{ type: 'TICK', now: T0 }]);
    snapshot = advance(
      machine,
      snapshot,
      Array.from({ length: Math.min(10, count) }, (_, i) => ({
        type: 'STEP_RESULT' as const,
        now: T0 + 1000,
        step: i + 1,
        attempt: 1,
        outcome: 'succeeded' as const,
      })),
    );
    const envelope = JSON.parse(JSON.stringify(persist(snapshot, hash))) as ReturnType<typeof persist>;
    const bytes = Buffer.byteLength(JSON.stringify(envelope));
    const reconcile = await measure(
      () => {
        const restored = rehydrate(envelope, { machine, hash, plan });
        if (!restored.ok) throw new Error(restored.message);
        const next = advance(machine, restored.snapshot, [{ type: 'TICK', now: T0 + 2000 }]);
        return JSON.stringify(persist(next, hash));
      },
      count >= 200 ? 50 : 200,
    );
    const build = await measure(() => machineOf(plan), count >= 200 ? 20 : 100, 3);
    const compiled = new CompiledWorkflows();
    const resource = { metadata: { uid: `bench-${count}`, generation: 1 }, spec } as WorkflowExecution;
    compiled.of(resource);
    const cachedStart = performance.now();
    const cachedRuns = 1000;
    for (let i = 0; i < cachedRuns; i++) compiled.of(resource);
    const cachedMs = (performance.now() - cachedStart) / cachedRuns;
    rows.push({
      steps: count,
      'snapshot bytes': bytes,
      'reconcile median ms': reconcile.medianMs,
      'reconcile p99 ms': reconcile.p99Ms,
      'build ms (no cache)': build.medianMs,
      'build ms (cached)': cachedMs,
      'cache speed-up': Math.round(build.medianMs / Math.max(cachedMs, 1e-6)),
      'compiled KiB (heap)': compiledHeapKiB(spec),
    });
  }
  printTable('statechart: rehydrate + one transition + persist, machine build', rows);
  benchStatusBytes();
}

/** How long each step of the byte-count chains takes; the next starts as it completes. */
const STEP_MS = 405;

/**
 * The status of a chain of `steps` custom steps after `done` of them completed (the next one
 * running), or finished and verified effective, as the reconciler would write it.
 */
function chainStatus(steps: number, done: number, finished: boolean) {
  const compiled = compileWorkflow(shapeSpecOf(chain(steps)));
  if (!compiled.ok) throw new Error('bench spec is invalid');
  const { machine } = compiled;
  const events: WorkflowEvent[] = [{ type: 'TICK', now: T0 }];
  for (let n = 1; n <= done; n++)
    events.push({ type: 'STEP_RESULT', now: T0 + n * STEP_MS, step: n, attempt: 1, outcome: 'succeeded' });
  if (finished)
    events.push({
      type: 'EFFECTIVENESS_RESULT',
      now: T0 + (done + 1) * STEP_MS,
      ...HEALTHY,
    });
  const snapshot = advance(machine, initialSnapshot(machine, T0), events);
  const loaded = { kind: 'running' as const, compiled, snapshot, persisted: true };
  // Named like the chains bench's workflows, so the child references are as long as there.
  return projectWorkflow(loaded, { name: 'wf-r0-0', generation: 1, status: undefined }, T0);
}

export function benchStatusBytes(): void {
  const bytes = (v: unknown) => Buffer.byteLength(JSON.stringify(v ?? null));
  const rows = (
    [
      ['10 steps, finished', 10, 10, true],
      ['150 steps, mid-run (step 76 running)', 150, 75, false],
      ['150 steps, finished', 150, 150, true],
    ] as const
  ).map(([state, steps, done, finished]) => {
    const status = chainStatus(steps, done, finished);
    const snapshot = status.statechart?.snapshot as { value: unknown; context: { steps: unknown } };
    const perStep = (v: unknown) => round1(bytes(v) / steps);
    return {
      state,
      '.status B/step': perStep(status),
      'stepStatuses B/step': perStep(status.stepStatuses),
      'statechart B/step': perStep(status.statechart),
      'snapshot.context.steps B/step': perStep(snapshot.context.steps),
      'snapshot.value B/step': perStep(snapshot.value),
      'executionPlan B/step': perStep(status.executionPlan),
    };
  });
  printTable(
    'status bytes per step, projected and persisted by the core (goal: status <= 250, statechart <= 40)',
    rows,
  );
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) await benchStatechart();
