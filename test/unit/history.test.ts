// Step history in figures: what the adaptive rules read, from the rows of finished runs.
import { describe, expect, it } from '@jest/globals';
import { auditRecordOf } from '../../src/audit/from-status.ts';
import { historyRowsOf } from '../../src/audit/history.ts';
import type { WorkflowExecution } from '../../src/api/generated/types.ts';
import {
  historyTargetOf,
  percentile,
  summarizeStepRuns,
  type StepRunRecord,
} from '../../src/core/history.ts';
import { customStep, specWith, step } from '../fixtures/specs.ts';

const run = (outcome: StepRunRecord['outcome'], attempts: number, durationMs: number | null = 100) => ({
  stepNumber: 1,
  outcome,
  attempts,
  durationMs,
});

describe('percentiles (nearest rank)', () => {
  it.each([
    [[], 50, 0],
    [[7], 99, 7],
    [[1, 2, 3, 4], 50, 2],
    [[1, 2, 3, 4], 90, 4],
    [Array.from({ length: 100 }, (_, i) => i + 1), 99, 99],
    [Array.from({ length: 100 }, (_, i) => i + 1), 50, 50],
  ])('of %j at p%d is %d', (values, p, expected) => {
    expect(percentile(values, p)).toBe(expected);
  });
});

describe('a step history summary', () => {
  it('is empty without runs', () => {
    expect(summarizeStepRuns([])).toMatchObject({
      runs: 0,
      successRate: 0,
      transientShare: 0,
      successDurationMs: null,
    });
  });

  it('leaves out runs in which the step never started', () => {
    expect(summarizeStepRuns([run('skipped', 0), run('succeeded', 1)])).toMatchObject({
      runs: 1,
      successRate: 1,
    });
  });

  it('calls failures transient when a later attempt fixed them', () => {
    const summary = summarizeStepRuns([
      run('succeeded', 2),
      run('succeeded', 4),
      run('failed', 3),
      run('succeeded', 1),
    ]);
    expect(summary).toMatchObject({
      runs: 4,
      succeeded: 3,
      failed: 1,
      failedAttemptRuns: 3,
      fixedByRetry: 2,
      transientShare: 0.6667,
      maxAttemptsWhenFixed: 4,
    });
  });

  it('takes durations from successful attempts only, and only where known', () => {
    const summary = summarizeStepRuns([
      run('succeeded', 1, 300),
      run('failed', 1, 9000),
      run('succeeded', 1, null),
    ]);
    expect(summary.successDurationMs).toEqual({ p50: 300, p90: 300, p99: 300 });
  });
});

describe('the history a finished run leaves', () => {
  const workflow: WorkflowExecution = {
    apiVersion: 'workflowexecution.kubernaut.io/v1',
    kind: 'WorkflowExecution',
    metadata: { name: 'wf', namespace: 'shop', uid: 'uid-9' },
    spec: specWith([step(1), customStep(2), step(3)]),
    status: {
      phase: 'failed',
      completionTime: '2026-11-30T10:00:10.000Z',
      stepStatuses: [
        {
          stepNumber: 1,
          name: 'step-1',
          action: 'scale-deployment',
          status: 'rolled_back',
          retriesAttempted: 0,
          startTime: '2026-11-30T10:00:00.000Z',
          endTime: '2026-11-30T10:00:09.000Z',
        },
        {
          stepNumber: 2,
          name: 'step-2',
          action: 'custom',
          status: 'failed',
          retriesAttempted: 2,
          startTime: '2026-11-30T10:00:01.000Z',
          endTime: '2026-11-30T10:00:03.500Z',
        },
        { stepNumber: 3, name: 'step-3', action: 'scale-deployment', status: 'skipped', retriesAttempted: 0 },
      ],
    },
  };

  it('names each step by what it acted on', () => {
    expect(historyTargetOf(step(1))).toBe('Deployment shop/web-1');
    expect(historyTargetOf(customStep(2))).toBe('custom noop');
  });

  it('has one row per step with its outcome, attempts and duration', () => {
    const rows = historyRowsOf(auditRecordOf(workflow, 'failed', 0));
    expect(
      rows.map(({ stepNumber, outcome, attempts, durationMs, target }) => ({
        stepNumber,
        outcome,
        attempts,
        durationMs,
        target,
      })),
    ).toEqual([
      // Rolled back: the step succeeded, but its recorded end is the rollback's.
      { stepNumber: 1, outcome: 'succeeded', attempts: 1, durationMs: null, target: 'Deployment shop/web-1' },
      { stepNumber: 2, outcome: 'failed', attempts: 3, durationMs: 2500, target: 'custom noop' },
      { stepNumber: 3, outcome: 'skipped', attempts: 0, durationMs: null, target: 'Deployment shop/web-3' },
    ]);
  });

  it('is none for a run deleted before it finished', () => {
    expect(historyRowsOf(auditRecordOf(workflow, 'deleted', 0))).toEqual([]);
  });

  it('of a retried run is its own segment: a row of its own, with only the steps the retry re-ran', () => {
    const retried: WorkflowExecution = {
      ...workflow,
      status: {
        phase: 'completed',
        planningStartTime: '2026-11-30T10:00:00.000Z',
        completionTime: '2026-11-30T10:05:10.000Z',
        retries: {
          count: 1,
          history: [
            {
              segment: 2,
              requestedBy: 'frank',
              request: 'r1',
              startTime: '2026-11-30T10:05:00.000Z',
              steps: [2, 3],
            },
          ],
        },
        stepStatuses: [
          { stepNumber: 1, status: 'completed', action: 'scale-deployment' },
          { stepNumber: 2, status: 'completed', action: 'custom', retriesAttempted: 1 },
          { stepNumber: 3, status: 'completed', action: 'scale-deployment' },
        ],
      },
    };
    const first = auditRecordOf(workflow, 'failed', 0);
    const second = auditRecordOf(retried, 'completed', 0);
    expect([first.id, first.segment]).toEqual(['uid-9', 1]);
    expect(second).toMatchObject({
      id: 'uid-9/segment-2',
      segment: 2,
      totalSteps: 2,
      totalDurationMs: 10_000,
    });
    expect(second.stepExecutions.map((s) => [s.stepNumber, s.status])).toEqual([
      [2, 'completed'],
      [3, 'completed'],
    ]);
    expect(historyRowsOf(second).map((r) => [r.runId, r.stepNumber])).toEqual([
      ['uid-9/segment-2', 2],
      ['uid-9/segment-2', 3],
    ]);
  });
});
