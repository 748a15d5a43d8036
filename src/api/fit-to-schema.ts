/**
 * A value cut to the lengths its schema allows. The status carries messages built from what users
 * wrote (step names, parameters) and what the cluster answered; one over its field's maxLength (or
 * a list over maxItems) makes the apiserver refuse the whole status write, and the workflow would
 * never show why it stopped. So the projected status is fitted to the CRD's own schema before it
 * is written: a string over its bound ends in "…", a list keeps its first items. Pure; subtrees the
 * schema leaves free (the persisted snapshot) are not touched.
 */
import type { Schema } from './schema/builders.ts';

const ELLIPSIS = '…';

/** `text` within `max` characters (counted as the apiserver counts them, by code point, at most). */
export function fitText(text: string, max: number): string {
  // UTF-16 length >= code points, so a cut by UTF-16 units always fits; never split a surrogate pair.
  if (text.length <= max) return text;
  let cut = text.slice(0, Math.max(0, max - ELLIPSIS.length));
  const last = cut.charCodeAt(cut.length - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut = cut.slice(0, -1);
  return cut + ELLIPSIS;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** `value` with every string and list within its schema's bounds; the same object when it fits. */
export function fitToSchema<T>(value: T, schema: Schema): T {
  return fit(value, schema) as T;
}

function fit(value: unknown, schema: Schema): unknown {
  if (typeof value === 'string')
    return schema.maxLength !== undefined ? fitText(value, schema.maxLength) : value;
  if (Array.isArray(value)) {
    const kept = schema.maxItems !== undefined ? value.slice(0, schema.maxItems) : value;
    const { items } = schema;
    if (items === undefined) return kept;
    let changed = kept.length !== value.length;
    const fitted = kept.map((item) => {
      const f = fit(item, items);
      if (f !== item) changed = true;
      return f;
    });
    return changed ? fitted : value;
  }
  if (isObject(value)) {
    const { properties, additionalProperties } = schema;
    const free = typeof additionalProperties === 'object' ? additionalProperties : undefined;
    if (properties === undefined && free === undefined) return value;
    let out: Record<string, unknown> | undefined;
    for (const [key, field] of Object.entries(value)) {
      const fieldSchema = properties?.[key] ?? free;
      if (fieldSchema === undefined) continue;
      const f = fit(field, fieldSchema);
      if (f !== field) (out ??= { ...value })[key] = f;
    }
    return out ?? value;
  }
  return value;
}
