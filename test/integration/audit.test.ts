// The audit trail: the same contract for the embedded SQLite store and PostgreSQL (a real server),
// and the operator writing one record per finished run into PostgreSQL.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { AuditStore, WorkflowExecutionAudit } from '../../src/audit/record.ts';
import { openPostgresAuditStore } from '../../src/audit/postgres.ts';
import { openSqliteAuditStore } from '../../src/audit/sqlite.ts';
import { customStep, specWith } from '../fixtures/specs.ts';
import { ScriptedExecutor } from '../support/executor.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';
import {
  SkewClock,
  adminClient,
  applyWorkflow,
  createNamespace,
  inPhase,
  startOperatorFor,
  waitForWorkflow,
} from './support/harness.ts';
import { sharedControlPlane } from '../../src/shell/controlplane/launcher.ts';

jest.setTimeout(60_000);

let postgres: TestPostgres;
beforeAll(async () => {
  postgres = await startPostgres();
});
afterAll(() => {
  postgres.stop();
});

const record = (id: string, completedAt: string, outcome = 'success'): WorkflowExecutionAudit => ({
  id,
  namespace: 'shop',
  name: `wf-${id}`,
  remediationId: 'alert-1',
  workflowName: 'remediate-web',
  workflowVersion: '1',
  totalSteps: 2,
  stepsCompleted: 2,
  stepsFailed: 0,
  totalDurationMs: 1500,
  outcome,
  effectivenessScore: 0.95,
  rollbacksPerformed: 0,
  stepExecutions: [
    { stepNumber: 1, action: 'scale-deployment', durationMs: 700, status: 'completed', retriesAttempted: 0 },
  ],
  adaptiveAdjustments: [{ adjustment: 'steps [1, 2] run in parallel', reason: 'AI suggestion' }],
  completedAt,
  status: 'completed',
});

const stores: [string, () => Promise<AuditStore>][] = [
  [
    'SQLite',
    () => Promise.resolve(openSqliteAuditStore(join(mkdtempSync(join(tmpdir(), 'wfe-audit-')), 'audit.db'))),
  ],
  ['PostgreSQL', () => openPostgresAuditStore(postgres.url)],
];

describe.each(stores)('the %s audit store', (_name, open) => {
  let store: AuditStore;
  beforeAll(async () => {
    store = await open();
  });
  afterAll(async () => {
    await store.close();
  });

  it('keeps a record as written', async () => {
    const written = record('uid-1', '2026-11-25T10:00:00.000Z');
    await store.upsert(written);
    expect(await store.get('uid-1')).toEqual(written);
  });

  it('writes a run once, however often it is recorded', async () => {
    await store.upsert(record('uid-2', '2026-11-25T11:00:00.000Z', 'failed'));
    await store.upsert(record('uid-2', '2026-11-25T11:00:00.000Z', 'partial_success'));
    const all = (await store.list(100)).filter((r) => r.id === 'uid-2');
    expect(all).toHaveLength(1);
    expect(all[0]?.outcome).toBe('partial_success');
  });

  it('lists the newest runs first', async () => {
    await store.upsert(record('uid-3', '2026-11-25T12:00:00.000Z'));
    expect((await store.list(2)).map((r) => r.id)).toEqual(['uid-3', 'uid-2']);
  });

  it('answers undefined for a run it never saw', async () => {
    expect(await store.get('nope')).toBeUndefined();
  });
});

describe('the operator with a PostgreSQL audit store', () => {
  it('writes one record for each finished run', async () => {
    const { kc, client } = await adminClient();
    const namespace = await createNamespace(client, 'audit');
    const audit = await openPostgresAuditStore(postgres.url);
    const executor = new ScriptedExecutor(
      kc,
      client,
      (c) => (c.spec.stepNumber === 2 ? { phase: 'failed', message: 'nope' } : { phase: 'completed' }),
      namespace,
    );
    await executor.start();
    const operator = await startOperatorFor(
      sharedControlPlane().kubeconfigPath,
      namespace,
      new SkewClock(),
      audit,
    );
    try {
      await applyWorkflow(
        { client, namespace },
        'audited',
        specWith([customStep(1), customStep(2, { dependsOn: [] })]),
      );
      const wf = await waitForWorkflow({ client, namespace }, 'audited', inPhase('completed'));
      let row: WorkflowExecutionAudit | undefined;
      for (let i = 0; i < 50 && !row; i++) {
        row = await audit.get(wf.metadata.uid ?? '');
        if (!row) await new Promise((r) => setTimeout(r, 100));
      }
      expect(row).toMatchObject({
        name: 'audited',
        namespace,
        status: 'completed',
        outcome: 'partial_success',
        totalSteps: 2,
        stepsCompleted: 1,
        stepsFailed: 1,
      });
      expect(row?.stepExecutions.find((s) => s.stepNumber === 2)).toMatchObject({
        status: 'failed',
        errorMessage: 'nope',
      });
    } finally {
      await operator.stop();
      await executor.stop();
      client.close();
    }
  });
});
