/**
 * Step progress (a start, a success, a skip): reported in batches, one Event for many steps, rather
 * than one Event per step each.
 */
import type { Notice } from './outcomes.ts';
import { listOf, type StepTransitionOutcome } from './transitions.ts';

/** A step outcome that is reported together with others in one Event, not in an Event of its own. */
export interface StepProgress {
  step: number;
  /** The step's name, for the log line that goes with it (the Event names numbers only). */
  name: string;
  attempt: number;
  outcome: ProgressOutcome;
}

/** Starts and successes are progress; every failure, retry and rollback keeps an Event of its own. */
export type ProgressOutcome = Extract<StepTransitionOutcome, 'started' | 'succeeded' | 'skipped'>;
const PROGRESS_OUTCOMES: Record<StepTransitionOutcome, boolean> = {
  started: true,
  succeeded: true,
  skipped: true,
  failed: false,
  retrying: false,
  rolledBack: false,
  rollbackFailed: false,
};
export const isProgress = (outcome: StepTransitionOutcome): outcome is ProgressOutcome =>
  PROGRESS_OUTCOMES[outcome];

/** Step numbers as runs, [1, 2, 3, 5, 6] -> "steps 1-3, 5 and 6"; a retried attempt is named apart. */
function stepList(items: readonly StepProgress[]): string {
  const parts: string[] = [];
  let run: number[] = [];
  const close = () => {
    if (run.length > 2) parts.push(`${String(run[0])}-${String(run.at(-1))}`);
    else parts.push(...run.map(String));
    run = [];
  };
  for (const p of [...items].sort((a, b) => a.step - b.step)) {
    if (run.length > 0 && (p.attempt > 1 || run.at(-1) !== p.step - 1)) close();
    if (p.attempt > 1) parts.push(`${String(p.step)} (attempt ${String(p.attempt)})`);
    else run.push(p.step);
  }
  close();
  return `${items.length === 1 ? 'step' : 'steps'} ${listOf(parts)}`;
}

/**
 * One Event for a batch of step progress, in the order it happened: each step once, at its latest
 * outcome ("steps 1-3 and 5 succeeded, step 6 started"). `StepsCompleted` when any step finished,
 * else `StepsStarted`; null for an empty batch.
 */
export function stepProgressNotice(batch: readonly StepProgress[]): Notice | null {
  const latest = new Map<number, StepProgress>();
  for (const p of batch) latest.set(p.step, p);
  if (latest.size === 0) return null;
  const by = (outcome: ProgressOutcome) => [...latest.values()].filter((p) => p.outcome === outcome);
  const succeeded = by('succeeded');
  const skipped = by('skipped');
  const started = by('started');
  const parts = [
    [succeeded, 'succeeded'],
    [skipped, 'skipped'],
    [started, 'started'],
  ] as const;
  return {
    type: 'Normal',
    reason: succeeded.length + skipped.length > 0 ? 'StepsCompleted' : 'StepsStarted',
    note: parts
      .filter(([items]) => items.length > 0)
      .map(([items, word]) => `${stepList(items)} ${word}`)
      .join(', '),
    action: 'ExecuteStep',
    fields: { succeeded: succeeded.length, skipped: skipped.length, started: started.length },
  };
}
