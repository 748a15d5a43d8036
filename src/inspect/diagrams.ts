/** A workflow's statechart as SVG, its active states highlighted (Graphviz in WebAssembly, cached). */
import { toDot } from '../core/diagram.ts';
import type { Entry } from './store.ts';

type Graphviz = Awaited<ReturnType<(typeof import('@hpcc-js/wasm-graphviz'))['Graphviz']['load']>>;

const CACHE_LIMIT = 500;

export class DiagramRenderer {
  private graphviz: Promise<Graphviz> | undefined;
  private readonly cache = new Map<string, string>();

  /** The SVG, or null when the workflow's statechart cannot be read. */
  async svgOf(entry: Entry): Promise<string | null> {
    if (!entry.inspected.ok) return null;
    const { summary } = entry;
    const cacheKey = `${summary.uid}|${summary.phase}|${summary.activeStates.join(',')}`;
    const cached = this.cache.get(cacheKey);
    if (cached !== undefined) return cached;
    this.graphviz ??= import('@hpcc-js/wasm-graphviz').then(({ Graphviz: G }) => G.load());
    const dot = toDot(entry.inspected.machine, {
      active: summary.activeStates,
      title: `${summary.key} (${summary.phase})`,
    });
    const svg = (await this.graphviz).dot(dot);
    if (this.cache.size > CACHE_LIMIT) this.cache.clear();
    this.cache.set(cacheKey, svg);
    return svg;
  }
}
