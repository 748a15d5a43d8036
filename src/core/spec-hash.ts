/**
 * A deterministic hash of a spec: FNV-1a 64 over its canonical JSON (object keys sorted,
 * undefined members dropped). Pure TypeScript; the core does not use node:crypto.
 */

/** JSON with object keys sorted at every level, so equal values give equal text. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    return value === undefined || typeof value === 'function' || typeof value === 'symbol'
      ? 'null'
      : JSON.stringify(value);
  }
  if (Array.isArray(value))
    return `[${value.map((v: unknown) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

const UTF8 = new TextEncoder();
const hex4 = (limb: number): string => limb.toString(16).padStart(4, '0');

/**
 * FNV-1a 64 of a string's UTF-8 bytes, as 16 hex digits. The 64-bit state is kept in four 16-bit
 * limbs, so each multiplication is exact in doubles (a BigInt per byte cost ~40x more): the prime is
 * 2^40 + 0x1b3, so h * prime = h * 0x1b3 + (h << 40) mod 2^64.
 */
export function fnv1a64(text: string): string {
  // The offset basis 0xcbf29ce484222325, low limb first.
  let h0 = 0x2325;
  let h1 = 0x8422;
  let h2 = 0x9ce4;
  let h3 = 0xcbf2;
  for (const byte of UTF8.encode(text)) {
    h0 ^= byte;
    const t0 = h0 * 0x1b3;
    const t1 = h1 * 0x1b3 + (t0 >>> 16);
    const t2 = h2 * 0x1b3 + (h0 << 8) + (t1 >>> 16);
    const t3 = h3 * 0x1b3 + (h1 << 8) + (t2 >>> 16);
    h0 = t0 & 0xffff;
    h1 = t1 & 0xffff;
    h2 = t2 & 0xffff;
    h3 = t3 & 0xffff;
  }
  return hex4(h3) + hex4(h2) + hex4(h1) + hex4(h0);
}

export const specHash = (spec: unknown): string => fnv1a64(canonicalJson(spec));
