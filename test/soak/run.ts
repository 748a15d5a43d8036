/**
 * `npm run test:soak`: two `wfx operator` processes (leader election) talking to the apiserver
 * through the chaos rig's fault proxy, and two `wfx executor --development` processes (claims)
 * talking to it directly, under a steady stream of workflows of every shape for SOAK_MINUTES
 * (default 30), with a fault from the chaos catalogue every SOAK_FAULT_EVERY_MINUTES (default 3).
 * `npm run test:soak:short` is the CI-sized run (4 minutes, a fault every minute).
 *
 * Every SOAK_SAMPLE_SECONDS (default 10) it samples each process's RSS (/proc), the workflows still
 * running and the Lease holder. Each finished workflow is compared with the same shape's run before
 * any fault, then deleted. At the end: the samples as a table, and per process the RSS trend over the
 * second half (the first is warm-up). Exits non-zero when a run is lost (unfinished, or ended
 * otherwise than its reference), a child was created twice, an executor claim was taken twice, or
 * (runs of 10 minutes or more) an RSS is not flat.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubernetesExecution, WorkflowExecution } from '../../src/api/generated/types.ts';
import { WORKFLOW_EXECUTIONS, resourcePath } from '../../src/shell/kube/resources.ts';
import { faultCatalog } from '../chaos/support/faults.ts';
import { startRigBase, type RigBase } from '../chaos/support/rig.ts';
import {
  EXECUTOR_SHAPES,
  duplicateLaunches,
  endOf,
  isFinished,
  shapeOf,
} from '../chaos/support/workloads.ts';
import { spawnOperator, stopOperators, type OperatorProcess } from '../support/operator-process.ts';

const minutes = Number(process.env['SOAK_MINUTES'] ?? '30');
const faultEveryMs = Number(process.env['SOAK_FAULT_EVERY_MINUTES'] ?? '3') * 60_000;
const sampleMs = Number(process.env['SOAK_SAMPLE_SECONDS'] ?? '10') * 1000;
/** A new batch (one workflow of each shape) this often. */
const batchEveryMs = Number(process.env['SOAK_BATCH_SECONDS'] ?? '15') * 1000;
/** Faults in the soak last about a third of the chaos suite's full length. */
const FAULT_SCALE = 0.33;
/** Below this the second half is still warm-up: the RSS trend is reported, not judged. */
const JUDGED_FROM_MINUTES = 10;
/**
 * Flat: over the second half, the least-squares RSS growth (slope times the half's length) is at
 * most this share of the half's mean RSS, or at most FLAT_MIB (a GC's sawtooth on a small heap).
 */
const FLAT_SHARE = 0.05;
const FLAT_MIB = 10;
const LEASE = 'soak';

interface Sample {
  t: number;
  rssMiB: number[];
  active: number;
  leader: string;
  fault: string;
}

function slopePerMs(points: readonly [number, number][]): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const sxx = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  const sxy = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0);
  return sxx === 0 ? 0 : sxy / sxx;
}

const pad = (v: string | number, width: number): string => String(v).padStart(width);

interface Replica {
  name: string;
  process: OperatorProcess;
}

async function startReplicas(rig: RigBase): Promise<Replica[]> {
  const operator = (name: string) =>
    spawnOperator({
      kubeconfig: rig.proxiedKubeconfig,
      namespaces: [rig.namespace],
      leaseName: LEASE,
      inspect: true,
      logLevel: 'warn',
      // A leader that cannot renew for the renew deadline (10 s by default) exits, as it should; the
      // soak's faults cut it off for 10 s, so it is given 20 s: each process lives the whole run and
      // its RSS is one series. Handover is tested in test/e2e/operator-process.test.ts.
      args: ['--lease-duration', '30', '--renew-deadline', '20'],
    }).then((process) => ({ name, process }));
  // Info: the executors' `claimed` lines are counted against each child's claim count.
  const executor = (name: string) =>
    spawnOperator({
      command: 'executor',
      kubeconfig: rig.cp.kubeconfigPath,
      inspect: true,
      logLevel: 'info',
      args: ['--namespace', rig.namespace, '--identity', name, '--development'],
    }).then((process) => ({ name, process }));
  const replicas = await Promise.all([
    operator('operator-a'),
    operator('operator-b'),
    executor('executor-a'),
    executor('executor-b'),
  ]);
  const stopping = { now: false };
  rig.onStop(async () => {
    stopping.now = true;
    await Promise.all(replicas.map((r) => r.process.stop()));
    await stopOperators();
  });
  // A replica that exits is a failure of the run: said at once, with its last log lines.
  for (const { name, process: replica } of replicas)
    void replica.exited.then(({ code, signal }) => {
      if (!stopping.now)
        process.stderr.write(
          `soak: ${new Date().toISOString()} ${name} exited (${String(code ?? signal)}); its last lines:\n${replica.tail(10)}\n`,
        );
    });
  return replicas;
}

/** Children, by workflow uid. */
function childrenByOwner(children: readonly KubernetesExecution[]): Map<string, KubernetesExecution[]> {
  const byOwner = new Map<string, KubernetesExecution[]>();
  for (const c of children)
    for (const o of c.metadata.ownerReferences ?? []) byOwner.set(o.uid, [...(byOwner.get(o.uid) ?? []), c]);
  return byOwner;
}

async function main(): Promise<number> {
  const rig = await startRigBase('soak');
  const replicas = await startReplicas(rig);
  const executors = replicas.filter((r) => r.name.startsWith('executor'));
  /** `claimed` log lines per child, over both executors: more than the child's claim count is a double claim. */
  const claimLines = (): Map<string, number> => {
    const counts = new Map<string, number>();
    for (const { process } of executors)
      for (const line of process.lines)
        if (line.message === 'claimed' && typeof line['child'] === 'string')
          counts.set(line['child'], (counts.get(line['child']) ?? 0) + 1);
    return counts;
  };
  const leaseHolder = async (): Promise<string> => {
    try {
      const lease = await rig.client.request<{ spec?: { holderIdentity?: string } }>(
        `/apis/coordination.k8s.io/v1/namespaces/${rig.namespace}/leases/${LEASE}`,
      );
      return lease.spec?.holderIdentity ?? '';
    } catch {
      return '?';
    }
  };

  // The reference: each shape run once before any fault.
  await rig.startBatch('base', EXECUTOR_SHAPES);
  await rig.waitFinished('base', EXECUTOR_SHAPES.length, 300_000);
  const reference = new Map<string, string>();
  {
    const owned = childrenByOwner(await rig.listChildren());
    for (const wf of await rig.listWorkflows('base'))
      reference.set(
        shapeOf(wf.metadata.name ?? ''),
        JSON.stringify(endOf(wf, owned.get(wf.metadata.uid ?? '') ?? [])),
      );
  }

  const started = Date.now();
  const endAt = started + minutes * 60_000;
  const samples: Sample[] = [];
  const faults = faultCatalog(() => rig, FAULT_SCALE);
  let currentFault = '';
  let faultsRun = 0;
  let batches = 0;
  let finished = 0;
  let takeovers = 0;
  const duplicates = new Set<string>();
  const doubleClaims = new Set<string>();
  const wrongEnds = new Map<string, string>();

  /** Checks the finished runs (their ends, their children) and deletes them. */
  const collect = async (all: readonly WorkflowExecution[]): Promise<void> => {
    const children = await rig.listChildren();
    duplicateLaunches(children).forEach((d) => duplicates.add(d));
    const owned = childrenByOwner(children);
    const lines = claimLines();
    for (const wf of all.filter(isFinished)) {
      const name = wf.metadata.name ?? '';
      const own = owned.get(wf.metadata.uid ?? '') ?? [];
      const end = JSON.stringify(endOf(wf, own));
      if (end !== reference.get(shapeOf(name))) wrongEnds.set(name, end);
      for (const c of own) {
        const claims = c.status?.claim?.claims ?? 0;
        if (claims > 1) takeovers++;
        if ((lines.get(c.metadata.name ?? '') ?? 0) > claims) doubleClaims.add(c.metadata.name ?? '');
      }
      await rig.client
        .request(resourcePath(WORKFLOW_EXECUTIONS, rig.namespace, name), { method: 'DELETE' })
        .then(() => finished++)
        .catch(() => undefined);
    }
  };
  await collect(await rig.listWorkflows('base'));

  const stream = (async () => {
    while (Date.now() < endAt) {
      const prefix = `s${String(batches++)}`;
      await rig.startBatch(prefix, EXECUTOR_SHAPES).catch((error: unknown) => {
        process.stderr.write(`soak: batch ${prefix} not created: ${(error as Error).message}\n`);
      });
      await collect(await rig.listWorkflows());
      await sleep(batchEveryMs);
    }
  })();

  const chaos = (async () => {
    for (let next = started + faultEveryMs; next < endAt - 60_000; next += faultEveryMs) {
      await sleep(Math.max(0, next - Date.now()));
      const fault = faults[faultsRun++ % faults.length];
      if (!fault) continue;
      currentFault = fault.name;
      process.stderr.write(`soak: ${new Date().toISOString()} fault: ${fault.name}\n`);
      await fault.inject();
      const until = Date.now() + fault.durationMs;
      if (fault.during) await fault.during(until);
      else await sleep(Math.max(0, until - Date.now()));
      await fault.heal();
      currentFault = '';
    }
  })();

  /** Heap used after a full GC (MiB), per process: RSS that grows while this does not is heap kept, not leaked. */
  const heapAfterGc = () =>
    Promise.all(
      replicas.map(async (r) =>
        r.process.running ? (await r.process.collectGarbage()).heapUsed / 2 ** 20 : Number.NaN,
      ),
    );
  // At the start, not at the half: a full GC there would lower the RSS the second half is judged on.
  const heapAtStart = await heapAfterGc();
  while (Date.now() < endAt) {
    await sleep(Math.min(sampleMs, Math.max(0, endAt - Date.now())));
    const rssMiB = await Promise.all(
      replicas.map(async (r) => (r.process.running ? (await r.process.rssKiB()) / 1024 : Number.NaN)),
    );
    const active = (await rig.listWorkflows()).filter((w) => !isFinished(w)).length;
    samples.push({
      t: Date.now() - started,
      rssMiB,
      active,
      leader: await leaseHolder(),
      fault: currentFault,
    });
  }
  const heapAtEnd = await heapAfterGc();
  await Promise.all([stream, chaos]);

  // Drain: everything still running must finish.
  let unfinished: string[] = [];
  const drainUntil = Date.now() + 5 * 60_000;
  for (;;) {
    const all = await rig.listWorkflows();
    unfinished = all.filter((w) => !isFinished(w)).map((w) => w.metadata.name ?? '');
    if (unfinished.length === 0 || Date.now() > drainUntil) break;
    await sleep(1000);
  }
  await collect(await rig.listWorkflows());
  const exited = replicas.filter((r) => !r.process.running).map((r) => r.name);
  await rig.stop();

  const names = replicas.map((r) => r.name);
  const header = `${pad('t (s)', 6)} ${names.map((n) => pad(n, 11)).join(' ')} ${pad('active', 7)}  leader / fault`;
  const lines = ['RSS (MiB) of each process', header, '-'.repeat(header.length + 20)];
  // The operator's identity is `<host>_<pid>`: named after the replica with that pid.
  const replicaOf = (identity: string) =>
    replicas.find((r) => identity.endsWith(`_${String(r.process.pid)}`))?.name ?? identity;
  for (const s of samples)
    lines.push(
      `${pad(Math.round(s.t / 1000), 6)} ${s.rssMiB.map((m) => pad(m.toFixed(1), 11)).join(' ')} ${pad(s.active, 7)}  ${replicaOf(s.leader)} ${s.fault}`,
    );
  let leaderChanges = 0;
  for (let i = 1; i < samples.length; i++) {
    const [a, b] = [samples[i - 1]?.leader, samples[i]?.leader];
    if (a && b && a !== '?' && b !== '?' && a !== b) leaderChanges++;
  }

  // The trend over the second half: the first is warm-up (JIT, caches and informers filling).
  const half = Math.floor(samples.length / 2);
  const firstHalf = samples.slice(0, half);
  const steady = samples.slice(half);
  const halfMs = (steady.at(-1)?.t ?? 0) - (steady[0]?.t ?? 0);
  const mean = (xs: readonly number[]) => xs.reduce((a, x) => a + x, 0) / Math.max(1, xs.length);
  const judged = minutes >= JUDGED_FROM_MINUTES;
  const notFlat: string[] = [];
  lines.push(
    '',
    '| process | RSS mean, first half (MiB) | RSS mean, second half (MiB) | second-half trend (MiB/h) | growth over the second half (MiB) | flat | heap after a full GC, start → end (MiB) |',
    '|---|---|---|---|---|---|---|',
  );
  names.forEach((name, i) => {
    const pick = (s: Sample) => s.rssMiB[i] ?? Number.NaN;
    const points = steady
      .map((s) => [s.t, pick(s)] as [number, number])
      .filter(([, y]) => Number.isFinite(y));
    const slope = slopePerMs(points);
    const secondMean = mean(points.map(([, y]) => y));
    const growth = slope * halfMs;
    const flat = growth <= Math.max(FLAT_MIB, FLAT_SHARE * secondMean);
    if (!flat) notFlat.push(name);
    lines.push(
      `| ${name} | ${mean(firstHalf.map(pick)).toFixed(1)} | ${secondMean.toFixed(1)} | ${(slope * 3_600_000).toFixed(1)} | ${growth.toFixed(1)} | ${flat ? 'yes' : 'no'}${judged ? '' : ' (not judged: short run)'} | ${(heapAtStart[i] ?? Number.NaN).toFixed(1)} → ${(heapAtEnd[i] ?? Number.NaN).toFixed(1)} |`,
    );
  });
  const lost = [...unfinished, ...wrongEnds.keys()];
  lines.push(
    '',
    `soak: ${minutes} min, 2 operators (${leaderChanges} leader changes) and 2 executors, ${batches} batches of ${EXECUTOR_SHAPES.length} shapes, ${faultsRun} faults, ${finished} workflows finished, ${lost.length} lost (${unfinished.length} unfinished, ${wrongEnds.size} with another end), ${duplicates.size} children created twice, ${doubleClaims.size} children claimed twice at once, ${takeovers} claims taken over, ${exited.length} processes exited early`,
  );
  process.stdout.write(`${lines.join('\n')}\n`);
  if (unfinished.length > 0) process.stderr.write(`soak: unfinished: ${unfinished.join(', ')}\n`);
  for (const [name, end] of wrongEnds)
    process.stderr.write(`soak: ${name} ended ${end}\n  reference ${reference.get(shapeOf(name)) ?? ''}\n`);
  if (duplicates.size > 0) process.stderr.write(`soak: created twice: ${[...duplicates].join(', ')}\n`);
  if (doubleClaims.size > 0) process.stderr.write(`soak: claimed twice: ${[...doubleClaims].join(', ')}\n`);
  if (exited.length > 0) process.stderr.write(`soak: exited early: ${exited.join(', ')}\n`);
  const ok =
    lost.length === 0 &&
    duplicates.size === 0 &&
    doubleClaims.size === 0 &&
    exited.length === 0 &&
    (!judged || notFlat.length === 0);
  return ok ? 0 : 1;
}

process.exit(await main());
