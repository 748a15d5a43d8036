/**
 * Turns what can go wrong talking to a cluster into one line a person can act on: no cluster, no
 * CRD, no such workflow, no permission. The CLI prints it and exits non-zero; never a stack trace.
 */
import { ApiError } from '../shell/kube/client.ts';

export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

interface Context {
  server?: string;
  user?: string;
  namespace?: string;
  name?: string;
  verb?: string;
}

export function explain(error: unknown, context: Context = {}): CliError {
  if (error instanceof CliError) return error;
  const where = context.namespace ? ` in namespace ${context.namespace}` : '';
  if (error instanceof ApiError) {
    if (error.status === 404) {
      // A missing object comes back as a Status naming it; a missing resource type (no CRD) as a
      // bare "404 page not found" from the apiserver's router, whatever the path names.
      const details = (error.body as { details?: { kind?: string; name?: string } } | undefined)?.details;
      if (context.name && details?.kind === 'workflowexecutions' && details.name === context.name)
        return new CliError(`workflowexecution "${context.name}" not found${where}`);
      return new CliError(
        'the WorkflowExecution CRD is not installed in this cluster (kubectl apply -f crds/)',
      );
    }
    if (error.status === 401)
      return new CliError(`the cluster at ${context.server ?? '?'} did not accept your credentials`);
    if (error.status === 403) {
      const detail = (error.body as { message?: string } | undefined)?.message ?? error.message;
      return new CliError(`not allowed${context.user ? ` (${context.user})` : ''}: ${detail}`);
    }
    if (error.status === 422 || error.status === 400) {
      return new CliError((error.body as { message?: string } | undefined)?.message ?? error.message);
    }
    return new CliError(error.message);
  }
  const code = (error as { code?: string }).code;
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH' || code === 'ECONNRESET') {
    return new CliError(
      `cannot reach the cluster at ${context.server ?? 'the configured server'} (${code}); is it running?`,
    );
  }
  if (/timed out/.test((error as Error).message))
    return new CliError(`the cluster at ${context.server ?? '?'} did not answer in time`);
  return new CliError((error as Error).message || String(error));
}
