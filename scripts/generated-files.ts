/** Writing generated files, or checking that the committed ones match (`npm run generate:check`). */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export type GeneratedFile = readonly [path: string, content: string];

/** The paths (relative to `root`) whose committed content differs from the generated one. */
export function driftedFiles(outputs: readonly GeneratedFile[], root: string): string[] {
  return outputs
    .filter(([path, content]) => {
      try {
        return readFileSync(join(root, path), 'utf8') !== content;
      } catch {
        return true;
      }
    })
    .map(([path]) => path);
}

export function writeFiles(outputs: readonly GeneratedFile[], root: string): void {
  for (const [path, content] of outputs) {
    const full = join(root, path);
    mkdirSync(dirname(full), { recursive: true });
    writeFileSync(full, content);
    console.log(`wrote ${path}`);
  }
}
