/** The spec hash: the same spec whatever its key order, another for another spec. */
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { specHash, canonicalJson, fnv1a64 } from '../../src/core/spec-hash.ts';
import { sequentialSpec } from '../fixtures/specs.ts';

describe('spec hash', () => {
  it('is the same for the same spec whatever the key order, and differs otherwise', () => {
    expect(specHash({ a: 1, b: [1, { c: 2, d: 3 }] })).toBe(specHash({ b: [1, { d: 3, c: 2 }], a: 1 }));
    expect(specHash(sequentialSpec(2))).not.toBe(specHash(sequentialSpec(3)));
    expect(specHash(sequentialSpec(2))).toMatch(/^[0-9a-f]{16}$/);
    expect(canonicalJson({ b: undefined, a: [undefined] })).toBe('{"a":[null]}');
  });

  it('is FNV-1a 64: the published test vectors, and the 64-bit arithmetic done the long way for any text', () => {
    expect(fnv1a64('')).toBe('cbf29ce484222325');
    expect(fnv1a64('a')).toBe('af63dc4c8601ec8c');
    expect(fnv1a64('foobar')).toBe('85944171f73967e8');
    const byBigInt = (text: string): string => {
      let hash = 0xcbf29ce484222325n;
      for (const byte of new TextEncoder().encode(text))
        hash = ((hash ^ BigInt(byte)) * 0x100000001b3n) & (2n ** 64n - 1n);
      return hash.toString(16).padStart(16, '0');
    };
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (text) => fnv1a64(text) === byBigInt(text)),
    );
  });
});
