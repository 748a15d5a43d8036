/**
 * Safety checks run while a workflow validates. Each reads the cluster and answers passed, failed,
 * not_applicable or error with a message naming what it looked at:
 * - rbac: a SubjectAccessReview for the executor's identity on each step's target and verb;
 * - health: each target exists and is not being deleted (a Secret's existence is the executor's to
 *   find out: the operator reads no Secrets);
 * - capacity: a Deployment to scale has somewhere to run; a Node to cordon or drain leaves another
 *   schedulable Node behind;
 * - network: nothing the operator can probe from here, so recorded as not applicable.
 */
import type { TargetResource } from '../../api/actions.ts';
import type { SafetyCheck } from '../../api/generated/types.ts';
import type { ResolvedSpec } from '../../api/resolved-spec.ts';
import type { SafetyCheckResult, SafetyResultValue } from '../../../machines/events.ts';
import { describeTarget, targetOf } from '../../core/targets.ts';
import { isNotFound, type KubeClient } from '../kube/client.ts';
import { NODES, resourcePath, type ResourceType } from '../kube/resources.ts';

export interface SafetyCheckConfig {
  /** The identity the executor acts as, e.g. `system:serviceaccount:kubernaut-system:executor`. */
  executorUser: string;
  executorGroups?: string[];
}

interface Target {
  step: number;
  target: TargetResource;
}

interface NodeObject {
  metadata: { name: string; deletionTimestamp?: string };
  spec?: { unschedulable?: boolean };
}

const typeOf = (t: TargetResource): ResourceType => ({
  group: t.group,
  version: 'v1',
  plural: t.resource,
  kind: t.kind,
  namespaced: t.namespace !== '',
});

function targetsOf(spec: ResolvedSpec): Target[] {
  return spec.workflowDefinition.steps.flatMap((s) => {
    const target = targetOf(s);
    return target ? [{ step: s.stepNumber, target }] : [];
  });
}

const result = (check: SafetyCheck, value: SafetyResultValue, message: string): SafetyCheckResult => ({
  type: check.type,
  required: check.required ?? false,
  result: value,
  message,
});

async function rbac(
  client: KubeClient,
  config: SafetyCheckConfig,
  targets: Target[],
): Promise<[SafetyResultValue, string]> {
  const denied: string[] = [];
  for (const { step, target } of targets) {
    const review = await client.request<{ status?: { allowed?: boolean; reason?: string } }>(
      '/apis/authorization.k8s.io/v1/subjectaccessreviews',
      {
        body: {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SubjectAccessReview',
          spec: {
            user: config.executorUser,
            groups: config.executorGroups ?? [],
            resourceAttributes: {
              group: target.group,
              resource: target.resource,
              verb: target.verb,
              ...(target.namespace ? { namespace: target.namespace } : {}),
              ...(target.name ? { name: target.name } : {}),
            },
          },
        },
      },
    );
    if (!review.status?.allowed) denied.push(`step ${step}: ${target.verb} ${describeTarget(target)}`);
  }
  if (targets.length === 0) return ['not_applicable', 'no step names an object to authorize'];
  return denied.length === 0
    ? ['passed', `${config.executorUser} may act on all ${targets.length} target(s)`]
    : ['failed', `${config.executorUser} is not allowed to ${denied.join('; ')}`];
}

async function health(client: KubeClient, targets: Target[]): Promise<[SafetyResultValue, string]> {
  const problems: string[] = [];
  const unread: string[] = [];
  for (const { step, target } of targets) {
    if (!target.name) continue; // selector targets: whatever matches at run time
    if (target.kind === 'Secret') {
      unread.push(`step ${step}: ${describeTarget(target)}`);
      continue;
    }
    try {
      const object = await client.request<{ metadata: { deletionTimestamp?: string } }>(
        resourcePath(typeOf(target), target.namespace, target.name),
      );
      if (object.metadata.deletionTimestamp)
        problems.push(`step ${step}: ${describeTarget(target)} is being deleted`);
    } catch (error) {
      if (!isNotFound(error)) throw error;
      problems.push(`step ${step}: ${describeTarget(target)} does not exist`);
    }
  }
  if (targets.length === 0) return ['not_applicable', 'no step names an object to check'];
  if (problems.length > 0) return ['failed', problems.join('; ')];
  const checked = targets.length - unread.length;
  if (checked === 0)
    return [
      'not_applicable',
      `Secrets are not read by the operator (${unread.join('; ')}): the executor checks them`,
    ];
  return [
    'passed',
    `all ${checked} target(s) exist${unread.length > 0 ? `; not read by the operator: ${unread.join('; ')}` : ''}`,
  ];
}

async function capacity(client: KubeClient, spec: ResolvedSpec): Promise<[SafetyResultValue, string]> {
  const nodes = await client.request<{ items: NodeObject[] }>(resourcePath(NODES));
  const schedulable = nodes.items
    .filter((n) => !n.spec?.unschedulable && !n.metadata.deletionTimestamp)
    .map((n) => n.metadata.name);
  const problems: string[] = [];
  let relevant = 0;
  for (const step of spec.workflowDefinition.steps) {
    const p = step.parameters;
    const nodeName = p.cordonNode?.nodeName ?? p.drainNode?.nodeName;
    if (nodeName !== undefined) {
      relevant++;
      if (!schedulable.some((n) => n !== nodeName)) {
        problems.push(`step ${step.stepNumber}: taking Node ${nodeName} out leaves no schedulable node`);
      }
    }
    if (p.scaleDeployment && p.scaleDeployment.replicas > 0) {
      relevant++;
      if (schedulable.length === 0)
        problems.push(
          `step ${step.stepNumber}: no schedulable node for ${p.scaleDeployment.replicas} replica(s)`,
        );
    }
  }
  if (relevant === 0) return ['not_applicable', 'no step changes capacity'];
  return problems.length === 0
    ? [
        'passed',
        `${schedulable.length} schedulable node(s) remain for ${relevant} capacity-affecting step(s)`,
      ]
    : ['failed', problems.join('; ')];
}

export async function runSafetyChecks(
  client: KubeClient,
  config: SafetyCheckConfig,
  spec: ResolvedSpec,
): Promise<SafetyCheckResult[]> {
  const checks = spec.executionStrategy.safetyChecks ?? [];
  const targets = targetsOf(spec);
  const results: SafetyCheckResult[] = [];
  for (const check of checks) {
    try {
      const [value, message] =
        check.type === 'rbac'
          ? await rbac(client, config, targets)
          : check.type === 'health'
            ? await health(client, targets)
            : check.type === 'capacity'
              ? await capacity(client, spec)
              : (['not_applicable', 'no network endpoint is declared for these steps'] as [
                  SafetyResultValue,
                  string,
                ]);
      results.push(result(check, value, message));
    } catch (error) {
      // An apiserver error is not a verdict on the workflow: report it as such.
      results.push(result(check, 'error', `could not check: ${(error as Error).message}`));
    }
  }
  return results;
}
