/**
 * The operator's one cache of compiled workflows (plan, hash and machine), shared by the reconciler
 * and the CLI, so a 200-step workflow's machine is not rebuilt on every reconcile. A spec is
 * immutable, so a resource's (uid, generation) always compiles the same way. Least recently used
 * first out, and a finished workflow's entries as soon as it is settled: a compiled 150-step chain
 * holds ~1.3 MB of heap (`npm run bench -- statechart`), 256 of them far more than the operator's budget.
 */
import type { WorkflowExecution } from '../api/generated/types.ts';
import type { AdaptiveDecision } from '../core/adaptive.ts';
import { compileWorkflow, loadExecution, type Compilation, type Loaded } from '../core/load.ts';

export const COMPILED_WORKFLOWS_LIMIT = 256;

export class CompiledWorkflows {
  private readonly entries = new Map<string, Compilation>();
  private readonly limit: number;

  constructor(limit = COMPILED_WORKFLOWS_LIMIT) {
    this.limit = limit;
  }

  /** Compiled with the decisions learned from history (none: as declared). */
  of(workflow: WorkflowExecution, learned: readonly AdaptiveDecision[] = []): Compilation {
    const uid = workflow.metadata.uid;
    if (uid === undefined) return compileWorkflow(workflow.spec, learned);
    const key = `${uid}/${workflow.metadata.generation ?? 0}${learned.length > 0 ? `/${JSON.stringify(learned)}` : ''}`;
    const hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit;
    }
    const compiled = compileWorkflow(workflow.spec, learned);
    this.entries.set(key, compiled);
    for (const oldest of this.entries.keys()) {
      if (this.entries.size <= this.limit) break;
      this.entries.delete(oldest);
    }
    return compiled;
  }

  /** Drops what was compiled for the resource with this uid (it finished: it is not loaded again). */
  forget(uid: string): void {
    for (const key of this.entries.keys()) if (key.startsWith(`${uid}/`)) this.entries.delete(key);
  }

  /**
   * The load step of every reader (src/core/load.ts `loadExecution`), compiled through this cache.
   * `firstPlanning`: what history taught, for a workflow not planned yet (the operator's alone).
   */
  load(workflow: WorkflowExecution, now: number, firstPlanning: readonly AdaptiveDecision[] = []): Loaded {
    return loadExecution(workflow, now, { compile: (w, learned) => this.of(w, learned), firstPlanning });
  }

  get size(): number {
    return this.entries.size;
  }
}
