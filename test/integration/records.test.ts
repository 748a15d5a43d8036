// What a run leaves behind for people and tools: Kubernetes Events (each phase change once, step
// progress in batches, repeats as a series), metrics, and no secret value anywhere; and ownership by
// the AlertRemediation it remediates.
import { PassThrough } from 'node:stream';
import { beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { WorkflowExecution } from '../../src/api/generated/types.ts';
import { EventRecorder } from '../../src/shell/events.ts';
import { createStreamLogger } from '../../src/shell/logger.ts';
import { WORKFLOW_EXECUTIONS, resourcePath } from '../../src/shell/kube/resources.ts';
import { customStep, specWith } from '../fixtures/specs.ts';
import { inPhase } from './support/harness.ts';
import { harnessForSuite } from './support/suite.ts';

jest.setTimeout(60_000);

const SECRET_VALUE = 'czNjcjN0LXA0c3N3MHJk'; // base64 of a password that must never leak
const logLines: string[] = [];
const stream = new PassThrough();
stream.on('data', (chunk: Buffer) => logLines.push(chunk.toString('utf8')));

const h = harnessForSuite(
  (child) =>
    child.spec.action === 'update-secret'
      ? {
          phase: 'completed',
          // An executor that (wrongly) echoes the value: the operator must not carry it on.
          result: {
            success: true,
            updateResult: {
              resourceType: 'Secret',
              resourceName: 'db',
              namespace: h.namespace,
              updateType: 'config',
              previousValue: SECRET_VALUE,
              newValue: SECRET_VALUE,
            },
          },
        }
      : { phase: 'completed' },
  { log: createStreamLogger('debug', stream) },
);

interface EventObject {
  reason: string;
  note: string;
  type: string;
  regarding: { name: string; uid: string };
  series?: { count: number };
}

async function eventsFor(name: string): Promise<EventObject[]> {
  const list = await h.client.request<{ items: EventObject[] }>(
    `/apis/events.k8s.io/v1/namespaces/${h.namespace}/events`,
  );
  return list.items.filter((e) => e.regarding.name === name);
}

describe('Kubernetes Events', () => {
  it('records each phase change once, and the steps’ progress in one aggregated Event, not one per step', async () => {
    await h.workflows.apply('eventful', specWith([customStep(1), customStep(2), customStep(3)]));
    await h.workflows.waitFor('eventful', inPhase('completed'));
    // Events are written after the status; give the last one a moment.
    let events: EventObject[] = [];
    // The last one: how monitoring ended (custom steps: nothing verifiable, a Warning).
    for (let i = 0; i < 50 && !events.some((e) => e.reason === 'RemediationNoVerifiableTarget'); i++) {
      events = await eventsFor('eventful');
      await new Promise((r) => setTimeout(r, 100));
    }
    const progress = events.filter((e) => e.reason === 'StepsCompleted' || e.reason === 'StepsStarted');
    expect(
      events
        .filter((e) => !progress.includes(e))
        .map((e) => e.reason)
        .sort(),
    ).toEqual([
      'ExecutionStarted',
      'MonitoringStarted',
      'RemediationNoVerifiableTarget',
      'ValidationStarted',
      'WorkflowExecutionCompleted',
    ]);
    expect(
      events.every(
        (e) =>
          e.type === (e.reason === 'RemediationNoVerifiableTarget' ? 'Warning' : 'Normal') &&
          (e.series?.count ?? 1) === 1,
      ),
    ).toBe(true);
    // Six step transitions (three starts, three successes) in one Event, written as the steps ended
    // (the run takes far less than the minute a batch may wait, and this test's timeout is a minute).
    expect(progress.map((e) => [e.reason, e.note])).toEqual([['StepsCompleted', 'steps 1-3 succeeded']]);
  });

  it('aggregates a repeated event into one object with a series count, as client-go does', async () => {
    const wf = await h.workflows.get('eventful');
    const recorder = new EventRecorder(h.client, (error) => {
      throw error;
    });
    const target = {
      apiVersion: 'workflowexecution.kubernaut.io/v1',
      kind: 'WorkflowExecution',
      name: 'eventful',
      namespace: h.namespace,
      uid: wf.metadata.uid ?? '',
    };
    for (let i = 0; i < 3; i++)
      await recorder.record(target, {
        type: 'Warning',
        reason: 'ExecutorSlow',
        note: 'the executor is slow',
        action: 'Reconcile',
      });
    const slow = (await eventsFor('eventful')).filter((e) => e.reason === 'ExecutorSlow');
    expect(slow).toHaveLength(1);
    expect(slow[0]?.series?.count).toBe(3);
  });
});

describe('secret values', () => {
  it('never reach status, events or logs, while the executor still receives them', async () => {
    const spec = specWith([
      {
        stepNumber: 1,
        name: 'rotate',
        action: 'update-secret',
        parameters: {
          updateSecret: { namespace: h.namespace, name: 'db', dataUpdates: { password: SECRET_VALUE } },
        },
      },
    ]);
    await h.workflows.apply('rotate-secret', spec);
    // Monitoring then waits for the Secret to hold the new value (this executor never writes it).
    const wf = await h.workflows.waitFor(
      'rotate-secret',
      (w) => w.status?.stepStatuses?.[0]?.status === 'completed',
    );
    expect(JSON.stringify(wf.status)).not.toContain(SECRET_VALUE);
    expect(JSON.stringify(await eventsFor('rotate-secret'))).not.toContain(SECRET_VALUE);
    expect(logLines.join('')).not.toContain(SECRET_VALUE);
    expect(logLines.join('')).toContain('rotate-secret');
    // The executor's contract carries the change it must make.
    const [child] = await h.workflows.childrenOf('rotate-secret');
    expect(child?.spec.parameters?.updateSecret?.dataUpdates).toEqual({ password: SECRET_VALUE });
  });
});

describe('metrics', () => {
  it('count executions, steps and reconciles under the specification’s names', async () => {
    const text = await h.operator.metrics.registry.metrics();
    expect(text).toMatch(
      /kubernaut_workflowexecution_executions_total\{workflow_name="remediate-web",outcome="unknown"\} [1-9]/,
    );
    expect(text).toMatch(
      /kubernaut_workflowexecution_steps_created_total\{workflow_name="remediate-web",action="custom"\} [1-9]/,
    );
    expect(text).toMatch(
      /kubernaut_workflowexecution_steps_completed_total\{workflow_name="remediate-web",action="custom",status="success"\} [1-9]/,
    );
    expect(text).toMatch(/kubernaut_workflowexecution_reconcile_total\{result="success"\} [1-9]/);
    expect(text).toMatch(
      /kubernaut_workflowexecution_phase_duration_seconds_count\{phase="executing"\} [1-9]/,
    );
  });
});

describe('ownership by the AlertRemediation', () => {
  beforeAll(async () => {
    // A minimal AlertRemediation CRD: the real one belongs to the upstream controller.
    await h.client
      .request('/apis/apiextensions.k8s.io/v1/customresourcedefinitions', {
        body: {
          apiVersion: 'apiextensions.k8s.io/v1',
          kind: 'CustomResourceDefinition',
          metadata: { name: 'alertremediations.kubernaut.io' },
          spec: {
            group: 'kubernaut.io',
            names: {
              kind: 'AlertRemediation',
              plural: 'alertremediations',
              singular: 'alertremediation',
              listKind: 'AlertRemediationList',
            },
            scope: 'Namespaced',
            versions: [
              {
                name: 'v1',
                served: true,
                storage: true,
                schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
              },
            ],
          },
        },
      })
      .catch(() => undefined);
    for (let i = 0; i < 100; i++) {
      try {
        await h.client.request(`/apis/kubernaut.io/v1/namespaces/${h.namespace}/alertremediations`);
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  });

  // The garbage collector learns about a new CRD at its next discovery refresh (30 s).
  it('makes the WorkflowExecution owned by its AlertRemediation, so deleting the alert cleans it up', async () => {
    const alert = await h.client.request<{ metadata: { uid: string } }>(
      `/apis/kubernaut.io/v1/namespaces/${h.namespace}/alertremediations`,
      {
        body: { apiVersion: 'kubernaut.io/v1', kind: 'AlertRemediation', metadata: { name: 'high-latency' } },
      },
    );
    await h.workflows.apply('owned', {
      ...specWith([customStep(1)]),
      alertRemediationRef: { name: 'high-latency', namespace: h.namespace },
    });
    const wf = await h.workflows.waitFor('owned', inPhase('completed'));
    expect(wf.metadata.ownerReferences).toEqual([
      {
        apiVersion: 'kubernaut.io/v1',
        kind: 'AlertRemediation',
        name: 'high-latency',
        uid: alert.metadata.uid,
      },
    ]);
    await h.client.request(`/apis/kubernaut.io/v1/namespaces/${h.namespace}/alertremediations/high-latency`, {
      method: 'DELETE',
    });
    const deadline = Date.now() + 90_000;
    for (;;) {
      const list = await h.client.request<{ items: WorkflowExecution[] }>(
        resourcePath(WORKFLOW_EXECUTIONS, h.namespace),
      );
      if (!list.items.some((w) => w.metadata.name === 'owned')) break;
      if (Date.now() > deadline) throw new Error('the WorkflowExecution outlived its AlertRemediation');
      await new Promise((r) => setTimeout(r, 200));
    }
  }, 120_000);
});
