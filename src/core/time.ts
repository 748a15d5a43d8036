/** Epoch milliseconds to RFC 3339 text without the clock (the core never touches `Date`). */

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/** Civil date from days since 1970-01-01 (Howard Hinnant's algorithm). */
function civil(days: number): { year: number; month: number; day: number } {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return { year: yoe + era * 400 + (month <= 2 ? 1 : 0), month, day };
}

/** RFC 3339 has four-digit years: 0000-01-01T00:00:00.000Z to 9999-12-31T23:59:59.999Z. */
const EARLIEST_MS = -62_167_219_200_000;
const LATEST_MS = 253_402_300_799_999;

/**
 * `2025-01-02T03:04:05.678Z`, exactly like `new Date(ms).toISOString()` within RFC 3339's years;
 * outside them (a deadline millennia away, where `new Date` gives Invalid Date past 8.64e15 ms)
 * the nearest representable instant, so a status time is always a valid date-time.
 */
export function isoOf(instant: number): string {
  const ms = Number.isNaN(instant) ? 0 : Math.min(LATEST_MS, Math.max(EARLIEST_MS, instant));
  const days = Math.floor(ms / 86_400_000);
  const rest = ms - days * 86_400_000;
  const { year, month, day } = civil(days);
  const h = Math.floor(rest / 3_600_000);
  const m = Math.floor((rest % 3_600_000) / 60_000);
  const s = Math.floor((rest % 60_000) / 1000);
  const milli = Math.floor(rest % 1000);
  return `${pad(year, 4)}-${pad(month)}-${pad(day)}T${pad(h)}:${pad(m)}:${pad(s)}.${pad(milli, 3)}Z`;
}

/** `12:05:00Z`: the time of day, for one-line messages. */
export const clockOf = (ms: number): string => `${isoOf(ms).slice(11, 19)}Z`;

const ISO = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3})\d*)?Z$/;

/** The instant of a UTC RFC 3339 time as isoOf writes it (`...Z`), or undefined for anything else. */
export function msOfIso(text: string): number | undefined {
  const match = ISO.exec(text);
  if (!match) return undefined;
  const [year, month, day, h, m, s] = match.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (month < 1 || month > 12 || day < 1 || day > 31 || h > 23 || m > 59 || s > 59) return undefined;
  // Days from civil (Howard Hinnant), the inverse of civil().
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const days = era * 146_097 + yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy - 719_468;
  const milli = Number((match[7] ?? '0').padEnd(3, '0'));
  return days * 86_400_000 + h * 3_600_000 + m * 60_000 + s * 1000 + milli;
}
