/**
 * Validation's safety checks (DESIGN 12, safe by default): `rbac`, `health`, `capacity` and
 * `network` run for every workflow, all at once; the spec's `safetyChecks` only says whether a
 * failure blocks the run (the default) or is a warning (`required: false`, src/core/safety-policy.ts).
 * Each answers passed, failed, not_applicable or error (the apiserver could not be asked: no verdict,
 * asked again until validation's deadline) with a message naming the targets and what was found.
 * The results go to the machine as typed data (SAFETY_RESULT).
 */
import type { ResolvedSpec } from '../../api/resolved-spec.ts';
import type { SafetyCheckResult } from '../../../machines/events.ts';
import { checkPolicy, reversibilityNote, type SafetyCheckType } from '../../core/safety-policy.ts';
import type { KubeClient } from '../kube/client.ts';
import { capacityCheck } from './capacity.ts';
import { healthCheck } from './health.ts';
import { networkCheck } from './network.ts';
import { rbacCheck, type ExecutorIdentity } from './rbac.ts';
import type { CheckVerdict } from './verdict.ts';

export interface SafetyCheckConfig {
  /** The identity the executor acts as, e.g. `system:serviceaccount:kubernaut-system:executor`. */
  executorUser: string;
  /** Its groups; unset: a ServiceAccount's groups, derived from the user name. */
  executorGroups?: string[] | undefined;
}

export async function runSafetyChecks(
  client: KubeClient,
  config: SafetyCheckConfig,
  spec: ResolvedSpec,
  runNamespace: string,
  now: number,
): Promise<SafetyCheckResult[]> {
  const identity: ExecutorIdentity = { user: config.executorUser, groups: config.executorGroups };
  const run: Record<SafetyCheckType, () => Promise<CheckVerdict>> = {
    rbac: async () => {
      const verdict = await rbacCheck(client, identity, spec, runNamespace, now);
      // BR-WF-019 rides on the check of the rollback's permissions: which steps can be undone.
      const { note, warning } = reversibilityNote(spec);
      return { ...verdict, message: `${verdict.message}; ${note}${warning ? `; warning: ${warning}` : ''}` };
    },
    health: () => healthCheck(client, spec),
    capacity: () => capacityCheck(client, spec),
    network: () => networkCheck(client, spec),
  };
  return Promise.all(
    checkPolicy(spec).map(async (check): Promise<SafetyCheckResult> => {
      const required = check.required ?? true;
      try {
        const { result, message } = await run[check.type]();
        return { type: check.type, required, result, message: `${check.type}: ${message}` };
      } catch (error) {
        // An apiserver error is not a verdict on the workflow: report it as such.
        return {
          type: check.type,
          required,
          result: 'error',
          message: `${check.type}: could not check: ${(error as Error).message}`,
        };
      }
    }),
  );
}
