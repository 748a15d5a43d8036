import { describe, expect, it } from '@jest/globals';
import type { WorkflowExecutionSpec } from '../../src/api/generated/types.ts';
import { compileWorkflow } from '../../src/core/load.ts';
import { resolveTemplate } from '../../src/core/templates.ts';
import { specToCompile } from '../../src/api/resolved-spec.ts';
import { scaleStep, templateVersion, workflowTemplate } from '../fixtures/templates.ts';

const runOf = (parameters: Record<string, string> | undefined, version?: string): WorkflowExecutionSpec => ({
  workflowTemplateRef: { name: 'scale-up', ...(version ? { version } : {}) },
  ...(parameters ? { parameters } : {}),
  executionStrategy: { rollbackStrategy: 'automatic' },
});

const template = workflowTemplate('scale-up', [
  templateVersion('1.0.0'),
  templateVersion(
    '2.0.0',
    [scaleStep({ timeout: '${params.timeout}' })],
    [
      { name: 'namespace', type: 'string', required: true },
      { name: 'deployment', type: 'string', required: true },
      { name: 'replicas', type: 'integer', default: '5' },
      { name: 'timeout', type: 'string', default: '2m' },
    ],
  ),
]);

describe('resolving a template reference', () => {
  it('substitutes parameters, keeps an integer typed, and names the workflow after the template version', () => {
    const resolution = resolveTemplate(runOf({ namespace: 'shop', deployment: 'web' }, '1.0.0'), template);
    expect(resolution).toEqual({
      ok: true,
      resolved: {
        name: 'scale-up',
        version: '1.0.0',
        parameters: { namespace: 'shop', deployment: 'web', replicas: '3' },
        workflowDefinition: {
          name: 'scale-up',
          version: '1.0.0',
          steps: [
            {
              stepNumber: 1,
              name: 'scale-web',
              action: 'scale-deployment',
              parameters: { scaleDeployment: { namespace: 'shop', deployment: 'web', replicas: 3 } },
            },
          ],
        },
      },
    });
  });

  it('takes the last published version when none is asked for', () => {
    const resolution = resolveTemplate(
      runOf({ namespace: 'shop', deployment: 'web', replicas: '7' }),
      template,
    );
    expect(resolution.ok && resolution.resolved.version).toBe('2.0.0');
    expect(resolution.ok && resolution.resolved.workflowDefinition.steps[0]?.timeout).toBe('2m');
  });

  it('compiles into a plan whose hash changes with the parameters', () => {
    const resolvedWith = (replicas: string) => {
      const spec = runOf({ namespace: 'shop', deployment: 'web', replicas }, '1.0.0');
      const resolution = resolveTemplate(spec, template);
      if (!resolution.ok) throw new Error('not resolved');
      const compiled = compileWorkflow(
        specToCompile({ spec, status: { resolvedTemplate: resolution.resolved } }),
      );
      if (!compiled.ok) throw new Error(JSON.stringify(compiled.issues));
      return compiled;
    };
    expect(resolvedWith('4').plan.steps[0]?.name).toBe('scale-web');
    expect(resolvedWith('4').hash).not.toBe(resolvedWith('5').hash);
  });

  it('a literal ${ is written $${', () => {
    const literal = workflowTemplate('scale-up', [
      templateVersion('1', [scaleStep({ name: 'cost $${not.a.param} ${params.deployment}' })]),
    ]);
    const resolution = resolveTemplate(runOf({ namespace: 'shop', deployment: 'web' }), literal);
    expect(resolution.ok && resolution.resolved.workflowDefinition.steps[0]?.name).toBe(
      'cost ${not.a.param} web',
    );
  });

  const refusals: [
    string,
    WorkflowExecutionSpec,
    typeof template | undefined,
    { reason: string; path: string },
  ][] = [
    [
      'an unknown template',
      runOf({ namespace: 'a', deployment: 'b' }),
      undefined,
      { reason: 'TemplateNotFound', path: 'spec.workflowTemplateRef.name' },
    ],
    [
      'an unknown version',
      runOf({ namespace: 'a', deployment: 'b' }, '9.9'),
      template,
      { reason: 'TemplateVersionNotFound', path: 'spec.workflowTemplateRef.version' },
    ],
    [
      'a missing required parameter',
      runOf({ namespace: 'a' }, '1.0.0'),
      template,
      { reason: 'MissingParameter', path: 'spec.parameters.deployment' },
    ],
    [
      'a value of the wrong type',
      runOf({ namespace: 'a', deployment: 'b', replicas: 'many' }, '1.0.0'),
      template,
      { reason: 'WrongParameterType', path: 'spec.parameters.replicas' },
    ],
    [
      'an undeclared parameter',
      runOf({ namespace: 'a', deployment: 'b', colour: 'red' }, '1.0.0'),
      template,
      { reason: 'UnknownParameter', path: 'spec.parameters.colour' },
    ],
    [
      'both a definition and a reference',
      { ...runOf({ namespace: 'a', deployment: 'b' }), workflowDefinition: { name: 'x', steps: [] } },
      template,
      { reason: 'ConflictingFields', path: 'spec.workflowDefinition' },
    ],
    [
      'a reference to an undeclared parameter in the template',
      runOf({ namespace: 'a', deployment: 'b' }),
      workflowTemplate('scale-up', [
        templateVersion('1', [scaleStep({ targetCluster: '${params.cluster}' })]),
      ]),
      { reason: 'UnknownParameter', path: 'spec.workflowTemplateRef' },
    ],
    [
      'something that is not a parameter reference',
      runOf({ namespace: 'a', deployment: 'b' }),
      workflowTemplate('scale-up', [templateVersion('1', [scaleStep({ targetCluster: '${env.HOME}' })])]),
      { reason: 'InvalidReference', path: 'spec.workflowTemplateRef' },
    ],
  ];
  it.each(refusals)('refuses %s, naming where', (_, spec, from, expected) => {
    const resolution = resolveTemplate(spec, from);
    expect(resolution.ok).toBe(false);
    if (!resolution.ok) expect(resolution.issues).toEqual([expect.objectContaining(expected)]);
  });

  it('a resolved value the schema refuses is an InvalidSpec at the run’s own path', () => {
    const spec = runOf({ namespace: 'Not_A_Namespace', deployment: 'web' }, '1.0.0');
    const resolution = resolveTemplate(spec, template);
    if (!resolution.ok) throw new Error('not resolved');
    const compiled = compileWorkflow(
      specToCompile({ spec, status: { resolvedTemplate: resolution.resolved } }),
    );
    expect(compiled.ok).toBe(false);
    if (!compiled.ok)
      expect(compiled.issues).toContainEqual(
        expect.objectContaining({
          reason: 'InvalidFormat',
          path: 'spec.workflowDefinition.steps[0].parameters.scaleDeployment.namespace',
        }),
      );
  });

  it('a template run is not compiled before it is resolved', () => {
    const compiled = compileWorkflow(specToCompile({ spec: runOf({}) }));
    expect(compiled.ok ? [] : compiled.issues).toEqual([
      expect.objectContaining({ reason: 'MissingField', path: 'spec.workflowTemplateRef' }),
    ]);
  });
});
