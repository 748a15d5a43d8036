/**
 * docs/reference/api.md: every field of both CRDs (name, type, required, bounds, description), read
 * from the generated CRD objects, so the reference says exactly what the apiserver enforces.
 */
import type { Schema } from '../../src/api/schema/builders.ts';

export const API_REFERENCE_FILE = 'docs/reference/api.md';

interface CrdView {
  group: string;
  version: string;
  kind: string;
  plural: string;
  shortNames: readonly string[];
  columns: readonly { name: string; jsonPath: string; priority?: number; description?: string }[];
  root: Schema;
}

/** The parts of a CustomResourceDefinition the reference needs; throws when one is missing. */
function viewOf(crd: Record<string, unknown>): CrdView {
  const spec = crd['spec'] as {
    group: string;
    names: { kind: string; plural: string; shortNames?: string[] };
    versions: {
      name: string;
      additionalPrinterColumns?: CrdView['columns'];
      schema: { openAPIV3Schema: Schema };
    }[];
  };
  const version = spec.versions[0];
  if (!version) throw new Error(`CRD ${spec.names.kind} has no version`);
  return {
    group: spec.group,
    version: version.name,
    kind: spec.names.kind,
    plural: spec.names.plural,
    shortNames: spec.names.shortNames ?? [],
    columns: version.additionalPrinterColumns ?? [],
    root: version.schema.openAPIV3Schema,
  };
}

function typeOf(schema: Schema): string {
  if (schema['x-kubernetes-preserve-unknown-fields']) return 'object (free-form)';
  switch (schema.type) {
    case 'array':
      return `[]${typeOf(schema.items ?? {})}`;
    case 'object':
      if (schema.additionalProperties && typeof schema.additionalProperties === 'object')
        return `map[string]${typeOf(schema.additionalProperties)}`;
      return 'object';
    case undefined:
      return schema.oneOf ? 'one of' : 'any';
    default:
      return schema.format ? `${schema.type} (${schema.format})` : schema.type;
  }
}

const code = (value: unknown): string => `\`${typeof value === 'string' ? value : JSON.stringify(value)}\``;

function boundsOf(schema: Schema): string[] {
  const bounds: string[] = [];
  if (schema.enum) bounds.push(`one of ${schema.enum.map(code).join(', ')}`);
  if (schema.minLength !== undefined) bounds.push(`length ≥ ${schema.minLength}`);
  if (schema.maxLength !== undefined) bounds.push(`length ≤ ${schema.maxLength}`);
  if (schema.minimum !== undefined) bounds.push(`≥ ${schema.minimum}`);
  if (schema.maximum !== undefined) bounds.push(`≤ ${schema.maximum}`);
  if (schema.minItems !== undefined) bounds.push(`items ≥ ${schema.minItems}`);
  if (schema.maxItems !== undefined) bounds.push(`items ≤ ${schema.maxItems}`);
  if (schema.minProperties !== undefined) bounds.push(`entries ≥ ${schema.minProperties}`);
  if (schema.maxProperties !== undefined) bounds.push(`entries ≤ ${schema.maxProperties}`);
  if (schema.pattern !== undefined) bounds.push(`pattern ${code(schema.pattern)}`);
  if (schema.default !== undefined) bounds.push(`default ${code(schema.default)}`);
  const valueBounds = schema.additionalProperties;
  if (valueBounds && typeof valueBounds === 'object' && valueBounds.maxLength !== undefined)
    bounds.push(`values: length ≤ ${valueBounds.maxLength}`);
  const items = schema.items;
  if (items && items.type !== 'object') bounds.push(...boundsOf(items).map((b) => `items: ${b}`));
  const rules = schema['x-kubernetes-validations'] ?? [];
  for (const rule of rules) bounds.push(`rule: ${rule.message ?? code(rule.rule)}`);
  return bounds;
}

const cell = (text: string): string => text.replaceAll('|', '\\|').replace(/\s*\n\s*/g, ' ');

interface Row {
  path: string;
  schema: Schema;
  required: boolean;
}

/** Every field under `schema`, depth first, in declaration order; list items appear as `[]`. */
function rowsOf(schema: Schema, path: string): Row[] {
  const rows: Row[] = [];
  const properties = schema.type === 'array' ? schema.items?.properties : schema.properties;
  const required = (schema.type === 'array' ? schema.items?.required : schema.required) ?? [];
  const prefix = schema.type === 'array' ? `${path}[]` : path;
  for (const [name, child] of Object.entries(properties ?? {})) {
    const childPath = `${prefix}.${name}`;
    rows.push({ path: childPath, schema: child, required: required.includes(name) });
    rows.push(...rowsOf(child, childPath));
  }
  return rows;
}

function table(rows: readonly Row[]): string {
  const lines = rows.map(
    (r) =>
      `| \`${r.path}\` | ${cell(typeOf(r.schema))} | ${r.required ? 'yes' : ''} | ${cell(boundsOf(r.schema).join('; '))} | ${cell(r.schema.description ?? '')} |`,
  );
  return ['| field | type | required | bounds | description |', '|---|---|---|---|---|', ...lines].join('\n');
}

function section(crd: CrdView): string {
  const columns = crd.columns.map(
    (c) =>
      `| ${c.name} | \`${c.jsonPath}\` | ${c.priority ? '`-o wide`' : 'always'} | ${cell(c.description ?? '')} |`,
  );
  const part = (name: 'spec' | 'status'): string => {
    const schema = crd.root.properties?.[name];
    if (!schema) throw new Error(`CRD ${crd.kind} has no ${name} schema`);
    return `### ${name}\n\n${schema.description ? `${cell(schema.description)}\n\n` : ''}${table(rowsOf(schema, name))}\n`;
  };
  return `## ${crd.kind}

\`${crd.group}/${crd.version}\`, kind \`${crd.kind}\`, resource \`${crd.plural}\`, short name${crd.shortNames.length === 1 ? '' : 's'} ${crd.shortNames.map(code).join(', ')}; namespaced, with a status subresource.

\`kubectl get ${crd.shortNames[0] ?? crd.plural}\` columns:

| column | from | shown | description |
|---|---|---|---|
${columns.join('\n')}

${part('spec')}
${part('status')}`;
}

/** The reference page for the given CRDs, in order. */
export function apiReference(crds: readonly Record<string, unknown>[]): string {
  const views = crds.map(viewOf);
  return `<!-- Generated by scripts/generate-api.ts from src/api/schema. Do not edit: run \`npm run generate\`. -->

# API reference

Every field of the custom resources, as their CustomResourceDefinitions (\`crds/\`, generated from
\`src/api/schema/\`) declare it: its type, whether it is required, the bounds the apiserver enforces,
and its description. \`[]\` marks the items of a list. Rules beyond these (the spec is immutable, parameters match
the action, \`dependsOn\` names existing steps) are checked by the admission policy and the planner:
see [validation](../explanation/validation.md).

${views.map((v) => `- [${v.kind}](#${v.kind.toLowerCase()})`).join('\n')}

${views.map(section).join('\n')}`;
}
