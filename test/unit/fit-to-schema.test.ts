// The projected status fitted to the CRD's bounds, so no message (built from what users wrote) can
// make the apiserver refuse the whole status write.
import { describe, expect, it } from '@jest/globals';
import { fitText, fitToSchema } from '../../src/api/fit-to-schema.ts';
import type { WorkflowExecutionStatus } from '../../src/api/generated/types.ts';
import { LIMITS } from '../../src/api/schema/workflowexecution.ts';
import { workflowExecutionStatus } from '../../src/api/schema/workflowexecution-status.ts';

describe('a status fitted to the CRD schema', () => {
  it('cuts a safety check message and a failure reason over their bound, ending them with …', () => {
    const long = 'x'.repeat(5000);
    const status: WorkflowExecutionStatus = {
      phase: 'failed',
      failureReason: long,
      validationResults: {
        safetyChecksPassed: false,
        dryRunPerformed: false,
        safetyCheckResults: [{ type: 'rbac', required: true, result: 'failed', message: long }],
      },
    };
    const fitted = fitToSchema(status, workflowExecutionStatus);
    expect(fitted.failureReason).toHaveLength(LIMITS.longText);
    expect(fitted.failureReason?.endsWith('…')).toBe(true);
    expect(fitted.validationResults?.safetyCheckResults?.[0]?.message).toHaveLength(LIMITS.longText);
    expect(fitted.phase).toBe('failed');
  });

  it('keeps the first validation errors of a list over its maxItems', () => {
    const errors = Array.from({ length: 80 }, (_, i) => `error ${String(i)}`);
    const status: WorkflowExecutionStatus = {
      validationResults: { safetyChecksPassed: false, dryRunPerformed: false, validationErrors: errors },
    };
    const fitted = fitToSchema(status, workflowExecutionStatus);
    expect(fitted.validationResults?.validationErrors).toEqual(errors.slice(0, 64));
  });

  it('returns the very same object when everything fits, and leaves the persisted snapshot alone', () => {
    const status = {
      phase: 'executing',
      statechart: { snapshot: { context: { note: 'y'.repeat(10_000) } } },
    } as unknown as WorkflowExecutionStatus;
    expect(fitToSchema(status, workflowExecutionStatus)).toBe(status);
  });

  it('never splits a surrogate pair', () => {
    const text = `${'a'.repeat(8)}😀😀😀`;
    const cut = fitText(text, 10);
    expect(cut).toBe(`${'a'.repeat(8)}…`);
    expect(fitText('😀😀😀😀', 4)).toBe('😀…');
  });
});
