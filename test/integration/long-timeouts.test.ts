// A deadline years away neither spins nor overflows: the apiserver refuses a timeout past 720h
// with the field's path, and a workflow waiting on a 720h step (past Node's 24.8-day timer limit)
// is reconciled once per change, not over and over.
import { describe, expect, it, jest } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiError } from '../../src/shell/kube/client.ts';
import { customStep, specWith } from '../fixtures/specs.ts';
import { counterTotal } from '../chaos/support/chaos.ts';
import { inPhase } from './support/harness.ts';
import { harnessForSuite } from './support/suite.ts';

jest.setTimeout(60_000);

// The executor leaves every child running: the workflow waits on its step's deadline.
const h = harnessForSuite(() => ({ phase: 'hang' }));

async function refusal(name: string, timeout: string, where: 'step' | 'rollback'): Promise<ApiError> {
  const step =
    where === 'step'
      ? customStep(1, { timeout })
      : customStep(1, {
          rollbackSpec: { action: 'custom', parameters: { custom: { actionType: 'undo' } }, timeout },
        });
  try {
    await h.workflows.apply(name, specWith([step]));
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  throw new Error(`${name} with timeout ${timeout} was accepted`);
}

describe('long timeouts', () => {
  it('are refused by the apiserver past 720h, naming the field', async () => {
    const over = await refusal('over-limit', '721h', 'step');
    expect(over.status).toBe(422);
    expect(over.message).toContain('spec.workflowDefinition.steps[0].timeout');
    expect(over.message).toContain('must be at most 720h');
    // Too long even for a Go duration: still refused at the same path.
    const absurd = await refusal('absurd', '9999999999h', 'rollback');
    expect(absurd.status).toBe(422);
    expect(absurd.message).toContain('spec.workflowDefinition.steps[0].rollbackSpec.timeout');
  });

  it('of 720h, beyond what one Node timer holds, leave the operator idle while the step runs', async () => {
    await h.workflows.apply('month-long', specWith([customStep(1, { timeout: '720h' })]));
    await h.workflows.waitFor('month-long', inPhase('executing'));
    await h.workflows.waitFor('month-long', (wf) => wf.status?.stepStatuses?.[0]?.status === 'executing');
    expect((await h.workflows.childrenOf('month-long')).map((c) => c.metadata.name)).toEqual([
      'month-long-step-1-a1',
    ]);
    await sleep(1000);
    const before = await counterTotal(h.operator.metrics.reconcileTotal);
    await sleep(3000);
    // Before the fix this counted thousands (a requeue at once, forever); now nothing changes, so nothing runs.
    expect((await counterTotal(h.operator.metrics.reconcileTotal)) - before).toBeLessThanOrEqual(1);
    const wf = await h.workflows.waitFor('month-long', inPhase('executing'));
    expect(wf.status?.stepStatuses?.[0]?.status).toBe('executing');
  });
});
