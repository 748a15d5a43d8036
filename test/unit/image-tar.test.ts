// The image's layers are deterministic tar streams that GNU tar reads back as written.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { tarEntries, withParents, type TarEntry } from '../../tooling/image/tar.ts';

const longDir = `app/node_modules/${'deeply-nested-package-name/'.repeat(5)}lib`;
const entries: TarEntry[] = [
  { type: 'file', path: '/usr/local/bin/node', data: Buffer.from('#!binary'), executable: true },
  { type: 'file', path: `/${longDir}/index.js`, data: Buffer.from('export {};\n'), executable: false },
  { type: 'symlink', path: '/lib', target: 'usr/lib' },
  { type: 'symlink', path: '/app/link', target: `/${longDir}/index.js` },
];
const MTIME = 1_764_000_000;

describe('a layer tar', () => {
  it('has the same bytes whatever order its entries come in', () => {
    const a = Buffer.concat(tarEntries(withParents(entries), MTIME));
    const b = Buffer.concat(tarEntries(withParents([...entries].reverse()), MTIME));
    expect(a.equals(b)).toBe(true);
    expect(a.length % 512).toBe(0);
  });

  it('extracts with GNU tar: long paths and link targets, modes, one mtime, parents first', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wfe-tar-'));
    try {
      const tar = Buffer.concat(tarEntries(withParents(entries), MTIME));
      const listing = execFileSync('tar', ['-tv', '--numeric-owner'], { input: tar, encoding: 'utf8' });
      const names = listing
        .trim()
        .split('\n')
        .map((l) => l.split(/\s+/).slice(5).join(' '));
      expect(names.indexOf('usr/')).toBeLessThan(names.indexOf('usr/local/bin/node'));
      expect(listing).not.toMatch(/PaxHeader/);
      execFileSync('tar', ['-x', '-C', dir], { input: tar });
      expect(readFileSync(join(dir, longDir, 'index.js'), 'utf8')).toBe('export {};\n');
      expect(readlinkSync(join(dir, 'app/link'))).toBe(`/${longDir}/index.js`);
      expect(readlinkSync(join(dir, 'lib'))).toBe('usr/lib');
      expect(statSync(join(dir, 'usr/local/bin/node')).mode & 0o777).toBe(0o755);
      expect(statSync(join(dir, longDir, 'index.js')).mode & 0o777).toBe(0o644);
      expect(statSync(join(dir, 'usr/local/bin/node')).mtimeMs).toBe(MTIME * 1000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
