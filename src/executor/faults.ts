/**
 * Faults a sample can ask for with annotations on its WorkflowExecution, read when a child starts:
 *   executor.kubernaut.io/fail-steps: "3"         steps (by number) whose step children fail
 *   executor.kubernaut.io/fail-rollback-steps: "1" steps whose rollback children fail
 *   executor.kubernaut.io/hang-steps: "2"         steps whose children never finish
 *   executor.kubernaut.io/delay: "2s"             wait this long before carrying out any child
 */
import type { KubernetesExecution } from '../api/generated/types.ts';
import { parseDuration } from '../core/duration.ts';

export const FAULT_ANNOTATIONS = {
  failSteps: 'executor.kubernaut.io/fail-steps',
  failRollbackSteps: 'executor.kubernaut.io/fail-rollback-steps',
  hangSteps: 'executor.kubernaut.io/hang-steps',
  delay: 'executor.kubernaut.io/delay',
} as const;

export interface Fault {
  delayMs: number;
  fail?: string;
  hang: boolean;
}

const numbers = (value: string | undefined): Set<number> =>
  new Set(
    (value ?? '')
      .split(',')
      .map((s) => Number(s.trim()))
      .filter((n) => Number.isInteger(n) && n > 0),
  );

export function faultFor(child: KubernetesExecution, annotations: Record<string, string> = {}): Fault {
  const step = child.spec.stepNumber;
  const kind = child.spec.kind;
  const failing =
    kind === 'rollback'
      ? annotations[FAULT_ANNOTATIONS.failRollbackSteps]
      : kind === 'step'
        ? annotations[FAULT_ANNOTATIONS.failSteps]
        : undefined;
  const delay = annotations[FAULT_ANNOTATIONS.delay];
  return {
    delayMs: delay === undefined ? 0 : (parseDuration(delay) ?? 0),
    hang: kind !== 'dryRun' && numbers(annotations[FAULT_ANNOTATIONS.hangSteps]).has(step),
    ...(numbers(failing).has(step)
      ? {
          fail: `failing ${kind} ${step} as the workflow's ${kind === 'rollback' ? FAULT_ANNOTATIONS.failRollbackSteps : FAULT_ANNOTATIONS.failSteps} annotation asks`,
        }
      : {}),
  };
}
