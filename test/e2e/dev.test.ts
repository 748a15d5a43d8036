// `npm run dev`, end to end: the same startDev() the CLI runs (its own control plane with fake nodes,
// the operator in-process, the demo executor, examples/ applied), but on random ports with a
// test-owned data dir and kubeconfig. The approval sample is approved through the wfx CLI; every
// sample must reach its end with its real effect on the cluster; the demo alert, posted as the
// instructions say, makes one run of its template; then everything stops and no process of it may be
// left.
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { KubernetesExecution, WorkflowExecution } from '../../src/api/generated/types.ts';
import { ALERT_SENDER, instructions, startDev, type DevEnvironment } from '../../tooling/dev/environment.ts';
import { runNameOf } from '../../src/core/alerts.ts';
import { Cleanup } from '../../src/shell/cleanup.ts';
import { REPO_ROOT } from '../../tooling/controlplane/binaries.ts';
import { createKubeClient, type KubeClient } from '../../src/shell/kube/client.ts';
import {
  CONFIG_MAPS,
  DEPLOYMENTS,
  KUBERNETES_EXECUTIONS,
  WORKFLOW_EXECUTIONS,
  resourcePath,
} from '../../src/shell/kube/resources.ts';
import { loadClientConfig } from '../../src/shell/kube/kubeconfig.ts';
import { serviceAccountToken, until as untilSeen } from '../support/cluster.ts';

jest.setTimeout(600_000);

const run = promisify(execFile);
const NS = 'demo';

interface Deployment {
  spec: { replicas: number; template: { metadata?: { annotations?: Record<string, string> } } };
  status?: { availableReplicas?: number };
}
interface ConfigMap {
  data?: Record<string, string>;
}

let dir: string;
let env: DevEnvironment | undefined;
let client: KubeClient;
const progress: string[] = [];

const workflow = (name: string) =>
  client.request<WorkflowExecution>(resourcePath(WORKFLOW_EXECUTIONS, NS, name));
const deployment = (name: string) => client.request<Deployment>(resourcePath(DEPLOYMENTS, NS, name));
const configMap = (name: string) => client.request<ConfigMap>(resourcePath(CONFIG_MAPS, NS, name));

/** Waits as long as a first `npm run dev` may need (3 minutes), polling every 250 ms. */
const until = <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 180_000): Promise<T> =>
  untilSeen(what, probe, timeoutMs, 250);

const finished = async (name: string): Promise<WorkflowExecution | undefined> => {
  const wf = await workflow(name);
  return wf.status?.phase === 'completed' || wf.status?.phase === 'failed' ? wf : undefined;
};

const stepStates = (wf: WorkflowExecution): Record<number, string> =>
  Object.fromEntries((wf.status?.stepStatuses ?? []).map((s) => [s.stepNumber, s.status]));

/** Processes whose command line names the path (the control plane's components and watchdogs). */
async function processesMentioning(path: string): Promise<string[]> {
  const found: string[] = [];
  for (const pid of (await readdir('/proc')).filter((p) => /^\d+$/.test(p))) {
    try {
      const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).replaceAll('\0', ' ');
      if (cmdline.includes(path)) found.push(`${pid}: ${cmdline.slice(0, 120)}`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const cleanup = new Cleanup();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wfe-dev-test-'));
  cleanup.add('the test dir', () => rm(dir, { recursive: true, force: true }));
  // Stopped here unless the last test stopped it already (env is then undefined).
  cleanup.add('the dev environment', () => env?.stop());
  env = await startDev({
    kubeconfigPath: join(dir, 'kubeconfig'),
    dataRoot: dir,
    logDir: join(dir, 'logs'),
    healthPort: 0,
    metricsPort: 0,
    inspectorPort: 0,
    alertWebhookPort: 0,
    progress: (line) => progress.push(line),
  });
  client = cleanup.track('the client', await createKubeClient(loadClientConfig(env.kubeconfigPath)), (c) => {
    c.close();
  });
});

afterAll(() => cleanup.run());

describe('npm run dev', () => {
  it('starts everything on random ports with the kubeconfig where it was asked', async () => {
    if (!env) throw new Error('no dev environment');
    expect(env.kubeconfigPath).toBe(join(dir, 'kubeconfig'));
    expect(env.controlPlane.dataDir.startsWith(dir)).toBe(true);
    expect(env.workflows).toEqual(
      expect.arrayContaining(['sequential-demo', 'diamond-demo', 'approval-demo', 'rollback-demo']),
    );
    const health = await fetch(`http://127.0.0.1:${String(env.healthPort)}/healthz`);
    expect(health.status).toBe(200);
    // The inspector lists the samples.
    const listed = (await (await fetch(`${env.inspectorUrl}api/workflows`)).json()) as { name: string }[];
    expect(listed.map((w) => w.name)).toEqual(expect.arrayContaining(['sequential-demo', 'approval-demo']));
    process.stderr.write(`dev environment ready in ${env.startMs} ms\n`);
  });

  it('waits for approval, then runs the approval sample once approved with wfx approve', async () => {
    if (!env) throw new Error('no dev environment');
    const waiting = await until('approval-demo to wait for approval', async () => {
      const wf = await workflow('approval-demo');
      return wf.status?.conditions?.some((c) => c.reason === 'AwaitingApproval') ? wf : undefined;
    });
    expect(waiting.status?.phase).toBe('validating');
    expect((await deployment('worker')).spec.replicas).toBe(1);

    const { stdout } = await run(
      join(REPO_ROOT, 'node_modules', '.bin', 'node'),
      ['src/cli/wfx.ts', 'approve', 'approval-demo', '-n', NS, '--kubeconfig', env.kubeconfigPath],
      { cwd: REPO_ROOT },
    );
    expect(stdout).toContain('approved workflowexecution/approval-demo as admin');

    const wf = await until('approval-demo to finish', () => finished('approval-demo'));
    expect(wf.status?.phase).toBe('completed');
    expect(wf.status?.workflowResult?.outcome).toBe('success');
    expect((await deployment('worker')).spec.replicas).toBe(2);
  });

  it('runs the sequential sample: web scaled to 4 and its log level raised', async () => {
    const wf = await until('sequential-demo to finish', () => finished('sequential-demo'));
    expect(wf.status?.phase).toBe('completed');
    expect(wf.status?.workflowResult?.outcome).toBe('success');
    expect(stepStates(wf)).toEqual({ 1: 'completed', 2: 'completed' });
    const web = await deployment('web');
    expect(web.spec.replicas).toBe(4);
    expect(web.status?.availableReplicas).toBe(4);
    expect((await configMap('web-config')).data).toEqual({ LOG_LEVEL: 'debug', CACHE_TTL: '60s' });
  });

  it('runs the diamond: api scaled, restarted and reconfigured, the middle steps in parallel', async () => {
    const wf = await until('diamond-demo to finish', () => finished('diamond-demo'));
    expect(wf.status?.phase).toBe('completed');
    expect(wf.status?.workflowResult?.outcome).toBe('success');
    expect(stepStates(wf)).toEqual({ 1: 'completed', 2: 'completed', 3: 'completed', 4: 'completed' });
    const api = await deployment('api');
    expect(api.spec.replicas).toBe(3);
    expect(api.spec.template.metadata?.annotations?.['kubectl.kubernetes.io/restartedAt']).toBeDefined();
    expect((await configMap('api-config')).data).toEqual({ MAX_CONNECTIONS: '500' });
    // Steps 2 and 3 both started after step 1 ended and before step 4 started.
    const byStep = new Map((wf.status?.stepStatuses ?? []).map((s) => [s.stepNumber, s]));
    const at = (n: number, field: 'startTime' | 'endTime') => Date.parse(byStep.get(n)?.[field] ?? '');
    for (const middle of [2, 3]) {
      expect(at(middle, 'startTime')).toBeGreaterThanOrEqual(at(1, 'endTime'));
      expect(at(4, 'startTime')).toBeGreaterThanOrEqual(at(middle, 'endTime'));
    }
  });

  it('rolls the rollback sample back in reverse order after its critical step fails', async () => {
    const wf = await until('rollback-demo to finish', () => finished('rollback-demo'));
    expect(wf.status?.phase).toBe('failed');
    expect(wf.status?.failureReason).toContain('canary check failed');
    expect(stepStates(wf)).toEqual({ 1: 'rolled_back', 2: 'rolled_back', 3: 'failed' });

    const children = await client.request<{ items: KubernetesExecution[] }>(
      resourcePath(KUBERNETES_EXECUTIONS, NS),
    );
    const child = (name: string) => children.items.find((c) => c.metadata.name === name);
    const step1 = child('rollback-demo-step-1-a1');
    expect(step1?.status?.executionResult?.scaleResult).toMatchObject({
      previousReplicas: 2,
      newReplicas: 5,
    });
    const rollback2 = child('rollback-demo-rollback-2');
    const rollback1 = child('rollback-demo-rollback-1');
    expect(rollback2?.status?.phase).toBe('completed');
    expect(rollback1?.status?.phase).toBe('completed');
    expect(Date.parse(rollback1?.status?.startTime ?? '')).toBeGreaterThanOrEqual(
      Date.parse(rollback2?.status?.completionTime ?? ''),
    );

    // The cluster is back where it was: 2 replicas, the ConfigMap's old value, the added key gone.
    const checkout = await until('checkout back to 2 available replicas', async () => {
      const d = await deployment('checkout');
      return d.status?.availableReplicas === 2 ? d : undefined;
    });
    expect(checkout.spec.replicas).toBe(2);
    expect((await configMap('checkout-config')).data).toEqual({ PAYMENT_TIMEOUT: '5s' });
  });

  it('fires the demo alert as the instructions say: one run of scale-up scales frontend, a replay makes none', async () => {
    const running = env;
    if (!running) throw new Error('the dev environment is not running');
    expect(instructions(running)).toContain(`http://127.0.0.1:${String(running.alertWebhookPort)}/alerts`);
    // What `kubectl create token alertmanager -n kubernaut-system` asks: a TokenRequest.
    const token = await serviceAccountToken(client, ALERT_SENDER.namespace, ALERT_SENDER.name);
    const body = await readFile(join(REPO_ROOT, 'examples', 'alerts', 'high-load.json'), 'utf8');
    const fire = async () => {
      const response = await fetch(`http://127.0.0.1:${String(running.alertWebhookPort)}/alerts`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
        body,
      });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    expect(await fire()).toMatchObject({ status: 200, body: { created: 1 } });
    expect(await fire()).toMatchObject({ status: 200, body: { created: 0, duplicate: 1 } });
    const name = runNameOf({ fingerprint: 'd3e0a1e2f0c0ffee', startsAt: '2026-12-08T00:00:00Z' });
    const wf = await until(`${name} to finish`, () => finished(name));
    expect(wf.status?.phase).toBe('completed');
    expect(wf.status?.resolvedTemplate?.parameters).toEqual({
      namespace: NS,
      deployment: 'frontend',
      replicas: '3',
    });
    expect((await deployment('frontend')).spec.replicas).toBe(3);
  });

  it('stops cleanly: no process left, data dir and kubeconfig removed', async () => {
    if (!env) throw new Error('no dev environment');
    const { pids, dataDir } = env.controlPlane;
    expect(Object.keys(pids).sort()).toEqual(
      ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kwok'].sort(),
    );
    expect(Object.values(pids).every(alive)).toBe(true);
    expect((await processesMentioning(dataDir)).length).toBeGreaterThan(0);

    const stopping = Date.now();
    await env.stop();
    process.stderr.write(`dev environment stopped in ${Date.now() - stopping} ms\n`);
    env = undefined;

    expect(Object.entries(pids).filter(([, pid]) => alive(pid))).toEqual([]);
    // The watchdogs end within a poll (0.5 s) of their binary.
    const left = await until(
      'the watchdogs to end',
      async () => ((await processesMentioning(dataDir)).length === 0 ? [] : undefined),
      5000,
    ).catch(() => processesMentioning(dataDir));
    expect(left).toEqual([]);
    await expect(stat(dataDir)).rejects.toThrow();
    await expect(stat(join(dir, 'kubeconfig'))).rejects.toThrow();
  });
});
