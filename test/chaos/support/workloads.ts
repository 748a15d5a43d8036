/**
 * Workflows of every shape the operator runs (sequential, diamond, fan-out, approval, retries,
 * automatic rollback), the executor script that drives them (or, for the real executor, the same
 * shapes made of its test hooks), and what "the same end" means:
 * each run's status with times, names and messages that carry them left out.
 */
import type {
  KubernetesExecution,
  WorkflowExecution,
  WorkflowExecutionSpec,
  WorkflowStep,
} from '../../../src/api/generated/types.ts';
import { customRollback, customStep, diamondSpec, specWith } from '../../fixtures/specs.ts';
import type { Script } from '../../support/executor.ts';

export interface Shape {
  readonly shape: string;
  readonly spec: WorkflowExecutionSpec;
  /** Approve it (the approval gate) once it waits for that. */
  readonly approve?: boolean;
}

type StepMaker = (stepNumber: number, overrides?: Partial<WorkflowStep>) => WorkflowStep;

/**
 * Every shape, of steps that succeed (`ok`), steps that fail (`failing`: step 2 of `retries`, the
 * critical step 3 of `rollback`) and rollbacks.
 */
function shapesOf(
  ok: StepMaker,
  failing: StepMaker,
  rollback: (stepNumber: number) => NonNullable<WorkflowStep['rollbackSpec']>,
): readonly Shape[] {
  return [
    { shape: 'sequential', spec: specWith([1, 2, 3, 4].map((n) => ok(n))) },
    { shape: 'diamond', spec: diamondSpec(ok) },
    {
      shape: 'fanout',
      spec: specWith([
        ok(1),
        ...[2, 3, 4, 5, 6].map((n) => ok(n, { dependsOn: [1] })),
        ok(7, { dependsOn: [2, 3, 4, 5, 6] }),
      ]),
    },
    { shape: 'approval', spec: specWith([ok(1), ok(2)], { approvalRequired: true }), approve: true },
    { shape: 'retries', spec: specWith([ok(1), failing(2, { dependsOn: [1], maxRetries: 1 })]) },
    {
      // Step 3 is critical and fails: steps 2 and 1 are rolled back, in that order.
      shape: 'rollback',
      spec: specWith([
        ok(1, { rollbackSpec: rollback(1) }),
        ok(2, { dependsOn: [1], rollbackSpec: rollback(2) }),
        failing(3, { dependsOn: [2], criticalStep: true }),
      ]),
    },
  ];
}

/**
 * For the scripted executor, which decides the outcomes (`shapesScript`): attempt 1 of step 2 of
 * `retries` fails, attempt 2 succeeds after the 10 s backoff.
 */
export const SHAPES = shapesOf(customStep, customStep, customRollback);

/** A step the real executor (`wfx executor --development`) carries out with a test hook. */
const hookStep =
  (custom: NonNullable<NonNullable<WorkflowStep['parameters']>['custom']>): StepMaker =>
  (stepNumber, overrides = {}) =>
    customStep(stepNumber, { parameters: { custom }, ...overrides });

/**
 * For the real executor, whose test hooks fail every attempt of a step: `retries` fails both of
 * step 2's attempts (and ends failed).
 */
export const EXECUTOR_SHAPES = shapesOf(
  hookStep({ actionType: 'sleep', config: { duration: '300ms' } }),
  hookStep({ actionType: 'fail', config: { message: 'fails on purpose' } }),
  () => ({
    action: 'custom',
    parameters: { custom: { actionType: 'sleep', config: { duration: '200ms' } } },
  }),
);

/** Workflow names are `<prefix>-<shape>`. */
export const shapeOf = (workflowName: string): string =>
  workflowName.slice(workflowName.lastIndexOf('-') + 1);

/** The one script for every shape: only `retries` (attempt 1 of step 2) and `rollback` (step 3) fail. */
export const shapesScript: Script = (child: KubernetesExecution) => {
  const shape = shapeOf(child.spec.workflowExecutionRef.name);
  const { kind, stepNumber, attempt } = child.spec;
  if (kind === 'step' && shape === 'retries' && stepNumber === 2 && attempt === 1)
    return { phase: 'failed', message: 'attempt 1 fails on purpose' };
  if (kind === 'step' && shape === 'rollback' && stepNumber === 3)
    return { phase: 'failed', message: 'the critical step fails on purpose' };
  return { phase: 'completed', wouldSucceed: true };
};

export const isFinished = (wf: WorkflowExecution): boolean =>
  wf.status?.phase === 'completed' || wf.status?.phase === 'failed';

/** A run's end, comparable across runs: no times, no names, no free text. */
export function endOf(wf: WorkflowExecution, children: readonly KubernetesExecution[]): unknown {
  const s = wf.status ?? {};
  return {
    phase: s.phase,
    outcome: s.workflowResult?.outcome,
    steps: (s.stepStatuses ?? []).map((st) => ({
      step: st.stepNumber,
      status: st.status,
      retries: st.retriesAttempted,
    })),
    conditions: (s.conditions ?? [])
      .map((c) => ({ type: c.type, status: c.status, reason: c.reason }))
      .sort((a, b) => a.type.localeCompare(b.type)),
    rollbacks: s.executionMetrics?.rollbacksPerformed,
    approved: s.validationResults?.approvalReceived,
    children: children
      .map((c) => `${c.spec.kind}:${c.spec.stepNumber}:a${c.spec.attempt}:${c.status?.phase ?? 'none'}`)
      .sort(),
  };
}

/** Children with the same (kind, step, attempt) under one workflow: a step launched twice. */
export function duplicateLaunches(children: readonly KubernetesExecution[]): string[] {
  const seen = new Map<string, number>();
  for (const c of children) {
    const key = `${c.spec.workflowExecutionRef.name}/${c.spec.kind}:${c.spec.stepNumber}:a${c.spec.attempt}`;
    seen.set(key, (seen.get(key) ?? 0) + 1);
  }
  return [...seen.entries()].filter(([, n]) => n > 1).map(([k]) => k);
}
