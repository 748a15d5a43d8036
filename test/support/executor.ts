/**
 * The scripted executor of the tests and the benchmarks: it watches KubernetesExecution children on
 * the real control plane and writes their status as the script says (complete, fail, or leave
 * running), at once or after a delay. It records every child it ever saw, so tests can assert that
 * none was created twice, and when it first saw each one and when its completing write returned, so
 * benchmarks can measure the operator's handoff from one step to the next.
 */
import { performance } from 'node:perf_hooks';
import type { KubeConfig } from '@kubernetes/client-node';
import type { KubernetesExecution, KubernetesExecutionStatus } from '../../src/api/generated/types.ts';
import { LABELS } from '../../src/shell/children.ts';
import { createInformer, type ResourceInformer } from '../../src/shell/informer.ts';
import { isNotFound, type KubeClient } from '../../src/shell/kube/client.ts';
import { KUBERNETES_EXECUTIONS, resourcePath } from '../../src/shell/kube/resources.ts';

export type Verdict =
  | {
      phase: 'completed';
      message?: string;
      wouldSucceed?: boolean;
      result?: KubernetesExecutionStatus['executionResult'];
    }
  | { phase: 'failed'; message: string; wouldSucceed?: boolean }
  /** Acknowledges a stop request (src/api/stop-request.ts): a script returns it once the child asks. */
  | { phase: 'stopped'; message: string }
  | { phase: 'hang' };

export type Script = (child: KubernetesExecution) => Verdict;

export const succeedAll: Script = () => ({ phase: 'completed', wouldSucceed: true });

/** One child as this executor saw it; times are `performance.now()` of this process. */
export interface ChildTimes {
  workflow: string;
  kind: KubernetesExecution['spec']['kind'];
  step: number;
  attempt: number;
  /** When the executor's watch first delivered it. */
  seen: number;
  /** When the executor's status write that finished it returned. */
  done?: number;
}

/** Every child succeeds, except in `workflow`: its step `failingStep` fails, and so does every rollback. */
export const rollbackFailsIn =
  (workflow: string, failingStep: number): Script =>
  (child) =>
    child.spec.workflowExecutionRef.name !== workflow
      ? succeedAll(child)
      : child.spec.kind === 'step' && child.spec.stepNumber === failingStep
        ? { phase: 'failed', message: 'boom' }
        : child.spec.kind === 'rollback'
          ? { phase: 'failed', message: 'cannot restore' }
          : succeedAll(child);

export class ScriptedExecutor {
  private readonly informer: ResourceInformer<KubernetesExecution>;
  private readonly handled = new Set<string>();
  /** uid of every child seen, by name: a name seen with two uids was created twice. */
  readonly seen = new Map<string, Set<string>>();
  /** Every child by name, with when it was seen and finished. */
  readonly timeline = new Map<string, ChildTimes>();
  private script: Script;
  private stopped = false;
  private readonly client: KubeClient;

  /** Milliseconds the executor takes per child (0: at once). */
  private readonly delayMs: () => number;

  constructor(
    kc: KubeConfig,
    client: KubeClient,
    script: Script = succeedAll,
    namespace?: string,
    delayMs: () => number = () => 0,
  ) {
    this.client = client;
    this.delayMs = delayMs;
    this.script = script;
    this.informer = createInformer<KubernetesExecution>(client, KUBERNETES_EXECUTIONS, {
      namespace,
      labelSelector: LABELS.workflowUid,
      onChange: (child, kind) => {
        if (kind !== 'delete') void this.handle(child);
      },
    });
  }

  setScript(script: Script): void {
    this.script = script;
  }

  start(): Promise<void> {
    return this.informer.start();
  }

  stop(): Promise<void> {
    this.stopped = true;
    return this.informer.stop();
  }

  /** Names of children created more than once (should always be empty). */
  duplicates(): string[] {
    return [...this.seen.entries()].filter(([, uids]) => uids.size > 1).map(([name]) => name);
  }

  private async handle(child: KubernetesExecution): Promise<void> {
    if (this.stopped) return;
    const seenAt = performance.now();
    const name = child.metadata.name ?? '';
    if (!this.timeline.has(name))
      this.timeline.set(name, {
        workflow: child.spec.workflowExecutionRef.name,
        kind: child.spec.kind,
        step: child.spec.stepNumber,
        attempt: child.spec.attempt,
        seen: seenAt,
      });
    const uids = this.seen.get(name) ?? new Set<string>();
    uids.add(child.metadata.uid ?? '');
    this.seen.set(name, uids);
    const phase = child.status?.phase;
    if (phase === 'completed' || phase === 'failed' || phase === 'stopped') return;
    const handledKey = child.metadata.uid ?? '';
    if (this.handled.has(handledKey)) return;
    const verdict = this.script(child);
    if (verdict.phase === 'hang') return;
    this.handled.add(handledKey);
    const delay = this.delayMs();
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    const now = new Date().toISOString();
    const status: KubernetesExecutionStatus = {
      phase: verdict.phase,
      startTime: now,
      completionTime: now,
      ...(verdict.message ? { message: verdict.message } : {}),
      ...(verdict.phase !== 'stopped' && verdict.wouldSucceed !== undefined
        ? { wouldSucceed: verdict.wouldSucceed }
        : {}),
      ...(verdict.phase === 'completed' && verdict.result ? { executionResult: verdict.result } : {}),
    };
    try {
      await this.client.request(
        resourcePath(KUBERNETES_EXECUTIONS, child.metadata.namespace, name, 'status'),
        {
          method: 'PATCH',
          patchType: 'merge',
          body: { status },
        },
      );
      const times = this.timeline.get(name);
      if (times) times.done = performance.now();
    } catch (error) {
      this.handled.delete(handledKey);
      // Not found: the child is gone, nothing to do. Anything else (an apiserver or etcd restarting)
      // is tried again shortly, as a real executor would, rather than dropped or thrown unhandled.
      if (!isNotFound(error))
        setTimeout(() => {
          void this.handle(child);
        }, 500).unref();
    }
  }
}
