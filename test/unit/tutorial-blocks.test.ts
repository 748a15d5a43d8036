// The tutorial's runnable blocks are found by their info string, so its test runs what the page shows.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { tutorialBlocks, tutorialScript } from '../e2e/support/tutorial-blocks.ts';

const page = (...lines: string[]) => lines.join('\n');

describe('tutorial blocks', () => {
  it('are the sh and file blocks marked tutorial, in order; other blocks are text for the reader', () => {
    const blocks = tutorialBlocks(
      page(
        '```sh',
        'npm run dev',
        '```',
        '```yaml tutorial file=a.yaml',
        'kind: Namespace',
        '```',
        '```sh tutorial',
        'kubectl apply -f a.yaml',
        '```',
        '```text',
        'output',
        '```',
      ),
    );
    expect(blocks).toEqual([
      { kind: 'file', file: 'a.yaml', text: 'kind: Namespace\n' },
      { kind: 'sh', text: 'kubectl apply -f a.yaml\n' },
    ]);
    expect(tutorialScript(blocks)).toBe(
      'set -euo pipefail\necho "--- tutorial block 1"\nkubectl apply -f a.yaml\n',
    );
  });

  it('refuse a marked block that is neither a command nor a named file', () => {
    expect(() => tutorialBlocks(page('```yaml tutorial', 'kind: Namespace', '```'))).toThrow(
      /must be `sh tutorial` or name its file/,
    );
  });

  it('of docs/tutorial.md include applying, approving and rolling back', () => {
    const blocks = tutorialBlocks(readFileSync(join(import.meta.dirname, '../../docs/tutorial.md'), 'utf8'));
    const script = tutorialScript(blocks);
    expect(script).toContain('wfx approve scale-frontend -n shop');
    expect(script).toContain('wfx rollback raise-workers -n shop');
    expect(script).not.toContain('npm run dev');
  });
});
