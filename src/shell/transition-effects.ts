/**
 * Carries out the consequences of committed transitions (src/core/outcomes.ts): records their
 * Kubernetes Events, logs them and takes their metric samples. Called once per committed change
 * (after the status write), so each happens once per transition.
 */
import type { Consequences, MetricSample } from '../core/outcomes.ts';
import type { EventRecorder, EventTarget } from './events.ts';
import type { Logger } from './logger.ts';
import type { OperatorMetrics } from './metrics.ts';

export interface ConsequenceContext {
  target: EventTarget;
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
  phaseStartTimestamp: (m, s, { target }) => {
    m.phaseStartTimestamp.set({ namespace: target.namespace, name: target.name, phase: s.phase }, s.seconds);
  },
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
};

function take(sample: MetricSample, metrics: OperatorMetrics, c: ConsequenceContext): void {
  // The table's key and the sample's metric agree by construction; TypeScript cannot correlate them.
  (TAKE[sample.metric] as Take<MetricSample['metric']>)(metrics, sample, c);
}

export async function carryOut(consequences: Consequences, c: ConsequenceContext): Promise<void> {
  for (const notice of consequences.notices) {
    if (notice.type === 'Warning') c.log.warn(notice.note, notice.fields);
    else c.log.info(notice.note, notice.fields);
    const { type, reason, note, action } = notice;
    await c.recorder.record(c.target, { type, reason, note, action }, c.now);
  }
  if (c.metrics) for (const sample of consequences.metrics) take(sample, c.metrics, c);
}
