/**
 * Custom actions: the registry (custom-registry.ts) maps the actionType to a Job template; the
 * executor runs it as a Job in the workflow's namespace, named after the child (so a restarted
 * executor finds the Job it started instead of starting another), with `config` as environment
 * variables, waits for it to complete or fail, and reports its exit code and the last lines of its
 * log. When the attempt is asked to stop (a stop request, its deadline), the Job is deleted.
 */
import { isStopReason } from '../../api/stop-request.ts';
import { LABELS } from '../../shell/children.ts';
import { isAlreadyExists, isNotFound } from '../../shell/kube/client.ts';
import { KUBERNETES_EXECUTIONS, PODS, apiVersionOf, core, resourcePath } from '../../shell/kube/resources.ts';
import { parseDuration } from '../../core/duration.ts';
import { ActionError, type ActionContext, type ActionOutcome } from '../context.ts';
import { registeredTemplate, type CustomActionTemplate } from './custom-registry.ts';
import { waitFor } from './wait.ts';

const JOBS = { ...core('jobs', 'Job'), group: 'batch' };
const CONTAINER = 'action';
const LOG_LINES = 20;
export const ACTION_TYPE_ANNOTATION = 'executor.kubernaut.io/custom-action';

interface Job {
  metadata: { name: string; uid?: string };
  status?: {
    active?: number;
    succeeded?: number;
    failed?: number;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
  };
}
interface JobPod {
  metadata: { name: string; creationTimestamp?: string };
  status?: {
    phase?: string;
    containerStatuses?: { name: string; state?: { terminated?: { exitCode: number; reason?: string } } }[];
  };
}

/** `config` as environment: KUBERNAUT_CONFIG (all of it, JSON) and CONFIG_<KEY> per key. */
export function configEnv(config: Record<string, string>): { name: string; value: string }[] {
  return [
    { name: 'KUBERNAUT_CONFIG', value: JSON.stringify(config) },
    ...Object.entries(config).map(([key, value]) => ({
      name: `CONFIG_${key.toUpperCase().replace(/[^A-Z0-9_]/g, '_')}`,
      value,
    })),
  ];
}

function jobManifest(
  ctx: ActionContext,
  actionType: string,
  config: Record<string, string>,
  t: CustomActionTemplate,
) {
  const child = ctx.child;
  const timeoutMs = child.spec.timeout === undefined ? undefined : parseDuration(child.spec.timeout);
  const deadline =
    t.activeDeadlineSeconds ?? (timeoutMs === undefined ? undefined : Math.ceil(timeoutMs / 1000));
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: child.metadata.name ?? '',
      labels: {
        [LABELS.workflowUid]: child.metadata.labels?.[LABELS.workflowUid] ?? '',
        [LABELS.step]: String(child.spec.stepNumber),
      },
      annotations: { [ACTION_TYPE_ANNOTATION]: actionType },
      // Goes with the child (and so with the workflow).
      ...(child.metadata.uid
        ? {
            ownerReferences: [
              {
                apiVersion: apiVersionOf(KUBERNETES_EXECUTIONS),
                kind: KUBERNETES_EXECUTIONS.kind,
                name: child.metadata.name ?? '',
                uid: child.metadata.uid,
              },
            ],
          }
        : {}),
    },
    spec: {
      backoffLimit: t.backoffLimit ?? 0,
      ...(deadline === undefined ? {} : { activeDeadlineSeconds: deadline }),
      template: {
        metadata: { labels: { [LABELS.workflowUid]: child.metadata.labels?.[LABELS.workflowUid] ?? '' } },
        spec: {
          restartPolicy: 'Never',
          ...(t.serviceAccountName === undefined ? {} : { serviceAccountName: t.serviceAccountName }),
          containers: [
            {
              name: CONTAINER,
              image: t.image,
              ...(t.command === undefined ? {} : { command: t.command }),
              ...(t.args === undefined ? {} : { args: t.args }),
              ...(t.resources === undefined ? {} : { resources: t.resources }),
              env: [
                { name: 'KUBERNAUT_ACTION_TYPE', value: actionType },
                { name: 'KUBERNAUT_WORKFLOW', value: child.spec.workflowExecutionRef.name },
                { name: 'KUBERNAUT_STEP', value: String(child.spec.stepNumber) },
                ...configEnv(config),
              ],
            },
          ],
        },
      },
    },
  };
}

/** The Job's last pod: its exit code and the last lines of its log, when the node serves logs. */
async function lastRun(ctx: ActionContext, namespace: string, job: string) {
  const pods = await ctx.request<{ items: JobPod[] }>(resourcePath(PODS, namespace), {
    query: { labelSelector: `batch.kubernetes.io/job-name=${job}` },
  });
  const pod = pods.items.sort((a, b) =>
    (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? ''),
  )[pods.items.length - 1];
  if (!pod) return { output: {} as Record<string, string>, summary: 'no pod ran' };
  const terminated = pod.status?.containerStatuses?.find((c) => c.name === CONTAINER)?.state?.terminated;
  let log: string;
  try {
    const text = await ctx.request<unknown>(resourcePath(PODS, namespace, pod.metadata.name, 'log'), {
      query: { container: CONTAINER, tailLines: LOG_LINES },
      accept: '*/*',
    });
    log = typeof text === 'string' ? text : JSON.stringify(text ?? '');
  } catch (error) {
    log = `(log unavailable: ${(error as Error).message})`;
  }
  const output: Record<string, string> = {
    pod: pod.metadata.name,
    ...(terminated ? { exitCode: String(terminated.exitCode) } : {}),
    log: log.slice(-4000),
  };
  const exit = terminated ? `exit code ${terminated.exitCode}` : `pod ${pod.status?.phase ?? 'unknown'}`;
  return { output, summary: `${exit}; last log lines: ${log.trim().split('\n').slice(-3).join(' | ')}` };
}

async function deleteJob(ctx: ActionContext, namespace: string, name: string): Promise<void> {
  try {
    await ctx.client.request(resourcePath(JOBS, namespace, name), {
      method: 'DELETE',
      body: { propagationPolicy: 'Background' },
    });
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
}

export async function custom(ctx: ActionContext): Promise<ActionOutcome> {
  const p = ctx.child.spec.parameters?.custom ?? ctx.child.spec.rollbackParameters?.custom;
  if (!p) throw new ActionError('the child has no custom parameters');
  const config = p.config ?? {};
  const template = await registeredTemplate(ctx, p.actionType);
  const namespace = ctx.child.metadata.namespace ?? 'default';
  const manifest = jobManifest(ctx, p.actionType, config, template);
  const name = manifest.metadata.name;
  try {
    await ctx.request(resourcePath(JOBS, namespace), { method: 'POST', body: manifest });
  } catch (error) {
    // A restarted executor: the Job this attempt started is still there; wait for it.
    if (!isAlreadyExists(error)) throw error;
  }
  if (ctx.dryRun)
    return {
      message: `would run custom action ${p.actionType} as Job ${namespace}/${name} (image ${template.image})`,
      result: { success: true, customResult: { actionType: p.actionType, output: {} } },
    };
  let verdict: { ok: boolean; why: string };
  try {
    verdict = await waitFor<{ ok: boolean; why: string }>(
      ctx,
      `Job ${namespace}/${name} of custom action ${p.actionType}`,
      async () => {
        const job = await ctx.request<Job>(resourcePath(JOBS, namespace, name));
        const met = (type: string) =>
          job.status?.conditions?.find((c) => c.type === type && c.status === 'True');
        const complete = met('Complete');
        if (complete) return { done: true, value: { ok: true, why: 'completed' } };
        const failed = met('Failed');
        if (failed)
          return {
            done: true,
            value: { ok: false, why: `${failed.reason ?? 'Failed'}: ${failed.message ?? ''}` },
          };
        const s = job.status ?? {};
        return {
          done: false,
          waiting: `${s.active ?? 0} active, ${s.succeeded ?? 0} succeeded, ${s.failed ?? 0} failed`,
        };
      },
    );
  } catch (error) {
    // Asked to stop: the Job stops too. An executor merely shutting down leaves it to its successor.
    const reason: unknown = ctx.signal.reason;
    if (ctx.signal.aborted && typeof reason === 'string' && isStopReason(reason))
      await deleteJob(ctx, namespace, name);
    throw error;
  }
  const run = await lastRun(ctx, namespace, name);
  if (!verdict.ok)
    throw new ActionError(
      `custom action ${p.actionType} failed: Job ${namespace}/${name} ${verdict.why}; ${run.summary}`,
    );
  return {
    message: `ran custom action ${p.actionType} as Job ${namespace}/${name}: ${run.summary}`,
    result: { success: true, customResult: { actionType: p.actionType, output: run.output } },
  };
}
