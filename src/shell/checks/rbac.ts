/**
 * The `rbac` check: a SubjectAccessReview for each distinct API call of every step and of its
 * rollback (src/core/safety-policy.ts), for the executor's identity with its groups, asked
 * concurrently. Answers are cached per identity and question for SAR_CACHE_MS: a burst of runs on the
 * same targets asks the apiserver once, and a Role changed in the meantime shows within that time.
 */
import type { ResolvedSpec } from '../../api/resolved-spec.ts';
import { accessNeeds, describeQuestion, questionKey, type AccessQuestion } from '../../core/safety-policy.ts';
import type { KubeClient } from '../kube/client.ts';
import type { CheckVerdict } from './verdict.ts';

/** How stale a cached answer may be: a permission granted or revoked shows within this time. */
export const SAR_CACHE_MS = 10_000;
const SAR_CACHE_ENTRIES = 4096;

export interface ExecutorIdentity {
  /** e.g. `system:serviceaccount:kubernaut-system:kubernetes-executor`. */
  user: string;
  /** When unset: a ServiceAccount's groups, derived from its user name; none for another user. */
  groups?: string[] | undefined;
}

/** The groups the apiserver gives a ServiceAccount's token: what its SubjectAccessReview must carry. */
export function groupsOf(identity: ExecutorIdentity): string[] {
  if (identity.groups) return identity.groups;
  const match = /^system:serviceaccount:([^:]+):[^:]+$/.exec(identity.user);
  return match?.[1]
    ? ['system:serviceaccounts', `system:serviceaccounts:${match[1]}`, 'system:authenticated']
    : [];
}

interface Cached {
  allowed: boolean;
  reason: string;
  at: number;
}

const cache = new Map<string, Cached>();

async function ask(
  client: KubeClient,
  identity: ExecutorIdentity,
  groups: string[],
  q: AccessQuestion,
  now: number,
): Promise<Cached> {
  const key = `${identity.user}|${groups.join(',')}|${questionKey(q)}`;
  const hit = cache.get(key);
  if (hit && now - hit.at < SAR_CACHE_MS) return hit;
  const review = await client.request<{ status?: { allowed?: boolean; reason?: string } }>(
    '/apis/authorization.k8s.io/v1/subjectaccessreviews',
    {
      method: 'POST',
      body: {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SubjectAccessReview',
        spec: {
          user: identity.user,
          groups,
          resourceAttributes: {
            group: q.group,
            resource: q.resource,
            verb: q.verb,
            ...(q.subresource ? { subresource: q.subresource } : {}),
            ...(q.namespace ? { namespace: q.namespace } : {}),
          },
        },
      },
    },
  );
  const answer = { allowed: review.status?.allowed === true, reason: review.status?.reason ?? '', at: now };
  if (cache.size >= SAR_CACHE_ENTRIES) cache.clear();
  cache.set(key, answer);
  return answer;
}

export async function rbacCheck(
  client: KubeClient,
  identity: ExecutorIdentity,
  spec: ResolvedSpec,
  runNamespace: string,
  now: number,
): Promise<CheckVerdict> {
  const needs = accessNeeds(spec, runNamespace);
  const groups = groupsOf(identity);
  const answers = await Promise.all(needs.map((n) => ask(client, identity, groups, n.question, now)));
  const denied = needs.filter((_, i) => answers[i]?.allowed !== true);
  if (denied.length === 0)
    return {
      result: 'passed',
      message: `${identity.user} may make all ${needs.length} API call(s) of the steps and their rollbacks`,
    };
  // Bounded: a call a 200-step workflow makes in every step is needed by all of them.
  const neededBy = (reasons: string[]) =>
    reasons.length > 3
      ? `${reasons.slice(0, 3).join('; ')}; and ${reasons.length - 3} more`
      : reasons.join('; ');
  const shown = denied.slice(0, 8).map((n) => `${describeQuestion(n.question)} (${neededBy(n.neededBy)})`);
  return {
    result: 'failed',
    message: `${identity.user} may not ${shown.join('; ')}${denied.length > shown.length ? `; and ${denied.length - shown.length} more` : ''}`,
  };
}
