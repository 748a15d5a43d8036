import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { PHASES } from '../../machines/workflow.ts';
import { machineOf } from '../../src/core/load.ts';
import { activeStateIds, toDot, toMermaid } from '../../src/core/diagram.ts';
import { diamondSpec } from '../fixtures/specs.ts';
import { T0, planOf, world } from '../model/workflow-world.ts';

describe('diagrams', () => {
  it('draws every state and a parallel region per step, the same text every time', () => {
    const machine = machineOf(planOf(diamondSpec()));
    const mermaid = toMermaid(machine);
    expect(mermaid.startsWith('stateDiagram-v2')).toBe(true);
    for (const phase of PHASES) expect(mermaid).toContain(`state "${phase}"`);
    expect(mermaid).toContain(
      'workflow_executing_step4_running --> workflow_executing_step4_succeeded : STEP_RESULT [resultSucceeded]',
    );
    expect(toMermaid(machineOf(planOf(diamondSpec())))).toBe(mermaid);
    expect(toDot(machine)).toContain('subgraph cluster_workflow_executing_step2 {');
  });

  it('highlights the active states', () => {
    const w = world(diamondSpec()).tick(T0);
    const active = activeStateIds(w.snapshot.value, 'workflow');
    expect(toMermaid(w.machine, { active })).toContain('class workflow_executing_step1_running active');
    expect(toDot(w.machine, { active })).toMatch(
      /workflow_executing_step1_running \[label="running", fillcolor="#ffd54f"/,
    );
  });

  it('matches the committed files in visualizations/ (npm run diagrams:check)', () => {
    expect(() =>
      execFileSync(process.execPath, ['scripts/diagrams.ts', '--check'], { stdio: 'pipe' }),
    ).not.toThrow();
  });
});
