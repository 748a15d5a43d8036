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
  'x-kubernetes-map-type'?: 'atomic' | 'granular';
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-embedded-resource'?: boolean;
  'x-kubernetes-int-or-string'?: boolean;
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
export const DURATION_PATTERN = '^([0-9]+([.][0-9]+)?(ms|s|m|h))+$';
export const duration = (description: string): Schema => str(32, description, { pattern: DURATION_PATTERN });

/**
 * The longest timeout a spec may ask for: 30 days. Longer than Node's 24.8-day timer limit on
 * purpose (the shell chains timers), short enough that every deadline stays a valid date.
 */
export const MAX_SPEC_DURATION = '720h';

/**
 * CEL: the duration string `value` is at most MAX_SPEC_DURATION. CEL's duration() fails on values
 * past int64 nanoseconds (~2.56 million hours), so the magnitudes are bounded first: at most 5
 * integer digits of hours and 7 of any smaller unit (in 32 characters, no sum of those overflows);
 * anything larger is past 720h anyway. `&&` short-circuits errors in CEL, so the refusal stays a
 * plain "must be at most" at the field's path.
 */
export const durationAtMost = (value: string): string =>
  `${value}.matches('^((0*[0-9]{1,5}([.][0-9]+)?h)|(0*[0-9]{1,7}([.][0-9]+)?(ms|s|m)))+$') && duration(${value}) <= duration('${MAX_SPEC_DURATION}')`;
export const durationAtMostMessage = `must be at most ${MAX_SPEC_DURATION}`;

/** A spec duration: the pattern, and at most MAX_SPEC_DURATION (the planner checks the same bound). */
export const specDuration = (description: string): Schema =>
  str(32, description, {
    pattern: DURATION_PATTERN,
    'x-kubernetes-validations': [
      {
        rule: durationAtMost('self'),
        message: durationAtMostMessage,
        reason: 'FieldValueInvalid',
      },
    ],
  });

/** RFC 1123 DNS subdomain (most object names) and label (namespaces). */
export const dnsSubdomain = (description: string): Schema =>
  str(253, description, { pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$' });
export const dnsLabel = (description: string): Schema =>
  str(63, description, { pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' });

/**
 * A deep copy of `schema` with every x-kubernetes-validations rule removed, and how many there were.
 * A node shared by several parents stays shared in the copy (the generated YAML keeps its aliases).
 */
export function withoutValidations(schema: Schema): { schema: Schema; removed: number } {
  let removed = 0;
  const copies = new Map<Schema, Schema>();
  const strip = (node: Schema): Schema => {
    const known = copies.get(node);
    if (known) return known;
    const copy: Record<string, unknown> = {};
    copies.set(node, copy);
    for (const [key, value] of Object.entries(node) as [keyof Schema, unknown][]) {
      if (key === 'x-kubernetes-validations') removed += (value as CelRule[]).length;
      else if (key === 'properties')
        copy[key] = Object.fromEntries(
          Object.entries(value as Record<string, Schema>).map(([name, child]) => [name, strip(child)]),
        );
      else if ((key === 'items' || key === 'additionalProperties') && typeof value === 'object')
        copy[key] = strip(value as Schema);
      else copy[key] = value;
    }
    return copy;
  };
  return { schema: strip(schema), removed };
}
