/** Narrowing of parsed JSON or YAML, for every reader of untrusted documents. */

/** A JSON object: not null, not an array. */
export const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
