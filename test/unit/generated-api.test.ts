import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';

describe('the generated API files', () => {
  it('match a fresh generation from src/api/schema', () => {
    const run = spawnSync(process.execPath, ['scripts/generate-api.ts', '--check'], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
  });
});
