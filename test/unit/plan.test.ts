import { describe, expect, it } from '@jest/globals';
import { planWorkflow } from '../../src/core/plan.ts';
import { sequentialSpec, specWith, step } from '../fixtures/specs.ts';

describe('the planner', () => {
  it('runs undeclared steps one after another in step-number order', () => {
    const result = planWorkflow(sequentialSpec(3));
    if (!result.ok) throw new Error(JSON.stringify(result.issues));
    expect(result.plan.levels).toEqual([[1], [2], [3]]);
    expect(result.plan.strategy).toBe('sequential');
    expect(result.plan.rollbackOrder).toEqual([3, 2, 1]);
  });
});
