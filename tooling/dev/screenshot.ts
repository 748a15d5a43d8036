#!/usr/bin/env node
/**
 * Retakes docs/images/inspector.png, the README's picture of the live inspector: a fresh `npm run dev`
 * environment (random ports, its own kubeconfig), the approval sample held at its gate, and the real
 * inspector page in Debian's Chromium (WFE_CHROMIUM names another), driven by playwright-core.
 * Usage: node tooling/dev/screenshot.ts [OUTPUT.png]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { chromium } from 'playwright-core';
import type { WorkflowExecution } from '../../src/api/generated/types.ts';
import { Cleanup } from '../../src/shell/cleanup.ts';
import { createKubeClient } from '../../src/shell/kube/client.ts';
import { loadClientConfig } from '../../src/shell/kube/kubeconfig.ts';
import { WORKFLOW_EXECUTIONS, resourcePath } from '../../src/shell/kube/resources.ts';
import { REPO_ROOT } from '../controlplane/binaries.ts';
import { startDev } from './environment.ts';

const CHROMIUM = process.env['WFE_CHROMIUM'] ?? '/usr/bin/chromium';
const SHOWN = { namespace: 'demo', name: 'approval-demo' };
const FINISHED = ['sequential-demo', 'diamond-demo', 'rollback-demo'];

async function until(what: string, probe: () => Promise<boolean>, timeoutMs = 180_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function main(output: string): Promise<void> {
  const cleanup = new Cleanup();
  try {
    const dir = await mkdtemp(join(tmpdir(), 'wfe-screenshot-'));
    cleanup.add('the temporary directory', () => rm(dir, { recursive: true, force: true }));
    const env = cleanup.track(
      'the dev environment',
      await startDev({
        kubeconfigPath: join(dir, 'kubeconfig'),
        logDir: join(dir, 'logs'),
        healthPort: 0,
        metricsPort: 0,
        inspectorPort: 0,
      }),
      (e) => e.stop(),
    );
    const client = cleanup.track(
      'the client',
      await createKubeClient(loadClientConfig(env.kubeconfigPath)),
      (c) => {
        c.close();
      },
    );
    const read = (name: string) =>
      client.request<WorkflowExecution>(resourcePath(WORKFLOW_EXECUTIONS, SHOWN.namespace, name));
    // The other samples finished, so the list shows every outcome; the shown one at its gate.
    for (const name of FINISHED)
      await until(`${name} to finish`, async () =>
        ['completed', 'failed'].includes((await read(name)).status?.phase ?? ''),
      );
    await until(
      `${SHOWN.name} at its approval gate`,
      async () =>
        (await read(SHOWN.name)).status?.conditions?.some(
          (c) => c.type === 'Ready' && c.reason === 'AwaitingApproval',
        ) === true,
    );

    const profile = await mkdtemp(join(tmpdir(), 'wfe-chromium-'));
    cleanup.add('the browser profile', () => rm(profile, { recursive: true, force: true }));
    const context = cleanup.track(
      'Chromium',
      await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        headless: true,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
        viewport: { width: 1400, height: 900 },
      }),
      (c) => c.close(),
    );
    const page = context.pages()[0] ?? (await context.newPage());
    await page.goto(env.inspectorUrl);
    await page.locator(`#list li[data-key="${SHOWN.namespace}/${SHOWN.name}"]`).click({ timeout: 30_000 });
    await page.locator('#diagram svg g.node').first().waitFor({ timeout: 30_000 });
    await page.screenshot({ path: output });
    process.stderr.write(`screenshot: wrote ${relative(process.cwd(), output) || output}\n`);
  } finally {
    await cleanup.run();
  }
}

await main(process.argv[2] ?? join(REPO_ROOT, 'docs', 'images', 'inspector.png'));
