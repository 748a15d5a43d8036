/** The load step and the status of every outcome, without a server. */
import { describe, expect, it } from '@jest/globals';
import type { WorkflowExecutionStatus } from '../../src/api/generated/types.ts';
import { compileWorkflow, loadWorkflow, type Loaded } from '../../src/core/load.ts';
import { persist } from '../../src/core/statechart.ts';
import { projectWorkflow, type ResourceView } from '../../src/core/project.ts';
import { isoOf } from '../../src/core/time.ts';
import { sequentialSpec, specWith, step } from '../fixtures/specs.ts';
import { T0, world } from '../model/workflow-world.ts';

const cyclic = specWith([step(1, { dependsOn: [2] }), step(2, { dependsOn: [1] })]);
const running = world(sequentialSpec(2)).tick(T0);
const compiled = compileWorkflow(sequentialSpec(2));
if (!compiled.ok) throw new Error('fixture spec is invalid');
const envelope = persist(running.snapshot, compiled.hash);
const before: WorkflowExecutionStatus = { phase: 'executing', statechart: envelope, conditions: [] };

describe('compiling a spec', () => {
  it('gives the plan, the hash and the machine, or every issue with its path', () => {
    expect(compiled.plan.steps.map((s) => s.number)).toEqual([1, 2]);
    expect(compiled.hash).toMatch(/^[0-9a-f]{16}$/);
    expect(compiled.machine.root.states).toHaveProperty('executing');
    const refused = compileWorkflow(cyclic);
    expect(refused.ok ? [] : refused.issues.map((i) => [i.reason, i.path])).toEqual([
      ['DependencyCycle', 'spec.workflowDefinition.steps[0].dependsOn'],
    ]);
    const schema = compileWorkflow({ workflowDefinition: { name: 'x' } });
    expect(schema.ok).toBe(false);
  });
});

describe('loading a workflow', () => {
  it.each<[string, Loaded['kind'], () => Loaded]>([
    ['a new workflow', 'running', () => loadWorkflow(compiled, undefined, T0)],
    ['a persisted statechart', 'running', () => loadWorkflow(compiled, envelope, T0)],
    ['a refused spec', 'invalid', () => loadWorkflow(compileWorkflow(cyclic), undefined, T0)],
    [
      'a statechart of another spec',
      'stalled',
      () => loadWorkflow(compiled, { ...envelope, specHash: '0000000000000000' }, T0),
    ],
  ])('loads %s as %s', (_what, kind, load) => {
    expect(load().kind).toBe(kind);
  });

  it('says whether the snapshot was persisted before', () => {
    const fresh = loadWorkflow(compiled, undefined, T0);
    const again = loadWorkflow(compiled, envelope, T0);
    expect([
      fresh.kind === 'running' && fresh.persisted,
      again.kind === 'running' && again.persisted,
    ]).toEqual([false, true]);
  });
});

describe('the status of every outcome', () => {
  const resource = { name: 'fix-web', generation: 4, status: before };
  const cases: [string, Loaded, Partial<WorkflowExecutionStatus>, [string, string, string][]][] = [
    [
      'running',
      loadWorkflow(compiled, envelope, T0),
      { phase: 'executing', statechart: envelope, progress: '0/2' },
      [
        ['Ready', 'False', 'Executing'],
        ['Reconciling', 'True', 'Executing'],
        ['SafetyChecks', 'True', 'Passed'],
      ],
    ],
    [
      'an invalid spec',
      loadWorkflow(compileWorkflow(cyclic), undefined, T0),
      { phase: 'failed' },
      [
        ['Ready', 'False', 'InvalidSpec'],
        ['Succeeded', 'False', 'InvalidSpec'],
      ],
    ],
    [
      'stalled',
      loadWorkflow(compiled, { ...envelope, specHash: '0000000000000000' }, T0),
      { phase: 'executing', statechart: { ...envelope, specHash: '0000000000000000' } },
      [
        ['Ready', 'False', 'SpecHashMismatch'],
        ['Stalled', 'True', 'SpecHashMismatch'],
      ],
    ],
  ];

  it.each(cases)(
    'projects %s, with observedGeneration, and the same again',
    (_what, loaded, fields, conditions) => {
      const stored: ResourceView = {
        ...resource,
        status: loaded.kind === 'stalled' ? { ...before, ...fields } : before,
      };
      const status = projectWorkflow(loaded, stored, T0 + 1000);
      expect(status).toMatchObject({ ...fields, observedGeneration: 4 });
      expect(status.conditions?.map((c) => [c.type, c.status, c.reason]).sort()).toEqual(conditions.sort());
      // Projected over what it wrote, at a later time: byte for byte the same, so nothing is written.
      const again = projectWorkflow(loaded, { ...stored, status }, T0 + 60_000);
      expect(JSON.stringify(again)).toBe(JSON.stringify(status));
    },
  );

  it('names every issue of a refused spec, with its path, in failureReason and Ready', () => {
    const status = projectWorkflow(loadWorkflow(compileWorkflow(cyclic), undefined, T0), resource, T0);
    expect(status.failureReason).toMatch(
      /^InvalidSpec: spec\.workflowDefinition\.steps\[0\]\.dependsOn: dependency cycle/,
    );
    expect(status.conditions?.find((c) => c.type === 'Ready')).toMatchObject({
      message: expect.stringContaining('steps[0].dependsOn'),
      lastTransitionTime: isoOf(T0),
    });
    expect(status.statechart).toBeUndefined();
  });
});
