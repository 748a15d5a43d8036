/**
 * Statechart figures for 10, 50 and 200 steps: persisted snapshot size, one reconcile's worth of
 * rehydrate + one transition + persist, and machine build time with and without the cache.
 */
import { performance } from 'node:perf_hooks';
import type { WorkflowExecution, WorkflowExecutionSpec, WorkflowStep } from '../src/api/generated/types.ts';
import { machineOf } from '../src/core/load.ts';
import { CompiledWorkflows } from '../src/shell/compiled-workflows.ts';
import { planWorkflow } from '../src/core/plan.ts';
import { specHash } from '../src/core/spec-hash.ts';
import { advance, initialSnapshot, persist, rehydrate } from '../src/core/statechart.ts';
import { measure, printTable } from './support/measure.ts';

const T0 = 1_735_732_800_000;

/** Groups of 10 parallel steps, each group after the previous one. */
function specOf(count: number): WorkflowExecutionSpec {
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
    });
  }
  printTable('statechart: rehydrate + one transition + persist, machine build', rows);
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) await benchStatechart();
