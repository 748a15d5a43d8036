// Network faults between the operator and kube-apiserver, through a real TCP fault proxy
// (Toxiproxy), and an etcd crash, with workflows of every shape running. For each fault: every
// workflow reaches the end an uninterrupted run reaches, no child is created twice, /ready is false
// while the apiserver cannot be reached and true again after, the operator stays alive, the
// reconcile count during the fault stays within a stated bound, and the recovery time is measured.
//
// CHAOS_SCALE scales the fault durations (1: the 60 s and 30 s; default 0.1 for CI, with
// floors so that each fault still outlasts the operator's detection of it).
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { counterTotal, writeResults, type FaultRow } from './support/chaos.ts';
import { faultCatalog, type Fault } from './support/faults.ts';
import { startRig, type Rig } from './support/rig.ts';
import { SHAPES, duplicateLaunches, endOf, isFinished } from './support/workloads.ts';
import { setTimeout as sleep } from 'node:timers/promises';

const SCALE = Number(process.env['CHAOS_SCALE'] ?? '0.1');
/** First backoff of a failing reconcile, doubling (src/shell/workqueue.ts). */
const BASE_BACKOFF_MS = 5;

jest.setTimeout(Math.max(20 * 60_000, 60 * 60_000 * SCALE));

let rig: Rig;
const results: FaultRow[] = [];
let baseline = new Map<string, unknown>();
let baselineReconciles = 0;

beforeAll(async () => {
  rig = await startRig();
});

afterAll(async () => {
  await rig.stop();
  if (results.length > 0) await writeResults('faults', results);
});

interface Outcome {
  ends: Map<string, unknown>;
  duplicates: string[];
  lost: string[];
}

/** Each run's end against the uninterrupted run of the same shape; any child created twice. */
async function outcomeOf(prefixes: readonly string[]): Promise<Outcome> {
  const children = await rig.listChildren();
  const ends = new Map<string, unknown>();
  const lost: string[] = [];
  for (const prefix of prefixes) {
    for (const wf of await rig.listWorkflows(prefix)) {
      const name = wf.metadata.name ?? '';
      const own = children.filter((c) => c.metadata.ownerReferences?.some((o) => o.uid === wf.metadata.uid));
      const end = endOf(wf, own);
      ends.set(name, end);
      const reference = baseline.get(name.slice(prefix.length + 1));
      if (baseline.size > 0 && JSON.stringify(end) !== JSON.stringify(reference)) lost.push(name);
    }
  }
  const mine = (name: string | undefined) => prefixes.some((p) => (name ?? '').startsWith(`${p}-`));
  const duplicates = [
    ...rig.executor.duplicates().filter(mine),
    ...duplicateLaunches(children.filter((c) => mine(c.metadata.name))),
  ];
  return { ends, duplicates, lost };
}

async function runFault(fault: Fault): Promise<FaultRow> {
  const { operator, samples } = rig;
  const prefixes = [fault.key];
  await rig.waitStarted(fault.key, await rig.startBatch(fault.key));
  const reconcilesBefore = await counterTotal(operator.metrics.reconcileTotal);
  const errorsBefore = await counterTotal(operator.metrics.reconcileErrorsTotal);
  const broken = async () =>
    (await counterTotal(operator.metrics.apiserverRequestsTotal, { code: 'error' })) +
    (await counterTotal(operator.metrics.watchRestartsTotal));
  const brokenBefore = await broken();
  const unfinishedAtStart = (await rig.listWorkflows(fault.key)).filter((w) => !isFinished(w)).length;

  const injectedAt = Date.now();
  await fault.inject();
  const until = injectedAt + fault.durationMs;
  if (fault.batchDuring) {
    await sleep(fault.durationMs / 2);
    prefixes.push(`${fault.key}2`);
    await rig.startBatch(`${fault.key}2`);
  }
  if (fault.during) await fault.during(until);
  else await sleep(Math.max(0, until - Date.now()));
  await fault.heal();
  const healedAt = Date.now();
  const reconcilesDuring = (await counterTotal(operator.metrics.reconcileTotal)) - reconcilesBefore;
  const errorsDuring = (await counterTotal(operator.metrics.reconcileErrorsTotal)) - errorsBefore;
  const brokenDuring = (await broken()) - brokenBefore;

  for (const prefix of prefixes) await rig.waitFinished(prefix, SHAPES.length, 180_000);
  const finishedAt = Date.now();
  // Ready again: the first sample after the fault from which /ready stayed 200.
  await sleep(1000);
  const after = samples.filter((s) => s.at >= healedAt);
  const firstSteady = after.findIndex((_, i) => after.slice(i).every((s) => s.ready));
  const readyAgainAt = firstSteady === -1 ? undefined : after[firstSteady]?.at;
  const during = samples.filter((s) => s.at >= injectedAt && s.at <= healedAt);
  const outcome = await outcomeOf(prefixes);
  const workflows = prefixes.length * SHAPES.length;
  const seconds = Math.max(1, healedAt - injectedAt) / 1000;
  return {
    fault: fault.name,
    durationS: Math.round(seconds * 10) / 10,
    workflows,
    throughFault: unfinishedAtStart + (fault.batchDuring ? SHAPES.length : 0),
    readyFalseDuring: during.some((s) => !s.ready),
    liveThroughout: samples.filter((s) => s.at >= injectedAt).every((s) => s.live),
    readyAgainS: readyAgainAt === undefined ? null : Math.max(0, (readyAgainAt - healedAt) / 1000),
    finishedS: (finishedAt - healedAt) / 1000,
    duplicates: outcome.duplicates.length,
    lost: outcome.lost.length,
    lostNames: outcome.lost,
    reconcilesDuring,
    errorsDuring,
    brokenDuring,
    // The stated bound. A failing reconcile backs off per key from 5 ms, doubling, so a fault of
    // T seconds allows each key at most 2 + log2(T / 5 ms) reconciles that fail; where the operator
    // can still work, add three times what an uninterrupted run of each batch needs.
    reconcileBound: Math.ceil(
      workflows * (2 + Math.log2((seconds * 1000) / BASE_BACKOFF_MS)) +
        (fault.unreachable ? 0 : 3 * baselineReconciles * prefixes.length),
    ),
  };
}

function expectSurvived(row: FaultRow, fault: Fault): void {
  expect(row.lostNames).toEqual([]);
  expect(row.duplicates).toBe(0);
  expect(row.liveThroughout).toBe(true);
  expect(row.readyAgainS).not.toBeNull();
  if (fault.unreachable) {
    expect(row.readyFalseDuring).toBe(true);
    expect(row.brokenDuring).toBeGreaterThan(0);
  }
  expect(row.reconcilesDuring).toBeLessThanOrEqual(row.reconcileBound);
}

describe('the operator through network faults and an etcd crash', () => {
  it('runs every shape to its end without faults first (the reference)', async () => {
    const before = await counterTotal(rig.operator.metrics.reconcileTotal);
    await rig.startBatch('base');
    await rig.waitFinished('base', SHAPES.length, 120_000);
    const outcome = await outcomeOf(['base']);
    baselineReconciles = (await counterTotal(rig.operator.metrics.reconcileTotal)) - before;
    baseline = new Map([...outcome.ends].map(([name, end]) => [name.slice('base-'.length), end]));
    expect(outcome.duplicates).toEqual([]);
    // The reference is what each shape promises.
    // Custom steps name nothing to verify: completed, outcome unknown (issue 19).
    expect(baseline.get('sequential')).toMatchObject({ phase: 'completed', outcome: 'unknown' });
    expect(baseline.get('fanout')).toMatchObject({ phase: 'completed', outcome: 'unknown' });
    expect(baseline.get('approval')).toMatchObject({ phase: 'completed', approved: true });
    expect(baseline.get('retries')).toMatchObject({ phase: 'completed', steps: [{}, { retries: 1 }] });
    expect(baseline.get('rollback')).toMatchObject({ phase: 'failed', rollbacks: 2 });
  });

  it.each(faultCatalog(() => rig, SCALE).map((f) => [f.name, f] as const))(
    'survives %s: the same ends, no child twice, ready again after, no hot loop',
    async (_name, fault) => {
      const row = await runFault(fault);
      results.push(row);
      process.stderr.write(`chaos: ${JSON.stringify(row)}\n`);
      expectSurvived(row, fault);
      // Resets: the fault did bite, requests lost their answers or watches broke. (Whether one hits
      // a reconcile's own write is chance: with a step's outcomes batched, writes are few.)
      if (fault.key === 'rst') expect(row.brokenDuring).toBeGreaterThan(0);
    },
  );
});
