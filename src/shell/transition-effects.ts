/**
 * Carries out the consequences of committed transitions (src/core/outcomes.ts): records their
 * Kubernetes Events, logs them and takes their metric samples. Called once per committed change
 * (after the status write), so each happens once per transition. Step progress (starts and
 * successes) is batched per workflow into one Event per window, so a run writes a handful of
 * Events rather than two per step; every other notice is an Event of its own.
 */
import type { Consequences, MetricSample } from '../core/outcomes.ts';
import { stepProgressNotice, type StepProgress } from '../core/step-progress.ts';
import type { EventRecorder, EventTarget } from './events.ts';
import type { Logger } from './logger.ts';
import type { OperatorMetrics } from './metrics.ts';
import { setLongTimeout, type LongTimeout } from './timers.ts';

/**
 * How long step progress may wait to share an Event; leaving execution, a failure or a retry ends
 * the wait at once. A minute: under load a step can take longer than a few seconds, and a shorter
 * window then writes an Event for each start and each success again (1.5 Events per step with 100
 * concurrent 10-step workflows at 5 s).
 */
export const PROGRESS_WINDOW_MS = 60_000;

export interface ProgressBatchOptions {
  windowMs?: number;
  clock?: () => number;
}

interface Batch {
  target: EventTarget;
  progress: StepProgress[];
  timer: LongTimeout;
}

/**
 * Step progress waiting to be reported, per workflow (by uid). A batch is written as one Event
 * when its window ends, when a notice of the same workflow is recorded (before it, so Events keep
 * their order), when the workflow stops executing, or when the operator stops.
 */
export class StepProgressBatches {
  private readonly batches = new Map<string, Batch>();
  private readonly recorder: EventRecorder;
  private readonly windowMs: number;
  private readonly clock: () => number;

  constructor(recorder: EventRecorder, options: ProgressBatchOptions = {}) {
    this.recorder = recorder;
    this.windowMs = options.windowMs ?? PROGRESS_WINDOW_MS;
    this.clock = options.clock ?? (() => Date.now());
  }

  add(target: EventTarget, progress: readonly StepProgress[]): void {
    if (progress.length === 0) return;
    const batch = this.batches.get(target.uid);
    if (batch) {
      batch.progress.push(...progress);
      return;
    }
    const timer = setLongTimeout(() => void this.flush(target.uid), this.windowMs);
    this.batches.set(target.uid, { target, progress: [...progress], timer });
  }

  /** Writes the workflow's batch as one Event, if it has one. */
  async flush(uid: string): Promise<void> {
    const batch = this.batches.get(uid);
    if (!batch) return;
    this.batches.delete(uid);
    batch.timer.cancel();
    const notice = stepProgressNotice(batch.progress);
    if (!notice) return;
    const { type, reason, note, action } = notice;
    await this.recorder.record(batch.target, { type, reason, note, action }, this.clock());
  }

  async flushAll(): Promise<void> {
    await Promise.all([...this.batches.keys()].map((uid) => this.flush(uid)));
  }
}

export interface ConsequenceContext {
  target: EventTarget;
  progress: StepProgressBatches;
  /** The workflow definition's name (the metrics' `workflow_name`). */
  workflowName: string;
  recorder: EventRecorder;
  metrics?: OperatorMetrics | undefined;
  log: Logger;
  now: number;
}

type Take<M extends MetricSample['metric']> = (
  metrics: OperatorMetrics,
  sample: Extract<MetricSample, { metric: M }>,
  c: ConsequenceContext,
) => unknown;

/** How each sample is taken: the metric, its kind, and the labels the shell knows. */
const TAKE: { [M in MetricSample['metric']]: Take<M> } = {
  phaseDuration: (m, s) => {
    m.phaseDuration.observe({ phase: s.phase }, s.seconds);
  },
  executionsTotal: (m, s, c) => {
    m.executionsTotal.inc({ workflow_name: c.workflowName, outcome: s.outcome });
  },
  lifecycleDuration: (m, s) => {
    m.lifecycleDuration.observe({ outcome: s.outcome }, s.seconds);
  },
  effectivenessScore: (m, s) => {
    m.effectivenessScore.observe(s.score);
  },
  validationFailuresTotal: (m, s) => {
    m.validationFailuresTotal.inc({ reason: s.reason });
  },
  rollbacksTotal: (m, s, c) => {
    m.rollbacksTotal.inc({ workflow_name: c.workflowName, reason: s.reason });
  },
  workflowSteps: (m, s) => {
    m.workflowSteps.observe(s.steps);
  },
  adaptiveAdjustmentsTotal: (m, s) => {
    m.adaptiveAdjustmentsTotal.inc({ adjustment_type: s.adjustmentType });
  },
  stepsCompletedTotal: (m, s, c) => {
    m.stepsCompletedTotal.inc({ workflow_name: c.workflowName, action: s.action, status: s.status });
  },
  retriesTotal: (m, s, c) => {
    m.retriesTotal.inc({ workflow_name: c.workflowName, result: s.result });
  },
  admissionBlocksTotal: (m, s, c) => {
    m.admissionBlocksTotal.inc({ namespace: c.target.namespace, reason: s.reason });
  },
  monitoringVerdictsTotal: (m, s, c) => {
    m.monitoringVerdictsTotal.inc({ namespace: c.target.namespace, verdict: s.verdict });
  },
};

function take(sample: MetricSample, metrics: OperatorMetrics, c: ConsequenceContext): void {
  // The table's key and the sample's metric agree by construction; TypeScript cannot correlate them.
  (TAKE[sample.metric] as Take<MetricSample['metric']>)(metrics, sample, c);
}

export async function carryOut(consequences: Consequences, c: ConsequenceContext): Promise<void> {
  const { progress, stepsContinue, notices } = consequences;
  for (const p of progress)
    c.log.info(`step ${String(p.step)} (${p.name}) attempt ${String(p.attempt)} ${p.outcome}`, {
      step: p.step,
      attempt: p.attempt,
      outcome: p.outcome,
    });
  // Progress before the notice that ends the steps; progress while executing waits for company.
  if (!stepsContinue) c.progress.add(c.target, progress);
  if (!stepsContinue || notices.length > 0) await c.progress.flush(c.target.uid);
  if (stepsContinue) c.progress.add(c.target, progress);
  for (const notice of notices) {
    if (notice.type === 'Warning') c.log.warn(notice.note, notice.fields);
    else c.log.info(notice.note, notice.fields);
    const { type, reason, note, action } = notice;
    await c.recorder.record(c.target, { type, reason, note, action }, c.now);
  }
  if (c.metrics) for (const sample of consequences.metrics) take(sample, c.metrics, c);
}
