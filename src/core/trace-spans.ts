/**
 * OpenTelemetry spans of a run, derived from its persisted state: a span per run, per phase, per
 * validation wait (checks, dry run, approval) and per safety check, per step attempt and dry-run
 * step, per rollback step, and the effectiveness check. A span is emitted once, by the commit that
 * ends it (`spansEnded(before, after)`: what is closed in `after` and was not in `before`), with
 * its recorded start and end. Ids are derived from the workflow's uid, so every operator replica
 * and restart puts a run's spans in one trace, under the same parents, and a child's `traceparent`
 * (its attempt's span) is known before that span ends. Pure.
 */
import type { ExecutionPlan } from '../../machines/plan.ts';
import type { WorkflowSnapshot } from '../../machines/workflow.ts';
import type { ChildKind } from './observe.ts';
import { fnv1a64 } from './spec-hash.ts';
import { phaseOf } from './statechart.ts';
import { buildTimeline, type Timeline, type TimelineBar, type TimelineRow } from './timeline.ts';

export type SpanAttributes = Record<string, string | number | boolean>;

/** A span in another trace that this one follows from (a W3C trace context). */
export interface SpanLink {
  traceId: string;
  spanId: string;
  attributes: SpanAttributes;
}

export interface CompletedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  /** Spans of other traces this one follows from: the run's, the alert notification that made it. */
  links?: SpanLink[];
  name: string;
  /** Epoch ms. */
  start: number;
  end: number;
  attributes: SpanAttributes;
  /** An error status, with its message. */
  error: string | null;
}

export interface TracedWorkflow {
  uid: string;
  name: string;
  namespace: string;
  /** The trace context of the alert notification the run was made from (src/core/alerts.ts). */
  alertTraceparent?: string | undefined;
}

/** A W3C `traceparent` (version 00) read, or undefined when it is not one (or all zeros, invalid). */
export function parseTraceparent(
  value: string | undefined,
): { traceId: string; spanId: string; flags: number } | undefined {
  const match = value ? /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(value) : null;
  if (!match?.[1] || !match[2] || !match[3]) return undefined;
  if (/^0+$/.test(match[1]) || /^0+$/.test(match[2])) return undefined;
  return { traceId: match[1], spanId: match[2], flags: Number.parseInt(match[3], 16) };
}

/** 32 hex digits: the run's trace. */
export const traceIdOf = (uid: string): string => `${fnv1a64(`trace/${uid}`)}${fnv1a64(`trace2/${uid}`)}`;

/** 16 hex digits; never all zeros (an invalid span id). */
const spanId = (uid: string, ...parts: (string | number)[]): string => {
  const id = fnv1a64([uid, ...parts].join('/'));
  return id === '0000000000000000' ? '0000000000000001' : id;
};

export const runSpanId = (uid: string): string => spanId(uid, 'run');

/** The span of one child's work: a step attempt, a dry-run step, or a rollback step. */
export const childSpanId = (uid: string, kind: ChildKind, step: number, attempt: number): string =>
  spanId(uid, kind, step, kind === 'step' ? attempt : 1);

/** The W3C trace context a child carries, so the executor's spans join its attempt's span. */
export const traceparentOf = (uid: string, kind: ChildKind, step: number, attempt: number): string =>
  `00-${traceIdOf(uid)}-${childSpanId(uid, kind, step, attempt)}-01`;

const phaseSpanId = (uid: string, label: string, start: number) => spanId(uid, 'phase', label, start);

interface Keyed {
  row: TimelineRow;
  bar: TimelineBar;
}

const FAILED = new Set(['failed', 'rejected', 'rollbackFailed', 'unfinished']);

/** The closed bars of a timeline, by a key that names the same bar in every later snapshot. */
function closedBars(timeline: Timeline | null): Map<string, Keyed> {
  const closed = new Map<string, Keyed>();
  for (const row of timeline?.rows ?? [])
    for (const bar of row.bars) {
      if (bar.end === null || bar.kind === 'backoff') continue;
      closed.set(`${row.id}|${bar.kind}|${bar.label}|${bar.attempt ?? ''}|${bar.start}`, { row, bar });
    }
  return closed;
}

export function spansEnded(
  before: WorkflowSnapshot | null,
  after: WorkflowSnapshot,
  plan: ExecutionPlan,
  wf: TracedWorkflow,
): CompletedSpan[] {
  const { uid } = wf;
  const traceId = traceIdOf(uid);
  const root = runSpanId(uid);
  const timelineOf = (snapshot: WorkflowSnapshot) =>
    buildTimeline(snapshot, plan, [], { workflowName: wf.name, now: 0 });
  const afterTimeline = timelineOf(after);
  const was = closedBars(before ? timelineOf(before) : null);
  const now = closedBars(afterTimeline);
  const context = after.context;
  const stepOf = (n: number | null) => plan.steps.find((s) => s.number === n);
  // The phase a bar falls in (closed or still open): the latest of that name started by then.
  const phases = afterTimeline.rows.find((r) => r.id === 'phases')?.bars ?? [];
  const phaseStart = (label: string, at: number): number | null =>
    phases
      .filter((b) => b.label === label && b.start <= at)
      .reduce<number | null>((latest, b) => (latest === null || b.start > latest ? b.start : latest), null);
  const phaseOfBar = (label: string, at: number): string | null => {
    const start = phaseStart(label, at);
    return start === null ? null : phaseSpanId(uid, label, start);
  };
  const validationId = (kind: string, at: number) =>
    spanId(uid, 'validation', kind, phaseStart('validating', at) ?? 0);
  const base = (): SpanAttributes => ({
    'workflow.name': wf.name,
    'workflow.namespace': wf.namespace,
    'workflow.uid': uid,
    'workflow.definition': plan.workflowName,
  });

  const spans: CompletedSpan[] = [];
  for (const [key, { row, bar }] of now) {
    if (was.has(key)) continue;
    const end = bar.end ?? bar.start;
    const step = stepOf(row.step);
    const stepAttributes: SpanAttributes = step
      ? {
          'workflow.step.number': step.number,
          'workflow.step.name': step.name,
          'workflow.step.action': step.action,
          'workflow.step.critical': step.critical,
        }
      : {};
    const span = (s: Omit<CompletedSpan, 'traceId' | 'start' | 'end' | 'error'>): CompletedSpan => ({
      traceId,
      start: bar.start,
      end,
      error: FAILED.has(bar.outcome) ? (bar.message ?? bar.outcome) : null,
      ...s,
      attributes: { ...base(), ...stepAttributes, 'workflow.outcome': bar.outcome, ...s.attributes },
    });
    switch (bar.kind) {
      case 'phase':
        spans.push(
          span({
            spanId: phaseSpanId(uid, bar.label, bar.start),
            parentSpanId: root,
            name: `phase ${bar.label}`,
            attributes: { 'workflow.phase': bar.label },
          }),
        );
        break;
      case 'checks':
      case 'dryRun':
      case 'approval': {
        if (step) {
          // A dry-run step, under the dry run.
          spans.push(
            span({
              spanId: childSpanId(uid, 'dryRun', step.number, 1),
              parentSpanId: validationId('dryRun', bar.start),
              name: `dry run step ${step.number} ${step.name}`,
              attributes: {},
            }),
          );
          break;
        }
        const validating = phaseOfBar('validating', bar.start);
        const id = validationId(bar.kind, bar.start);
        spans.push(span({ spanId: id, parentSpanId: validating, name: bar.label, attributes: {} }));
        if (bar.kind === 'checks')
          for (const check of context.safety ?? [])
            spans.push({
              traceId,
              spanId: spanId(uid, 'check', check.type, check.checkedAt),
              parentSpanId: id,
              name: `safety check ${check.type}`,
              start: bar.start,
              end: check.checkedAt,
              attributes: {
                ...base(),
                'workflow.check.type': check.type,
                'workflow.check.required': check.required,
                'workflow.check.result': check.result,
                ...(check.message ? { 'workflow.check.message': check.message } : {}),
              },
              error: check.result === 'passed' ? null : check.message,
            });
        break;
      }
      case 'attempt':
        if (!step || bar.attempt === null) break;
        spans.push(
          span({
            spanId: childSpanId(uid, 'step', step.number, bar.attempt),
            parentSpanId: phaseOfBar('executing', bar.start),
            name: `step ${step.number} ${step.name} attempt ${bar.attempt}`,
            attributes: { 'workflow.step.attempt': bar.attempt },
          }),
        );
        break;
      case 'rollback':
        if (!step) break;
        spans.push(
          span({
            spanId: childSpanId(uid, 'rollback', step.number, 1),
            parentSpanId: phaseOfBar('rolling back', bar.start),
            name: `rollback step ${step.number} ${step.name}`,
            attributes: {},
          }),
        );
        break;
      case 'backoff':
        break;
    }
  }

  const effectiveness = context.effectiveness;
  if (effectiveness && !before?.context.effectiveness && context.times.monitoring !== null)
    spans.push({
      traceId,
      spanId: spanId(uid, 'effectiveness', effectiveness.at),
      parentSpanId: phaseOfBar('monitoring', effectiveness.at),
      name: 'effectiveness check',
      start: context.times.monitoring,
      end: effectiveness.at,
      attributes: {
        ...base(),
        'workflow.effectiveness.effective': effectiveness.effective,
        ...(effectiveness.score === null ? {} : { 'workflow.effectiveness.score': effectiveness.score }),
        'workflow.effectiveness.resource_health': effectiveness.resourceHealth,
      },
      error: effectiveness.effective ? null : 'not effective',
    });

  const finished = context.times.finished;
  const alert = parseTraceparent(wf.alertTraceparent);
  if (finished !== null && before?.context.times.finished == null && context.times.planning !== null)
    spans.push({
      traceId,
      spanId: root,
      parentSpanId: null,
      ...(alert
        ? {
            links: [
              { traceId: alert.traceId, spanId: alert.spanId, attributes: { 'workflow.link': 'alert' } },
            ],
          }
        : {}),
      name: `workflow ${plan.workflowName}`,
      start: context.times.planning,
      end: finished,
      attributes: {
        ...base(),
        'workflow.phase': phaseOf(after),
        'workflow.outcome': context.outcome ?? 'unknown',
        'workflow.steps': plan.steps.length,
        ...(context.failure ? { 'workflow.failure': context.failure.code } : {}),
      },
      error: context.failure ? `${context.failure.code}: ${context.failure.message}` : null,
    });
  return spans;
}
