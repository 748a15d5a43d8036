import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { ESLint } from 'eslint';

/** The functional core stays pure: the lint rule refuses I/O, the cluster client, the shell and the clock there. */
describe('the pure-core lint boundary', () => {
  const eslint = new ESLint();
  const violations = async (filePath: string, extra: string) => {
    const text = `${extra}\n${readFileSync(filePath, 'utf8')}`;
    const [result] = await eslint.lintText(text, { filePath });
    return (result?.messages ?? []).filter((m) => m.ruleId?.startsWith('no-restricted')).map((m) => m.ruleId);
  };

  it.each([
    ['src/core/duration.ts', "import { readFileSync } from 'node:fs';\nvoid readFileSync;"],
    ['machines/context.ts', "import { KubeConfig } from '@kubernetes/client-node';\nvoid KubeConfig;"],
    ['src/core/plan.ts', "import { WorkQueue } from '../shell/workqueue.ts';\nvoid WorkQueue;"],
    ['machines/workflow.ts', "import { observe } from '../src/core/observe.ts';\nvoid observe;"],
    ['machines/context.ts', "import { readFileSync } from 'node:fs';\nvoid readFileSync;"],
    ['src/api/conditions.ts', 'export const stamp = (): number => Date.now();'],
    ['src/core/spec-hash.ts', 'export const noise = (): number => Math.random();'],
  ])(
    'refuses what %s must not do',
    async (file, code) => {
      expect(await violations(file, code)).not.toEqual([]);
    },
    60_000,
  );

  it('lets the shell do all of it', async () => {
    expect(
      await violations(
        'src/shell/workqueue.ts',
        "import { readFileSync } from 'node:fs';\nvoid readFileSync;",
      ),
    ).toEqual([]);
  }, 60_000);
});
