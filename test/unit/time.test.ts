import { describe, expect, it } from '@jest/globals';
import { isoOf } from '../../src/core/time.ts';
import { T0 } from '../model/workflow-world.ts';

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

describe('status times', () => {
  it('are exactly what Date prints, within four-digit years', () => {
    for (const ms of [0, 1, 951_782_400_000, 1_735_787_045_678, 4_102_444_800_000, -1, 253_402_300_799_999])
      expect(isoOf(ms)).toBe(new Date(ms).toISOString());
  });

  it('stay valid date-times for a deadline years or millennia away, where Date overflows', () => {
    const far = Date.UTC(2026, 0, 1) + 9_999_999_999 * 3_600_000; // now + "9999999999h"
    expect(Number.isNaN(new Date(far).getTime())).toBe(true);
    for (const ms of [far, 8.64e15, 8.64e15 + 1, Number.POSITIVE_INFINITY, Number.MAX_VALUE]) {
      expect(isoOf(ms)).toBe('9999-12-31T23:59:59.999Z');
    }
    expect(isoOf(Number.NEGATIVE_INFINITY)).toBe('0000-01-01T00:00:00.000Z');
    expect(isoOf(Number.NaN)).toMatch(RFC3339);
  });
});

describe('status times of a run', () => {
  it('format epoch milliseconds exactly like toISOString', () => {
    for (const ms of [0, T0, 951_782_400_000, 4_102_444_799_999, 1_709_164_800_123]) {
      expect(isoOf(ms)).toBe(new Date(ms).toISOString());
    }
  });
});
