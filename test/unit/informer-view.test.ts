import { describe, expect, it } from '@jest/globals';
import type { WorkflowExecution } from '../../src/api/generated/types.ts';
import { finishedView, isFinishedView } from '../../src/core/finished-workflow.ts';
import { keepOnly } from '../../src/shell/informer.ts';
import { sequentialSpec } from '../fixtures/specs.ts';

describe('an object the cache keeps as its view', () => {
  it('is the same object, reads and serializes as the view, and is seen as a finished view', () => {
    const finalizer = 'example.com/cleanup';
    const cached: WorkflowExecution = {
      apiVersion: 'workflowexecution.kubernaut.io/v1',
      kind: 'WorkflowExecution',
      metadata: { name: 'wf', namespace: 'shop', uid: 'u1', generation: 1, finalizers: [finalizer] },
      spec: sequentialSpec(2),
      status: {
        phase: 'failed',
        observedGeneration: 1,
        conditions: [
          {
            type: 'Ready',
            status: 'False',
            reason: 'InvalidSpec',
            message: 'spec.x: bad',
            lastTransitionTime: '2025-01-01T12:00:00.000Z',
          },
        ],
      },
    };
    const view = finishedView(cached, finalizer);
    if (!view) throw new Error('expected a view of a settled workflow');
    const same = cached;
    keepOnly(cached, view);
    expect(cached).toBe(same);
    expect(JSON.parse(JSON.stringify(cached))).toEqual(JSON.parse(JSON.stringify(view)));
    expect(isFinishedView(cached)).toBe(true);
    expect(cached.status?.conditions?.[0]?.reason).toBe('InvalidSpec');
  });
});
