/** The metric catalogue: what it refuses, and that the operator exports exactly what it declares. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { METRIC_CATALOGUE_FILE, readCatalogue } from '../../src/monitoring/metric-catalogue.ts';
import { REPO_ROOT } from '../../tooling/controlplane/binaries.ts';
import { createOperatorMetrics } from '../../src/shell/metrics.ts';
import { createExecutorMetrics } from '../../src/executor/metrics.ts';

const shipped = readCatalogue(readFileSync(join(REPO_ROOT, METRIC_CATALOGUE_FILE), 'utf8'));

const catalogueWith = (entry: string) => `prefix: kubernaut_workflowexecution
metrics:
  fooTotal:
${entry
  .split('\n')
  .map((l) => `    ${l}`)
  .join('\n')}
`;

describe('the metric catalogue', () => {
  it('is what the operator exports: every metric with its type, help and labels, and nothing else', async () => {
    const exported = await createOperatorMetrics().registry.getMetricsAsJSON();
    expect(
      exported
        .map((m) => ({ name: m.name, type: m.type, help: m.help }))
        .sort((a, b) => a.name.localeCompare(b.name)),
    ).toEqual(
      shipped
        .filter((e) => e.section !== 'executor')
        .map((e) => ({ name: e.name, type: e.type, help: e.help }))
        .sort((a, b) => a.name.localeCompare(b.name)),
    );
    expect(shipped.length).toBeGreaterThan(25);
  });

  it('is, in its executor section, exactly what the executor exports', async () => {
    const exported = await createExecutorMetrics().registry.getMetricsAsJSON();
    const executorEntries = shipped.filter((e) => e.section === 'executor');
    expect(exported.map((m) => m.name).sort()).toEqual(executorEntries.map((e) => e.name).sort());
    expect(executorEntries.map((e) => e.name)).toEqual(
      expect.arrayContaining([
        'kubernaut_workflowexecution_executor_actions_total',
        'kubernaut_workflowexecution_executor_action_duration_seconds',
        'kubernaut_workflowexecution_executor_actions_in_flight',
        'kubernaut_workflowexecution_executor_pickup_latency_seconds',
      ]),
    );
  });

  it.each([
    [
      'a type it does not know',
      'name: foo_total\ntype: summary\nsection: lifecycle\nhelp: Foo',
      'metrics.fooTotal.type',
    ],
    [
      'a histogram without buckets',
      'name: foo_seconds\ntype: histogram\nsection: lifecycle\nhelp: Foo',
      'metrics.fooTotal.buckets',
    ],
    [
      'buckets on a counter',
      'name: foo_total\ntype: counter\nsection: lifecycle\nhelp: Foo\nbuckets: [1]',
      'metrics.fooTotal.buckets',
    ],
    [
      'a name that is not snake_case',
      'name: fooTotal\ntype: counter\nsection: lifecycle\nhelp: Foo',
      'metrics.fooTotal.name',
    ],
    [
      'a label that is not snake_case',
      'name: foo_total\ntype: counter\nsection: lifecycle\nhelp: Foo\nlabels: [Bad-Label]',
      'metrics.fooTotal.labels',
    ],
    ['no help', 'name: foo_total\ntype: counter\nsection: lifecycle', 'metrics.fooTotal.help'],
    [
      'a section it does not know',
      'name: foo_total\ntype: counter\nsection: misc\nhelp: Foo',
      'metrics.fooTotal.section',
    ],
  ])('refuses %s, naming the field', (_what, entry, where) => {
    expect(() => readCatalogue(catalogueWith(entry))).toThrow(`${METRIC_CATALOGUE_FILE}: ${where}:`);
  });

  it('refuses one name declared twice', () => {
    const text = `prefix: p
metrics:
  aTotal: { name: a_total, type: counter, section: lifecycle, help: A }
  bTotal: { name: a_total, type: counter, section: lifecycle, help: B }
`;
    expect(() => readCatalogue(text)).toThrow('p_a_total is declared twice');
  });
});
