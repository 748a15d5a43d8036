// The retention sweeper when its apiserver cannot be reached: each sweep fails, is logged, and the
// next one runs; no rejection is left unhandled (jest fails the test on one, as Node would end the
// operator's process).
import { PassThrough } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import { createKubeClient } from '../../src/shell/kube/client.ts';
import type { KubeCredentials } from '../../src/shell/kube/kubeconfig.ts';
import { createStreamLogger } from '../../src/shell/logger.ts';
import { RetentionSweeper } from '../../src/shell/retention.ts';
import { freePorts } from '../../tooling/controlplane/ports.ts';

describe('the retention sweeper without an apiserver', () => {
  it('logs each failed sweep and sweeps again', async () => {
    // A free port nothing listens on: every request is refused.
    const [port] = (await freePorts(1)) as [number];
    const kc: KubeCredentials = {
      getCurrentCluster: () => ({ server: `http://127.0.0.1:${String(port)}` }),
      getCurrentUser: () => ({ name: 'test' }),
      applyToHTTPSOptions: () => Promise.resolve(),
    };
    const client = await createKubeClient(kc);
    const stream = new PassThrough();
    const failures: string[] = [];
    stream.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
        const parsed = JSON.parse(line) as { message?: string; error?: string };
        if (parsed.message === 'retention sweep failed; the next one tries again')
          failures.push(parsed.error ?? '');
      }
    });
    const sweeper = new RetentionSweeper({
      client,
      namespaces: ['default'],
      retention: '1s',
      auditRetentionMs: 1000,
      log: createStreamLogger('warn', stream),
      clock: () => Date.now(),
      active: () => true,
    });
    sweeper.start(20);
    const deadline = Date.now() + 30_000;
    while (failures.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await sweeper.stop();
    client.close();
    expect(failures.length).toBeGreaterThanOrEqual(3);
    expect(failures[0]).toContain('ECONNREFUSED');
  });
});
