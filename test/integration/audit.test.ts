// The audit trail: the same contract for the embedded SQLite store and PostgreSQL (a real server),
// and the operator writing one record per finished run into PostgreSQL.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { AuditStore, WorkflowExecutionAudit } from '../../src/audit/record.ts';
import { openPostgresAuditStore } from '../../src/audit/postgres.ts';
import { openSqliteAuditStore } from '../../src/audit/sqlite.ts';
import { POSTGRES_DIALECT, SQLITE_DIALECT, stepHistoryTable } from '../../src/audit/history.ts';
import { DatabaseSync } from 'node:sqlite';
import pg from 'pg';
import { steady } from '../fixtures/history.ts';
import { customStep, specWith } from '../fixtures/specs.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';
import { inPhase, startHarness } from './support/harness.ts';

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
  segment: 1,
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

const sqlitePath = () => join(mkdtempSync(join(tmpdir(), 'wfe-audit-')), 'audit.db');
const stores: [string, () => Promise<AuditStore>][] = [
  ['SQLite', () => Promise.resolve(openSqliteAuditStore(sqlitePath()))],
  ['PostgreSQL', () => openPostgresAuditStore(postgres.url)],
];

const DAY = 24 * 3_600_000;
const NOW = Date.parse('2026-11-30T12:00:00.000Z');
type StepRow = WorkflowExecutionAudit['stepExecutions'][number];
const ran = (stepNumber: number, status: string, retries: number, durationMs: number): StepRow => ({
  stepNumber,
  action: 'scale-deployment',
  target: `Deployment shop/web-${stepNumber}`,
  durationMs,
  status,
  retriesAttempted: retries,
});

/** A finished run of `workflowName` version `version`, `daysAgo` before NOW. */
function finishedRun(
  id: string,
  steps: StepRow[],
  daysAgo: number,
  { workflowName = 'history-web', version = '1', status = 'completed' } = {},
): WorkflowExecutionAudit {
  return {
    ...record(id, new Date(NOW - daysAgo * DAY).toISOString()),
    workflowName,
    workflowVersion: version,
    stepExecutions: steps,
    status,
  };
}

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

  it('keeps each run segment of a retried workflow as a row of its own', async () => {
    const first = { ...record('uid-r', '2026-11-25T10:00:00.000Z', 'failed'), status: 'failed' };
    const retried = { ...record('uid-r/segment-2', '2026-11-25T10:05:00.000Z'), segment: 2 };
    await store.upsert(first);
    await store.upsert(retried);
    expect(await store.get('uid-r')).toEqual(first);
    expect(await store.get('uid-r/segment-2')).toEqual(retried);
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

describe.each(stores)('the %s audit store, as history', (_name, open) => {
  let store: AuditStore;
  // Each store starts empty of this suite's workflows: names are unique per store.
  let workflow: string;
  beforeAll(async () => {
    store = await open();
    workflow = `history-${_name}-${String(Date.now())}`;
    const runs = [
      // Step 1 always succeeds at once; step 2 fails transiently (fixed by a second attempt) in 4 of 6
      // runs, fails for good once, and once succeeds at once.
      [ran(1, 'completed', 0, 1000), ran(2, 'completed', 1, 400)],
      [ran(1, 'completed', 0, 2000), ran(2, 'completed', 1, 500)],
      [ran(1, 'completed', 0, 3000), ran(2, 'completed', 2, 600)],
      [ran(1, 'completed', 0, 4000), ran(2, 'completed', 1, 700)],
      [ran(1, 'rolled_back', 0, 99_000), ran(2, 'failed', 2, 800)],
      [ran(1, 'completed', 0, 6000), ran(2, 'completed', 0, 300), ran(3, 'skipped', 0, 0)],
    ];
    for (const [i, steps] of runs.entries())
      await store.upsert(finishedRun(`${workflow}-run-${i}`, steps, i + 1, { workflowName: workflow }));
  });
  afterAll(async () => {
    await store.close();
  });

  it('answers per step: success rate, share of failures fixed by a later attempt, duration percentiles', async () => {
    const history = await store.workflowHistory(workflow, '1', { now: NOW });
    expect(history.get(1)).toEqual(
      // The rolled-back run's duration is its rollback's, so it is left out.
      steady(6, { successDurationMs: { p50: 3000, p90: 6000, p99: 6000 } }),
    );
    expect(history.get(2)).toEqual({
      runs: 6,
      succeeded: 5,
      failed: 1,
      failedAttemptRuns: 5,
      fixedByRetry: 4,
      successRate: 0.8333,
      transientShare: 0.8,
      maxAttemptsWhenFixed: 3,
      successDurationMs: { p50: 500, p90: 700, p99: 700 },
    });
    // A step that never started has no runs.
    expect(history.get(3)?.runs).toBe(0);
  });

  it('counts a run once, however often it is written', async () => {
    const again = finishedRun(
      `${workflow}-run-0`,
      [ran(1, 'completed', 0, 1000), ran(2, 'completed', 1, 400)],
      1,
      {
        workflowName: workflow,
      },
    );
    await store.upsert(again);
    await store.upsert(again);
    expect((await store.workflowHistory(workflow, '1', { now: NOW })).get(1)?.runs).toBe(6);
  });

  it('reads only the window: 30 days unless asked otherwise', async () => {
    await store.upsert(
      finishedRun(`${workflow}-old`, [ran(1, 'failed', 0, 10)], 45, { workflowName: workflow }),
    );
    expect((await store.workflowHistory(workflow, '1', { now: NOW })).get(1)?.runs).toBe(6);
    const wide = await store.workflowHistory(workflow, '1', { now: NOW, windowMs: 60 * DAY });
    expect(wide.get(1)).toMatchObject({ runs: 7, failed: 1 });
    expect((await store.workflowHistory(workflow, '1', { now: NOW, windowMs: 2.5 * DAY })).get(1)?.runs).toBe(
      2,
    );
  });

  it('keeps versions apart, and answers nothing for a workflow it never saw', async () => {
    await store.upsert(
      finishedRun(`${workflow}-v2`, [ran(1, 'failed', 0, 10)], 1, { workflowName: workflow, version: '2' }),
    );
    expect((await store.workflowHistory(workflow, '2', { now: NOW })).get(1)).toMatchObject({
      runs: 1,
      failed: 1,
    });
    expect((await store.workflowHistory(workflow, '3', { now: NOW })).size).toBe(0);
    expect((await store.workflowHistory(`${workflow}-unknown`, '1', { now: NOW })).size).toBe(0);
  });

  it('answers for an action on a target across workflows', async () => {
    const target = `Deployment ${workflow}/api`;
    const onApi = (status: string, retries: number): StepRow => ({ ...ran(4, status, retries, 900), target });
    await store.upsert(
      finishedRun(`${workflow}-a`, [onApi('completed', 1)], 1, { workflowName: `${workflow}-a` }),
    );
    await store.upsert(
      finishedRun(`${workflow}-b`, [onApi('failed', 0)], 2, { workflowName: `${workflow}-b` }),
    );
    await store.upsert(
      finishedRun(`${workflow}-c`, [{ ...onApi('completed', 0), action: 'restart-deployment' }], 2, {
        workflowName: `${workflow}-c`,
      }),
    );
    expect(await store.targetHistory('scale-deployment', target, { now: NOW })).toMatchObject({
      runs: 2,
      succeeded: 1,
      failedAttemptRuns: 2,
      fixedByRetry: 1,
      transientShare: 0.5,
    });
    expect((await store.targetHistory('scale-deployment', `${target}-none`, { now: NOW })).runs).toBe(0);
  });

  it('learns nothing from a run deleted before it finished', async () => {
    await store.upsert(
      finishedRun(`${workflow}-deleted`, [ran(1, 'completed', 0, 10)], 1, {
        workflowName: `${workflow}-d`,
        status: 'deleted',
      }),
    );
    expect((await store.workflowHistory(`${workflow}-d`, '1', { now: NOW })).size).toBe(0);
    // The audit record itself is kept.
    expect(await store.get(`${workflow}-deleted`)).toMatchObject({ status: 'deleted' });
  });
});

describe('history queries read an index, so their cost is bounded by the window', () => {
  it('in SQLite', async () => {
    const path = sqlitePath();
    await openSqliteAuditStore(path).close();
    const db = new DatabaseSync(path);
    try {
      for (const [sql, index] of [
        [stepHistoryTable(SQLITE_DIALECT).queries.byWorkflow, 'workflow_step_history_by_workflow'],
        [stepHistoryTable(SQLITE_DIALECT).queries.byTarget, 'workflow_step_history_by_target'],
      ] as const) {
        const plan = db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all('a', 'b', '2026-01-01', 10);
        expect(plan.map((r) => (r as { detail: string }).detail).join('\n')).toContain(
          `USING INDEX ${index}`,
        );
      }
    } finally {
      db.close();
    }
  });

  it('in PostgreSQL', async () => {
    await (await openPostgresAuditStore(postgres.url)).close();
    const client = new pg.Client({ connectionString: postgres.url });
    await client.connect();
    try {
      // A small table is cheaper to scan whole; forbid that to see which index the query can use.
      await client.query('SET enable_seqscan = off');
      for (const [sql, index] of [
        [stepHistoryTable(POSTGRES_DIALECT).queries.byWorkflow, 'workflow_step_history_by_workflow'],
        [stepHistoryTable(POSTGRES_DIALECT).queries.byTarget, 'workflow_step_history_by_target'],
      ] as const) {
        const plan = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${sql}`, [
          'a',
          'b',
          '2026-01-01T00:00:00Z',
          10,
        ]);
        expect(plan.rows.map((r) => r['QUERY PLAN']).join('\n')).toContain(index);
      }
    } finally {
      await client.end();
    }
  });
});

describe('the operator with a PostgreSQL audit store', () => {
  it('writes one record for each finished run', async () => {
    const audit = await openPostgresAuditStore(postgres.url);
    const h = await startHarness(
      (c) => (c.spec.stepNumber === 2 ? { phase: 'failed', message: 'nope' } : { phase: 'completed' }),
      { audit },
    );
    try {
      await h.workflows.apply('audited', specWith([customStep(1), customStep(2, { dependsOn: [] })]));
      const wf = await h.workflows.waitFor('audited', inPhase('completed'));
      let row: WorkflowExecutionAudit | undefined;
      for (let i = 0; i < 50 && !row; i++) {
        row = await audit.get(wf.metadata.uid ?? '');
        if (!row) await new Promise((r) => setTimeout(r, 100));
      }
      expect(row).toMatchObject({
        name: 'audited',
        namespace: h.namespace,
        status: 'completed',
        // Custom steps name nothing to verify (issue 19).
        outcome: 'unknown',
        totalSteps: 2,
        stepsCompleted: 1,
        stepsFailed: 1,
      });
      expect(row?.stepExecutions.find((s) => s.stepNumber === 2)).toMatchObject({
        status: 'failed',
        errorMessage: 'nope',
      });
    } finally {
      await h.stop();
    }
  });
});
