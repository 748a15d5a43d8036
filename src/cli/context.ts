/** What every cluster command needs: a client, the namespace, and who the user is. */
import { createKubeClient, type KubeClient } from '../shell/kube/client.ts';
import { loadClientConfig, type ClientConfig } from '../shell/kube/kubeconfig.ts';
import { WORKFLOW_EXECUTIONS, resourcePath } from '../shell/kube/resources.ts';
import type { WorkflowExecution } from '../api/generated/types.ts';
import { CliError, explain } from './errors.ts';

export interface CliContext {
  client: KubeClient;
  namespace: string;
  server: string;
}

export async function connect(
  kubeconfig: string | undefined,
  namespace: string | undefined,
): Promise<CliContext> {
  let config: ClientConfig;
  try {
    // A person at a terminal may answer an exec plugin's prompts (MFA, a browser login).
    config = loadClientConfig(kubeconfig, process.env, { interactive: process.stdin.isTTY });
  } catch (error) {
    throw new CliError(
      `cannot load the kubeconfig${kubeconfig ? ` ${kubeconfig}` : ''}: ${(error as Error).message}`,
    );
  }
  const client = await createKubeClient(config);
  return { client, namespace: namespace ?? config.namespace ?? 'default', server: client.server };
}

export async function getWorkflow(ctx: CliContext, name: string): Promise<WorkflowExecution> {
  try {
    return await ctx.client.request<WorkflowExecution>(
      resourcePath(WORKFLOW_EXECUTIONS, ctx.namespace, name),
    );
  } catch (error) {
    throw explain(error, { server: ctx.server, namespace: ctx.namespace, name });
  }
}

/** The user the apiserver sees, from a SelfSubjectReview. */
export async function whoAmI(ctx: CliContext): Promise<string> {
  try {
    const review = await ctx.client.request<{ status?: { userInfo?: { username?: string } } }>(
      '/apis/authentication.k8s.io/v1/selfsubjectreviews',
      { body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' } },
    );
    const name = review.status?.userInfo?.username;
    if (!name) throw new CliError('the cluster did not say who you are');
    return name;
  } catch (error) {
    throw explain(error, { server: ctx.server });
  }
}
