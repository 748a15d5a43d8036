/**
 * `npm run test:chaos`: the chaos suites at full length (CHAOS_SCALE=1: faults of 60 s and 30 s;
 * FUZZ_SPECS=10000), then the table of what they measured. Either can be overridden.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '../../tooling/controlplane/binaries.ts';
import { printChaosTable } from './table.ts';

const env = {
  ...process.env,
  CHAOS_SCALE: process.env['CHAOS_SCALE'] ?? '1',
  FUZZ_SPECS: process.env['FUZZ_SPECS'] ?? '10000',
  NODE_OPTIONS: '--experimental-vm-modules --no-warnings',
};
const jest = spawnSync(
  process.execPath,
  [
    join(REPO_ROOT, 'node_modules', 'jest', 'bin', 'jest.js'),
    '--selectProjects',
    'chaos',
    '--runInBand',
    ...process.argv.slice(2),
  ],
  { stdio: 'inherit', env, cwd: REPO_ROOT },
);
await printChaosTable();
process.exit(jest.status ?? 1);
