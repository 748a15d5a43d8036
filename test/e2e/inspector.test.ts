// The live statechart inspector against the real control plane, with the operator in-process: the
// page in headless Chromium lists a workflow, draws its statechart with the active state marked, and
// follows it through approval to completion without a reload; the JSON and SSE endpoints speak the
// XState inspection protocol; `wfx inspect` serves the same as a process.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { StatelyInspectionEvent } from '@statelyai/inspect';
import type { Page } from 'playwright-core';
import { APPROVED_BY } from '../../src/core/observe.ts';
import { sharedControlPlane } from '../support/shared-control-plane.ts';
import { freePorts } from '../../tooling/controlplane/ports.ts';
import { startInspector, type RunningInspector, type WorkflowSummary } from '../../src/inspect/server.ts';
import { customStep, specWith } from '../fixtures/specs.ts';
import { launchChromium } from '../support/chromium.ts';
import { Cleanup } from '../../src/shell/cleanup.ts';
import { awaitingApproval, inPhase, startHarness, type Harness } from '../integration/support/harness.ts';

jest.setTimeout(180_000);

const ACTIVE_FILL = '#ffd54f';

const cleanup = new Cleanup();
let h: Harness;
let inspector: RunningInspector;
let page: Page;

beforeAll(async () => {
  h = cleanup.track('the harness', await startHarness(), (harness) => harness.stop());
  inspector = cleanup.track(
    'the inspector',
    await startInspector({ kubeconfig: h.kc, client: h.client, namespaces: [h.namespace], port: 0 }),
    (i) => i.stop(),
  );
  const browser = cleanup.track('Chromium', await launchChromium(), (b) => b.close());
  page = browser.context.pages()[0] ?? (await browser.context.newPage());
});

afterAll(() => cleanup.run());

const key = (name: string) => `${h.namespace}/${name}`;
/** Graphviz names a state's node after its id, dots made underscores: `workflow_validating_approval`. */
const stateNode = (id: string) =>
  page
    .locator('#diagram svg g.node')
    .filter({ has: page.locator('title', { hasText: new RegExp(`^${id}$`) }) });
const fillOf = (id: string) => stateNode(id).locator('path, polygon, ellipse').first().getAttribute('fill');
const waitForText = (selector: string, text: string) =>
  page.waitForFunction(
    `document.querySelector(${JSON.stringify(selector)})?.textContent?.includes(${JSON.stringify(text)}) === true`,
    undefined,
    { timeout: 30_000 },
  );

describe('the inspector page in Chromium', () => {
  it('lists the workflow, draws its statechart with the active state marked, and follows approval to completion live', async () => {
    await h.workflows.apply('gated', specWith([customStep(1), customStep(2)], { approvalRequired: true }));
    await h.workflows.waitFor('gated', awaitingApproval, 'the approval gate');

    await page.goto(inspector.url);
    const row = page.locator(`#list li[data-key="${key('gated')}"]`);
    await row.waitFor({ timeout: 30_000 });
    expect(await row.textContent()).toMatch(/gated.*validating.*AwaitingApproval.*0\/2/);
    await row.click();
    await waitForText('#detail-name', key('gated'));
    expect(await page.locator('#detail-phase').textContent()).toBe('validating');
    expect(await page.locator('#waiting').textContent()).toMatch(
      new RegExp(`^waiting for approval \\(annotation ${APPROVED_BY}\\)`),
    );
    expect(await page.locator('#active-states').textContent()).toContain('validating.approval');

    await stateNode('workflow_validating_approval').waitFor({ timeout: 30_000 });
    expect(await fillOf('workflow_validating_approval')).toBe(ACTIVE_FILL);
    expect(await fillOf('workflow_completed')).not.toBe(ACTIVE_FILL);
    expect(await page.locator('#steps tbody tr').count()).toBe(2);
    expect(await page.locator('#log li[data-type="@xstate.actor"]').count()).toBe(1);
    expect(
      await page
        .locator('#log li')
        .filter({ hasText: /phase \S+ → validating$/ })
        .count(),
    ).toBe(1);
    const entriesBefore = await page.locator('#log li').count();

    // A marker in the window survives only if the page is never reloaded.
    await page.evaluate('window.__inspectorMarker = "still here"');
    await h.workflows.annotate('gated', APPROVED_BY, h.username);
    await h.workflows.waitFor('gated', inPhase('completed'));

    await waitForText('#detail-phase', 'completed');
    await waitForText('#waiting', 'nothing: the workflow completed');
    await page.waitForFunction(
      `document.querySelector('#diagram svg') !== null && [...document.querySelectorAll('#diagram svg g.node')]
        .some((g) => g.querySelector('title')?.textContent === 'workflow_completed'
          && g.querySelector('path, polygon, ellipse')?.getAttribute('fill') === '${ACTIVE_FILL}')`,
      undefined,
      { timeout: 30_000 },
    );
    expect(await fillOf('workflow_validating_approval')).not.toBe(ACTIVE_FILL);
    expect(await row.textContent()).toMatch(/completed.*NoVerifiableTarget.*2\/2/);
    const log = page.locator('#log li');
    expect(await log.count()).toBeGreaterThan(entriesBefore);
    expect(await log.filter({ hasText: 'phase validating → executing' }).count()).toBe(1);
    expect(await log.filter({ hasText: 'step 2 attempt 1: succeeded' }).count()).toBe(1);
    expect(await log.filter({ hasText: /→ completed$/ }).count()).toBe(1);
    expect(await page.locator('#steps tbody tr td.status-completed').count()).toBe(2);
    expect(await page.evaluate('window.__inspectorMarker')).toBe('still here');

    const screenshot = join(mkdtempSync(join(tmpdir(), 'wfe-inspector-')), 'inspector.png');
    await page.screenshot({ path: screenshot, fullPage: true });
    const png = readFileSync(screenshot);
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect(png.length).toBeGreaterThan(10_000);
    process.stderr.write(`inspector screenshot: ${screenshot}\n`);
  });

  it('shows a workflow created while the page is open, without a reload', async () => {
    await page.evaluate('window.__inspectorMarker = "no reload"');
    await h.workflows.apply('arrived', specWith([customStep(1)]));
    const row = page.locator(`#list li[data-key="${key('arrived')}"]`);
    await row.waitFor({ timeout: 30_000 });
    await page.waitForFunction(
      `document.querySelector('#list li[data-key="${key('arrived')}"]')?.textContent?.includes('completed') === true`,
      undefined,
      { timeout: 30_000 },
    );
    await row.click();
    await waitForText('#detail-name', key('arrived'));
    await waitForText('#waiting', 'nothing: the workflow completed');
    await stateNode('workflow_completed').waitFor({ timeout: 30_000 });
    expect(await fillOf('workflow_completed')).toBe(ACTIVE_FILL);
    expect(await page.locator('#log li').filter({ hasText: 'step 1 attempt 1: succeeded' }).count()).toBe(1);
    expect(await page.evaluate('window.__inspectorMarker')).toBe('no reload');
  });
});

/** Reads a Server-Sent Events stream until `until` says stop; returns every frame it saw. */
async function readEvents(
  url: string,
  until: (frames: { event: string; data: unknown }[]) => boolean,
  timeoutMs = 30_000,
): Promise<{ event: string; data: unknown }[]> {
  const abort = new AbortController();
  const timer = setTimeout(() => {
    abort.abort();
  }, timeoutMs);
  const frames: { event: string; data: unknown }[] = [];
  try {
    const res = await fetch(url, { signal: abort.signal });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    if (!res.body) throw new Error('no body');
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = 'message';
        const data: string[] = [];
        for (const line of block.split('\n')) {
          if (line.startsWith('event: ')) event = line.slice(7);
          if (line.startsWith('data: ')) data.push(line.slice(6));
        }
        if (data.length > 0) frames.push({ event, data: JSON.parse(data.join('\n')) as unknown });
      }
      if (until(frames)) break;
    }
  } catch (error) {
    if (!abort.signal.aborted) throw error;
    throw new Error(
      `the event stream did not show what was expected in ${timeoutMs} ms: ${JSON.stringify(frames)}`,
    );
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
  return frames;
}

const inspection = (frames: { event: string; data: unknown }[]) =>
  frames.filter((f) => f.event === 'message').map((f) => f.data as StatelyInspectionEvent);

/** What the snapshot events carry: status, value and context of the persisted snapshot. */
interface CarriedSnapshot {
  status: string;
  value: unknown;
  context: { steps: Record<string, { status: string }> };
}
const carried = (e: StatelyInspectionEvent): CarriedSnapshot | null =>
  e.type === '@xstate.snapshot' ? (e.snapshot as unknown as CarriedSnapshot) : null;

const completedSnapshot = (frames: { event: string; data: unknown }[]) =>
  inspection(frames).some((e) => carried(e)?.value === 'completed');

describe('the JSON and SSE endpoints', () => {
  it('streams a workflow’s life as @xstate.actor, @xstate.event and @xstate.snapshot events', async () => {
    const stream = readEvents(
      `${inspector.url}events?workflow=${encodeURIComponent(key('streamed'))}`,
      completedSnapshot,
    );
    await sleep(200);
    await h.workflows.apply('streamed', specWith([customStep(1), customStep(2, { dependsOn: [1] })]));
    const frames = await stream;

    expect(frames[0]).toEqual({ event: 'reset', data: {} });
    expect(frames[1]?.event).toBe('workflows');
    const events = inspection(frames);
    for (const e of events) {
      expect(e).toMatchObject({ sessionId: key('streamed'), _version: '0.7.2' });
      expect(Number(e.createdAt)).toBeGreaterThan(0);
    }
    const actor = events.filter((e) => e.type === '@xstate.actor');
    expect(actor).toHaveLength(1);
    expect(events[0]?.type).toBe('@xstate.actor');
    expect(JSON.parse((actor[0] as { definition: string }).definition)).toMatchObject({ id: 'workflow' });

    const transitions = events.flatMap((e) => (e.type === '@xstate.event' ? [e.event] : []));
    const phases = transitions.filter((t) => t.type === 'workflow.phase').map((t) => t['to'] as string);
    expect(phases).toEqual(
      ['planning', 'validating', 'executing', 'monitoring', 'completed'].filter((p) => phases.includes(p)),
    );
    expect(phases).toContain('executing');
    expect(phases[phases.length - 1]).toBe('completed');
    const steps = transitions
      .filter((t) => t.type.startsWith('workflow.step.'))
      .map((t) => `${t['step'] as number}:${t['outcome'] as string}`);
    expect(steps).toEqual(['1:started', '1:succeeded', '2:started', '2:succeeded']);

    const snapshots = events.flatMap((e) => (e.type === '@xstate.snapshot' ? [e] : []));
    const last = snapshots[snapshots.length - 1];
    expect(last?.snapshot).toMatchObject({ status: 'done', value: 'completed' });
    expect(last && carried(last)?.context.steps).toMatchObject({
      '1': { status: 'succeeded' },
      '2': { status: 'succeeded' },
    });
    // Every snapshot names the transition that produced it.
    expect(last?.event).toMatchObject({ type: 'workflow.phase', to: 'completed' });

    // The summaries came along as named events; the last one shows the finished workflow.
    const summaries = frames.filter((f) => f.event === 'workflow').map((f) => f.data as WorkflowSummary);
    expect(summaries.length).toBeGreaterThan(0);

    // A page that connects later gets the same history replayed.
    const replay = await readEvents(
      `${inspector.url}events?workflow=${encodeURIComponent(key('streamed'))}`,
      completedSnapshot,
    );
    expect(inspection(replay).map((e) => e.type)).toEqual(events.map((e) => e.type));
    expect((replay[1]?.data as WorkflowSummary[]).map((s) => s.key)).toEqual([key('streamed')]);
  });

  it('lists workflows as JSON and draws one as SVG, the active state marked', async () => {
    await h.workflows.apply('listed', specWith([customStep(1)], { approvalRequired: true }));
    await h.workflows.waitFor('listed', awaitingApproval);
    let listed: WorkflowSummary | undefined;
    for (let i = 0; i < 100 && listed?.ready?.reason !== 'AwaitingApproval'; i++) {
      const res = await fetch(`${inspector.url}api/workflows`);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      listed = ((await res.json()) as WorkflowSummary[]).find((w) => w.key === key('listed'));
      await sleep(100);
    }
    expect(listed).toMatchObject({
      namespace: h.namespace,
      name: 'listed',
      phase: 'validating',
      ready: { status: 'False', reason: 'AwaitingApproval' },
      progress: { done: 0, total: 1 },
      activeStates: ['workflow', 'workflow.validating', 'workflow.validating.approval'],
      problem: null,
    });
    expect(listed?.waitingFor).toMatch(/^waiting for approval/);
    expect(listed?.steps).toEqual([
      expect.objectContaining({ number: 1, name: 'step-1', status: 'pending' }),
    ]);

    const one = (await (await fetch(`${inspector.url}api/workflows/${h.namespace}/listed`)).json()) as {
      snapshot: { value: unknown };
      events: StatelyInspectionEvent[];
    };
    expect(one.snapshot.value).toEqual({ validating: 'approval' });
    expect(one.events.map((e) => e.type)).toContain('@xstate.snapshot');

    const svg = await fetch(`${inspector.url}api/workflows/${h.namespace}/listed/diagram.svg`);
    expect(svg.status).toBe(200);
    expect(svg.headers.get('content-type')).toMatch(/^image\/svg\+xml/);
    const text = await svg.text();
    expect(text).toMatch(/<svg[\s>]/);
    expect(text).toMatch(
      new RegExp(`<title>workflow_validating_approval</title>\\s*<path fill="${ACTIVE_FILL}"`),
    );
    expect(text).not.toMatch(new RegExp(`<title>workflow_completed</title>\\s*<path fill="${ACTIVE_FILL}"`));

    const missing = await fetch(`${inspector.url}api/workflows/${h.namespace}/nothing-here/diagram.svg`);
    expect(missing.status).toBe(404);
    const write = await fetch(`${inspector.url}api/workflows`, { method: 'POST' });
    expect(write.status).toBe(405);
  });
});

describe('wfx inspect', () => {
  it('runs the inspector as a process, prints its URL, serves the workflows, and stops on SIGTERM', async () => {
    const [port = 0] = await freePorts(1);
    const child = spawn(
      'node_modules/.bin/node',
      [
        'src/cli/wfx.ts',
        'inspect',
        '--port',
        String(port),
        '-n',
        h.namespace,
        '--kubeconfig',
        sharedControlPlane().kubeconfigPath,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    // Should the test time out before its finally block, afterAll still ends the process.
    cleanup.add('wfx inspect', () => child.exitCode === null && child.kill('SIGKILL'));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const lines = createInterface({ input: child.stdout });
        lines.on('line', (line) => {
          const m = /^inspector: (http:\/\/127\.0\.0\.1:\d+\/) /.exec(line);
          if (m?.[1]) resolve(m[1]);
        });
        child.on('exit', (code) => {
          reject(new Error(`wfx inspect exited with ${code} before printing its URL`));
        });
      });
      expect(url).toBe(`http://127.0.0.1:${port}/`);
      const page = await fetch(url);
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      expect(await page.text()).toContain('WorkflowExecution inspector');
      let keys: string[] = [];
      for (let i = 0; i < 100 && !keys.includes(key('gated')); i++) {
        keys = ((await (await fetch(`${url}api/workflows`)).json()) as WorkflowSummary[]).map((w) => w.key);
        await sleep(100);
      }
      expect(keys).toContain(key('gated'));
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  });
});
