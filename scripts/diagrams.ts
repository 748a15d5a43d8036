/**
 * `npm run diagrams`: draws the workflow statechart for example plans into visualizations/
 * (Mermaid, DOT and SVG rendered in-process with Graphviz compiled to WebAssembly).
 * `npm run diagrams:check` fails when the committed files differ from what would be drawn.
 */
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Graphviz } from '@hpcc-js/wasm-graphviz';
import type { WorkflowExecutionSpec, WorkflowStep } from '../src/api/generated/types.ts';
import { toDot, toMermaid } from '../src/core/diagram.ts';
import { machineOf } from '../src/core/load.ts';
import { planWorkflow } from '../src/core/plan.ts';
import type { ResolvedSpec } from '../src/api/resolved-spec.ts';

const OUT = 'visualizations';

const step = (n: number, extra: Partial<WorkflowStep> = {}): WorkflowStep => ({
  stepNumber: n,
  name: `step-${n}`,
  action: 'scale-deployment',
  parameters: { scaleDeployment: { namespace: 'shop', deployment: `web-${n}`, replicas: 3 } },
  ...extra,
});
const rollbackSpec: WorkflowStep['rollbackSpec'] = {
  action: 'scale-to-previous',
  parameters: { scaleToPrevious: { namespace: 'shop', deployment: 'web', previousReplicas: 2 } },
};
const spec = (
  name: string,
  steps: WorkflowStep[],
  strategy: Partial<WorkflowExecutionSpec['executionStrategy']> = {},
): WorkflowExecutionSpec => ({
  workflowDefinition: { name, steps },
  executionStrategy: { rollbackStrategy: 'automatic', ...strategy },
});

export const EXAMPLES: Record<string, { title: string; spec: WorkflowExecutionSpec }> = {
  lifecycle: {
    title: 'Workflow lifecycle: safety checks, dry run, approval, retries, automatic rollback',
    spec: spec(
      'lifecycle',
      [step(1, { rollbackSpec, maxRetries: 1 }), step(2, { dependsOn: [1], criticalStep: true })],
      {
        safetyChecks: [{ type: 'rbac', required: true }],
        dryRunFirst: true,
        approvalRequired: true,
      },
    ),
  },
  sequential: {
    title: 'Sequential: three steps, one after another',
    spec: spec('sequential', [step(1), step(2), step(3)], { rollbackStrategy: 'none' }),
  },
  diamond: {
    title: 'Diamond: 1 -> (2, 3 in parallel) -> 4',
    spec: spec(
      'diamond',
      [step(1), step(2, { dependsOn: [1] }), step(3, { dependsOn: [1] }), step(4, { dependsOn: [2, 3] })],
      {
        rollbackStrategy: 'none',
      },
    ),
  },
  'approval-dry-run': {
    title: 'Approval after a dry run, manual rollback',
    spec: spec(
      'approval-dry-run',
      [step(1, { rollbackSpec }), step(2, { dependsOn: [1], criticalStep: true })],
      {
        dryRunFirst: true,
        approvalRequired: true,
        rollbackStrategy: 'manual',
      },
    ),
  },
  'automatic-rollback': {
    title: 'Automatic rollback of completed steps, in reverse order',
    spec: spec(
      'automatic-rollback',
      [
        step(1, { rollbackSpec }),
        step(2, { dependsOn: [1], rollbackSpec }),
        step(3, { dependsOn: [2], criticalStep: true, maxRetries: 2 }),
      ],
      { rollbackStrategy: 'automatic' },
    ),
  },
};

export async function drawAll(): Promise<Map<string, string>> {
  const graphviz = await Graphviz.load();
  const files = new Map<string, string>();
  for (const [name, { title, spec: s }] of Object.entries(EXAMPLES)) {
    const result = planWorkflow(s as ResolvedSpec);
    if (!result.ok) throw new Error(`${name}: ${JSON.stringify(result.issues)}`);
    const machine = machineOf(result.plan);
    const dot = toDot(machine, { title });
    files.set(`${name}.mmd`, toMermaid(machine, { title }));
    files.set(`${name}.dot`, dot);
    files.set(`${name}.svg`, graphviz.dot(dot));
  }
  return files;
}

async function main(): Promise<void> {
  const check = process.argv.includes('--check');
  const files = await drawAll();
  const stale: string[] = [];
  await mkdir(OUT, { recursive: true });
  for (const [file, content] of files) {
    const path = join(OUT, file);
    if (check) {
      const current = await readFile(path, 'utf8').catch(() => null);
      if (current !== content) stale.push(path);
    } else {
      await writeFile(path, content);
    }
  }
  if (check && stale.length > 0) {
    console.error(`diagrams are out of date (run npm run diagrams): ${stale.join(', ')}`);
    process.exit(1);
  }
  console.log(check ? `diagrams up to date (${files.size} files)` : `wrote ${files.size} files to ${OUT}/`);
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) await main();
