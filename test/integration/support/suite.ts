/**
 * The harness of one test file: started before its tests, stopped after them, so no suite writes
 * that lifecycle itself. Kept apart from harness.ts, which the benchmarks import outside jest.
 */
import { afterAll, beforeAll } from '@jest/globals';
import type { Script } from '../../support/executor.ts';
import { startHarness, type Harness, type HarnessOptions } from './harness.ts';

/**
 * Registers beforeAll (start) and afterAll (stop, also after a start that failed half-way: the
 * harness stops what it started itself) and returns the harness. It is only there inside tests and
 * later hooks; reading it earlier throws, naming why.
 */
export function harnessForSuite(script?: Script, options?: HarnessOptions): Harness {
  let started: Harness | undefined;
  beforeAll(async () => {
    started = await startHarness(script, options);
  });
  afterAll(async () => {
    await started?.stop();
  });
  return new Proxy({} as Harness, {
    get(_target, key) {
      if (started === undefined)
        throw new Error(`harness.${String(key)} read before the harness started (use it inside a test)`);
      const value: unknown = Reflect.get(started, key);
      return value;
    },
  });
}
