/**
 * Resolving a run's template reference, once, at planning: the template version it names (its last
 * when none), the parameters it gives checked against the ones declared, and `${params.NAME}`
 * references replaced. Pure: the shell reads the template; what comes out is recorded in the run's
 * status (status.resolvedTemplate), so a later edit or deletion of the template changes nothing.
 *
 * References: `${params.NAME}` anywhere in a string value of the definition is replaced by the
 * parameter's value as text. A string that is exactly one reference to an integer or boolean
 * parameter becomes that typed value (so `replicas: ${params.replicas}` is an integer). `$${` is a
 * literal `${`. Any other `${...}`, or a reference to an undeclared parameter or to one without a
 * value, refuses the run.
 */
import type {
  TemplateParameter,
  WorkflowDefinition,
  WorkflowExecutionSpec,
  WorkflowExecutionStatus,
  WorkflowTemplate,
  WorkflowTemplateVersion,
} from '../api/generated/types.ts';
import { validateWorkflowTemplateSpec } from '../api/generated/validators.js';
import { pointerToPath, type SpecIssue } from '../api/issues.ts';
import { isRecord } from '../api/json.ts';

export type ResolvedTemplate = NonNullable<WorkflowExecutionStatus['resolvedTemplate']>;
export type Resolution = { ok: true; resolved: ResolvedTemplate } | { ok: false; issues: SpecIssue[] };

const REF = 'spec.workflowTemplateRef';
const REFERENCE = /\$(\$?)\{([^}]*)\}/g;
const PARAMETER_REFERENCE = /^params\.([A-Za-z_][A-Za-z0-9_]*)$/;
const INTEGER = /^-?[0-9]{1,15}$/;

const parameterPath = (name: string): string => pointerToPath('spec.parameters', `/${name}`);

/** The version a reference names: the one asked for, or the last published. */
export function versionOf(
  template: WorkflowTemplate,
  version: string | undefined,
): WorkflowTemplateVersion | undefined {
  const versions = template.spec.versions;
  return version === undefined ? versions.at(-1) : versions.find((v) => v.version === version);
}

/** A value given as text, checked against its declared type. */
function typeIssue(parameter: TemplateParameter, value: string): string | undefined {
  if (parameter.type === 'integer' && !INTEGER.test(value))
    return `must be an integer, not ${JSON.stringify(value)}`;
  if (parameter.type === 'boolean' && value !== 'true' && value !== 'false')
    return `must be true or false, not ${JSON.stringify(value)}`;
  return undefined;
}

/** Every declared parameter's value (given, else its default), or why the run's parameters are refused. */
function parameterValues(
  declared: readonly TemplateParameter[],
  given: Readonly<Record<string, string>>,
  issues: SpecIssue[],
): Map<string, string> {
  const values = new Map<string, string>();
  const byName = new Map(declared.map((p) => [p.name, p]));
  for (const name of Object.keys(given))
    if (!byName.has(name))
      issues.push({
        reason: 'UnknownParameter',
        path: parameterPath(name),
        message: `the template declares no parameter ${JSON.stringify(name)} (it declares: ${declared.map((p) => p.name).join(', ') || 'none'})`,
      });
  for (const parameter of declared) {
    const value = given[parameter.name];
    if (value === undefined && parameter.required) {
      issues.push({
        reason: 'MissingParameter',
        path: parameterPath(parameter.name),
        message: `parameter ${parameter.name} (${parameter.type}) is required`,
      });
      continue;
    }
    const effective = value ?? parameter.default;
    if (effective === undefined) continue;
    const wrong = typeIssue(parameter, effective);
    if (wrong) {
      issues.push({
        reason: 'WrongParameterType',
        path: value === undefined ? REF : parameterPath(parameter.name),
        message: `parameter ${parameter.name}${value === undefined ? ' (its default)' : ''} ${wrong}`,
      });
      continue;
    }
    values.set(parameter.name, effective);
  }
  return values;
}

/** Replaces the references in one string; a whole-value reference keeps its parameter's type. */
function substitute(
  text: string,
  at: string,
  types: ReadonlyMap<string, TemplateParameter['type']>,
  values: ReadonlyMap<string, string>,
  issues: SpecIssue[],
): unknown {
  const whole = /^\$\{params\.([A-Za-z_][A-Za-z0-9_]*)\}$/.exec(text);
  const wholeName = whole?.[1];
  if (wholeName !== undefined && values.has(wholeName)) {
    const value = values.get(wholeName) ?? '';
    const type = types.get(wholeName);
    if (type === 'integer') return Number(value);
    if (type === 'boolean') return value === 'true';
  }
  return text.replace(REFERENCE, (match, escaped: string, inner: string) => {
    if (escaped === '$') return match.slice(1);
    const name = PARAMETER_REFERENCE.exec(inner)?.[1];
    const problem =
      name === undefined
        ? [
            'InvalidReference',
            `${match} is not a parameter reference (write \${params.NAME}, or $\${ for a literal \${)`,
          ]
        : !types.has(name)
          ? ['UnknownParameter', `${match} names no declared parameter`]
          : !values.has(name)
            ? ['MissingParameter', `${match} has no value: the run gives none and it has no default`]
            : undefined;
    if (problem) {
      issues.push({
        reason: problem[0] ?? 'InvalidReference',
        path: REF,
        message: `${at}: ${problem[1] ?? ''}`,
      });
      return match;
    }
    return values.get(name ?? '') ?? '';
  });
}

function substituteAll(
  value: unknown,
  pointer: string,
  types: ReadonlyMap<string, TemplateParameter['type']>,
  values: ReadonlyMap<string, string>,
  issues: SpecIssue[],
): unknown {
  if (typeof value === 'string')
    return substitute(value, pointerToPath('', pointer).replace(/^\./, ''), types, values, issues);
  if (Array.isArray(value))
    return value.map((item: unknown, i) => substituteAll(item, `${pointer}/${i}`, types, values, issues));
  if (isRecord(value))
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [
        key,
        substituteAll(
          item,
          `${pointer}/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`,
          types,
          values,
          issues,
        ),
      ]),
    );
  return value;
}

/**
 * The run's template reference resolved against the template as read now (undefined: not found), or
 * every reason it cannot be, each with its path in the run.
 */
export function resolveTemplate(
  spec: WorkflowExecutionSpec,
  template: WorkflowTemplate | undefined,
): Resolution {
  const ref = spec.workflowTemplateRef;
  if (!ref)
    return {
      ok: false,
      issues: [{ reason: 'MissingField', path: REF, message: 'no template is referenced' }],
    };
  if (spec.workflowDefinition)
    return {
      ok: false,
      issues: [
        {
          reason: 'ConflictingFields',
          path: 'spec.workflowDefinition',
          message: 'exactly one of workflowDefinition and workflowTemplateRef must be set',
        },
      ],
    };
  if (!template)
    return {
      ok: false,
      issues: [
        {
          reason: 'TemplateNotFound',
          path: `${REF}.name`,
          message: `no WorkflowTemplate ${JSON.stringify(ref.name)} in this namespace`,
        },
      ],
    };
  if (!validateWorkflowTemplateSpec(template.spec))
    return {
      ok: false,
      issues: [
        {
          reason: 'InvalidTemplate',
          path: `${REF}.name`,
          message: `WorkflowTemplate ${ref.name} is malformed: ${(validateWorkflowTemplateSpec.errors ?? []).map((e) => `spec${e.instancePath.replaceAll('/', '.')} ${e.message ?? ''}`).join('; ')}`,
        },
      ],
    };
  const version = versionOf(template, ref.version);
  if (!version)
    return {
      ok: false,
      issues: [
        {
          reason: 'TemplateVersionNotFound',
          path: `${REF}.version`,
          message: `WorkflowTemplate ${ref.name} has no version ${JSON.stringify(ref.version ?? '')} (it has: ${template.spec.versions.map((v) => v.version).join(', ')})`,
        },
      ],
    };
  const issues: SpecIssue[] = [];
  const declared = version.parameters ?? [];
  const values = parameterValues(declared, spec.parameters ?? {}, issues);
  // The run's own mistakes first: a reference to a refused value would only repeat them.
  if (issues.length > 0) return { ok: false, issues };
  const types = new Map(declared.map((p) => [p.name, p.type] as const));
  const { steps, dependencies } = version.workflowDefinition;
  const substituted = substituteAll(
    { steps, dependencies },
    '/workflowDefinition',
    types,
    values,
    issues,
  ) as Pick<WorkflowDefinition, 'steps' | 'dependencies'>;
  if (issues.length > 0) return { ok: false, issues };
  return {
    ok: true,
    resolved: {
      name: ref.name,
      version: version.version,
      ...(template.metadata.uid ? { uid: template.metadata.uid } : {}),
      ...(values.size > 0 ? { parameters: Object.fromEntries(values) } : {}),
      workflowDefinition: {
        name: ref.name,
        version: version.version,
        steps: substituted.steps,
        ...(substituted.dependencies ? { dependencies: substituted.dependencies } : {}),
      },
    },
  };
}
