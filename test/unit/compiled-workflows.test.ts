import { describe, expect, it } from '@jest/globals';
import type { WorkflowExecution } from '../../src/api/generated/types.ts';
import { CompiledWorkflows } from '../../src/shell/compiled-workflows.ts';
import { sequentialSpec } from '../fixtures/specs.ts';

const resource = (uid: string, generation = 1): WorkflowExecution => ({
  apiVersion: 'workflowexecution.kubernaut.io/v1',
  kind: 'WorkflowExecution',
  metadata: { name: uid, namespace: 'shop', uid, generation },
  spec: sequentialSpec(2),
});

describe('the compiled workflows', () => {
  it('reuse what was compiled for a resource, and forget all of a finished one, only of it', () => {
    const compiled = new CompiledWorkflows();
    const first = compiled.of(resource('uid-a'));
    expect(compiled.of(resource('uid-a'))).toBe(first);
    compiled.of(resource('uid-a', 2));
    const other = compiled.of(resource('uid-ab'));
    expect(compiled.size).toBe(3);
    compiled.forget('uid-a');
    expect(compiled.size).toBe(1);
    expect(compiled.of(resource('uid-a'))).not.toBe(first);
    expect(compiled.of(resource('uid-ab'))).toBe(other);
  });
});
