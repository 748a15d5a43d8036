// What the image ships (`npm ci --omit=dev`) is what the operator's code imports: every package a
// file under src/ or machines/ imports statically is a production dependency. (A devDependency
// imported there works from a checkout and crashes the image at start.)
import { readFileSync, readdirSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { REPO_ROOT } from '../../tooling/controlplane/binaries.ts';

const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
};

/** Packages only the development commands load, with `import()` where they are used. */
const LOADED_ON_DEMAND = new Set(['@hpcc-js/wasm-graphviz']);

const sources = ['src', 'machines'].flatMap((dir) =>
  readdirSync(join(REPO_ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .map((f) => join(dir, f)),
);

/** The package a bare specifier names: `@scope/name/sub` -> `@scope/name`, `name/sub` -> `name`. */
const packageOf = (specifier: string) =>
  specifier
    .split('/')
    .slice(0, specifier.startsWith('@') ? 2 : 1)
    .join('/');

function importedPackages(file: string): string[] {
  const text = readFileSync(join(REPO_ROOT, file), 'utf8');
  // Static imports and re-exports, not `import type` (erased) and not `import()`.
  const specifiers = [...text.matchAll(/^(?:import|export)\s+(?!type\b)[^'";]*?from\s+'([^']+)'/gm)].map(
    (m) => m[1] ?? '',
  );
  return specifiers
    .filter((s) => !s.startsWith('.') && !s.startsWith('node:') && !builtinModules.includes(s))
    .map(packageOf);
}

describe('the production dependencies', () => {
  it.each(sources.map((f) => [f]))('cover what %s imports', (file) => {
    const missing = importedPackages(file).filter(
      (p) => !(p in pkg.dependencies) && !LOADED_ON_DEMAND.has(p),
    );
    expect(missing).toEqual([]);
  });

  it('sees the imports it checks', () => {
    expect(importedPackages('src/shell/kube/kubeconfig.ts')).toContain('yaml');
  });
});
