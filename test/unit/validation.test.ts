import { describe, expect, it } from '@jest/globals';
import { validateSpec } from '../../src/api/validation.ts';
import { sequentialSpec, specWith, step } from '../fixtures/specs.ts';

/** Mutates a valid spec into an invalid one; the JSON round trip gives an untyped copy to break. */
type Breaker = (spec: Record<string, any>) => void; // eslint-disable-line @typescript-eslint/no-explicit-any

const cases: [string, Breaker, { reason: string; path: string; message?: RegExp }][] = [
  [
    'parameters that do not match the action',
    (s) => (s.workflowDefinition.steps[0].parameters = { cordonNode: { nodeName: 'n1' } }),
    {
      reason: 'ParametersMismatchAction',
      path: 'spec.workflowDefinition.steps[0].parameters',
      message: /scale-deployment takes parameters.scaleDeployment, not parameters.cordonNode/,
    },
  ],
  [
    'two parameter members',
    (s) => (s.workflowDefinition.steps[0].parameters.cordonNode = { nodeName: 'n1' }),
    { reason: 'TooMany', path: 'spec.workflowDefinition.steps[0].parameters' },
  ],
  [
    'no parameter member',
    (s) => (s.workflowDefinition.steps[1].parameters = {}),
    { reason: 'TooFew', path: 'spec.workflowDefinition.steps[1].parameters' },
  ],
  [
    'an unknown action',
    (s) => (s.workflowDefinition.steps[0].action = 'reboot-cluster'),
    {
      reason: 'UnsupportedValue',
      path: 'spec.workflowDefinition.steps[0].action',
      message: /scale-deployment/,
    },
  ],
  [
    'a missing step name',
    (s) => delete s.workflowDefinition.steps[2].name,
    { reason: 'MissingField', path: 'spec.workflowDefinition.steps[2].name', message: /name is required/ },
  ],
  [
    'an empty workflow',
    (s) => (s.workflowDefinition.steps = []),
    { reason: 'TooFew', path: 'spec.workflowDefinition.steps' },
  ],
  [
    'a 10,000-character step name',
    (s) => (s.workflowDefinition.steps[0].name = 'x'.repeat(10_000)),
    { reason: 'TooLong', path: 'spec.workflowDefinition.steps[0].name', message: /at most 128 characters/ },
  ],
  [
    'a dependsOn list longer than its bound',
    (s) => (s.workflowDefinition.steps[2].dependsOn = Array.from({ length: 40 }, (_, i) => i + 1)),
    { reason: 'TooMany', path: 'spec.workflowDefinition.steps[2].dependsOn' },
  ],
  [
    'an unknown rollback strategy',
    (s) => (s.executionStrategy.rollbackStrategy = 'sometimes'),
    {
      reason: 'UnsupportedValue',
      path: 'spec.executionStrategy.rollbackStrategy',
      message: /automatic, manual, none/,
    },
  ],
  [
    'a misspelt field',
    (s) => (s.workflowDefinition.steps[0].criticalstep = true),
    { reason: 'UnknownField', path: 'spec.workflowDefinition.steps[0].criticalstep' },
  ],
  [
    'a replica count out of range',
    (s) => (s.workflowDefinition.steps[0].parameters.scaleDeployment.replicas = -1),
    { reason: 'OutOfRange', path: 'spec.workflowDefinition.steps[0].parameters.scaleDeployment.replicas' },
  ],
  [
    'a namespace that is not a DNS label',
    (s) => (s.workflowDefinition.steps[0].parameters.scaleDeployment.namespace = 'Shop_Prod'),
    {
      reason: 'InvalidFormat',
      path: 'spec.workflowDefinition.steps[0].parameters.scaleDeployment.namespace',
    },
  ],
  [
    'a timeout that is not a duration',
    (s) => (s.workflowDefinition.steps[0].timeout = 'five minutes'),
    { reason: 'InvalidFormat', path: 'spec.workflowDefinition.steps[0].timeout' },
  ],
  [
    'a string where a number belongs',
    (s) => (s.workflowDefinition.steps[0].stepNumber = 'one'),
    { reason: 'WrongType', path: 'spec.workflowDefinition.steps[0].stepNumber' },
  ],
  [
    'a rollback whose parameters do not match its action',
    (s) =>
      (s.workflowDefinition.steps[0].rollbackSpec = {
        action: 'uncordon-node',
        parameters: { scaleToPrevious: { namespace: 'shop', deployment: 'web', previousReplicas: 1 } },
      }),
    { reason: 'ParametersMismatchAction', path: 'spec.workflowDefinition.steps[0].rollbackSpec.parameters' },
  ],
  [
    'a restartPod with neither pod name nor selector',
    (s) => {
      s.workflowDefinition.steps[0].action = 'restart-pod';
      s.workflowDefinition.steps[0].parameters = { restartPod: { namespace: 'shop' } };
    },
    { reason: 'MissingField', path: 'spec.workflowDefinition.steps[0].parameters.restartPod' },
  ],
  [
    'too many data updates',
    (s) => {
      s.workflowDefinition.steps[0].action = 'update-configmap';
      s.workflowDefinition.steps[0].parameters = {
        updateConfigMap: {
          namespace: 'shop',
          name: 'cfg',
          dataUpdates: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v'])),
        },
      };
    },
    { reason: 'TooMany', path: 'spec.workflowDefinition.steps[0].parameters.updateConfigMap.dataUpdates' },
  ],
];

describe('spec validation', () => {
  it('accepts a valid spec', () => {
    expect(validateSpec(sequentialSpec(3))).toEqual({ ok: true, value: sequentialSpec(3) });
  });

  it('accepts unicode in names and descriptions', () => {
    const spec = specWith([step(1, { name: 'перезапуск 🚀 缩放' })]);
    expect(validateSpec(spec).ok).toBe(true);
  });

  it.each(cases)('names %s with its reason and path', (_name, breakIt, expected) => {
    const spec = JSON.parse(JSON.stringify(sequentialSpec(3))) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    breakIt(spec);
    const result = validateSpec(spec);
    if (result.ok) throw new Error('expected the spec to be refused');
    expect(result.issues).toContainEqual(
      expect.objectContaining({ reason: expected.reason, path: expected.path }),
    );
    const issue = result.issues.find((i) => i.path === expected.path);
    if (expected.message) expect(issue?.message).toMatch(expected.message);
  });

  it('reports every problem at once, not just the first', () => {
    const spec = JSON.parse(JSON.stringify(sequentialSpec(3))) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    spec.workflowDefinition.steps[0].action = 'nope';
    spec.workflowDefinition.steps[1].name = 'y'.repeat(500);
    spec.executionStrategy.rollbackStrategy = 'never';
    const result = validateSpec(spec);
    if (result.ok) throw new Error('expected the spec to be refused');
    expect(result.issues.map((i) => i.path).sort()).toEqual([
      'spec.executionStrategy.rollbackStrategy',
      'spec.workflowDefinition.steps[0].action',
      'spec.workflowDefinition.steps[1].name',
    ]);
  });
});

describe('update-secret values', () => {
  it('come from exactly one of dataUpdates and secretRef', () => {
    const spec = (updateSecret: Record<string, unknown>) =>
      specWith([
        {
          stepNumber: 1,
          name: 'rotate',
          action: 'update-secret',
          parameters: { updateSecret: { namespace: 'a', name: 's', ...updateSecret } },
        },
      ]);
    expect(validateSpec(spec({ secretRef: { name: 'v' } })).ok).toBe(true);
    expect(validateSpec(spec({ dataUpdates: { k: 'dg==' } })).ok).toBe(true);
    for (const wrong of [{}, { dataUpdates: { k: 'dg==' }, secretRef: { name: 'v' } }])
      expect(validateSpec(spec(wrong))).toEqual({
        ok: false,
        issues: [
          {
            reason: 'MissingField',
            path: 'spec.workflowDefinition.steps[0].parameters.updateSecret',
            message: 'updateSecret takes its values from exactly one of dataUpdates and secretRef',
          },
        ],
      });
  });
});
