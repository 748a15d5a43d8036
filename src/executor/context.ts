/**
 * What every action handler receives: the child to carry out, a client, whether this is a dry run
 * (every write then goes to the apiserver with `dryRun=All`, so admission and validation run but
 * nothing changes), and a way to find the step child a rollback undoes.
 */
import type { KubernetesExecution, StepExecutionResult } from '../api/generated/types.ts';
import type { KubeClient, RequestInit } from '../shell/kube/client.ts';
import { setLongTimeout } from '../shell/timers.ts';

export interface ActionContext {
  readonly child: KubernetesExecution;
  readonly dryRun: boolean;
  readonly signal: AbortSignal;
  /** GET as is; writes carry `dryRun=All` when this is a dry run. */
  request<T>(path: string, init?: RequestInit): Promise<T>;
  readonly client: KubeClient;
  /** The executor's own namespace, where its custom action registry lives (default kubernaut-system). */
  readonly executorNamespace?: string;
  /** The latest completed `step` child of the same workflow and step (what a rollback undoes). */
  stepChild(): Promise<KubernetesExecution | undefined>;
}

export interface ActionOutcome {
  message: string;
  result?: StepExecutionResult;
}

export type ActionHandler = (ctx: ActionContext) => Promise<ActionOutcome>;

/** A failure the executor reports as the child's message (no stack, no secret values). */
export class ActionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ActionError';
  }
}

/** The object an action changed. */
export interface ChangedObject {
  resourceType: string;
  name: string;
  /** Absent for cluster-scoped objects (Nodes). */
  namespace?: string;
}

/**
 * The result of an action that changed one object: how (`updateType`), from what to what (either
 * left out where unknown or secret), and the object itself as the one resource affected.
 */
export function objectUpdated(
  object: ChangedObject,
  update: { updateType: string; previousValue?: string | undefined; newValue?: string | undefined },
  changeType = 'modified',
): StepExecutionResult {
  const { resourceType, name, namespace } = object;
  const { updateType, previousValue, newValue } = update;
  const where = namespace === undefined ? {} : { namespace };
  return {
    success: true,
    updateResult: {
      resourceType,
      resourceName: name,
      ...where,
      updateType,
      ...(previousValue ? { previousValue } : {}),
      ...(newValue === undefined ? {} : { newValue }),
    },
    resourcesAffected: [{ resourceType, name, ...where, changeType }],
  };
}

/** The parameter member an action needs, or a clear failure when the child lacks it. */
export function required<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new ActionError(`the child has no ${what} parameters`);
  return value;
}

export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(new ActionError('executor stopping'));
      return;
    }
    const timer = setLongTimeout(
      () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      },
      ms,
      { unref: false },
    );
    const onAbort = (): void => {
      timer.cancel();
      reject(new ActionError('executor stopping'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
