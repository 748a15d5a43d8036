/**
 * Carrying out one KubernetesExecution: status executing, then the action (after any fault the
 * workflow asks for), then completed or failed with the result, message and times. A dry run makes
 * the same requests with `dryRun=All` and reports whether the real step would succeed.
 */
import type {
  KubernetesExecution,
  KubernetesExecutionStatus,
  WorkflowExecution,
} from '../api/generated/types.ts';
import { formatDuration } from '../core/duration.ts';
import { LABELS } from '../shell/children.ts';
import { ApiError, isNotFound, type KubeClient, type RequestInit } from '../shell/kube/client.ts';
import { KUBERNETES_EXECUTIONS, WORKFLOW_EXECUTIONS, resourcePath } from '../shell/kube/resources.ts';
import type { Logger } from '../shell/logger.ts';
import { endChildSpan, startChildSpan } from '../shell/tracing.ts';
import { ActionError, sleep, type ActionContext } from './context.ts';
import { faultFor } from './faults.ts';
import { HANDLERS } from './actions/index.ts';

export interface CarryOutOptions {
  client: KubeClient;
  log: Logger;
  signal: AbortSignal;
  clock?: () => Date;
}

/** Writes the status subresource; a child deleted meanwhile is not an error. */
async function writeStatus(
  client: KubeClient,
  child: KubernetesExecution,
  status: KubernetesExecutionStatus,
): Promise<boolean> {
  try {
    await client.request(
      resourcePath(KUBERNETES_EXECUTIONS, child.metadata.namespace, child.metadata.name, 'status'),
      { method: 'PATCH', patchType: 'merge', body: { status } },
    );
    return true;
  } catch (error) {
    if (isNotFound(error)) return false;
    throw error;
  }
}

function contextFor(client: KubeClient, child: KubernetesExecution, signal: AbortSignal): ActionContext {
  const dryRun = child.spec.kind === 'dryRun';
  return {
    child,
    dryRun,
    signal,
    client,
    request<T>(path: string, init: RequestInit = {}): Promise<T> {
      const write = (init.method ?? (init.body === undefined ? 'GET' : 'POST')) !== 'GET';
      return client.request<T>(
        path,
        dryRun && write ? { ...init, query: { ...init.query, dryRun: 'All' } } : init,
      );
    },
    async stepChild() {
      const uid = child.metadata.labels?.[LABELS.workflowUid];
      if (!uid) return undefined;
      const list = await client.request<{ items: KubernetesExecution[] }>(
        resourcePath(KUBERNETES_EXECUTIONS, child.metadata.namespace),
        {
          query: {
            labelSelector: `${LABELS.workflowUid}=${uid},${LABELS.kind}=step,${LABELS.step}=${child.spec.stepNumber}`,
          },
        },
      );
      return list.items
        .filter((c) => c.status?.phase === 'completed')
        .sort((a, b) => b.spec.attempt - a.spec.attempt)[0];
    },
  };
}

async function workflowAnnotations(
  client: KubeClient,
  child: KubernetesExecution,
): Promise<Record<string, string>> {
  const ref = child.spec.workflowExecutionRef;
  try {
    const wf = await client.request<WorkflowExecution>(
      resourcePath(WORKFLOW_EXECUTIONS, ref.namespace ?? child.metadata.namespace, ref.name),
    );
    return wf.metadata.annotations ?? {};
  } catch (error) {
    if (isNotFound(error)) return {};
    throw error;
  }
}

/** The message a failure reports: the apiserver's own words, never a stack. */
function describeError(error: unknown): string {
  if (error instanceof ActionError) return error.message;
  if (error instanceof ApiError) {
    const body = error.body as { message?: string } | undefined;
    return `${error.reason}: ${body?.message ?? error.message}`;
  }
  return error instanceof Error ? error.message : String(error);
}

/**
 * Carries out the child and records the outcome. Resolves without writing a final status when the
 * executor stops first (the child stays executing; a restarted executor picks it up again).
 */
export async function carryOut(child: KubernetesExecution, options: CarryOutOptions): Promise<void> {
  const span = startChildSpan(child);
  let written: KubernetesExecutionStatus | undefined;
  try {
    await carryOutAndRecord(child, options, (status) => (written = status));
  } finally {
    endChildSpan(span, written);
  }
}

async function carryOutAndRecord(
  child: KubernetesExecution,
  options: CarryOutOptions,
  recorded: (status: KubernetesExecutionStatus) => void,
): Promise<void> {
  const { client, log, signal } = options;
  const now = options.clock ?? (() => new Date());
  const name = child.metadata.name ?? '';
  const fields = {
    child: name,
    namespace: child.metadata.namespace,
    kind: child.spec.kind,
    action: child.spec.action,
    step: child.spec.stepNumber,
  };
  const started = now();
  const startTime = child.status?.startTime ?? started.toISOString();
  if (!(await writeStatus(client, child, { phase: 'executing', startTime }))) return;
  log.info('executing', fields);

  const ctx = contextFor(client, child, signal);
  let status: KubernetesExecutionStatus;
  try {
    const fault = faultFor(child, await workflowAnnotations(client, child));
    if (fault.delayMs > 0) await sleep(fault.delayMs, signal);
    if (fault.hang) {
      log.info('hanging as the workflow asks', fields);
      await sleep(2 ** 31 - 1, signal);
    }
    if (fault.fail) throw new ActionError(fault.fail);
    const outcome = await HANDLERS[child.spec.action](ctx);
    const elapsed = formatDuration(now().getTime() - started.getTime());
    status = {
      phase: 'completed',
      message: outcome.message,
      ...(outcome.result ? { executionResult: { ...outcome.result, executionTime: elapsed } } : {}),
      ...(ctx.dryRun ? { wouldSucceed: true } : {}),
    };
  } catch (error) {
    if (signal.aborted) return;
    const message = describeError(error);
    status = ctx.dryRun
      ? { phase: 'completed', wouldSucceed: false, message: `would fail: ${message}` }
      : {
          phase: 'failed',
          message,
          executionResult: {
            success: false,
            executionTime: formatDuration(now().getTime() - started.getTime()),
          },
        };
  }
  if (signal.aborted) return;
  await writeStatus(client, child, { ...status, startTime, completionTime: now().toISOString() });
  recorded(status);
  log.info(status.phase === 'completed' ? 'completed' : 'failed', {
    ...fields,
    detail: status.message,
    ...(ctx.dryRun ? { wouldSucceed: status.wouldSucceed } : {}),
  });
}
