// The reference pages are generated from the one source of truth (the CRDs from src/api/schema, wfx's
// usage text), and the check behind `npm run generate:check` reports a page that no longer matches it.
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { kubernetesExecutionCrd, workflowExecutionCrd } from '../../src/api/schema/crds.ts';
import { EXECUTOR_USAGE, OPERATOR_USAGE, USAGE } from '../../src/cli/usage.ts';
import { driftedFiles, type GeneratedFile } from '../../scripts/generated-files.ts';
import { API_REFERENCE_FILE, apiReference } from '../../scripts/reference/api-reference.ts';
import { CLI_REFERENCE_FILE, cliReference } from '../../scripts/reference/cli-reference.ts';

const CRDS = [workflowExecutionCrd, kubernetesExecutionCrd];
const REPO_ROOT = join(import.meta.dirname, '..', '..');

/** A root holding only the given files, as a checkout would. */
function checkoutWith(files: readonly GeneratedFile[]): string {
  const root = mkdtempSync(join(tmpdir(), 'wfe-reference-'));
  for (const [path, content] of files) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  return root;
}

interface SchemaNode {
  properties: Record<string, SchemaNode & Record<string, unknown>>;
  items: SchemaNode;
}

/** A deep copy of the WorkflowExecution CRD with one change made to a step's fields. */
function withChangedStep(change: (stepFields: SchemaNode['properties']) => void): Record<string, unknown> {
  const copy = structuredClone(workflowExecutionCrd) as {
    spec: { versions: { schema: { openAPIV3Schema: SchemaNode } }[] };
  };
  const spec = copy.spec.versions[0]!.schema.openAPIV3Schema.properties['spec']!;
  change(spec.properties['workflowDefinition']!.properties['steps']!.items.properties);
  return copy;
}

describe('the API reference', () => {
  const page = apiReference(CRDS);
  const row = (field: string) => page.split('\n').find((line) => line.startsWith(`| \`${field}\` |`));

  it('lists every field of both resources with its type, whether it is required, its bounds and description', () => {
    expect(row('spec.workflowDefinition.steps')).toBe(
      '| `spec.workflowDefinition.steps` | []object | yes | items ≥ 1; items ≤ 200 | The steps; step numbers are unique. |',
    );
    expect(row('spec.workflowDefinition.steps[].stepNumber')).toMatch(/\| integer \| yes \| ≥ 1; ≤ 10000 \|/);
    expect(row('spec.executionStrategy.rollbackStrategy')).toMatch(/one of `automatic`, `manual`, `none`/);
    expect(row('status.phase')).toBeDefined();
    expect(row('spec.workflowExecutionRef')).toBeDefined(); // KubernetesExecution's spec
    expect(page).toContain('## KubernetesExecution');
  });

  it('is committed as generated', () => {
    expect(driftedFiles([[API_REFERENCE_FILE, page]], REPO_ROOT)).toEqual([]);
  });

  it('is reported as drifted when a field of the schema changes', () => {
    const root = checkoutWith([[API_REFERENCE_FILE, page]]);
    const changed = apiReference([
      withChangedStep((step) => {
        step['name']!['maxLength'] = 64;
      }),
      kubernetesExecutionCrd,
    ]);
    expect(changed).not.toBe(page);
    expect(changed).toContain(
      '| `spec.workflowDefinition.steps[].name` | string | yes | length ≥ 1; length ≤ 64 |',
    );
    expect(driftedFiles([[API_REFERENCE_FILE, changed]], root)).toEqual([API_REFERENCE_FILE]);
  });

  it('is reported as drifted when a field is added, and when the page is missing', () => {
    const added = apiReference([
      withChangedStep((step) => {
        step['owner'] = { type: 'string', maxLength: 63, description: 'Who owns the step.' } as never;
      }),
      kubernetesExecutionCrd,
    ]);
    expect(added).toContain(
      '| `spec.workflowDefinition.steps[].owner` | string |  | length ≤ 63 | Who owns the step. |',
    );
    expect(driftedFiles([[API_REFERENCE_FILE, added]], checkoutWith([[API_REFERENCE_FILE, page]]))).toEqual([
      API_REFERENCE_FILE,
    ]);
    expect(driftedFiles([[API_REFERENCE_FILE, page]], checkoutWith([]))).toEqual([API_REFERENCE_FILE]);
  });
});

describe('the CLI reference', () => {
  const page = cliReference(USAGE, OPERATOR_USAGE, EXECUTOR_USAGE);

  it('has a row for every command and every operator flag of wfx’s usage text', () => {
    expect(page).toContain('| `retry NAME [--wait SECONDS]` | re-run the failed and skipped steps');
    expect(page).toContain('| `--progress-write-delay MS` | how long step progress may wait');
    expect(page).toContain('| `--shards N` | spread workflows over N shards');
    expect(page).toContain(USAGE);
    expect(page).toContain(OPERATOR_USAGE);
  });

  it('is committed as generated, and reported as drifted when the usage text changes', () => {
    expect(readFileSync(join(REPO_ROOT, CLI_REFERENCE_FILE), 'utf8')).toBe(page);
    const changed = cliReference(
      USAGE.replace(
        '  get [-A]                 list workflows',
        '  get [-A] [-w]            list workflows, watching',
      ),
      OPERATOR_USAGE,
      EXECUTOR_USAGE,
    );
    expect(driftedFiles([[CLI_REFERENCE_FILE, changed]], REPO_ROOT)).toEqual([CLI_REFERENCE_FILE]);
  });

  it('refuses usage text it cannot read rather than write a wrong page', () => {
    expect(() =>
      cliReference(USAGE.replace('commands:', 'subcommands:'), OPERATOR_USAGE, EXECUTOR_USAGE),
    ).toThrow(/no "commands:" section/);
  });
});
