// Retention against the real apiserver: a finished run past its retention is deleted only once its
// audit row is written; with the audit store down the deletion waits, and nothing is lost when it
// comes back. "forever" keeps a run.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, jest } from '@jest/globals';
import { auditIdOf } from '../../src/audit/from-status.ts';
import type { AuditStore } from '../../src/audit/record.ts';
import { openSqliteAuditStore } from '../../src/audit/sqlite.ts';
import { createLogger } from '../../src/shell/logger.ts';
import { createOperatorMetrics } from '../../src/shell/metrics.ts';
import { RetentionSweeper } from '../../src/shell/retention.ts';
import { customStep, specWith } from '../fixtures/specs.ts';
import { inPhase } from './support/harness.ts';
import { harnessForSuite } from './support/suite.ts';

jest.setTimeout(120_000);

const h = harnessForSuite();
const HOUR = 3_600_000;

/** The audit store as the operator sees it: a real SQLite file, closed (down) and opened again (back). */
function switchableStore(path: string) {
  let current: AuditStore | null = openSqliteAuditStore(path);
  const live = (): AuditStore => {
    if (!current) throw new Error('audit store unreachable');
    return current;
  };
  const store: AuditStore = {
    upsert: (r) => live().upsert(r),
    get: (id) => live().get(id),
    list: (limit) => live().list(limit),
    workflowHistory: (...a) => live().workflowHistory(...a),
    targetHistory: (...a) => live().targetHistory(...a),
    prune: (before) => live().prune(before),
    close: async () => {
      await current?.close();
      current = null;
    },
  };
  return {
    store,
    down: () => store.close(),
    back: () => {
      current = openSqliteAuditStore(path);
    },
  };
}

async function exists(name: string): Promise<boolean> {
  const list = await h.client.request<{ items: { metadata: { name: string } }[] }>(
    `/apis/workflowexecution.kubernaut.io/v1/namespaces/${h.namespace}/workflowexecutions`,
  );
  return list.items.some((w) => w.metadata.name === name);
}

describe('retention', () => {
  it('postpones the deletion while the audit store is down, and deletes after writing the row once it is back', async () => {
    await h.workflows.apply('short', specWith([customStep(1)], {}, { retention: '1h' }));
    await h.workflows.apply('kept', specWith([customStep(1)], {}, { retention: 'forever' }));
    const short = await h.workflows.waitFor('short', inPhase('completed', 'failed'));
    await h.workflows.waitFor('kept', inPhase('completed', 'failed'));

    const audit = switchableStore(join(mkdtempSync(join(tmpdir(), 'wfe-retention-')), 'audit.db'));
    const metrics = createOperatorMetrics(false);
    const sweeper = new RetentionSweeper({
      client: h.client,
      namespaces: [h.namespace],
      audit: audit.store,
      retention: '24h',
      auditRetentionMs: 90 * 24 * HOUR,
      metrics,
      log: createLogger('error'),
      clock: () => Date.now() + 2 * HOUR,
      active: () => true,
    });

    await audit.down();
    await sweeper.sweep();
    expect(await exists('short')).toBe(true);
    expect(
      await metrics.registry.getSingleMetricAsString('kubernaut_workflowexecution_retention_postponed_total'),
    ).toContain('reason="audit_unavailable"} 1');

    audit.back();
    await sweeper.sweep();
    expect(await audit.store.get(auditIdOf(short))).toMatchObject({ name: 'short', namespace: h.namespace });
    const deadline = Date.now() + 30_000;
    while (await exists('short')) {
      if (Date.now() > deadline) throw new Error('short was not deleted');
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(await exists('kept')).toBe(true);
    expect(
      await metrics.registry.getSingleMetricAsString('kubernaut_workflowexecution_retention_deletions_total'),
    ).toContain('object="workflowexecution",reason="retention_expired"} 1');
    await audit.store.close();
  });
});
