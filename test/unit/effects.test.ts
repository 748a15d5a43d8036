/** What must exist and happen now, from the committed snapshot. */
import { describe, expect, it } from '@jest/globals';
import { desiredEffects } from '../../src/core/effects.ts';
import { diamondSpec, sequentialSpec, specWith, step } from '../fixtures/specs.ts';
import { T0, world } from '../model/workflow-world.ts';

const S = 1000;

describe('desired effects', () => {
  it('wants the running attempts, dry runs while dry-running and the current rollback', () => {
    const w = world(diamondSpec())
      .tick(T0)
      .succeed(1, T0 + S);
    const effects = desiredEffects(w.snapshot, w.plan, 'wf');
    expect(effects.children.map((c) => c.name)).toEqual(['wf-step-2-a1', 'wf-step-3-a1']);
    expect(effects.nextDeadline).toBe(T0 + S + 5 * 60 * S);
    expect(effects.checkEffectiveness).toBe(false);

    const dry = world(specWith([step(1), step(2)], { dryRunFirst: true })).tick(T0);
    expect(desiredEffects(dry.snapshot, dry.plan, 'wf').children.map((c) => c.name)).toEqual([
      'wf-dryrun-1',
      'wf-dryrun-2',
    ]);

    const safety = world(specWith([step(1)], { safetyChecks: [{ type: 'rbac', required: true }] })).tick(T0);
    expect(desiredEffects(safety.snapshot, safety.plan, 'wf')).toMatchObject({
      runSafetyChecks: true,
      nextDeadline: T0 + 5 * 60 * S,
    });

    const rollbackSpec = {
      action: 'uncordon-node' as const,
      parameters: { uncordonNode: { nodeName: 'n1' } },
    };
    const rb = world(specWith([step(1, { rollbackSpec }), step(2, { dependsOn: [1], criticalStep: true })]))
      .tick(T0)
      .succeed(1, T0 + S)
      .failStep(2, T0 + 2 * S);
    expect(desiredEffects(rb.snapshot, rb.plan, 'wf').children).toEqual([
      // The rollback's own timeout, or its step's (5 m) when it declares none.
      {
        name: 'wf-rollback-1',
        kind: 'rollback',
        stepNumber: 1,
        attempt: 1,
        timeoutMs: 5 * 60 * S,
        // When it started: the child carries it, for the timeline.
        startedAt: T0 + 2 * S,
      },
    ]);

    const done = world(sequentialSpec(1))
      .tick(T0)
      .succeed(1, T0 + S);
    expect(desiredEffects(done.snapshot, done.plan, 'wf')).toMatchObject({
      children: [],
      checkEffectiveness: true,
    });
  });
});
