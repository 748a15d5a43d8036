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

function take(sample: MetricSample, metrics: OperatorMetrics, c: ConsequenceContext): void {
  const workflow_name = c.workflowName;
  const { namespace, name } = c.target;
  switch (sample.metric) {
    case 'phaseStartTimestamp':
      metrics.phaseStartTimestamp.set({ namespace, name, phase: sample.phase }, sample.seconds);
      return;
    case 'phaseDuration':
      metrics.phaseDuration.observe({ phase: sample.phase }, sample.seconds);
      return;
    case 'executionsTotal':
      metrics.executionsTotal.inc({ workflow_name, outcome: sample.outcome });
      return;
    case 'lifecycleDuration':
      metrics.lifecycleDuration.observe({ outcome: sample.outcome }, sample.seconds);
      return;
    case 'effectivenessScore':
      metrics.effectivenessScore.observe(sample.score);
      return;
    case 'validationFailuresTotal':
      metrics.validationFailuresTotal.inc({ reason: sample.reason });
      return;
    case 'rollbacksTotal':
      metrics.rollbacksTotal.inc({ workflow_name, reason: sample.reason });
      return;
    case 'workflowSteps':
      metrics.workflowSteps.observe(sample.steps);
      return;
    case 'adaptiveAdjustmentsTotal':
      metrics.adaptiveAdjustmentsTotal.inc({ adjustment_type: sample.adjustmentType });
      return;
    case 'stepsCompletedTotal':
      metrics.stepsCompletedTotal.inc({ workflow_name, action: sample.action, status: sample.status });
      return;
  }
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
