// The CRDs in crds/ and the spec policy in manifests/admission/ as the real apiserver enforces them:
// a valid WorkflowExecution is accepted, every spec the admission-time validator
// (src/api/validation.ts) refuses is refused by the apiserver too (structural schema, formats, the
// policy's CEL rules), the spec is immutable, and status is a subresource. Unique step names are the
// one rule left to the planner (an O(n²) comparison the apiserver would otherwise run): the
// validator refuses them with reason and path (spec-refusals.test.ts runs it through the operator).
import { randomUUID } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import {
  ApiException,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  KubernetesObjectApi,
} from '@kubernetes/client-node';

import { validateSpec } from '../../src/api/validation.ts';
import { sharedControlPlane } from '../support/shared-control-plane.ts';
import { sequentialSpec } from '../fixtures/specs.ts';
import { createKubeClient } from '../../src/shell/kube/client.ts';
import { untilSpecPolicyEnforced } from './support/admission.ts';

jest.setTimeout(30_000);

type Obj = Record<string, unknown>;

/** The object at `path` inside a JSON value (test fixtures only: a wrong path is a test bug). */
function at(root: Obj, ...path: (string | number)[]): Obj {
  let node: unknown = root;
  for (const key of path) node = (node as Record<string | number, unknown>)[key];
  return node as Obj;
}

const GROUP = 'workflowexecution.kubernaut.io';
const VERSION = 'v1';
const PLURAL = 'workflowexecutions';

const kc = new KubeConfig();
kc.loadFromFile(sharedControlPlane().kubeconfigPath);
const custom = kc.makeApiClient(CustomObjectsApi);
const core = kc.makeApiClient(CoreV1Api);
const namespace = `crd-${randomUUID().slice(0, 8)}`;

const workflow = (name: string, spec: unknown): Obj => ({
  apiVersion: `${GROUP}/${VERSION}`,
  kind: 'WorkflowExecution',
  metadata: { name, namespace },
  spec,
});

/** Creates with strict field validation (unknown fields refused, not pruned); the HTTP status. */
async function createStatus(name: string, spec: unknown): Promise<number> {
  try {
    await custom.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace,
      plural: PLURAL,
      body: workflow(name, spec),
      fieldValidation: 'Strict',
    });
    return 201;
  } catch (err) {
    if (err instanceof ApiException) return err.code;
    throw err;
  }
}

const validSpec = (): Obj => JSON.parse(JSON.stringify(sequentialSpec(3))) as Obj;

const breakers: [string, (s: Obj) => void][] = [
  ['an unknown action', (s) => (at(s, 'workflowDefinition', 'steps', 0)['action'] = 'reboot-cluster')],
  ['a missing step name', (s) => delete at(s, 'workflowDefinition', 'steps', 2)['name']],
  ['an empty workflow', (s) => (at(s, 'workflowDefinition')['steps'] = [])],
  [
    'a 10,000-character step name',
    (s) => (at(s, 'workflowDefinition', 'steps', 0)['name'] = 'x'.repeat(10_000)),
  ],
  ['an unknown rollback strategy', (s) => (at(s, 'executionStrategy')['rollbackStrategy'] = 'sometimes')],
  ['a misspelt field', (s) => (at(s, 'workflowDefinition', 'steps', 0)['criticalstep'] = true)],
  [
    'a replica count out of range',
    (s) => (at(s, 'workflowDefinition', 'steps', 0, 'parameters', 'scaleDeployment')['replicas'] = -1),
  ],
  [
    'a namespace that is not a DNS label',
    (s) =>
      (at(s, 'workflowDefinition', 'steps', 0, 'parameters', 'scaleDeployment')['namespace'] = 'Shop_Prod'),
  ],
  [
    'a timeout that is not a duration',
    (s) => (at(s, 'workflowDefinition', 'steps', 0)['timeout'] = 'five minutes'),
  ],
  ['a string where a number belongs', (s) => (at(s, 'workflowDefinition', 'steps', 0)['stepNumber'] = 'one')],
  [
    'parameters that do not match the action',
    (s) => (at(s, 'workflowDefinition', 'steps', 0)['parameters'] = { cordonNode: { nodeName: 'n1' } }),
  ],
  [
    'two parameter members',
    (s) => (at(s, 'workflowDefinition', 'steps', 0, 'parameters')['cordonNode'] = { nodeName: 'n1' }),
  ],
  ['no parameter member', (s) => (at(s, 'workflowDefinition', 'steps', 1)['parameters'] = {})],
  ['a dependsOn naming a missing step', (s) => (at(s, 'workflowDefinition', 'steps', 2)['dependsOn'] = [9])],
  [
    'a restartPod with neither pod name nor selector',
    (s) => {
      const first = at(s, 'workflowDefinition', 'steps', 0);
      first['action'] = 'restart-pod';
      first['parameters'] = { restartPod: { namespace: 'shop' } };
    },
  ],
];

beforeAll(async () => {
  // A plain object: the generated V1Namespace is a class, and a literal is not an instance.
  const ns: { apiVersion: string; kind: string; metadata: { name: string } } = {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: namespace },
  };
  await KubernetesObjectApi.makeApiClient(kc).create(ns);
  const client = await createKubeClient(kc);
  try {
    await untilSpecPolicyEnforced(client, namespace);
  } finally {
    client.close();
  }
});

afterAll(async () => {
  await core.deleteNamespace({ name: namespace });
});

describe('WorkflowExecution CRD', () => {
  it('accepts a valid WorkflowExecution', async () => {
    expect(validateSpec(validSpec()).ok).toBe(true);
    expect(await createStatus('valid', validSpec())).toBe(201);
  });

  it.each(breakers)('refuses %s, as the admission validator does', async (name, breakIt) => {
    const spec = validSpec();
    breakIt(spec);
    expect(validateSpec(spec).ok).toBe(false);
    // 422 Invalid from the schema or a CEL rule; 400 from strict decoding of an unknown field.
    expect([400, 422]).toContain(await createStatus(`bad-${randomUUID().slice(0, 8)}`, spec));
    expect(name).toBeTruthy();
  });

  it('leaves unique step names to the planner, which names the duplicate', async () => {
    const spec = validSpec();
    at(spec, 'workflowDefinition', 'steps', 1)['name'] = 'step-1';
    expect(await createStatus('same-names', spec)).toBe(201);
    const validated = validateSpec(spec);
    expect(validated.ok ? [] : validated.issues).toEqual([
      {
        reason: 'DuplicateStepName',
        path: 'spec.workflowDefinition.steps[1].name',
        message: 'step name "step-1" is already used by steps[0]',
      },
    ]);
  });

  it('leaves unique step numbers to the planner, which names the duplicate', async () => {
    const spec = validSpec();
    at(spec, 'workflowDefinition', 'steps', 1)['stepNumber'] = 1;
    expect(await createStatus('same-numbers', spec)).toBe(201);
    const validated = validateSpec(spec);
    expect(validated.ok ? [] : validated.issues).toContainEqual({
      reason: 'DuplicateStepNumber',
      path: 'spec.workflowDefinition.steps[1].stepNumber',
      message: 'step number 1 is already used by steps[0]',
    });
  });

  it('keeps the spec immutable and status a subresource', async () => {
    const name = 'immutable';
    expect(await createStatus(name, validSpec())).toBe(201);
    const where = { group: GROUP, version: VERSION, namespace, plural: PLURAL, name };
    const read = async (): Promise<Obj> => (await custom.getNamespacedCustomObject(where)) as Obj;

    const changed = await read();
    at(changed, 'spec', 'workflowDefinition')['version'] = '2';
    const update = await custom.replaceNamespacedCustomObject({ ...where, body: changed }).then(
      () => 200,
      (err: unknown) => (err instanceof ApiException ? err.code : -1),
    );
    expect(update).toBe(422);

    // Status written through the main resource is dropped; through /status it is kept.
    const withStatus = await read();
    withStatus['status'] = { phase: 'planning' };
    await custom.replaceNamespacedCustomObject({ ...where, body: withStatus });
    expect((await read())['status']).toBeUndefined();
    const again = await read();
    again['status'] = { phase: 'planning' };
    await custom.replaceNamespacedCustomObjectStatus({ ...where, body: again });
    expect(at(await read(), 'status')['phase']).toBe('planning');
  });
});
