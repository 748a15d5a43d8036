/**
 * Small builders for structural OpenAPI v3 schemas. Every string, list and map built here has a bound,
 * because the apiserver costs CEL rules by the largest possible size (DESIGN 5).
 */

export interface CelRule {
  rule: string;
  message?: string;
  messageExpression?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
  fieldPath?: string;
}

export interface Schema {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  description?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  additionalProperties?: Schema | boolean;
  enum?: readonly string[];
  format?: string;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
  minProperties?: number;
  maxProperties?: number;
  default?: unknown;
  nullable?: boolean;
  oneOf?: Schema[];
  'x-kubernetes-validations'?: CelRule[];
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-embedded-resource'?: boolean;
}

type Extra = Partial<Schema>;

export const str = (maxLength: number, description: string, extra: Extra = {}): Schema => ({
  type: 'string',
  description,
  maxLength,
  ...extra,
});

export const enumOf = (values: readonly string[], description: string, extra: Extra = {}): Schema => ({
  type: 'string',
  description,
  enum: values,
  ...extra,
});

export const int = (minimum: number, maximum: number, description: string, extra: Extra = {}): Schema => ({
  type: 'integer',
  description,
  minimum,
  maximum,
  ...extra,
});

export const num = (minimum: number, maximum: number, description: string): Schema => ({
  type: 'number',
  description,
  minimum,
  maximum,
});

export const bool = (description: string, extra: Extra = {}): Schema => ({
  type: 'boolean',
  description,
  ...extra,
});

export const time = (description: string): Schema => ({ type: 'string', format: 'date-time', description });

export const list = (items: Schema, maxItems: number, description: string, extra: Extra = {}): Schema => ({
  type: 'array',
  description,
  items,
  maxItems,
  ...extra,
});

/** A string-to-string map: the only maps the specification allows (DESIGN 5). */
export const stringMap = (maxProperties: number, valueMaxLength: number, description: string): Schema => ({
  type: 'object',
  description,
  maxProperties,
  additionalProperties: { type: 'string', maxLength: valueMaxLength },
});

export const obj = (
  description: string,
  properties: Record<string, Schema>,
  required: string[] = [],
  extra: Extra = {},
): Schema => ({
  type: 'object',
  description,
  properties,
  ...(required.length > 0 ? { required } : {}),
  ...extra,
});

/** Kubernetes durations as the specification writes them: "30s", "5m", "1h30m". */
export const DURATION_PATTERN = '^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$';
export const duration = (description: string): Schema => str(32, description, { pattern: DURATION_PATTERN });

/**
 * The longest timeout a spec may ask for: 30 days. Longer than Node's 24.8-day timer limit on
 * purpose (the shell chains timers), short enough that every deadline stays a valid date.
 */
export const MAX_SPEC_DURATION = '720h';

/** A spec duration: the pattern, and at most MAX_SPEC_DURATION (the planner checks the same bound). */
export const specDuration = (description: string): Schema =>
  str(32, description, {
    pattern: DURATION_PATTERN,
    'x-kubernetes-validations': [
      {
        rule: `duration(self) <= duration('${MAX_SPEC_DURATION}')`,
        message: `must be at most ${MAX_SPEC_DURATION}`,
        reason: 'FieldValueInvalid',
      },
    ],
  });

/** RFC 1123 DNS subdomain (most object names) and label (namespaces). */
export const dnsSubdomain = (description: string): Schema =>
  str(253, description, { pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$' });
export const dnsLabel = (description: string): Schema =>
  str(63, description, { pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' });
