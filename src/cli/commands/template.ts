/**
 * `wfx template list|show` and `wfx run TEMPLATE`: the templates of a namespace, one template's
 * versions and parameters, and a run made from one. `wfx run` resolves the reference the way the
 * operator will (src/core/templates.ts), so a missing or mistyped parameter is refused before
 * anything is created; the operator resolves it again at planning, against the template as it is then.
 */
import type { WorkflowExecution, WorkflowTemplate } from '../../api/generated/types.ts';
import { describeIssues } from '../../api/issues.ts';
import { resolveTemplate, versionOf } from '../../core/templates.ts';
import { ApiError } from '../../shell/kube/client.ts';
import { WORKFLOW_EXECUTIONS, WORKFLOW_TEMPLATES, resourcePath } from '../../shell/kube/resources.ts';
import type { CliContext } from '../context.ts';
import { CliError, explain } from '../errors.ts';
import { age, table } from '../format.ts';

async function readTemplate(ctx: CliContext, name: string): Promise<WorkflowTemplate> {
  try {
    return await ctx.client.request<WorkflowTemplate>(resourcePath(WORKFLOW_TEMPLATES, ctx.namespace, name));
  } catch (error) {
    if (error instanceof ApiError && error.status === 404)
      throw new CliError(`workflowtemplate "${name}" not found in namespace ${ctx.namespace}`);
    throw explain(error, { server: ctx.server, namespace: ctx.namespace });
  }
}

export async function listTemplates(ctx: CliContext, now = Date.now()): Promise<string> {
  let list: { items: WorkflowTemplate[] };
  try {
    list = await ctx.client.request(resourcePath(WORKFLOW_TEMPLATES, ctx.namespace));
  } catch (error) {
    throw explain(error, { server: ctx.server, namespace: ctx.namespace });
  }
  if (list.items.length === 0) return `No workflow templates found in namespace ${ctx.namespace}.`;
  return table(
    ['NAME', 'LATEST', 'VERSIONS', 'AGE', 'DESCRIPTION'],
    list.items.map((t) => [
      t.metadata.name ?? '',
      t.spec.versions.at(-1)?.version ?? '',
      String(t.spec.versions.length),
      age(t.metadata.creationTimestamp, now),
      t.spec.description ?? '',
    ]),
  );
}

export async function showTemplate(ctx: CliContext, name: string, version?: string): Promise<string> {
  const template = await readTemplate(ctx, name);
  const shown = versionOf(template, version);
  if (!shown) throw new CliError(`workflowtemplate "${name}" has no version ${JSON.stringify(version)}`);
  const steps = shown.workflowDefinition.steps.map((s) => `  ${s.stepNumber}. ${s.name} (${s.action})`);
  const parameters = (shown.parameters ?? []).map((p) =>
    [
      `  ${p.name}`,
      p.type,
      p.required ? 'required' : p.default !== undefined ? `default ${JSON.stringify(p.default)}` : 'optional',
      p.description ?? '',
    ].join('   '),
  );
  return [
    `Name:         ${name}`,
    `Namespace:    ${ctx.namespace}`,
    `Description:  ${template.spec.description ?? ''}`,
    `Versions:     ${template.spec.versions.map((v) => v.version).join(', ')}`,
    `Showing:      ${shown.version}${shown.description ? ` (${shown.description})` : ''}`,
    'Parameters:',
    ...(parameters.length > 0 ? parameters : ['  (none)']),
    'Steps:',
    ...steps,
  ].join('\n');
}

/** `key=value` pairs from `-p`, refusing anything else. */
export function parseParameters(pairs: readonly string[]): Record<string, string> {
  const parameters: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new CliError(`-p takes key=value, not ${JSON.stringify(pair)}`, 2);
    parameters[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return parameters;
}

export interface RunOptions {
  version?: string | undefined;
  parameters: Record<string, string>;
  name?: string | undefined;
  approvalRequired?: boolean;
  dryRunFirst?: boolean;
}

/** Creates a run of the template; returns its name. */
export async function runTemplate(ctx: CliContext, template: string, options: RunOptions): Promise<string> {
  const spec: WorkflowExecution['spec'] = {
    workflowTemplateRef: { name: template, ...(options.version ? { version: options.version } : {}) },
    ...(Object.keys(options.parameters).length > 0 ? { parameters: options.parameters } : {}),
    executionStrategy: {
      rollbackStrategy: 'automatic',
      ...(options.approvalRequired ? { approvalRequired: true } : {}),
      ...(options.dryRunFirst ? { dryRunFirst: true } : {}),
    },
  };
  const resolution = resolveTemplate(spec, await readTemplate(ctx, template));
  if (!resolution.ok) throw new CliError(`not created: ${describeIssues(resolution.issues)}`);
  const manifest: WorkflowExecution = {
    apiVersion: 'workflowexecution.kubernaut.io/v1',
    kind: 'WorkflowExecution',
    metadata: {
      namespace: ctx.namespace,
      ...(options.name ? { name: options.name } : { generateName: `${template}-`.slice(0, 58) }),
    },
    spec,
  };
  try {
    const created = await ctx.client.request<WorkflowExecution>(
      resourcePath(WORKFLOW_EXECUTIONS, ctx.namespace),
      { body: manifest },
    );
    return `workflowexecution/${created.metadata.name ?? ''} created (template ${template} ${resolution.resolved.version})`;
  } catch (error) {
    throw explain(error, { server: ctx.server, namespace: ctx.namespace });
  }
}
