// Runs made from a WorkflowTemplate, against the real apiserver: the reference is resolved once, at
// planning, and recorded in the run; published versions are immutable; what cannot be resolved ends
// the run failed with InvalidSpec and the JSON path.
import { execFile } from 'node:child_process';
import { beforeAll, describe, expect, it, jest } from '@jest/globals';

import type {
  WorkflowExecutionSpec,
  WorkflowTemplate,
  WorkflowTemplateVersion,
} from '../../src/api/generated/types.ts';
import { ApiError } from '../../src/shell/kube/client.ts';
import { WORKFLOW_TEMPLATES, resourcePath } from '../../src/shell/kube/resources.ts';
import { customStep } from '../fixtures/specs.ts';
import { untilSpecPolicyEnforced } from './support/admission.ts';
import { awaitingApproval, conditionOf, inPhase } from './support/harness.ts';
import { harnessForSuite } from './support/suite.ts';
import { sharedControlPlane } from '../support/shared-control-plane.ts';

jest.setTimeout(90_000);

const h = harnessForSuite();

/** A custom step whose note and retries come from the run's parameters. */
const noteVersion = (version: string, extra = ''): WorkflowTemplateVersion => ({
  version,
  parameters: [
    { name: 'note', type: 'string', required: true, description: 'What the step writes down.' },
    { name: 'retries', type: 'integer', default: '2' },
  ],
  workflowDefinition: {
    steps: [
      {
        stepNumber: 1,
        name: 'note-it',
        action: 'custom',
        maxRetries: '${params.retries}',
        parameters: { custom: { actionType: 'noop', config: { note: `\${params.note}${extra}` } } },
      },
    ],
  },
});

async function applyTemplate(name: string, versions: WorkflowTemplateVersion[]): Promise<WorkflowTemplate> {
  return h.client.request<WorkflowTemplate>(resourcePath(WORKFLOW_TEMPLATES, h.namespace), {
    body: {
      apiVersion: 'workflowexecution.kubernaut.io/v1',
      kind: 'WorkflowTemplate',
      metadata: { name, namespace: h.namespace },
      spec: { description: 'Write a note.', versions },
    },
  });
}

const templatePath = (name: string) => resourcePath(WORKFLOW_TEMPLATES, h.namespace, name);

const fromTemplate = (
  name: string,
  parameters: Record<string, string> | undefined,
  version?: string,
  strategy: Partial<WorkflowExecutionSpec['executionStrategy']> = {},
): WorkflowExecutionSpec => ({
  workflowTemplateRef: { name, ...(version ? { version } : {}) },
  ...(parameters ? { parameters } : {}),
  executionStrategy: { rollbackStrategy: 'automatic', ...strategy },
});

async function refusal(promise: Promise<unknown>): Promise<ApiError | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
}

beforeAll(async () => {
  await untilSpecPolicyEnforced(h.client, h.namespace);
  await applyTemplate('note', [noteVersion('1.0.0'), noteVersion('2.0.0', ' (v2)')]);
});

describe('a run made from a template', () => {
  it('runs the version it names with its parameters, and records what it resolved', async () => {
    await h.workflows.apply('from-v1', fromTemplate('note', { note: 'disk full', retries: '1' }, '1.0.0'));
    const wf = await h.workflows.waitFor('from-v1', inPhase('completed'), 'completed');
    expect(wf.status?.resolvedTemplate).toMatchObject({
      name: 'note',
      version: '1.0.0',
      parameters: { note: 'disk full', retries: '1' },
      workflowDefinition: { name: 'note', version: '1.0.0', steps: [{ name: 'note-it', maxRetries: 1 }] },
    });
    const [child] = await h.workflows.childrenOf('from-v1');
    expect(child?.spec.parameters?.custom?.config).toEqual({ note: 'disk full' });
  });

  it('without a version runs the last one published, with the defaults', async () => {
    await h.workflows.apply('latest', fromTemplate('note', { note: 'cpu' }));
    const wf = await h.workflows.waitFor('latest', inPhase('completed'), 'completed');
    expect(wf.status?.resolvedTemplate).toMatchObject({ version: '2.0.0', parameters: { retries: '2' } });
    const [child] = await h.workflows.childrenOf('latest');
    expect(child?.spec.parameters?.custom?.config).toEqual({ note: 'cpu (v2)' });
  });

  it('keeps its resolved definition when the template is deleted while it runs', async () => {
    await applyTemplate('short-lived', [noteVersion('1')]);
    await h.workflows.apply(
      'outlives',
      fromTemplate('short-lived', { note: 'kept' }, '1', { approvalRequired: true }),
    );
    await h.workflows.waitFor('outlives', awaitingApproval, 'awaiting approval');
    await h.client.request(templatePath('short-lived'), { method: 'DELETE' });
    await h.workflows.annotate('outlives', 'workflowexecution.kubernaut.io/approved-by', h.username);
    const wf = await h.workflows.waitFor('outlives', inPhase('completed'), 'completed');
    expect(wf.status?.resolvedTemplate?.workflowDefinition.steps[0]?.name).toBe('note-it');
    const [child] = await h.workflows.childrenOf('outlives');
    expect(child?.spec.parameters?.custom?.config).toEqual({ note: 'kept' });
  });
});

describe('a published version', () => {
  it('cannot be changed; a new version can be added', async () => {
    const template = await h.client.request<WorkflowTemplate>(templatePath('note'));
    const edited = template.spec.versions.map((v, i) => (i === 0 ? noteVersion(v.version, ' edited') : v));
    const changed = await refusal(
      h.client.request(templatePath('note'), {
        method: 'PUT',
        body: { ...template, spec: { ...template.spec, versions: edited } },
      }),
    );
    expect(changed?.status).toBe(422);
    expect(changed?.message).toContain('a published version is immutable');
    const added = await h.client.request<WorkflowTemplate>(templatePath('note'), {
      method: 'PUT',
      body: {
        ...template,
        spec: { ...template.spec, versions: [...template.spec.versions, noteVersion('3.0.0')] },
      },
    });
    expect(added.spec.versions.map((v) => v.version)).toEqual(['1.0.0', '2.0.0', '3.0.0']);
  });
});

describe('a run that cannot be resolved', () => {
  const refusals: [string, WorkflowExecutionSpec, { reason: string; path: string }][] = [
    [
      'an unknown template',
      fromTemplate('nope', { note: 'x' }),
      { reason: 'TemplateNotFound', path: 'spec.workflowTemplateRef.name' },
    ],
    [
      'an unknown version',
      fromTemplate('note', { note: 'x' }, '0.1'),
      { reason: 'TemplateVersionNotFound', path: 'spec.workflowTemplateRef.version' },
    ],
    [
      'a missing required parameter',
      fromTemplate('note', {}, '1.0.0'),
      { reason: 'MissingParameter', path: 'spec.parameters.note' },
    ],
    [
      'a value of the wrong type',
      fromTemplate('note', { note: 'x', retries: 'lots' }, '1.0.0'),
      { reason: 'WrongParameterType', path: 'spec.parameters.retries' },
    ],
  ];
  it.each(refusals)('fails with InvalidSpec: %s', async (what, spec, expected) => {
    const name = `unresolved-${refusals.findIndex(([w]) => w === what)}`;
    await h.workflows.apply(name, spec);
    const wf = await h.workflows.waitFor(name, inPhase('failed'), 'failed');
    expect(conditionOf(wf, 'Ready')).toMatchObject({ status: 'False', reason: 'InvalidSpec' });
    expect(conditionOf(wf, 'Ready')?.message).toContain(`${expected.path}: `);
    expect(conditionOf(wf, 'Ready')?.message).toContain(`(${expected.reason})`);
    expect(wf.status?.resolvedTemplate).toBeUndefined();
    expect(await h.workflows.childrenOf(name)).toEqual([]);
  });

  it('is refused at admission when it has both a definition and a reference, or parameters alone', async () => {
    const both = await refusal(
      h.workflows.apply('both', {
        ...fromTemplate('note', { note: 'x' }),
        workflowDefinition: { name: 'inline', steps: [customStep(1)] },
      }),
    );
    expect(both?.status).toBe(422);
    expect(both?.message).toContain('exactly one of workflowDefinition and workflowTemplateRef must be set');
    const loose = await refusal(
      h.workflows.apply('loose', {
        workflowDefinition: { name: 'inline', steps: [customStep(1)] },
        parameters: { note: 'x' },
        executionStrategy: { rollbackStrategy: 'automatic' },
      }),
    );
    expect(loose?.status).toBe(422);
    expect(loose?.message).toContain('spec.parameters: parameters are for a template');
  });
});

/** Runs `wfx ARGS -n NAMESPACE` as a process. */
function wfx(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      'node_modules/.bin/node',
      ['src/cli/wfx.ts', ...args, '-n', h.namespace, '--kubeconfig', sharedControlPlane().kubeconfigPath],
      { timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

describe('wfx template and wfx run', () => {
  it('lists templates and shows one version’s parameters and steps', async () => {
    const list = await wfx(['template', 'list']);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^NAME\s+LATEST\s+VERSIONS/);
    expect(list.stdout).toMatch(/\nnote\s+3\.0\.0\s+3\s/);
    const show = await wfx(['template', 'show', 'note', '--version', '1.0.0']);
    expect(show.code).toBe(0);
    expect(show.stdout).toContain('Showing:      1.0.0');
    expect(show.stdout).toMatch(/note\s+string\s+required\s+What the step writes down\./);
    expect(show.stdout).toMatch(/retries\s+integer\s+default "2"/);
    expect(show.stdout).toContain('1. note-it (custom)');
  });

  it('runs a template version with -p parameters, and the run completes', async () => {
    const run = await wfx([
      'run',
      'note',
      '--version',
      '2.0.0',
      '-p',
      'note=from the cli',
      '--name',
      'cli-run',
    ]);
    expect(run).toMatchObject({
      code: 0,
      stdout: 'workflowexecution/cli-run created (template note 2.0.0)\n',
    });
    const wf = await h.workflows.waitFor('cli-run', inPhase('completed'), 'completed');
    expect(wf.status?.resolvedTemplate?.parameters).toEqual({ note: 'from the cli', retries: '2' });
    const describe = await wfx(['describe', 'cli-run']);
    expect(describe.stdout).toContain('Workflow:     template note 2.0.0');
    expect(describe.stdout).toContain('Parameters:   note=from the cli, retries=2');
  });

  it('refuses a run it can already tell is wrong, creating nothing', async () => {
    const run = await wfx(['run', 'note', '-p', 'retries=often', '--name', 'cli-wrong']);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain(
      'spec.parameters.note: parameter note (string) is required (MissingParameter)',
    );
    expect(run.stderr).toContain('spec.parameters.retries: parameter retries must be an integer');
    await expect(h.workflows.get('cli-wrong')).rejects.toThrow();
  });
});
