/** The spec hash: the same spec whatever its key order, another for another spec. */
import { describe, expect, it } from '@jest/globals';
import { specHash, canonicalJson } from '../../src/core/spec-hash.ts';
import { sequentialSpec } from '../fixtures/specs.ts';

describe('spec hash', () => {
  it('is the same for the same spec whatever the key order, and differs otherwise', () => {
    expect(specHash({ a: 1, b: [1, { c: 2, d: 3 }] })).toBe(specHash({ b: [1, { d: 3, c: 2 }], a: 1 }));
    expect(specHash(sequentialSpec(2))).not.toBe(specHash(sequentialSpec(3)));
    expect(specHash(sequentialSpec(2))).toMatch(/^[0-9a-f]{16}$/);
    expect(canonicalJson({ b: undefined, a: [undefined] })).toBe('{"a":[null]}');
  });
});
