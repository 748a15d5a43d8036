/**
 * The harness of one test file: started before its tests, stopped after them, so no suite writes
 * that lifecycle itself. Kept apart from harness.ts, which the benchmarks import outside jest.
 */
import { afterAll, beforeAll } from '@jest/globals';
import type { KubernetesExecution } from '../../../src/api/generated/types.ts';
import type { Script, Verdict } from '../../support/executor.ts';
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

/** What the scripted executor answers for a child nobody scripted: done, and a dry run that would succeed. */
export const SUCCEEDS: Verdict = { phase: 'completed', wouldSucceed: true };

export interface ScriptedSuite {
  h: Harness;
  /** The executor's answers per workflow (by name); a workflow without one has every child succeed. */
  scripts: Map<string, (child: KubernetesExecution) => Verdict>;
  /** Each step's status in the workflow's status, by step number. */
  statusOfStep: (name: string) => Promise<Map<number, string | undefined>>;
}

/** A suite's harness whose executor each test scripts per workflow. */
export function scriptedSuite(options?: HarnessOptions): ScriptedSuite {
  const scripts = new Map<string, (child: KubernetesExecution) => Verdict>();
  const h = harnessForSuite(
    (child) => scripts.get(child.spec.workflowExecutionRef.name)?.(child) ?? SUCCEEDS,
    options,
  );
  const statusOfStep = async (name: string) =>
    new Map((await h.workflows.get(name)).status?.stepStatuses?.map((s) => [s.stepNumber, s.status]));
  return { h, scripts, statusOfStep };
}
