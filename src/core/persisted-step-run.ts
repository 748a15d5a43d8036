/**
 * A step run as the persisted snapshot stores it: one short string instead of an object of eight
 * members, so the snapshot costs ~20 bytes per step (issue 13; docs/status-bytes.md). Times are
 * whole milliseconds after the planning time; what is usually null is written only when set.
 *
 *   P                       pending, no attempt yet
 *   S1@29570+405            succeeded, attempt 1, started at +29570, took 405 ms
 *   K=31000|{"m":"..."}     skipped (never started), settled at +31000, with its message
 *   B2@100+50>10150         in backoff after attempt 2, which started at +100 and failed 50 ms
 *                           later; the next attempt may start at +10150
 *   S1@0+5^D@900+20         succeeded, then rolled back (D), starting at +900, taking 20 ms
 *
 * After `|`, JSON with the free text and data: `m` the message, `r` the result, `rm` the rollback's
 * message. Decoding accepts only the canonical form (what encoding writes), so a string changed by
 * hand is refused rather than read into something else.
 */
import type { StepExecutionResult } from '../api/generated/types.ts';
import type { RollbackStatus, StepRollback, StepRun, StepStatus } from '../../machines/context.ts';
import { isRecord } from '../api/json.ts';

const STATUS_LETTER: Readonly<Record<StepStatus, string>> = {
  pending: 'P',
  running: 'R',
  backoff: 'B',
  succeeded: 'S',
  failed: 'F',
  skipped: 'K',
};
const ROLLBACK_LETTER: Readonly<Record<RollbackStatus, string>> = {
  running: 'R',
  rolledBack: 'D',
  failed: 'F',
};

const inverse = <T extends string>(letters: Readonly<Record<T, string>>): ReadonlyMap<string, T> =>
  new Map(Object.entries(letters).map(([status, letter]) => [letter as string, status as T]));
const STATUS_OF = inverse(STATUS_LETTER);
const ROLLBACK_STATUS_OF = inverse(ROLLBACK_LETTER);

interface Extras {
  m?: string;
  r?: StepExecutionResult;
  rm?: string;
}

/** `origin` is the planning time the offsets are counted from. */
export function encodeStepRun(run: StepRun, origin: number): string {
  const at = (t: number) => String(t - origin);
  let text = STATUS_LETTER[run.status] + (run.attempt > 0 ? String(run.attempt) : '');
  if (run.startedAt !== null) {
    text += `@${at(run.startedAt)}`;
    if (run.finishedAt !== null) text += `+${String(run.finishedAt - run.startedAt)}`;
  } else if (run.finishedAt !== null) text += `=${at(run.finishedAt)}`;
  if (run.retryAt !== null) text += `>${at(run.retryAt)}`;
  const rb = run.rollback;
  if (rb) {
    text += `^${ROLLBACK_LETTER[rb.status]}@${at(rb.startedAt)}`;
    if (rb.finishedAt !== null) text += `+${String(rb.finishedAt - rb.startedAt)}`;
  }
  const extras: Extras = {
    ...(run.message !== null ? { m: run.message } : {}),
    ...(run.result !== null ? { r: run.result } : {}),
    ...(rb?.message != null ? { rm: rb.message } : {}),
  };
  return Object.keys(extras).length > 0 ? `${text}|${JSON.stringify(extras)}` : text;
}

export type DecodedStepRun = { ok: true; run: StepRun } | { ok: false; problem: string };

const T = '(-?\\d+)';
const SHAPE = new RegExp(
  `^([A-Z])(\\d*)(?:@${T})?(?:\\+(\\d+))?(?:=${T})?(?:>${T})?(?:\\^([A-Z])@${T}(?:\\+(\\d+))?)?$`,
);

function extrasOf(json: string | undefined): Extras | string {
  if (json === undefined) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return 'its text after "|" is not JSON';
  }
  if (!isRecord(parsed)) return 'its text after "|" is not a JSON object';
  const unknownKey = Object.keys(parsed).find((k) => k !== 'm' && k !== 'r' && k !== 'rm');
  if (unknownKey !== undefined)
    return `its text after "|" has an unknown member ${JSON.stringify(unknownKey)}`;
  const { m, r, rm } = parsed;
  if (m !== undefined && typeof m !== 'string') return 'its message (m) is not a string';
  if (rm !== undefined && typeof rm !== 'string') return 'its rollback message (rm) is not a string';
  if (r !== undefined && !isRecord(r)) return 'its result (r) is not an object';
  return {
    ...(m !== undefined ? { m } : {}),
    ...(r !== undefined ? { r } : {}),
    ...(rm !== undefined ? { rm } : {}),
  };
}

/** The run a string written by `encodeStepRun` with the same `origin` stands for, or what is wrong. */
export function decodeStepRun(text: string, origin: number): DecodedStepRun {
  const refuse = (problem: string): DecodedStepRun => ({ ok: false, problem });
  const bar = text.indexOf('|');
  const head = bar < 0 ? text : text.slice(0, bar);
  const match = SHAPE.exec(head);
  if (!match)
    return refuse('it is not "<status letter><attempt>[@start[+duration]][=settled][>retry][^...]"');
  const [, letter = '', attempt, start, duration, settled, retry, rbLetter, rbStart, rbDuration] = match;
  const status = STATUS_OF.get(letter);
  if (!status)
    return refuse(`${JSON.stringify(letter)} is no step status (${[...STATUS_OF.keys()].join('')})`);
  const extras = extrasOf(bar < 0 ? undefined : text.slice(bar + 1));
  if (typeof extras === 'string') return refuse(extras);
  const at = (offset: string | undefined) => (offset === undefined ? null : origin + Number(offset));
  const startedAt = at(start);
  let rollback: StepRollback | null = null;
  if (rbLetter !== undefined) {
    const rbStatus = ROLLBACK_STATUS_OF.get(rbLetter);
    if (!rbStatus)
      return refuse(
        `${JSON.stringify(rbLetter)} is no rollback status (${[...ROLLBACK_STATUS_OF.keys()].join('')})`,
      );
    const rbStartedAt = origin + Number(rbStart);
    rollback = {
      status: rbStatus,
      startedAt: rbStartedAt,
      finishedAt: rbDuration === undefined ? null : rbStartedAt + Number(rbDuration),
      message: extras.rm ?? null,
    };
  }
  const run: StepRun = {
    status,
    attempt: attempt === undefined || attempt === '' ? 0 : Number(attempt),
    startedAt,
    finishedAt: startedAt !== null && duration !== undefined ? startedAt + Number(duration) : at(settled),
    retryAt: at(retry),
    message: extras.m ?? null,
    result: extras.r ?? null,
    rollback,
  };
  const canonical = encodeStepRun(run, origin);
  return canonical === text
    ? { ok: true, run }
    : refuse(`it is not written as its run would be (${JSON.stringify(canonical)})`);
}
