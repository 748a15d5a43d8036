/**
 * One source of truth: the schemas in src/api/schema generate the CRDs (crds/), the TypeScript types
 * (src/api/generated/types.ts) and standalone ajv validators (src/api/generated/validators.js); the
 * metric catalogue (src/monitoring/metrics.yaml) generates its typed module and docs/reference/metrics.md, and
 * then the alert rules and dashboard, which name metrics through that module; the reference pages
 * docs/reference/api.md (from the CRDs) and docs/reference/cli.md (from wfx's usage text).
 * `--check` regenerates in memory and fails when a committed file differs.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import standaloneModule from 'ajv/dist/standalone/index.js';
import { stringify } from 'yaml';
import { format, resolveConfig } from 'prettier';
import {
  inlineSecretPolicy,
  inlineSecretPolicyBinding,
  specPolicy,
  specPolicyBinding,
} from '../src/api/schema/admission.ts';
import { EXECUTOR_RBAC_FILES, executorRbacOutputs, permissionsDoc } from '../src/api/executor-rbac.ts';
import type { Schema } from '../src/api/schema/builders.ts';
import {
  alertRouteCrd,
  kubernetesExecutionCrd,
  workflowExecutionCrd,
  workflowTemplateCrd,
} from '../src/api/schema/crds.ts';
import * as ar from '../src/api/schema/alertroute.ts';
import * as ke from '../src/api/schema/kubernetesexecution.ts';
import * as we from '../src/api/schema/workflowexecution.ts';
import * as ws from '../src/api/schema/workflowexecution-status.ts';
import * as wt from '../src/api/schema/workflowtemplate.ts';
import * as ref from '../src/api/schema/template-ref.ts';
import {
  METRICS_DOC_FILE,
  METRICS_MODULE_FILE,
  METRIC_CATALOGUE_FILE,
  metricsDoc,
  metricsModule,
  readCatalogue,
} from '../src/monitoring/metric-catalogue.ts';
import { EXECUTOR_USAGE, OPERATOR_USAGE, USAGE } from '../src/cli/usage.ts';
import { driftedFiles, writeFiles, type GeneratedFile } from './generated-files.ts';
import { API_REFERENCE_FILE, apiReference } from './reference/api-reference.ts';
import { CLI_REFERENCE_FILE, cliReference } from './reference/cli-reference.ts';

// CommonJS module: its function is the default export of the default import under NodeNext.
const standaloneCode = standaloneModule.default;
const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Sub-schemas that become named interfaces; every other object is written inline. */
const NAMED: [string, Schema][] = [
  ['WorkflowExecutionSpec', we.workflowExecutionSpec],
  ['WorkflowExecutionStatus', ws.workflowExecutionStatus],
  ['WorkflowDefinition', we.workflowDefinition],
  ['WorkflowTemplateRef', ref.workflowTemplateRef],
  ['WorkflowStep', we.workflowStep],
  ['StepParameters', we.stepParameters],
  ['RollbackSpec', we.rollbackSpec],
  ['RollbackParameters', we.rollbackParameters],
  ['SafetyCheck', we.safetyCheck],
  ['AIRecommendations', we.aiRecommendations],
  ['StepExecutionResult', ws.stepExecutionResult],
  ['KubernetesExecutionSpec', ke.kubernetesExecutionSpec],
  ['KubernetesExecutionStatus', ke.kubernetesExecutionStatus],
  ['WorkflowTemplateSpec', wt.workflowTemplateSpec],
  ['WorkflowTemplateVersion', wt.templateVersion],
  ['TemplateParameter', wt.templateParameter],
  ['TemplateStep', wt.templateStep],
  ['AlertRouteSpec', ar.alertRouteSpec],
  ['AlertMatcher', ar.alertMatcher],
  ['RouteParameter', ar.routeParameter],
];
/** Copies of a named schema (its rules removed) that are typed as the named one. */
const ALIASES: [string, Schema][] = [['WorkflowDefinition', we.recordedWorkflowDefinition]];

function schemaOf(crd: Record<string, unknown>, part: 'spec' | 'status'): Schema;
function schemaOf(crd: Record<string, unknown>, part: 'spec' | 'status', required: false): Schema | undefined;
function schemaOf(
  crd: Record<string, unknown>,
  part: 'spec' | 'status',
  required = true,
): Schema | undefined {
  const versions = (crd['spec'] as { versions: { schema: { openAPIV3Schema: Schema } }[] }).versions;
  const schema = versions[0]?.schema.openAPIV3Schema.properties?.[part];
  if (!schema && required) throw new Error(`CRD has no ${part} schema`);
  return schema;
}

function tsType(schema: Schema, indent: string, top: Schema | undefined): string {
  const named = NAMED.find(([, s]) => s === schema) ?? ALIASES.find(([, s]) => s === schema);
  if (named && schema !== top) return named[0];
  if (schema['x-kubernetes-int-or-string']) return 'number | string';
  if (schema.enum) return schema.enum.map((v) => `'${v}'`).join(' | ');
  switch (schema.type) {
    case 'string':
      return 'string';
    case 'integer':
    case 'number':
      return 'number';
    case 'boolean':
      return 'boolean';
    case 'array':
      return `${wrap(tsType(schema.items ?? {}, indent, top))}[]`;
    case 'object': {
      if (schema['x-kubernetes-preserve-unknown-fields']) return 'Record<string, unknown>';
      if (schema.additionalProperties && typeof schema.additionalProperties === 'object') {
        return `Record<string, ${tsType(schema.additionalProperties, indent, top)}>`;
      }
      const inner = indent + '  ';
      const lines = Object.entries(schema.properties ?? {}).map(([key, prop]) => {
        const optional = schema.required?.includes(key) ? '' : '?';
        const doc = prop.description ? `${inner}/** ${prop.description.replaceAll('*/', '*\\/')} */\n` : '';
        return `${doc}${inner}${key}${optional}: ${tsType(prop, inner, top)};`;
      });
      return `{\n${lines.join('\n')}\n${indent}}`;
    }
    default:
      return 'unknown';
  }
}

const wrap = (t: string): string => (t.includes('|') ? `(${t})` : t);

/** A resource's own type: its apiVersion and kind as literals, metadata, spec and status. */
function resourceInterface(crd: Record<string, unknown>): string {
  const { group, names, versions } = crd['spec'] as {
    group: string;
    names: { kind: string };
    versions: { name: string }[];
  };
  const kind = names.kind;
  const status = schemaOf(crd, 'status', false) ? `\n  status?: ${kind}Status;` : '';
  return `export interface ${kind} {
  apiVersion: '${group}/${versions[0]?.name ?? 'v1'}';
  kind: '${kind}';
  metadata: ObjectMeta;
  spec: ${kind}Spec;${status}
}`;
}

function typesModule(): string {
  const header = `// Generated by scripts/generate-api.ts from src/api/schema. Do not edit: run \`npm run generate\`.\n`;
  const decls = NAMED.map(([name, schema]) => {
    const doc = schema.description ? `/** ${schema.description} */\n` : '';
    return `${doc}export interface ${name} ${tsType(schema, '', schema)}`;
  });
  // Hand-written (src/api/object-meta.ts): the resource types below use it, so it is re-exported.
  const meta = `import type { ObjectMeta } from '../object-meta.ts';\nexport type { ObjectMeta };`;
  return [
    header,
    meta,
    ...decls,
    ...[workflowExecutionCrd, kubernetesExecutionCrd, workflowTemplateCrd, alertRouteCrd].map(
      resourceInterface,
    ),
  ].join('\n\n');
}

function validatorsModule(): string {
  const ajv = new Ajv({
    code: { source: true, esm: true, lines: true },
    allErrors: true,
    strict: true,
    validateFormats: false,
    formats: { 'date-time': true },
  });
  ajv.addVocabulary([
    'x-kubernetes-validations',
    'x-kubernetes-list-type',
    'x-kubernetes-list-map-keys',
    'x-kubernetes-preserve-unknown-fields',
    'x-kubernetes-embedded-resource',
    'x-kubernetes-int-or-string',
  ]);
  // Structural schemas reject unknown fields only through pruning; ajv reports them instead, so a
  // typo in a manifest is named rather than silently dropped.
  const closed = (schema: Schema): Schema => {
    if (schema.type === 'object' && schema.properties && !schema['x-kubernetes-preserve-unknown-fields']) {
      return {
        ...schema,
        additionalProperties: false,
        properties: Object.fromEntries(Object.entries(schema.properties).map(([k, v]) => [k, closed(v)])),
      };
    }
    if (schema.type === 'array' && schema.items) return { ...schema, items: closed(schema.items) };
    if (schema.type === 'object' && typeof schema.additionalProperties === 'object') {
      return { ...schema, additionalProperties: closed(schema.additionalProperties) };
    }
    return schema;
  };
  ajv.addSchema(closed(schemaOf(workflowExecutionCrd, 'spec')), 'workflowExecutionSpec');
  ajv.addSchema(closed(schemaOf(kubernetesExecutionCrd, 'spec')), 'kubernetesExecutionSpec');
  ajv.addSchema(closed(schemaOf(kubernetesExecutionCrd, 'status')), 'kubernetesExecutionStatus');
  ajv.addSchema(closed(schemaOf(workflowTemplateCrd, 'spec')), 'workflowTemplateSpec');
  ajv.addSchema(closed(schemaOf(alertRouteCrd, 'spec')), 'alertRouteSpec');
  const code = standaloneCode(ajv, VALIDATORS);
  // ajv's runtime helpers have no package exports map, so ESM needs the file extension.
  const esm = code.replace(/require\("ajv\/dist\/runtime\/(\w+)"\)/g, (_match: string, name: string) => {
    return `__runtime_${name}`;
  });
  const runtimeImports = [...new Set([...code.matchAll(/ajv\/dist\/runtime\/(\w+)/g)].map((m) => m[1]))]
    .map(
      (name) =>
        `import __runtime_${name}_module from 'ajv/dist/runtime/${name}.js';\nconst __runtime_${name} = __runtime_${name}_module;`,
    )
    .join('\n');
  return `// @ts-nocheck\n/* eslint-disable */\n// Generated by scripts/generate-api.ts from src/api/schema. Do not edit: run \`npm run generate\`.\n${runtimeImports}\n${esm}`;
}

const VALIDATORS = {
  validateWorkflowExecutionSpec: 'workflowExecutionSpec',
  validateKubernetesExecutionSpec: 'kubernetesExecutionSpec',
  validateKubernetesExecutionStatus: 'kubernetesExecutionStatus',
  validateWorkflowTemplateSpec: 'workflowTemplateSpec',
  validateAlertRouteSpec: 'alertRouteSpec',
} as const;

const validatorsDts = `// Generated by scripts/generate-api.ts. Do not edit.
import type { ErrorObject } from 'ajv';
export interface GeneratedValidator {
  (data: unknown): boolean;
  errors?: ErrorObject[] | null;
}
${Object.keys(VALIDATORS)
  .map((name) => `export declare const ${name}: GeneratedValidator;\n`)
  .join('')}`;

async function main(): Promise<void> {
  const check = process.argv.includes('--check');
  const prettierConfig = (await resolveConfig(join(root, 'src/api/generated/types.ts'))) ?? {};
  const outputs: [string, string][] = [
    [
      'crds/workflowexecution.kubernaut.io_workflowexecutions.yaml',
      stringify(workflowExecutionCrd, { lineWidth: 0 }),
    ],
    [
      'crds/kubernetesexecution.kubernaut.io_kubernetesexecutions.yaml',
      stringify(kubernetesExecutionCrd, { lineWidth: 0 }),
    ],
    [
      'crds/workflowexecution.kubernaut.io_workflowtemplates.yaml',
      stringify(workflowTemplateCrd, { lineWidth: 0 }),
    ],
    ['crds/workflowexecution.kubernaut.io_alertroutes.yaml', stringify(alertRouteCrd, { lineWidth: 0 })],
    [
      'manifests/admission/workflowexecution-spec-policy.yaml',
      `# Generated by scripts/generate-api.ts from src/api/schema/admission.ts. Do not edit: run \`npm run generate\`.\n${[
        specPolicy,
        specPolicyBinding,
      ]
        .map((doc) => stringify(doc, { lineWidth: 0 }))
        .join('---\n')}`,
    ],
    [
      'manifests/overlays/refuse-inline-secret-values/policy.yaml',
      `# Generated by scripts/generate-api.ts from src/api/schema/admission.ts. Do not edit: run \`npm run generate\`.\n# Optional (kubectl apply -k manifests/overlays/refuse-inline-secret-values): refuses update-secret values inline in a WorkflowExecution (secretRef only).\n${[
        inlineSecretPolicy,
        inlineSecretPolicyBinding,
      ]
        .map((doc) => stringify(doc, { lineWidth: 0 }))
        .join('---\n')}`,
    ],
    ...executorRbacOutputs(),
    ['src/api/generated/types.ts', await format(typesModule(), { ...prettierConfig, parser: 'typescript' })],
    ['src/api/generated/validators.js', validatorsModule()],
    ['src/api/generated/validators.d.ts', validatorsDts],
    [API_REFERENCE_FILE, apiReference([workflowExecutionCrd, kubernetesExecutionCrd])],
    [CLI_REFERENCE_FILE, cliReference(USAGE, OPERATOR_USAGE, EXECUTOR_USAGE)],
  ];
  const catalogue = readCatalogue(readFileSync(join(root, METRIC_CATALOGUE_FILE), 'utf8'));
  const metricOutputs: [string, string][] = [
    [
      METRICS_MODULE_FILE,
      await format(metricsModule(catalogue), { ...prettierConfig, parser: 'typescript' }),
    ],
    [METRICS_DOC_FILE, await format(metricsDoc(catalogue), { ...prettierConfig, parser: 'markdown' })],
  ];
  metricOutputs.push([
    EXECUTOR_RBAC_FILES.doc,
    await format(permissionsDoc(), { ...prettierConfig, parser: 'markdown' }),
  ]);
  const drifted = writeOrCheck(metricOutputs, check);
  // Loaded now, so that the rules and the dashboard see the metrics module just written.
  const { monitoringOutputs } = await import('../src/monitoring/outputs.ts');
  outputs.push(...(await monitoringOutputs((text, parser) => format(text, { ...prettierConfig, parser }))));
  drifted.push(...writeOrCheck(outputs, check));
  if (drifted.length > 0) {
    console.error(
      `Generated files differ from their sources; run \`npm run generate\`:\n  ${drifted.join('\n  ')}`,
    );
    process.exit(1);
  }
  if (check) console.log('generated API files are up to date');
}

/** Writes the outputs, or with `check` returns those whose committed file differs. */
function writeOrCheck(outputs: readonly GeneratedFile[], check: boolean): string[] {
  if (check) return driftedFiles(outputs, root);
  writeFiles(outputs, root);
  return [];
}

await main();
