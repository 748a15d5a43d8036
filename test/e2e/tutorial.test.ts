// docs/tutorial.md, run as a reader would run it: the same environment `npm run dev` starts (its own
// control plane, the operator, the demo executor, examples/ applied), then every ```sh tutorial block
// of the page in order, in one bash, in a directory laid out like a checkout, with the files of the
// ```yaml tutorial file=NAME blocks written there, and kubectl of the control plane's version on the
// PATH. The page cannot rot: a command that fails, a wait that times out, or a world that does not
// end as the page says fails this test.
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { WorkflowExecution } from '../../src/api/generated/types.ts';
import { Cleanup } from '../../src/shell/cleanup.ts';
import { createKubeClient, type KubeClient } from '../../src/shell/kube/client.ts';
import { loadClientConfig } from '../../src/shell/kube/kubeconfig.ts';
import {
  CONFIG_MAPS,
  DEPLOYMENTS,
  WORKFLOW_EXECUTIONS,
  resourcePath,
} from '../../src/shell/kube/resources.ts';
import { REPO_ROOT, defaultBinDir, ensureBinaries } from '../../tooling/controlplane/binaries.ts';
import { startDev } from '../../tooling/dev/environment.ts';
import { tutorialBlocks, tutorialScript } from './support/tutorial-blocks.ts';

// The first run builds kubectl from the control plane's Go module (minutes on a busy machine).
jest.setTimeout(1_200_000);

const TUTORIAL = join(REPO_ROOT, 'docs', 'tutorial.md');
/** What a checkout holds that the tutorial's commands use. */
const CHECKOUT = ['src', 'machines', 'node_modules', 'examples', 'package.json'];

const cleanup = new Cleanup();
let dir: string;
let kubectlDir: string;
let client: KubeClient;

beforeAll(async () => {
  kubectlDir = await ensureBinaries(defaultBinDir(), ['kubectl']);
  dir = await mkdtemp(join(tmpdir(), 'wfe-tutorial-'));
  cleanup.add('the tutorial directory', () => rm(dir, { recursive: true, force: true }));
  for (const entry of CHECKOUT) await symlink(join(REPO_ROOT, entry), join(dir, entry));
  await mkdir(join(dir, '.cache'), { recursive: true });
  const env = cleanup.track(
    'the dev environment',
    await startDev({
      kubeconfigPath: join(dir, '.cache', 'kubeconfig'),
      logDir: join(dir, '.cache', 'dev'),
      healthPort: 0,
      metricsPort: 0,
      inspectorPort: 0,
      progress: () => undefined,
    }),
    (e) => e.stop(),
  );
  client = cleanup.track('the client', await createKubeClient(loadClientConfig(env.kubeconfigPath)), (c) => {
    c.close();
  });
});

afterAll(() => cleanup.run());

/** Runs a bash script in the tutorial directory as a reader's shell would, output collected. */
function bash(script: string): Promise<{ code: number | null; output: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${kubectlDir}:${process.env['PATH'] ?? ''}` };
  // Not a reader's shell: jest's own settings and any kubeconfig of the machine.
  delete env['NODE_OPTIONS'];
  delete env['KUBECONFIG'];
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', script], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      resolve({ code, output });
    });
  });
}

const workflow = (name: string) =>
  client.request<WorkflowExecution>(resourcePath(WORKFLOW_EXECUTIONS, 'shop', name));

describe('the tutorial, docs/tutorial.md', () => {
  it('runs end to end as written, and leaves the cluster as it says', async () => {
    const blocks = tutorialBlocks(await readFile(TUTORIAL, 'utf8'));
    const files = blocks.filter((b) => b.kind === 'file');
    expect(files.map((f) => f.file)).toEqual(['shop.yaml', 'scale-frontend.yaml', 'raise-workers.yaml']);
    for (const f of files) await writeFile(join(dir, f.file ?? ''), f.text);

    const run = await bash(tutorialScript(blocks));
    if (run.code !== 0) throw new Error(`the tutorial failed (exit ${String(run.code)}):\n${run.output}`);

    // What the page tells the reader they will see.
    expect(run.output).toContain('waiting for approval');
    expect(run.output).toMatch(/approved workflowexecution\/scale-frontend as \S+/);
    expect(run.output).toContain('rollback requested for workflowexecution/raise-workers');

    // The first remediation completed and did its work.
    const first = await workflow('scale-frontend');
    expect(first.status?.phase).toBe('completed');
    expect(first.status?.workflowResult?.outcome).toBe('success');
    expect(first.status?.stepStatuses?.map((s) => s.status)).toEqual(['completed', 'completed']);

    // The second failed at its canary, and its two completed steps were rolled back.
    const second = await workflow('raise-workers');
    expect(second.status?.phase).toBe('failed');
    expect(second.status?.stepStatuses?.map((s) => s.status)).toEqual([
      'rolled_back',
      'rolled_back',
      'failed',
    ]);
    const frontend = await client.request<{ spec: { replicas: number } }>(
      resourcePath(DEPLOYMENTS, 'shop', 'frontend'),
    );
    expect(frontend.spec.replicas).toBe(4);
    const config = await client.request<{ data: Record<string, string> }>(
      resourcePath(CONFIG_MAPS, 'shop', 'frontend-config'),
    );
    expect(config.data['WORKERS']).toBe('8');
  });
});
