/** The names of a workflow's children. */
import { describe, expect, it } from '@jest/globals';
import { childName } from '../../src/core/child-name.ts';

describe('child names', () => {
  it('names children after the workflow, kind, step and attempt', () => {
    expect(childName('fix-web', 'step', 3, 2)).toBe('fix-web-step-3-a2');
    expect(childName('fix-web', 'dryRun', 3, 1)).toBe('fix-web-dryrun-3');
    expect(childName('fix-web', 'rollback', 3, 1)).toBe('fix-web-rollback-3');
  });
  it('shortens long names with a hash, always a valid DNS label, distinct per input', () => {
    const long = 'a'.repeat(60);
    const names = [
      childName(long, 'step', 1, 1),
      childName(long, 'step', 1, 2),
      childName(`${long}b`, 'step', 1, 1),
    ];
    for (const name of [...names, childName('Fix.Web', 'step', 1, 1), childName('---', 'rollback', 1, 1)]) {
      expect(name.length).toBeLessThanOrEqual(63);
      expect(name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    }
    expect(new Set(names).size).toBe(3);
    expect(names[1]).toMatch(/-step-1-a2$/);
  });
});
