/**
 * `wfx describe NAME`: phase, steps with attempts and times, each safety check's verdict and why,
 * conditions, and what it waits for.
 */
import type { KubernetesExecution, WorkflowExecution } from '../../api/generated/types.ts';
import { waitingFor } from '../../core/transitions.ts';
import { table, time } from '../format.ts';
import { inspectWorkflow } from '../../inspect/read-statechart.ts';
import { definitionOf, workflowLabel } from '../../api/resolved-spec.ts';
import { timelineText } from '../../core/timeline-text.ts';
import { timelineOfWorkflow } from '../../inspect/timeline.ts';

/**
 * `wfx describe NAME --timeline`: what it shows without, then the run as a timeline (from the
 * status and the children).
 */
export function describeWithTimeline(
  wf: WorkflowExecution,
  children: readonly KubernetesExecution[],
  now: number,
): string {
  const built = timelineOfWorkflow(wf, children, now);
  return `${describeWorkflow(wf)}\n\n${built.ok ? timelineText(built.timeline) : `Timeline:     none: ${built.problem}`}`;
}

export function describeWorkflow(wf: WorkflowExecution): string {
  const s = wf.status ?? {};
  const inspected = inspectWorkflow(wf);
  const waiting = !inspected.ok
    ? inspected.problem
    : inspected.snapshot
      ? waitingFor(inspected.snapshot, inspected.plan)
      : 'waiting for the operator to pick it up';
  const lines = [
    `Name:         ${wf.metadata.name ?? ''}`,
    `Namespace:    ${wf.metadata.namespace ?? ''}`,
    `Workflow:     ${workflowLabel(wf)}`,
    `Phase:        ${s.phase ?? 'pending'}`,
    `Progress:     ${s.currentStep ?? 0}/${s.totalSteps ?? definitionOf(wf)?.steps.length ?? '?'} steps finished`,
    `Strategy:     ${s.executionPlan?.strategy ?? '-'}, rollback ${wf.spec.executionStrategy.rollbackStrategy}`,
    `Now:          ${waiting}`,
  ];
  const parameters = s.resolvedTemplate?.parameters ?? wf.spec.parameters;
  if (parameters)
    lines.push(
      `Parameters:   ${Object.entries(parameters)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ')}`,
    );
  if (s.failureReason) lines.push(`Failure:      ${s.failureReason}`);
  if (s.rollbackReason) lines.push(`Rollback:     ${s.rollbackReason}`);
  if (s.workflowResult) {
    const r = s.workflowResult;
    lines.push(
      `Result:       ${r.outcome ?? '-'}, effectiveness ${r.effectivenessScore ?? '-'}, resources ${r.resourceHealth ?? '-'}`,
    );
  }
  if (s.retries) {
    const r = s.retries;
    const last = r.history?.at(-1);
    lines.push(
      `Retries:      ${r.count ?? 0}${last ? `, last by ${last.requestedBy} at ${time(last.startTime)} re-ran steps ${last.steps.join(', ')}` : ''}${r.refused ? `; refused ${r.refused.request} by ${r.refused.requestedBy}: ${r.refused.reason}` : ''}`,
    );
  }
  lines.push('', 'Steps:');
  lines.push(
    indent(
      table(
        ['STEP', 'NAME', 'ACTION', 'STATUS', 'RETRIES', 'STARTED', 'ENDED', 'MESSAGE'],
        (s.stepStatuses ?? []).map((st) => [
          String(st.stepNumber),
          st.name ?? '',
          st.action ?? '',
          st.status,
          String(st.retriesAttempted ?? 0),
          time(st.startTime),
          time(st.endTime),
          st.errorMessage ?? '',
        ]),
      ),
    ),
  );
  const checks = s.validationResults?.safetyCheckResults ?? [];
  if (checks.length > 0) {
    // Each check's verdict and why; a relaxed failure (required: false) reads as a warning.
    lines.push('', 'Safety checks:');
    lines.push(
      indent(
        table(
          ['CHECK', 'VERDICT', 'ON FAILURE', 'WHY'],
          checks.map((c) => [
            c.type,
            c.result === 'failed' && c.required === false ? 'warning' : c.result,
            c.required === false ? 'warns' : 'blocks',
            c.message ?? '',
          ]),
        ),
      ),
    );
  }
  lines.push('', 'Conditions:');
  lines.push(
    indent(
      table(
        ['TYPE', 'STATUS', 'REASON', 'SINCE', 'MESSAGE'],
        (s.conditions ?? []).map((c) => [c.type, c.status, c.reason, time(c.lastTransitionTime), c.message]),
      ),
    ),
  );
  return lines.join('\n');
}

const indent = (text: string) =>
  text
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
