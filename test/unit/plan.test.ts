import { describe, expect, it } from '@jest/globals';
import { planWorkflow } from '../../src/core/plan.ts';
import type { ExecutionPlan } from '../../machines/plan.ts';
import type { ResolvedSpec } from '../../src/api/resolved-spec.ts';
import { customStep, diamondSpec, sequentialSpec, specWith, step } from '../fixtures/specs.ts';

function planOf(spec: ResolvedSpec): ExecutionPlan {
  const result = planWorkflow(spec);
  if (!result.ok) throw new Error(`expected a plan, got ${JSON.stringify(result.issues)}`);
  return result.plan;
}

function issuesOf(spec: ResolvedSpec) {
  const result = planWorkflow(spec);
  if (result.ok) throw new Error('expected the planner to refuse the spec');
  return result.issues;
}

describe('the planner orders steps', () => {
  it('runs undeclared steps one after another in step-number order', () => {
    const plan = planOf(sequentialSpec(3));
    expect(plan.levels).toEqual([[1], [2], [3]]);
    expect(plan.strategy).toBe('sequential');
    expect(plan.rollbackOrder).toEqual([3, 2, 1]);
  });

  it('groups the branches of a diamond into one parallel level', () => {
    const plan = planOf(diamondSpec());
    expect(plan.levels).toEqual([[1], [2, 3], [4]]);
    expect(plan.strategy).toBe('sequential-with-parallel');
    expect(plan.rollbackOrder).toEqual([4, 3, 2, 1]);
  });

  it('calls a workflow of independent steps parallel', () => {
    const plan = planOf(specWith([step(1, { dependsOn: [] }), step(2), step(3)], {}, {}));
    // An explicit empty dependsOn declares the graph: nothing waits for anything.
    expect(plan.levels).toEqual([[1, 2, 3]]);
    expect(plan.strategy).toBe('parallel');
  });

  it('merges dependencies by name with dependsOn', () => {
    const spec = specWith([step(1), step(2), step(3, { dependsOn: [1] })]);
    spec.workflowDefinition.dependencies = { 'step-2': ['step-1'], 'step-3': ['step-1'] };
    expect(planOf(spec).levels).toEqual([[1], [2, 3]]);
  });

  it('estimates the duration along the critical path of step timeouts', () => {
    const spec = specWith([
      step(1, { timeout: '1m' }),
      step(2, { dependsOn: [1], timeout: '10m' }),
      step(3, { dependsOn: [1], timeout: '2m' }),
      step(4, { dependsOn: [2, 3], timeout: '30s' }),
    ]);
    expect(planOf(spec).estimatedDurationMs).toBe((60 + 600 + 30) * 1000);
  });

  it('prefers the AI estimate when there is one', () => {
    const spec = sequentialSpec(2);
    spec.workflowDefinition.aiRecommendations = { estimatedDuration: '5m30s' };
    expect(planOf(spec).estimatedDurationMs).toBe(330_000);
  });

  it('applies the specification defaults for timeout and retries, and the strategy retries as fallback', () => {
    const spec = specWith([step(1), step(2, { maxRetries: 1, timeout: '45s' })], { maxRetries: 3 });
    const [first, second] = planOf(spec).steps;
    expect(first).toMatchObject({ number: 1, timeoutMs: 300_000, maxRetries: 3 });
    expect(second).toMatchObject({ number: 2, timeoutMs: 45_000, maxRetries: 1 });
    expect(planOf(sequentialSpec(1)).steps[0]?.maxRetries).toBe(0);
  });

  it('gives a rollback the step timeout unless it has its own', () => {
    const rollbackSpec = {
      action: 'scale-to-previous' as const,
      parameters: { scaleToPrevious: { namespace: 'shop', deployment: 'web-1', previousReplicas: 2 } },
    };
    const plan = planOf(
      specWith([
        step(1, { timeout: '2m', rollbackSpec }),
        step(2, { rollbackSpec: { ...rollbackSpec, timeout: '20s' } }),
      ]),
    );
    expect(plan.steps.map((s) => s.rollback?.timeoutMs)).toEqual([120_000, 20_000]);
  });

  it('takes timeouts up to 720h, past the 24.8 days a Node timer holds', () => {
    const plan = planOf(specWith([step(1, { timeout: '720h' })]));
    expect(plan.steps[0]?.timeoutMs).toBe(720 * 3_600_000);
  });

  it('refuses a timeout longer than 720h, with the reason and the path', () => {
    const rollbackSpec = {
      action: 'scale-to-previous' as const,
      parameters: { scaleToPrevious: { namespace: 'shop', deployment: 'web-1', previousReplicas: 2 } },
      timeout: '9999999999h',
    };
    expect(issuesOf(specWith([step(1, { timeout: '721h' }), step(2, { rollbackSpec })]))).toEqual([
      {
        reason: 'InvalidDuration',
        path: 'spec.workflowDefinition.steps[0].timeout',
        message: '"721h" is longer than the longest timeout allowed, 720h',
      },
      {
        reason: 'InvalidDuration',
        path: 'spec.workflowDefinition.steps[1].rollbackSpec.timeout',
        message: '"9999999999h" is longer than the longest timeout allowed, 720h',
      },
    ]);
  });
});

describe('AI parallel-execution suggestions', () => {
  const withSuggestion = (spec: ResolvedSpec, stepNumbers: number[], optimizationEnabled = true) => {
    spec.workflowDefinition.aiRecommendations = {
      parallelExecutionSuggestions: [{ groupName: 'fanout', stepNumbers, confidence: 0.9 }],
    };
    spec.adaptiveOrchestration = { optimizationEnabled };
    return spec;
  };

  it('runs consecutive steps of a sequential workflow together and records the adjustment', () => {
    const plan = planOf(withSuggestion(sequentialSpec(4), [2, 3]));
    expect(plan.levels).toEqual([[1], [2, 3], [4]]);
    expect(plan.adaptiveAdjustments).toEqual([
      expect.objectContaining({ adjustment: 'steps [2, 3] run in parallel' }),
    ]);
  });

  it('changes nothing when optimization is disabled', () => {
    const plan = planOf(withSuggestion(sequentialSpec(4), [2, 3], false));
    expect(plan.levels).toEqual([[1], [2], [3], [4]]);
    expect(plan.adaptiveAdjustments).toEqual([]);
  });

  it('never breaks a declared dependency', () => {
    const plan = planOf(withSuggestion(diamondSpec(), [2, 4]));
    expect(plan.levels).toEqual([[1], [2, 3], [4]]);
    expect(plan.adaptiveAdjustments[0]).toMatchObject({
      adjustment: 'ignored parallel suggestion group "fanout"',
      reason: 'step 4 depends on another step of the group',
    });
  });

  it('refuses to jump over a step in a sequential workflow', () => {
    const plan = planOf(withSuggestion(sequentialSpec(4), [2, 4]));
    expect(plan.levels).toEqual([[1], [2], [3], [4]]);
    expect(plan.adaptiveAdjustments[0]?.adjustment).toContain('ignored');
  });
});

describe('the planner refuses bad graphs with a reason and a path', () => {
  const cases: [string, () => ResolvedSpec, { reason: string; path: string; message?: RegExp }[]][] = [
    [
      'a two-step cycle',
      () => specWith([step(1, { dependsOn: [2] }), step(2, { dependsOn: [1] })]),
      [
        {
          reason: 'DependencyCycle',
          path: 'spec.workflowDefinition.steps[0].dependsOn',
          message: /step 1 \(step-1\) -> 2 \(step-2\) -> 1 \(step-1\)/,
        },
      ],
    ],
    [
      'a cycle behind a valid step',
      () =>
        specWith([
          step(1),
          step(2, { dependsOn: [1, 4] }),
          step(3, { dependsOn: [2] }),
          step(4, { dependsOn: [3] }),
        ]),
      [
        {
          reason: 'DependencyCycle',
          path: 'spec.workflowDefinition.steps[1].dependsOn',
          message: /2 \(step-2\) -> 3 \(step-3\) -> 4 \(step-4\) -> 2/,
        },
      ],
    ],
    [
      'a dangling dependsOn',
      () => specWith([step(1), step(2, { dependsOn: [1, 9] })]),
      [
        {
          reason: 'UnknownDependency',
          path: 'spec.workflowDefinition.steps[1].dependsOn[1]',
          message: /step 9 does not exist/,
        },
      ],
    ],
    [
      'a step depending on itself',
      () => specWith([step(1), step(2, { dependsOn: [2] })]),
      [{ reason: 'SelfDependency', path: 'spec.workflowDefinition.steps[1].dependsOn[0]' }],
    ],
    [
      'a dependency listed twice',
      () => specWith([step(1), step(2, { dependsOn: [1, 1] })]),
      [{ reason: 'DuplicateDependency', path: 'spec.workflowDefinition.steps[1].dependsOn[1]' }],
    ],
    [
      'duplicate step numbers',
      () => specWith([step(1), step(1, { name: 'other' })]),
      [{ reason: 'DuplicateStepNumber', path: 'spec.workflowDefinition.steps[1].stepNumber' }],
    ],
    [
      'duplicate step names',
      () => specWith([step(1), step(2, { name: 'step-1' })]),
      [{ reason: 'DuplicateStepName', path: 'spec.workflowDefinition.steps[1].name' }],
    ],
    [
      'an empty workflow',
      () => specWith([]),
      [{ reason: 'EmptyWorkflow', path: 'spec.workflowDefinition.steps' }],
    ],
    [
      'a named dependency on an unknown step',
      () => {
        const spec = sequentialSpec(2);
        spec.workflowDefinition.dependencies = { 'step-2': ['nope'] };
        return spec;
      },
      [{ reason: 'UnknownDependency', path: 'spec.workflowDefinition.dependencies["step-2"][0]' }],
    ],
    [
      'named dependencies for a step that does not exist',
      () => {
        const spec = sequentialSpec(2);
        spec.workflowDefinition.dependencies = { ghost: ['step-1'] };
        return spec;
      },
      [{ reason: 'UnknownStep', path: 'spec.workflowDefinition.dependencies["ghost"]' }],
    ],
    [
      'dependsOn and dependencies that disagree',
      () => {
        const spec = specWith([step(1), step(2), step(3, { dependsOn: [1] })]);
        spec.workflowDefinition.dependencies = { 'step-3': ['step-2'] };
        return spec;
      },
      [{ reason: 'DependencyDisagreement', path: 'spec.workflowDefinition.steps[2].dependsOn' }],
    ],
    [
      'an unparseable timeout',
      () => specWith([step(1, { timeout: 'soon' })]),
      [{ reason: 'InvalidDuration', path: 'spec.workflowDefinition.steps[0].timeout' }],
    ],
    [
      'unicode step names in a cycle are named as written',
      () =>
        specWith([
          step(1, { name: 'перезапуск-🚀', dependsOn: [2] }),
          step(2, { name: '缩放', dependsOn: [1] }),
        ]),
      [
        {
          reason: 'DependencyCycle',
          path: 'spec.workflowDefinition.steps[0].dependsOn',
          message: /перезапуск-🚀.*缩放/,
        },
      ],
    ],
  ];

  it.each(cases)('%s', (_name, spec, expected) => {
    const issues = issuesOf(spec());
    expect(issues).toHaveLength(expected.length);
    expected.forEach((want, i) => {
      expect(issues[i]).toMatchObject({ reason: want.reason, path: want.path });
      if (want.message) expect(issues[i]?.message).toMatch(want.message);
    });
  });
});

describe('rollback without writing one', () => {
  it('plans the inverse the action catalogue names for a step without a rollbackSpec, none for an irreversible one', () => {
    const rollbackSpec = {
      action: 'custom' as const,
      parameters: { custom: { actionType: 'undo' } },
    };
    const plan = planOf(
      specWith([
        step(1, { timeout: '2m' }),
        customStep(2),
        customStep(3, { rollbackSpec }),
        {
          stepNumber: 4,
          name: 'drain',
          action: 'drain-node',
          parameters: { drainNode: { nodeName: 'n1' } },
        },
      ]),
    );
    expect(plan.steps.map((s) => [s.number, s.rollback])).toEqual([
      [1, { action: 'scale-to-previous', source: 'inverse', timeoutMs: 120_000 }],
      [2, null],
      [3, { action: 'custom', source: 'rollbackSpec', timeoutMs: 300_000 }],
      [4, { action: 'uncordon-node', source: 'inverse', timeoutMs: 300_000 }],
    ]);
  });
});
