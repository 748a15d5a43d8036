/**
 * Carrying out one claimed KubernetesExecution: the action (after any fault a development run asks
 * for), against the target cluster, within the attempt's deadline, until a stop request; then the
 * outcome written through the claim: completed, failed (the error, or the deadline), or stopped (the
 * operator asked), each saying what the executor did. A dry run sends every write with `dryRun=All`
 * and reports the changes the apiserver accepted and whether the real step would succeed.
 */
import type { KubernetesExecution, StepExecutionResult, WorkflowExecution } from '../api/generated/types.ts';
import { STOP_REQUESTED_ANNOTATION } from '../api/stop-request.ts';
import { formatDuration, parseDuration } from '../core/duration.ts';
import { LABELS } from '../shell/children.ts';
import { ApiError, isNotFound, type KubeClient, type RequestInit } from '../shell/kube/client.ts';
import { KUBERNETES_EXECUTIONS, WORKFLOW_EXECUTIONS, resourcePath } from '../shell/kube/resources.ts';
import type { Logger } from '../shell/logger.ts';
import { setLongTimeout } from '../shell/timers.ts';
import { ClaimLost, type HeldClaim, type StatusPatch } from './claims.ts';
import { endChildSpan, startChildSpan } from '../shell/tracing.ts';
import type { ClusterRegistry } from './clusters.ts';
import { ActionError, sleep, type ActionContext } from './context.ts';
import { FAULT_ANNOTATIONS, faultFor } from './faults.ts';
import { HANDLERS } from './actions/index.ts';
import { testHookFor } from './test-hooks.ts';

/** Why an action was cut short: the abort reason of its signal. */
export type Interruption =
  | { kind: 'stop'; reason: string }
  | { kind: 'timeout'; timeout: string }
  /** Another replica holds the child now: this one writes nothing more. */
  | { kind: 'lost' }
  /** The executor is shutting down: the child is left to the next replica. */
  | { kind: 'shutdown' };

export interface CarryOutOptions {
  /** The executor's own cluster: claims, status, the workflow, the cluster Secrets. */
  client: KubeClient;
  clusters: ClusterRegistry;
  log: Logger;
  /** Aborted with an Interruption. */
  interrupt: AbortController;
  /** Test hooks and fault annotations are honoured only then. */
  development: boolean;
  clock?: () => Date;
}

/** How it ended: a phase written, or `interrupted` (lost or shutdown: nothing written). */
export type CarryOutEnd = 'completed' | 'failed' | 'stopped' | 'interrupted';

const MAX_MESSAGE = 2048;
const MAX_LISTED_WRITES = 5;

export const stopRequestOf = (child: KubernetesExecution): string | undefined =>
  child.metadata.annotations?.[STOP_REQUESTED_ANNOTATION] || undefined;

const interruptionOf = (signal: AbortSignal): Interruption | undefined =>
  signal.aborted ? (signal.reason as Interruption) : undefined;

/** `PATCH namespaces/ns/deployments/web` for `/apis/apps/v1/namespaces/ns/deployments/web`. */
const shortPath = (path: string): string => path.replace(/^\/apis?\/(?:[^/]+\/)?v[^/]+\//, '');

/** What the action had sent when it ended, for the message. */
function describeWrites(writes: readonly string[], dryRun: boolean): string {
  if (writes.length === 0) return dryRun ? 'no change' : 'before changing anything';
  const listed = writes.slice(0, MAX_LISTED_WRITES).join('; ');
  const more =
    writes.length > MAX_LISTED_WRITES ? `; and ${String(writes.length - MAX_LISTED_WRITES)} more` : '';
  return `${dryRun ? 'changes the apiserver accepted' : `after ${String(writes.length)} change${writes.length === 1 ? '' : 's'}`}: ${listed}${more}`;
}

function contextFor(
  target: KubeClient,
  local: KubeClient,
  child: KubernetesExecution,
  signal: AbortSignal,
  writes: string[],
): ActionContext {
  const dryRun = child.spec.kind === 'dryRun';
  return {
    child,
    dryRun,
    signal,
    client: target,
    request<T>(path: string, init: RequestInit = {}): Promise<T> {
      const method = init.method ?? (init.body === undefined ? 'GET' : 'POST');
      if (method === 'GET') return target.request<T>(path, init);
      writes.push(`${method} ${shortPath(path)}`);
      return target.request<T>(path, dryRun ? { ...init, query: { ...init.query, dryRun: 'All' } } : init);
    },
    async stepChild() {
      const uid = child.metadata.labels?.[LABELS.workflowUid];
      if (!uid) return undefined;
      const list = await local.request<{ items: KubernetesExecution[] }>(
        resourcePath(KUBERNETES_EXECUTIONS, child.metadata.namespace),
        {
          query: {
            labelSelector: `${LABELS.workflowUid}=${uid},${LABELS.kind}=step,${LABELS.step}=${String(child.spec.stepNumber)}`,
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

/** The faults the workflow asks for, honoured in development; elsewhere ignored, and logged. */
async function injectFaults(
  ctx: ActionContext,
  options: CarryOutOptions,
  fields: Record<string, unknown>,
): Promise<void> {
  const asked = await workflowAnnotations(options.client, ctx.child).catch(() => ({}));
  const named = Object.values(FAULT_ANNOTATIONS).filter((a) => a in asked);
  if (named.length === 0) return;
  if (!options.development) {
    options.log.warn('fault annotations ignored: the executor is not running with --development', {
      ...fields,
      annotations: named,
    });
    return;
  }
  const fault = faultFor(ctx.child, asked);
  if (fault.delayMs > 0) await sleep(fault.delayMs, ctx.signal);
  if (fault.hang) {
    options.log.info('hanging as the workflow asks', fields);
    await sleep(2 ** 31 - 1, ctx.signal);
  }
  if (fault.fail) throw new ActionError(fault.fail);
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

const clip = (message: string): string =>
  message.length <= MAX_MESSAGE ? message : `${message.slice(0, MAX_MESSAGE - 1)}…`;

/**
 * Carries out the claimed child and writes how it ended. Resolves `interrupted` without a final
 * write when the claim was lost or the executor stops first (the child stays executing; another
 * replica, or this one restarted, carries it out again: every action is safe to repeat).
 */
export async function carryOut(held: HeldClaim, options: CarryOutOptions): Promise<CarryOutEnd> {
  // The executor's span joins the workflow's trace through the child's traceparent (no-op untraced).
  const span = startChildSpan(held.current);
  let end: CarryOutEnd | undefined;
  try {
    end = await carryOutClaimed(held, options);
    return end;
  } finally {
    endChildSpan(span, end === undefined || end === 'interrupted' ? undefined : { phase: end });
  }
}

async function carryOutClaimed(held: HeldClaim, options: CarryOutOptions): Promise<CarryOutEnd> {
  const { log, interrupt } = options;
  const signal = interrupt.signal;
  const now = options.clock ?? (() => new Date());
  const child = held.current;
  const fields = {
    child: child.metadata.name,
    namespace: child.metadata.namespace,
    kind: child.spec.kind,
    action: child.spec.action,
    step: child.spec.stepNumber,
    targetCluster: child.spec.targetCluster,
  };
  const started = now();
  const elapsed = () => formatDuration(now().getTime() - started.getTime());
  const failed = (): StepExecutionResult => ({ success: false, executionTime: elapsed() });
  const dryRun = child.spec.kind === 'dryRun';
  const writes: string[] = [];

  const stop = stopRequestOf(child);
  if (stop !== undefined) {
    // Asked to stop before this replica did anything: acknowledge.
    const takenOver = (child.status?.claim?.claims ?? 1) > 1;
    return finish(held, log, fields, {
      phase: 'stopped',
      message: takenOver
        ? `stopped (${stop}) on taking over from an executor that stopped renewing its claim; what that one did is not known`
        : `stopped (${stop}) before acting`,
      executionResult: failed(),
    });
  }

  // The attempt's deadline counts from its pick-up, which a takeover keeps.
  const timeoutMs = parseDuration(child.spec.timeout ?? '');
  const deadline =
    timeoutMs === undefined
      ? undefined
      : Date.parse(child.status?.startTime ?? started.toISOString()) + timeoutMs;
  const timer =
    deadline === undefined
      ? undefined
      : setLongTimeout(
          () => {
            interrupt.abort({ kind: 'timeout', timeout: child.spec.timeout ?? '' } satisfies Interruption);
          },
          Math.max(0, deadline - now().getTime()),
          { unref: false },
        );
  log.info('executing', { ...fields, attempt: child.spec.attempt, claims: child.status?.claim?.claims });

  let status: StatusPatch;
  try {
    const target = await options.clusters.clientFor(child.spec.targetCluster);
    const ctx = contextFor(target, options.client, child, signal, writes);
    await injectFaults(ctx, options, fields);
    const handler = testHookFor(ctx, options.development) ?? HANDLERS[child.spec.action];
    const outcome = await handler(ctx);
    const result = outcome.result ? { ...outcome.result, executionTime: elapsed() } : undefined;
    status = dryRun
      ? {
          phase: 'completed',
          wouldSucceed: true,
          message: clip(`dry run (dryRun=All): ${outcome.message}; ${describeWrites(writes, true)}`),
          ...(result ? { executionResult: result } : {}),
        }
      : {
          phase: 'completed',
          message: clip(outcome.message),
          ...(result ? { executionResult: result } : {}),
        };
  } catch (error) {
    const interruption = interruptionOf(signal);
    if (interruption?.kind === 'lost' || interruption?.kind === 'shutdown') {
      log.info('interrupted; the child is left to the next claim', { ...fields, why: interruption.kind });
      return 'interrupted';
    }
    const did = describeWrites(writes, dryRun);
    if (interruption?.kind === 'stop')
      status = {
        phase: 'stopped',
        message: clip(`stopped (${interruption.reason}) ${did}`),
        executionResult: failed(),
      };
    else if (interruption?.kind === 'timeout')
      status = {
        phase: 'failed',
        message: clip(`timed out after ${interruption.timeout} ${did}`),
        executionResult: failed(),
      };
    else if (dryRun)
      status = {
        phase: 'completed',
        wouldSucceed: false,
        message: clip(`would fail: ${describeError(error)}`),
      };
    else
      status = {
        phase: 'failed',
        message: clip(writes.length === 0 ? describeError(error) : `${describeError(error)} (${did})`),
        executionResult: failed(),
      };
  } finally {
    timer?.cancel();
  }
  const last = interruptionOf(signal);
  if (last?.kind === 'lost' || last?.kind === 'shutdown') return 'interrupted';
  return finish(held, log, fields, { ...status, completionTime: now().toISOString() });
}

async function finish(
  held: HeldClaim,
  log: Logger,
  fields: Record<string, unknown>,
  status: StatusPatch,
): Promise<CarryOutEnd> {
  const phase = status.phase as 'completed' | 'failed' | 'stopped';
  try {
    await held.write({ completionTime: new Date().toISOString(), ...status });
  } catch (error) {
    if (error instanceof ClaimLost) {
      log.warn('claim lost before the outcome was written', { ...fields, error: error.message });
      return 'interrupted';
    }
    throw error;
  }
  log.info(phase, {
    ...fields,
    detail: status.message,
    ...(status.wouldSucceed === undefined ? {} : { wouldSucceed: status.wouldSucceed }),
  });
  return phase;
}
