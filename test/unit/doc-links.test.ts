// Every relative link in README.md and docs/ points at a file that exists, and every #anchor at a
// heading of that file (GitHub's heading slugs), so moving or renaming a page cannot leave a reader
// at a dead end.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from '@jest/globals';

const REPO_ROOT = join(import.meta.dirname, '..', '..');

function markdownFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return markdownFiles(path);
    return entry.name.endsWith('.md') ? [path] : [];
  });
}

const withoutFences = (markdown: string): string =>
  markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');

/** The text outside fenced code blocks and inline code, where links are links. */
const prose = (markdown: string): string => withoutFences(markdown).replace(/`[^`\n]*`/g, '');

/** GitHub's anchor for each heading: lower case, punctuation dropped, spaces as dashes, repeats numbered. */
function anchorsOf(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const [, heading] of withoutFences(markdown).matchAll(/^#{1,6} +(.+?) *#*$/gm)) {
    const base = (heading ?? '')
      .replace(/`/g, '')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  return anchors;
}

/** Relative link targets of markdown links and images: `[text](target)`, `![alt](target)`. */
function relativeLinks(markdown: string): string[] {
  return [...prose(markdown).matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)]
    .map((m) => m[1] ?? '')
    .filter((target) => !/^[a-z][a-z0-9+.-]*:/i.test(target));
}

/** Every broken link of one file, as `file: target (why)`. */
function brokenLinks(file: string): string[] {
  const markdown = readFileSync(file, 'utf8');
  const where = relative(REPO_ROOT, file);
  return relativeLinks(markdown).flatMap((target) => {
    const [path = '', anchor] = target.split('#', 2);
    const resolved = path === '' ? file : join(dirname(file), decodeURIComponent(path));
    if (!existsSync(resolved)) return [`${where}: ${target} (no such file)`];
    if (anchor === undefined || !resolved.endsWith('.md')) return [];
    const anchors = anchorsOf(readFileSync(resolved, 'utf8'));
    return anchors.has(anchor) ? [] : [`${where}: ${target} (no such heading)`];
  });
}

const FILES = [join(REPO_ROOT, 'README.md'), ...markdownFiles(join(REPO_ROOT, 'docs'))];

describe('links in the documentation', () => {
  it('finds the pages and their links', () => {
    expect(FILES.length).toBeGreaterThan(10);
    expect(relativeLinks(readFileSync(join(REPO_ROOT, 'README.md'), 'utf8'))).toContain('docs/tutorial.md');
  });

  it('every relative link points at an existing file, and every anchor at one of its headings', () => {
    expect(FILES.flatMap(brokenLinks)).toEqual([]);
  });

  it('reports a link to a missing page or heading, and ignores links inside code', () => {
    const page = [
      '# Title',
      '## A `wfx` heading, with punctuation!',
      'See [gone](missing.md), [here](#title), [there](#a-wfx-heading-with-punctuation),',
      '[nowhere](#nowhere) and [the web](https://example.com).',
      '```sh',
      'echo "[not a link](ignored.md)"',
      '```',
    ].join('\n');
    expect(relativeLinks(page)).toEqual([
      'missing.md',
      '#title',
      '#a-wfx-heading-with-punctuation',
      '#nowhere',
    ]);
    const anchors = anchorsOf(page);
    expect(anchors.has('title')).toBe(true);
    expect(anchors.has('a-wfx-heading-with-punctuation')).toBe(true);
    expect(anchors.has('nowhere')).toBe(false);
  });
});
