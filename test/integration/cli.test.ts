// The wfx command line as a process against the real control plane, with the operator running
// in-process: listing, describing, answering approvals, cancelling, rolling back, drawing, and one
// plain line (never a stack trace) for everything that can go wrong.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { WorkflowStep } from '../../src/api/generated/types.ts';
import {
  APPROVED_BY,
  CANCEL_REQUESTED_BY,
  REJECTED_BY,
  RETRY_REQUESTED_BY,
  ROLLBACK_REQUESTED_BY,
} from '../../src/core/observe.ts';
import { ApiError } from '../../src/shell/kube/client.ts';
import { WORKFLOW_EXECUTIONS, resourcePath } from '../../src/shell/kube/resources.ts';
import { startControlPlane, type ControlPlane } from '../../tooling/controlplane/launcher.ts';
import { controlPlaneTuning } from '../../tooling/controlplane/environment.ts';
import { sharedControlPlane } from '../support/shared-control-plane.ts';
import { freePorts } from '../../tooling/controlplane/ports.ts';
import { customRollback, customStep, specWith } from '../fixtures/specs.ts';
import type { Script } from '../support/executor.ts';
import { awaitingApproval, conditionOf, inPhase } from './support/harness.ts';
import { scriptedSuite } from './support/suite.ts';

jest.setTimeout(120_000);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `wfx ARGS` as a process and returns its exit code and output. */
function wfx(args: string[], kubeconfig = sharedControlPlane().kubeconfigPath): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      'node_modules/.bin/node',
      ['src/cli/wfx.ts', ...args, '--kubeconfig', kubeconfig],
      { timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** A failure as a person should see it: non-zero, one line on stderr, no stack trace. */
function expectOneLineError(run: Run, pattern: RegExp): void {
  expect(run.code).not.toBe(0);
  expect(run.stdout).toBe('');
  const lines = run.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^wfx: /);
  expect(lines[0]).toMatch(pattern);
  expect(run.stderr).not.toMatch(/^\s+at /m);
}

const failStep =
  (n: number): Script =>
  (c) =>
    c.spec.kind === 'step' && c.spec.stepNumber === n
      ? { phase: 'failed', message: 'broken' }
      : { phase: 'completed' };

const { h, scripts } = scriptedSuite();

const ns = () => ['-n', h.namespace];

/** Applies a workflow that needs approval and waits until it is held at its approval gate. */
async function heldForApproval(name: string, steps: WorkflowStep[]): Promise<void> {
  await h.workflows.apply(name, specWith(steps, { approvalRequired: true }));
  await h.workflows.waitFor(name, awaitingApproval);
}

describe('wfx get and describe', () => {
  it('lists the namespace’s workflows as a table with their progress', async () => {
    await h.workflows.apply('listed-done', specWith([customStep(1), customStep(2)]));
    await heldForApproval('listed-waiting', [customStep(1), customStep(2), customStep(3)]);
    await h.workflows.waitFor('listed-done', inPhase('completed'));

    const run = await wfx(['get', ...ns()]);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    const [header, ...rows] = run.stdout.trimEnd().split('\n');
    expect(header).toMatch(/^NAME\s+PHASE\s+STEPS\s+READY\s+REASON\s+AGE$/);
    const row = (name: string) => rows.find((r) => r.startsWith(`${name} `)) ?? '';
    expect(row('listed-done')).toMatch(
      /listed-done\s+completed\s+2\/2 \[##########\]\s+True\s+NoVerifiableTarget\s+\d+s/,
    );
    expect(row('listed-waiting')).toMatch(
      /listed-waiting\s+validating\s+0\/3 \[\.{10}\]\s+False\s+AwaitingApproval/,
    );

    const all = await wfx(['get', '-A']);
    expect(all.code).toBe(0);
    expect(all.stdout).toMatch(new RegExp(`^${h.namespace}\\s+listed-done\\s+completed`, 'm'));

    const empty = await wfx(['get', '-n', 'default']);
    expect(empty).toMatchObject({ code: 0, stdout: 'No workflows found in namespace default.\n' });
  });

  it('describes a workflow: phase, steps, conditions, and in plain words what it waits for now', async () => {
    await heldForApproval('described', [customStep(1), customStep(2)]);
    const run = await wfx(['describe', 'described', ...ns()]);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toMatch(/^Name:\s+described$/m);
    expect(run.stdout).toMatch(/^Phase:\s+validating$/m);
    expect(run.stdout).toMatch(/^Progress:\s+0\/2 steps finished$/m);
    expect(run.stdout).toMatch(
      new RegExp(`^Now:\\s+waiting for approval \\(annotation ${APPROVED_BY}\\)`, 'm'),
    );
    expect(run.stdout).toMatch(/^Steps:\n\s+STEP\s+NAME\s+ACTION\s+STATUS/m);
    expect(run.stdout).toMatch(/^\s+1\s+step-1\s+custom\s+pending/m);
    expect(run.stdout).toMatch(/^Conditions:\n\s+TYPE\s+STATUS\s+REASON/m);
    expect(run.stdout).toMatch(/^\s+Ready\s+False\s+AwaitingApproval/m);

    await h.workflows.apply('described-done', specWith([customStep(1)]));
    await h.workflows.waitFor('described-done', inPhase('completed'));
    const done = await wfx(['describe', 'described-done', ...ns()]);
    expect(done.stdout).toMatch(/^Phase:\s+completed$/m);
    expect(done.stdout).toMatch(/^\s+1\s+step-1\s+custom\s+completed/m);
    expect(done.stdout).toMatch(/^Now:\s+\S/m);
  });
});

describe('wfx describe --timeline', () => {
  it('draws a run with an approval wait, a retried step and a rollback, in order, and lists each bar', async () => {
    // Step 2 fails its first attempt and succeeds its second; the critical step 3 fails: step 1 is undone.
    scripts.set('timeline-run', (c) =>
      c.spec.kind === 'step' && c.spec.stepNumber === 2 && c.spec.attempt === 1
        ? { phase: 'failed', message: 'quota exceeded' }
        : c.spec.kind === 'step' && c.spec.stepNumber === 3
          ? { phase: 'failed', message: 'broken' }
          : { phase: 'completed', message: 'done' },
    );
    await heldForApproval('timeline-run', [
      customStep(1, { rollbackSpec: customRollback(1) }),
      customStep(2, { maxRetries: 1 }),
      customStep(3, { criticalStep: true }),
    ]);
    const waiting = await wfx(['describe', 'timeline-run', '--timeline', ...ns()]);
    expect(waiting.code).toBe(0);
    expect(waiting.stdout).toMatch(/^Timeline: .*still running\)$/m);
    expect(waiting.stdout).toMatch(/^\s+\+\d+\.\ds\s+approval wait\s+ongoing\s+waiting$/m);

    expect((await wfx(['approve', 'timeline-run', ...ns()])).code).toBe(0);
    await h.workflows.waitFor('timeline-run', inPhase('failed'));
    const run = await wfx(['describe', 'timeline-run', '--timeline', ...ns()]);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    const out = run.stdout;
    const chart = (label: string) => new RegExp(`^  ${label}\\s+\\|(.*)\\|$`, 'm').exec(out)?.[1] ?? '';
    // Validating, then executing, then rolling back, left to right.
    expect(chart('phases')).toMatch(/^V+E+R+$/);
    // Step 2: a failed attempt, the backoff, the successful attempt; step 1: its attempt, later its rollback.
    expect(chart('2 step-2')).toMatch(/^ +x+\.+=+ *$/);
    expect(chart('1 step-1')).toMatch(/^ +=+ +r+ *$/);
    expect(chart('3 step-3')).toMatch(/^ +x+ *$/);
    expect(out).toMatch(/^\s+\+\d+\.\ds\s+approval wait\s+\S+\s+approved by /m);
    expect(out).toMatch(/^\s+\+\d+\.\ds\s+attempt 1\s+\S+\s+failed: quota exceeded$/m);
    expect(out).toMatch(/^\s+\+\d+\.\ds\s+backoff\s+\d+s/m);
    expect(out).toMatch(/^\s+\+\d+\.\ds\s+rollback\s+\S+\s+rolledBack/m);
    expect(out).toMatch(/timeline-run-step-2-a2 picked up by the executor/);
  });
});

describe('wfx approve, reject, cancel, rollback', () => {
  it('approve: the workflow proceeds, and the approval names the kubeconfig’s user', async () => {
    await heldForApproval('to-approve', [customStep(1), customStep(2)]);
    const run = await wfx(['approve', 'to-approve', ...ns()]);
    expect(run).toMatchObject({
      code: 0,
      stderr: '',
      stdout: `approved workflowexecution/to-approve as ${h.username}\n`,
    });
    const wf = await h.workflows.waitFor('to-approve', inPhase('completed'));
    expect(wf.metadata.annotations?.[APPROVED_BY]).toBe(h.username);
  });

  it('reject: the workflow ends failed without running a step', async () => {
    await heldForApproval('to-reject', [customStep(1)]);
    const run = await wfx(['reject', 'to-reject', ...ns()]);
    expect(run).toMatchObject({ code: 0, stdout: `rejected workflowexecution/to-reject as ${h.username}\n` });
    const wf = await h.workflows.waitFor('to-reject', inPhase('failed'));
    expect(conditionOf(wf, 'Ready')?.reason).toBe('Rejected');
    expect(wf.metadata.annotations?.[REJECTED_BY]).toBe(h.username);
    expect(await h.workflows.childrenOf('to-reject')).toEqual([]);
  });

  it('cancel: nothing more is launched and the workflow ends cancelled', async () => {
    scripts.set('to-cancel', (c) => (c.spec.stepNumber === 1 ? { phase: 'hang' } : { phase: 'completed' }));
    await h.workflows.apply(
      'to-cancel',
      specWith([customStep(1), customStep(2)], { rollbackStrategy: 'none' }),
    );
    await h.workflows.waitFor('to-cancel', (wf) => wf.status?.stepStatuses?.[0]?.status === 'executing');
    const run = await wfx(['cancel', 'to-cancel', ...ns()]);
    expect(run).toMatchObject({
      code: 0,
      stdout: `cancellation requested for workflowexecution/to-cancel as ${h.username}\n`,
    });
    await h.workflows.waitFor('to-cancel', (wf) => conditionOf(wf, 'Ready')?.reason === 'Stopping');
    expect((await h.workflows.get('to-cancel')).metadata.annotations?.[CANCEL_REQUESTED_BY]).toBe(h.username);
    // The running step finishes; step 2 never starts.
    const running = (await h.workflows.childrenOf('to-cancel'))[0]!;
    await h.client.request(
      `/apis/kubernetesexecution.kubernaut.io/v1/namespaces/${h.namespace}/kubernetesexecutions/${running.metadata.name}/status`,
      { method: 'PATCH', patchType: 'merge', body: { status: { phase: 'completed' } } },
    );
    const wf = await h.workflows.waitFor(
      'to-cancel',
      (w) => inPhase('failed')(w) && conditionOf(w, 'Ready')?.reason === 'Cancelled',
    );
    expect(wf.status?.failureReason).toContain(h.username);
    expect((await h.workflows.childrenOf('to-cancel')).map((c) => c.metadata.name)).toEqual([
      'to-cancel-step-1-a1',
    ]);
  });

  it('rollback: a workflow waiting for a manual rollback rolls its completed steps back', async () => {
    scripts.set('to-roll-back', failStep(2));
    await h.workflows.apply(
      'to-roll-back',
      specWith([customStep(1, { rollbackSpec: customRollback(1) }), customStep(2, { criticalStep: true })], {
        rollbackStrategy: 'manual',
      }),
    );
    await h.workflows.waitFor(
      'to-roll-back',
      (wf) => conditionOf(wf, 'Ready')?.reason === 'AwaitingManualRollback',
    );
    const run = await wfx(['rollback', 'to-roll-back', ...ns()]);
    expect(run).toMatchObject({
      code: 0,
      stdout: `rollback requested for workflowexecution/to-roll-back as ${h.username}\n`,
    });
    const wf = await h.workflows.waitFor(
      'to-roll-back',
      (w) => w.status?.stepStatuses?.[0]?.status === 'rolled_back',
    );
    expect(wf.metadata.annotations?.[ROLLBACK_REQUESTED_BY]).toBe(h.username);
    expect((await h.workflows.childrenOf('to-roll-back')).map((c) => c.metadata.name)).toContain(
      'to-roll-back-rollback-1',
    );
  });
});

describe('wfx retry', () => {
  /** 1 -> 2 (critical) -> 3, no rollback: step 2's first attempt fails, every other attempt succeeds. */
  const failsOnce = specWith(
    [customStep(1), customStep(2, { dependsOn: [1], criticalStep: true }), customStep(3, { dependsOn: [2] })],
    { rollbackStrategy: 'none' },
  );
  const failOnceAt =
    (n: number): Script =>
    (c) =>
      c.spec.kind === 'step' && c.spec.stepNumber === n && c.spec.attempt === 1
        ? { phase: 'failed', message: 'broken once' }
        : { phase: 'completed' };
  const names = async (name: string) =>
    (await h.workflows.childrenOf(name)).map((c) => c.metadata.name).sort();

  it('re-runs the failed critical step as attempt 2 and the skipped one, keeping the completed step', async () => {
    scripts.set('retried', failOnceAt(2));
    await h.workflows.apply('retried', failsOnce);
    const failed = await h.workflows.waitFor('retried', inPhase('failed'));
    expect(failed.status?.stepStatuses?.map((s) => s.status)).toEqual(['completed', 'failed', 'skipped']);
    const step1 = (await h.workflows.childrenOf('retried')).find(
      (c) => c.metadata.name === 'retried-step-1-a1',
    );

    const run = await wfx(['retry', 'retried', ...ns()]);
    expect(run).toMatchObject({
      code: 0,
      stderr: '',
      stdout: 'retry 1 of workflowexecution/retried started (run segment 2): re-running steps 2, 3\n',
    });
    const wf = await h.workflows.waitFor('retried', inPhase('completed'));
    expect(wf.metadata.annotations?.[RETRY_REQUESTED_BY]).toMatch(new RegExp(`^${h.username}/\\d{4}-`));
    expect(wf.status?.workflowResult?.outcome).toBe('unknown'); // custom steps: nothing verifiable
    expect(wf.status?.retries).toMatchObject({
      count: 1,
      history: [{ segment: 2, requestedBy: h.username, steps: [2, 3] }],
    });
    expect(wf.status?.stepStatuses?.map((s) => [s.status, s.k8sExecutionRef?.name])).toEqual([
      ['completed', 'retried-step-1-a1'],
      ['completed', 'retried-step-2-a2'],
      ['completed', 'retried-step-3-a1'],
    ]);
    expect(conditionOf(wf, 'RetryRequest')).toMatchObject({ status: 'True', reason: 'RetryStarted' });
    expect(await names('retried')).toEqual([
      'retried-step-1-a1',
      'retried-step-2-a1',
      'retried-step-2-a2',
      'retried-step-3-a1',
    ]);
    const step1After = (await h.workflows.childrenOf('retried')).find(
      (c) => c.metadata.name === 'retried-step-1-a1',
    );
    expect(step1After?.metadata.uid).toBe(step1?.metadata.uid);
    expect(step1After?.metadata.resourceVersion).toBe(step1?.metadata.resourceVersion);

    // Completed now: wfx refuses, and so does the operator when the annotation is set by hand.
    expectOneLineError(
      await wfx(['retry', 'retried', ...ns()]),
      /retry of workflowexecution\/retried refused: Completed: the run completed \(unknown\)/,
    );
    const path = resourcePath(WORKFLOW_EXECUTIONS, h.namespace, 'retried');
    await h.client.request(path, {
      method: 'PATCH',
      patchType: 'merge',
      body: { metadata: { annotations: { [RETRY_REQUESTED_BY]: `${h.username}/by-hand` } } },
    });
    const refused = await h.workflows.waitFor(
      'retried',
      (w) => w.status?.retries?.refused?.request === 'by-hand',
    );
    expect(refused.status?.retries?.refused).toMatchObject({ reason: 'Completed', requestedBy: h.username });
    expect(conditionOf(refused, 'RetryRequest')).toMatchObject({ status: 'False', reason: 'Completed' });
    expect(refused.status?.phase).toBe('completed');
    expect(await names('retried')).toHaveLength(4);
    const events = await h.client.request<{
      items: { reason?: string; note?: string; regarding?: { name?: string } }[];
    }>(`/apis/events.k8s.io/v1/namespaces/${h.namespace}/events`);
    const about = events.items.filter((e) => e.regarding?.name === 'retried').map((e) => e.reason);
    expect(about).toEqual(expect.arrayContaining(['RetryStarted', 'RetryRefused']));
  });

  it('refuses a run still in flight, and the admission policy a request in someone else’s name', async () => {
    await heldForApproval('retry-too-early', [customStep(1)]);
    expectOneLineError(
      await wfx(['retry', 'retry-too-early', ...ns()]),
      /retry of workflowexecution\/retry-too-early refused: InFlight: the run has not finished/,
    );
    const wf = await h.workflows.get('retry-too-early');
    expect(wf.metadata.annotations?.[RETRY_REQUESTED_BY]).toBeUndefined();
    const impostor = h.client.request(resourcePath(WORKFLOW_EXECUTIONS, h.namespace, 'retry-too-early'), {
      method: 'PATCH',
      patchType: 'merge',
      body: { metadata: { annotations: { [RETRY_REQUESTED_BY]: 'someone-else/1' } } },
    });
    await expect(impostor).rejects.toBeInstanceOf(ApiError);
    await expect(impostor).rejects.toMatchObject({
      message: expect.stringContaining('retry request annotation must be'),
    });
  });
});

describe('wfx diagram', () => {
  it('draws the workflow’s statechart as SVG, Mermaid and DOT with the active state marked', async () => {
    await heldForApproval('drawn', [customStep(1), customStep(2)]);

    const svg = await wfx(['diagram', 'drawn', ...ns()]);
    expect(svg).toMatchObject({ code: 0, stderr: '' });
    expect(svg.stdout).toMatch(/^(<\?xml|<svg)/);
    expect(svg.stdout).toContain('</svg>');

    const mermaid = await wfx(['diagram', 'drawn', '--format', 'mermaid', ...ns()]);
    expect(mermaid.code).toBe(0);
    expect(mermaid.stdout).toContain('stateDiagram-v2');
    expect(mermaid.stdout).toMatch(/^\s*class \S*approval\S* active$/m);
    expect(mermaid.stdout).not.toMatch(/^\s*class \S*executing\S* active$/m);

    const dot = await wfx(['diagram', 'drawn', '--format', 'dot', ...ns()]);
    expect(dot.code).toBe(0);
    expect(dot.stdout).toMatch(/^digraph/m);

    const file = join(mkdtempSync(join(tmpdir(), 'wfx-diagram-')), 'drawn.svg');
    const written = await wfx(['diagram', 'drawn', ...ns(), '-o', file]);
    expect(written).toMatchObject({ code: 0, stdout: `wrote ${file}\n` });
    expect(readFileSync(file, 'utf8')).toMatch(/^(<\?xml|<svg)/);

    expectOneLineError(await wfx(['diagram', 'drawn', '--format', 'png', ...ns()]), /unknown format "png"/);
  });
});

describe('wfx usage', () => {
  it('lists the operator’s flags with their defaults under wfx operator --help', async () => {
    const run = await wfx(['operator', '--help']);
    expect(run.code).toBe(0);
    for (const flag of [
      '--namespaces',
      '--shards N',
      '--leader-elect',
      '--audit-postgres-url',
      '--workers N',
    ])
      expect(run.stdout).toContain(flag);
    expect((await wfx(['--help'])).stdout).toContain('wfx operator --help');
  });
});

describe('wfx errors: one line, non-zero, no stack trace', () => {
  it('no cluster: a kubeconfig whose server does not listen', async () => {
    const [port] = await freePorts(1);
    const admin = readFileSync(sharedControlPlane().kubeconfigPath, 'utf8');
    const dead = join(mkdtempSync(join(tmpdir(), 'wfx-dead-')), 'kubeconfig');
    const deadServer = `https://127.0.0.1:${String(port)}`;
    writeFileSync(dead, admin.replaceAll(sharedControlPlane().server, deadServer));
    expect(readFileSync(dead, 'utf8')).toContain(deadServer);
    for (const args of [['get'], ['describe', 'x'], ['approve', 'x'], ['diagram', 'x']]) {
      expectOneLineError(
        await wfx([...args, ...ns()], dead),
        /cannot reach the cluster at https:\/\/127\.0\.0\.1:\d+/,
      );
    }
  });

  it('credentials the cluster does not accept', async () => {
    const config = JSON.parse(readFileSync(sharedControlPlane().kubeconfigPath, 'utf8')) as {
      users: { user: Record<string, string> }[];
    };
    for (const u of config.users) u.user = { token: 'not-a-real-token' };
    const file = join(mkdtempSync(join(tmpdir(), 'wfx-badtoken-')), 'kubeconfig');
    writeFileSync(file, JSON.stringify(config));
    for (const args of [['get'], ['describe', 'x'], ['approve', 'x']]) {
      expectOneLineError(
        await wfx([...args, ...ns()], file),
        new RegExp(`the cluster at ${sharedControlPlane().server} did not accept your credentials`),
      );
    }
  });

  it('no such kubeconfig', async () => {
    expectOneLineError(await wfx(['get'], '/nonexistent/kubeconfig'), /cannot load the kubeconfig/);
  });

  it('no such workflow', async () => {
    for (const args of [
      ['describe', 'ghost'],
      ['approve', 'ghost'],
      ['diagram', 'ghost'],
    ]) {
      expectOneLineError(
        await wfx([...args, ...ns()]),
        new RegExp(`workflowexecution "ghost" not found in namespace ${h.namespace}`),
      );
    }
  });

  it('usage errors exit 2', async () => {
    const run = await wfx(['describe']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^wfx: describe needs a workflow name/);
    const unknown = await wfx(['frobnicate', 'x']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^wfx: unknown command "frobnicate"/);
  });

  it('no permission: a user without RBAC may not list, read or approve', async () => {
    const user = `nobody-${h.namespace}`;
    const kubeconfig = await sharedControlPlane().addUser({ name: user });
    expectOneLineError(await wfx(['get', ...ns()], kubeconfig), new RegExp(`not allowed.*${user}`));
    expectOneLineError(
      await wfx(['describe', 'listed-done', ...ns()], kubeconfig),
      new RegExp(`not allowed.*${user}`),
    );
    expectOneLineError(
      await wfx(['approve', 'listed-done', ...ns()], kubeconfig),
      new RegExp(`not allowed.*${user}`),
    );
  });

  it('no permission: a user who may patch workflows but not update workflowexecutions/approval cannot approve', async () => {
    const user = `patcher-${h.namespace}`;
    const kubeconfig = await sharedControlPlane().addUser({ name: user });
    await h.client.request(`/apis/rbac.authorization.k8s.io/v1/namespaces/${h.namespace}/roles`, {
      body: {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'Role',
        metadata: { name: 'patcher' },
        rules: [
          {
            apiGroups: ['workflowexecution.kubernaut.io'],
            resources: ['workflowexecutions'],
            verbs: ['get', 'list', 'watch', 'patch'],
          },
        ],
      },
    });
    await h.client.request(`/apis/rbac.authorization.k8s.io/v1/namespaces/${h.namespace}/rolebindings`, {
      body: {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: 'patcher' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'patcher' },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: user }],
      },
    });
    await heldForApproval('gated', [customStep(1)]);

    // Reading is allowed; approving is not, and the workflow still waits.
    expect((await wfx(['describe', 'gated', ...ns()], kubeconfig)).code).toBe(0);
    expectOneLineError(
      await wfx(['approve', 'gated', ...ns()], kubeconfig),
      new RegExp(`not allowed \\(${user}\\).*may not approve or reject.*workflowexecutions/approval`),
    );
    expectOneLineError(await wfx(['reject', 'gated', ...ns()], kubeconfig), /may not approve or reject/);
    const wf = await h.workflows.get('gated');
    expect(wf.metadata.annotations?.[APPROVED_BY]).toBeUndefined();
    expect(awaitingApproval(wf)).toBe(true);
    // Cancelling needs no approval right: the same user may ask for it.
    const cancel = await wfx(['cancel', 'gated', ...ns()], kubeconfig);
    expect(cancel).toMatchObject({
      code: 0,
      stdout: `cancellation requested for workflowexecution/gated as ${user}\n`,
    });
  });

  describe('on a cluster without the CRD', () => {
    let bare: ControlPlane;
    beforeAll(async () => {
      bare = await startControlPlane({ installManifests: false, ...controlPlaneTuning(process.env) });
    });
    afterAll(async () => {
      await bare.stop();
    });

    it('says the CRD is not installed, for every command', async () => {
      for (const args of [['get'], ['get', '-A'], ['describe', 'x'], ['approve', 'x'], ['diagram', 'x']]) {
        expectOneLineError(
          await wfx([...args, '-n', 'default'], bare.kubeconfigPath),
          /the WorkflowExecution CRD is not installed in this cluster/,
        );
      }
    });
  });
});
