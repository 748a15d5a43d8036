/**
 * The runnable parts of a tutorial page: fenced blocks whose info string says `tutorial`.
 * ```sh tutorial                 commands, run in order in one shell
 * ```yaml tutorial file=NAME     a file the reader writes, NAME relative to the checkout
 */

export interface TutorialBlock {
  kind: 'sh' | 'file';
  text: string;
  /** For `file` blocks: the name the reader saves it as. */
  file?: string;
}

export function tutorialBlocks(markdown: string): TutorialBlock[] {
  const blocks: TutorialBlock[] = [];
  for (const match of markdown.matchAll(/^```([^\n]*)\n([\s\S]*?)^```$/gm)) {
    const [lang, ...words] = (match[1] ?? '').trim().split(/\s+/);
    if (!words.includes('tutorial')) continue;
    const text = match[2] ?? '';
    const file = words.find((w) => w.startsWith('file='))?.slice('file='.length);
    if (file !== undefined) blocks.push({ kind: 'file', text, file });
    else if (lang === 'sh') blocks.push({ kind: 'sh', text });
    else
      throw new Error(`a tutorial block must be \`sh tutorial\` or name its file: \`\`\`${match[1] ?? ''}`);
  }
  return blocks;
}

/** One bash script of the `sh` blocks in order; it stops at the first command that fails. */
export function tutorialScript(blocks: readonly TutorialBlock[]): string {
  const steps = blocks
    .filter((b) => b.kind === 'sh')
    .map((b, i) => `echo "--- tutorial block ${String(i + 1)}"\n${b.text}`);
  return ['set -euo pipefail', ...steps].join('\n');
}
