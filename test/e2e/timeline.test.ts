// The inspector's timeline in Chromium, on a real run against the control plane: an approval wait,
// a step that fails once and succeeds on its retry after a backoff, a critical step that fails, and
// the rollback of the first step. The bars come in the right order, their widths are proportional to
// the times the status and the children record, a bar shows its attempt's message, and the page is
// kept as a screenshot (.cache/test-artifacts/timeline.png).
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { Page } from 'playwright-core';
import { APPROVED_BY } from '../../src/core/observe.ts';
import type { Timeline } from '../../src/core/timeline.ts';
import { startInspector, type RunningInspector } from '../../src/inspect/server.ts';
import { Cleanup } from '../../src/shell/cleanup.ts';
import { customRollback, customStep, specWith } from '../fixtures/specs.ts';
import { launchChromium } from '../support/chromium.ts';
import type { Script } from '../support/executor.ts';
import { awaitingApproval, inPhase, startHarness, type Harness } from '../integration/support/harness.ts';

jest.setTimeout(180_000);

const ARTIFACTS = join(process.cwd(), '.cache', 'test-artifacts');

/** Step 2 fails its first attempt; the critical step 3 fails; everything else succeeds. */
const script: Script = (c) =>
  c.spec.kind === 'step' && c.spec.stepNumber === 2 && c.spec.attempt === 1
    ? { phase: 'failed', message: 'quota exceeded' }
    : c.spec.kind === 'step' && c.spec.stepNumber === 3
      ? { phase: 'failed', message: 'node not ready' }
      : { phase: 'completed', message: `${c.spec.kind} ${c.spec.stepNumber} done` };

const cleanup = new Cleanup();
let h: Harness;
let inspector: RunningInspector;
let page: Page;

beforeAll(async () => {
  h = cleanup.track('the harness', await startHarness(script), (harness) => harness.stop());
  inspector = cleanup.track(
    'the inspector',
    await startInspector({ kubeconfig: h.kc, client: h.client, namespaces: [h.namespace], port: 0 }),
    (i) => i.stop(),
  );
  const browser = cleanup.track('Chromium', await launchChromium({ width: 1400, height: 1300 }), (b) =>
    b.close(),
  );
  page = browser.context.pages()[0] ?? (await browser.context.newPage());
});

afterAll(() => cleanup.run());

interface DrawnBar {
  row: string;
  kind: string;
  outcome: string;
  label: string;
  start: number;
  end: number;
  x: number;
  width: number;
}

/** The bars on the page, with the times they were drawn from and where they were drawn. */
const drawnBars = (): Promise<DrawnBar[]> =>
  page.evaluate(`[...document.querySelectorAll('#timeline svg g.trow')].flatMap((g) =>
    [...g.querySelectorAll('rect.tbar')].map((r) => ({
      row: g.getAttribute('data-row'),
      kind: r.getAttribute('data-kind'),
      outcome: r.getAttribute('data-outcome'),
      label: r.getAttribute('data-label'),
      start: Number(r.getAttribute('data-start')),
      end: Number(r.getAttribute('data-end')),
      x: Number(r.getAttribute('x')),
      width: Number(r.getAttribute('width')),
    })))`);

describe('the timeline in the inspector', () => {
  it('draws a run with approval, a retried step and a rollback: in order, to scale, with each attempt’s message', async () => {
    const name = 'gantt';
    await h.workflows.apply(
      name,
      specWith(
        [
          customStep(1, { rollbackSpec: customRollback(1) }),
          customStep(2, { maxRetries: 1 }),
          customStep(3, { criticalStep: true }),
        ],
        { approvalRequired: true },
      ),
    );
    await h.workflows.waitFor(name, awaitingApproval, 'the approval gate');

    await page.goto(`${inspector.url}#/${h.namespace}/${name}`);
    // Live: the approval wait is drawn while it lasts, and grows with the clock.
    const waiting = page.locator('#timeline rect.tbar[data-kind="approval"][data-outcome="waiting"]');
    await waiting.waitFor({ timeout: 30_000 });
    const endBefore = Number(await waiting.getAttribute('data-end'));
    await page.waitForFunction(
      `Number(document.querySelector('#timeline rect.tbar[data-kind="approval"]')?.getAttribute('data-end')) > ${endBefore}`,
      undefined,
      { timeout: 30_000 },
    );

    await h.workflows.annotate(name, APPROVED_BY, h.username);
    const wf = await h.workflows.waitFor(
      name,
      (w) => inPhase('failed')(w) && w.status?.stepStatuses?.[0]?.status === 'rolled_back',
      'the rollback of step 1',
    );
    await page.waitForFunction(
      `document.querySelector('#timeline rect.tbar[data-kind="rollback"][data-outcome="rolledBack"]') !== null`,
      undefined,
      { timeout: 30_000 },
    );
    const bars = await drawnBars();
    const of = (row: string) => bars.filter((b) => b.row === row).sort((a, b) => a.x - b.x);

    // In order: validating then executing then rolling back; the approval wait before the first step;
    // step 2 failed, waited, succeeded; step 3 failed after it; step 1's rollback after that.
    expect(of('phases').map((b) => b.label)).toEqual(['validating', 'executing', 'rolling back']);
    expect(of('step-2').map((b) => `${b.kind}:${b.outcome}`)).toEqual([
      'attempt:failed',
      'backoff:succeeded',
      'attempt:succeeded',
    ]);
    expect(of('step-1').map((b) => `${b.kind}:${b.outcome}`)).toEqual([
      'attempt:succeeded',
      'rollback:rolledBack',
    ]);
    expect(of('step-3').map((b) => `${b.kind}:${b.outcome}`)).toEqual(['attempt:failed']);
    const approval = of('validation').find((b) => b.kind === 'approval');
    const [s1, rollback] = of('step-1');
    const [s2a1, backoff, s2a2] = of('step-2');
    const [s3] = of('step-3');
    expect(approval && s1 && rollback && s2a1 && backoff && s2a2 && s3).toBeTruthy();
    if (!approval || !s1 || !rollback || !s2a1 || !backoff || !s2a2 || !s3) return;
    expect(approval.end).toBeLessThanOrEqual(s1.start);
    expect(s1.end).toBeLessThanOrEqual(s2a1.start);
    expect(s2a1.end).toBe(backoff.start);
    expect(backoff.end).toBe(s2a2.start);
    expect(s2a2.end).toBeLessThanOrEqual(s3.start);
    expect(s3.end).toBeLessThanOrEqual(rollback.start);
    for (const [a, b] of [
      [approval, s1],
      [s1, s2a1],
      [s2a1, s2a2],
      [s2a2, s3],
      [s3, rollback],
    ] as const)
      expect(a.x).toBeLessThan(b.x);

    // The recorded times: the approval as the status records it, the retry's start as the status
    // records it, the first attempt's end as its child does.
    expect(approval.end).toBe(Date.parse(wf.status?.validationResults?.approvalTimestamp ?? ''));
    expect(s2a2.start).toBe(Date.parse(wf.status?.stepStatuses?.[1]?.startTime ?? ''));
    const firstAttempt = (await h.workflows.childrenOf(name)).find(
      (c) => c.spec.kind === 'step' && c.spec.stepNumber === 2 && c.spec.attempt === 1,
    );
    expect(s2a1.end).toBe(Date.parse(firstAttempt?.status?.completionTime ?? ''));
    // The backoff is the plan's 10 s at least (the retry starts at the next reconcile after it).
    expect(backoff.end - backoff.start).toBeGreaterThanOrEqual(9_000);

    // To scale: every bar's width is its recorded length at one and the same pixels per millisecond.
    const svg = await page.evaluate<{ start: number; end: number }>(
      `(() => { const s = document.querySelector('#timeline svg');
        return { start: Number(s.getAttribute('data-start')), end: Number(s.getAttribute('data-end')) }; })()`,
    );
    const perMs = backoff.width / (backoff.end - backoff.start);
    const origin = backoff.x - (backoff.start - svg.start) * perMs;
    for (const b of bars.filter((b) => b.width > 1)) {
      expect(Math.abs(b.width - (b.end - b.start) * perMs)).toBeLessThan(1);
      expect(Math.abs(b.x - (b.start - svg.start) * perMs - origin)).toBeLessThan(1);
    }
    const api = (await (
      await fetch(`${inspector.url}api/workflows/${h.namespace}/${name}/timeline`)
    ).json()) as Timeline;
    expect(api.live).toBe(false);
    expect(svg.end).toBe(api.end);

    // Hovering a bar shows its attempt's message; clicking keeps it.
    await page.hover(
      '#timeline g.trow[data-row="step-2"] rect.tbar[data-kind="attempt"][data-outcome="failed"]',
    );
    await page.waitForFunction(
      `document.querySelector('#timeline-detail')?.textContent?.includes('quota exceeded') === true`,
      undefined,
      { timeout: 10_000 },
    );
    await page.click('#timeline g.trow[data-row="step-1"] rect.tbar[data-kind="rollback"]');
    expect(await page.locator('#timeline-detail').textContent()).toMatch(
      /rollback — rolledBack[\s\S]*child: gantt-rollback-1/,
    );

    mkdirSync(ARTIFACTS, { recursive: true });
    const screenshot = join(ARTIFACTS, 'timeline.png');
    await page.locator('#timeline').scrollIntoViewIfNeeded();
    await page.screenshot({ path: screenshot, fullPage: true });
    const png = readFileSync(screenshot);
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    process.stderr.write(`timeline screenshot: ${screenshot}\n`);
  });
});
