/**
 * The workflow shapes the benchmarks run, as graphs (so a peer, e.g. a Tekton Pipeline, can be built
 * from the same shape) and as WorkflowExecution specs of custom steps.
 */
import type { WorkflowExecutionSpec } from '../../src/api/generated/types.ts';
import { customStep, specWith } from '../../test/fixtures/specs.ts';

export interface Shape {
  /** e.g. `chain of 150`, `1 -> 40 fan-out`. */
  name: string;
  /** Steps are numbered 1..steps. */
  steps: number;
  /** The steps a step waits for. */
  dependsOn(step: number): readonly number[];
  /**
   * Whether the spec declares the dependencies; a chain does not (steps without any declared
   * dependency run one after another in step-number order), as users write one.
   */
  declared: boolean;
}

/** `length` steps, each after the previous one. */
export const chain = (length: number): Shape => ({
  name: `chain of ${length}`,
  steps: length,
  dependsOn: (step) => (step === 1 ? [] : [step - 1]),
  declared: false,
});

/** One step, then `width` steps that all wait for it alone. */
export const fanOut = (width: number): Shape => ({
  name: `1 -> ${width} fan-out`,
  steps: width + 1,
  dependsOn: (step) => (step === 1 ? [] : [1]),
  declared: true,
});

/** The shape as a WorkflowExecution spec of custom steps (the instant executor completes them). */
export function specOf(shape: Shape): WorkflowExecutionSpec {
  return specWith(
    Array.from({ length: shape.steps }, (_, i) =>
      customStep(i + 1, shape.declared ? { dependsOn: [...shape.dependsOn(i + 1)] } : {}),
    ),
  );
}
