// The metrics the alert rules rely on, as a scrape shows them from an operator on the real control
// plane: which workflow waits for approval and since when, which one ended RollbackFailed, and audit
// writes that fail (a real SQLite store, closed under the operator).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, jest } from '@jest/globals';
import { openSqliteAuditStore } from '../../src/audit/sqlite.ts';
import { APPROVED_BY } from '../../src/core/observe.ts';
import { customRollback, customStep, specWith } from '../fixtures/specs.ts';
import { until } from '../support/cluster.ts';
import { rollbackFailsIn } from '../support/executor.ts';
import { awaitingApproval, conditionOf, inPhase } from './support/harness.ts';
import { harnessForSuite } from './support/suite.ts';

jest.setTimeout(60_000);

const script = rollbackFailsIn('bad-rollback', 2);

// A real store that can no longer write: every audit record the operator tries fails.
const audit = openSqliteAuditStore(join(mkdtempSync(join(tmpdir(), 'wfe-audit-')), 'audit.db'));
beforeAll(() => audit.close());
const h = harnessForSuite(script, { audit });

const scrape = () => h.operator.metrics.registry.metrics();
const series = (text: string, name: string) =>
  text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
/**
 * A scrape that shows `line`. The series are read off the operator's cache at scrape time, which its
 * watch brings up to date a moment after the apiserver answers a GET with the new status.
 */
const scrapeShowing = (line: string) =>
  until(
    `${line} in a scrape`,
    async () => {
      const text = await scrape();
      return text.split('\n').includes(line) ? text : undefined;
    },
    10_000,
  );

describe('metrics for the alerts', () => {
  it('a workflow at its approval gate is shown awaiting approval, with the start of its validating phase, until it is approved and finishes', async () => {
    await h.workflows.apply('gated', specWith([customStep(1)], { approvalRequired: true }));
    const waiting = await h.workflows.waitFor('gated', awaitingApproval);
    const text = await scrapeShowing(
      `kubernaut_workflowexecution_workflow_status{namespace="${h.namespace}",name="gated",phase="validating",reason="AwaitingApproval"} 1`,
    );
    expect(series(text, 'kubernaut_workflowexecution_workflow_status')).toContain(
      `kubernaut_workflowexecution_workflow_status{namespace="${h.namespace}",name="gated",phase="validating",reason="AwaitingApproval"} 1`,
    );
    const started = Date.parse(waiting.status?.validationStartTime ?? '') / 1000;
    expect(series(text, 'kubernaut_workflowexecution_phase_start_timestamp_seconds')).toContain(
      `kubernaut_workflowexecution_phase_start_timestamp_seconds{namespace="${h.namespace}",name="gated",phase="validating"} ${String(started)}`,
    );

    await h.workflows.annotate('gated', APPROVED_BY, h.username);
    await h.workflows.waitFor('gated', inPhase('completed'));
    const after = await scrapeShowing(
      `kubernaut_workflowexecution_workflow_status{namespace="${h.namespace}",name="gated",phase="completed",reason="NoVerifiableTarget"} 1`,
    );
    // Finished: no current phase to be stuck in, and the status says so.
    expect(
      series(after, 'kubernaut_workflowexecution_phase_start_timestamp_seconds').filter((l) =>
        l.includes('name="gated"'),
      ),
    ).toEqual([]);
    expect(series(after, 'kubernaut_workflowexecution_workflow_status')).toContain(
      `kubernaut_workflowexecution_workflow_status{namespace="${h.namespace}",name="gated",phase="completed",reason="NoVerifiableTarget"} 1`,
    );
  });

  it('a workflow whose rollback failed is shown failed with reason RollbackFailed', async () => {
    await h.workflows.apply(
      'bad-rollback',
      specWith([customStep(1, { rollbackSpec: customRollback(1) }), customStep(2, { criticalStep: true })]),
    );
    await h.workflows.waitFor('bad-rollback', (w) => conditionOf(w, 'Ready')?.reason === 'RollbackFailed');
    const expected = `kubernaut_workflowexecution_workflow_status{namespace="${h.namespace}",name="bad-rollback",phase="failed",reason="RollbackFailed"} 1`;
    const shown = series(await scrapeShowing(expected), 'kubernaut_workflowexecution_workflow_status');
    expect(shown).toContain(expected);
  });

  it('audit records that cannot be written are counted as failures, none as successes', async () => {
    await h.workflows.apply('unaudited', specWith([customStep(1)]));
    await h.workflows.waitFor('unaudited', inPhase('completed'));
    const lines = series(await scrape(), 'kubernaut_workflowexecution_audit_writes_total');
    const failures = lines.find((l) => l.includes('result="failure"'));
    expect(Number(failures?.split(' ').at(-1))).toBeGreaterThanOrEqual(1);
    expect(lines.filter((l) => l.includes('result="success"'))).toEqual([]);
  });
});
