import { describe, expect, it } from '@jest/globals';
import {
  conditionsFor,
  findCondition,
  isTrue,
  setCondition,
  type Condition,
  type Health,
} from '../../src/api/conditions.ts';

const T1 = '2026-11-25T10:00:00.000Z';
const T2 = '2026-11-25T10:05:00.000Z';

const summary = (conditions: Condition[]) => conditions.map((c) => `${c.type}=${c.status}/${c.reason}`);

describe('kstatus conditions', () => {
  it.each<[Health['state'], string, string[]]>([
    ['inProgress', 'Executing', ['Ready=False/Executing', 'Reconciling=True/Executing']],
    ['succeeded', 'Succeeded', ['Ready=True/Succeeded', 'Succeeded=True/Succeeded']],
    [
      'failed',
      'CriticalStepFailed',
      ['Ready=False/CriticalStepFailed', 'Succeeded=False/CriticalStepFailed'],
    ],
    ['stalled', 'SpecHashMismatch', ['Ready=False/SpecHashMismatch', 'Stalled=True/SpecHashMismatch']],
  ])('%s (%s) sets exactly the conditions kstatus reads', (state, reason, expected) => {
    const health: Health = { state, reason, message: `${state}: ${reason}` };
    const previous = conditionsFor([], { state: 'inProgress', reason: 'Planning', message: '' }, 1, T1);
    expect(summary(conditionsFor(previous, health, 1, T2))).toEqual(expected);
  });

  it('keeps lastTransitionTime while a condition keeps its status, and moves it when the status flips', () => {
    const first = conditionsFor([], { state: 'inProgress', reason: 'Validating', message: 'a' }, 1, T1);
    const later = conditionsFor(first, { state: 'inProgress', reason: 'Executing', message: 'b' }, 1, T2);
    expect(findCondition(later, 'Ready')).toMatchObject({
      status: 'False',
      reason: 'Executing',
      lastTransitionTime: T1,
    });
    const done = conditionsFor(later, { state: 'succeeded', reason: 'Succeeded', message: 'c' }, 1, T2);
    expect(findCondition(done, 'Ready')).toMatchObject({ status: 'True', lastTransitionTime: T2 });
  });

  it('records the generation it was computed for', () => {
    expect(
      findCondition(
        conditionsFor([], { state: 'succeeded', reason: 'Succeeded', message: '' }, 7, T1),
        'Ready',
      )?.observedGeneration,
    ).toBe(7);
  });

  it('leaves conditions other controllers own alone', () => {
    const foreign: Condition = {
      type: 'ExternalAudit',
      status: 'True',
      reason: 'Recorded',
      message: '',
      lastTransitionTime: T1,
    };
    const next = conditionsFor([foreign], { state: 'failed', reason: 'Rejected', message: 'no' }, 1, T2);
    expect(next).toContainEqual(foreign);
  });

  it('is sorted by type so the status is byte-stable', () => {
    const a = setCondition(
      setCondition([], { type: 'Stalled', status: 'True', reason: 'X', message: '' }, 1, T1),
      { type: 'Ready', status: 'False', reason: 'X', message: '' },
      1,
      T1,
    );
    expect(a.map((c) => c.type)).toEqual(['Ready', 'Stalled']);
    expect(isTrue(a, 'Stalled')).toBe(true);
    expect(isTrue(a, 'Ready')).toBe(false);
  });
});
