/** What the chaos suites share: an admin client, metric totals, retries for the test's own calls, results. */
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig } from '@kubernetes/client-node';
import type { Counter } from 'prom-client';
import { REPO_ROOT } from '../../../tooling/controlplane/binaries.ts';
import { createKubeClient, isAlreadyExists, type KubeClient } from '../../../src/shell/kube/client.ts';

export async function adminClientOf(
  kubeconfigPath: string,
): Promise<{ kc: KubeConfig; client: KubeClient; username: string }> {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  const client = await createKubeClient(kc);
  const review = await client.request<{ status: { userInfo: { username: string } } }>(
    '/apis/authentication.k8s.io/v1/selfsubjectreviews',
    { body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' } },
  );
  return { kc, client, username: review.status.userInfo.username };
}

/** A counter's sum over all its series, or over those with the given labels. */
export async function counterTotal(counter: Counter, labels: Record<string, string> = {}): Promise<number> {
  return (await counter.get()).values
    .filter((v) => Object.entries(labels).every(([k, value]) => v.labels[k] === value))
    .reduce((sum, v) => sum + v.value, 0);
}

/**
 * The test's own requests go straight to the apiserver, which an etcd restart interrupts too:
 * retried for up to a minute; AlreadyExists after a retried create means the first one landed.
 */
export async function retrying<T>(call: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 60_000;
  for (let attempt = 0; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (attempt > 0 && isAlreadyExists(error)) return undefined as T;
      const status = (error as { status?: number }).status;
      const transient = status === undefined || status >= 500 || status === 429;
      if (!transient || Date.now() > deadline) throw error;
      await sleep(250);
    }
  }
}

export interface FaultRow {
  fault: string;
  durationS: number;
  workflows: number;
  /** Workflows that were running when the fault began (or were started during it). */
  throughFault: number;
  readyFalseDuring: boolean;
  liveThroughout: boolean;
  /** Seconds from the end of the fault until /ready stayed 200. */
  readyAgainS: number | null;
  /** Seconds from the end of the fault until the last workflow finished. */
  finishedS: number;
  duplicates: number;
  lost: number;
  lostNames: string[];
  reconcilesDuring: number;
  errorsDuring: number;
  /** Requests to the apiserver that got no answer, and watches opened again, during the fault. */
  brokenDuring: number;
  reconcileBound: number;
}

export interface FuzzRow {
  specsTried: number;
  refusedByApiserver: number;
  refusedWithoutFieldName: number;
  refusedByPlanner: number;
  plannerWithoutPath: number;
  /** Valid specs a required safety check refused (e.g. a target the executor may not touch). */
  refusedBySafetyChecks: number;
  ran: number;
  crashes: number;
  stalledOthers: number;
  idleReconcilesPerMinute: number;
  heapBaselineMiB: number;
  heapAfterMiB: number;
  seconds: number;
}

const RESULTS_DIR = join(REPO_ROOT, '.cache', 'chaos');

export async function writeResults(name: string, rows: unknown): Promise<void> {
  await mkdir(RESULTS_DIR, { recursive: true });
  await writeFile(join(RESULTS_DIR, `${name}.json`), `${JSON.stringify(rows, null, 2)}\n`);
}

export async function readResults(): Promise<{ faults?: FaultRow[]; fuzz?: FuzzRow }> {
  const out: { faults?: FaultRow[]; fuzz?: FuzzRow } = {};
  const files = await readdir(RESULTS_DIR).catch(() => [] as string[]);
  for (const file of files) {
    const data = JSON.parse(await readFile(join(RESULTS_DIR, file), 'utf8')) as unknown;
    if (file === 'faults.json') out.faults = data as FaultRow[];
    if (file === 'fuzz.json') out.fuzz = data as FuzzRow;
  }
  return out;
}
