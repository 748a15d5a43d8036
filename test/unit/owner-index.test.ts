import { describe, expect, it } from '@jest/globals';
import { OwnerIndex } from '../../src/shell/owner-index.ts';

const child = (name: string, owner: string | undefined, controller = true) => ({
  metadata: {
    name,
    namespace: 'shop',
    ownerReferences: owner ? [{ kind: 'WorkflowExecution', name: 'wf', uid: owner, controller }] : [],
  },
});

/** Two children of workflow uid-a and one of uid-b, indexed. */
function twoWorkflowsIndexed() {
  const index = new OwnerIndex();
  index.update(child('wf-step-1-a1', 'uid-a'), 'add');
  index.update(child('wf-step-2-a1', 'uid-a'), 'add');
  index.update(child('other-step-1-a1', 'uid-b'), 'add');
  return index;
}

describe('the children index', () => {
  it('finds a workflow’s children by its uid, and forgets deleted ones', () => {
    const index = twoWorkflowsIndexed();
    index.update(child('wf-step-1-a1', 'uid-a'), 'update');
    expect(index.of('uid-a').map((c) => c.metadata?.name)).toEqual(['wf-step-1-a1', 'wf-step-2-a1']);
    index.update(child('wf-step-1-a1', 'uid-a'), 'delete');
    index.update(child('wf-step-2-a1', 'uid-a'), 'delete');
    expect(index.of('uid-a')).toEqual([]);
    expect(index.owners).toBe(1);
  });

  it('drops a child from its workflow when its controller reference is removed, or moves it when changed', () => {
    const index = new OwnerIndex();
    index.update(child('wf-step-1-a1', 'uid-a'), 'add');
    index.update(child('wf-step-2-a1', 'uid-a'), 'add');
    index.update(child('wf-step-1-a1', undefined), 'update');
    expect(index.of('uid-a').map((c) => c.metadata?.name)).toEqual(['wf-step-2-a1']);
    index.update(child('wf-step-2-a1', 'uid-b'), 'update');
    expect(index.of('uid-a')).toEqual([]);
    expect(index.of('uid-b').map((c) => c.metadata?.name)).toEqual(['wf-step-2-a1']);
    expect(index.owners).toBe(1);
  });

  it('ignores objects without a controller owner', () => {
    const index = new OwnerIndex();
    index.update(child('orphan', undefined), 'add');
    index.update(child('adopted', 'uid-c', false), 'add');
    expect(index.owners).toBe(0);
  });
});

describe('the children index, once a workflow finished', () => {
  it('forgets all children of that workflow and hands them back; other workflows keep theirs', () => {
    const index = twoWorkflowsIndexed();
    expect(index.drop('uid-a').map((c) => c.metadata?.name)).toEqual(['wf-step-1-a1', 'wf-step-2-a1']);
    expect(index.of('uid-a')).toEqual([]);
    expect(index.owners).toBe(1);
    // A later update of a forgotten child, forgotten again by name, leaves nothing behind.
    index.update(child('wf-step-1-a1', 'uid-a'), 'update');
    index.forget(child('wf-step-1-a1', undefined));
    expect(index.of('uid-a')).toEqual([]);
    expect(index.of('uid-b').map((c) => c.metadata?.name)).toEqual(['other-step-1-a1']);
  });
});
