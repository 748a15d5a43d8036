/**
 * Planning and validation: leaving planning on the first observation, the validation deadline, the
 * safety checks' verdict, the dry runs, the approval and admission (the target locks taken, no
 * storm limit reached), the last gate before executing.
 */
import { safetyVerdict } from '../context.ts';
import { expired, now, type Guard, type Update } from './scope.ts';

/** The operator has looked at the workflow (any event with a time): planning is over. */
const observed: Guard = (_, { event }) => typeof (event as { now?: unknown }).now === 'number';

const planningExpired: Guard = ({ plan }, { context, event }) =>
  expired(context.times.planning, plan.timeouts.planningMs, event);

const validationExpired: Guard = ({ plan }, { context, event }) =>
  expired(context.times.validating, plan.timeouts.validationMs, event);

const safetyFailed: Guard = (_, { event }) =>
  event.type === 'SAFETY_RESULT' && safetyVerdict(event.results) === 'failed';

const safetyPassed: Guard = (_, { event }) =>
  event.type === 'SAFETY_RESULT' && safetyVerdict(event.results) === 'passed';

/** A dry run of a planned step not reported before. */
const dryRunNew: Guard = ({ hasStep }, { context, event }) =>
  event.type === 'DRYRUN_RESULT' && hasStep(event.step) && context.dryRun[String(event.step)] === undefined;

const dryRunFailed: Guard = (scope, args) =>
  dryRunNew(scope, args, undefined) && args.event.type === 'DRYRUN_RESULT' && args.event.outcome === 'failed';

/** The run's locks are taken and no storm limit holds it back: it may execute. */
const admitted: Guard = (_, { event }) => event.type === 'ADMISSION_RESULT' && event.verdict.admitted;

/** Admitted while a requested rollback waited (its trigger recorded when it was asked for). */
const admittedToRollBack: Guard = (scope, args) =>
  admitted(scope, args, undefined) && args.context.rollbackTrigger === 'requested';

/** Another run holds a target's lock, or a storm limit is reached: the run waits. */
const admissionBlocked: Guard = (_, { event }) =>
  event.type === 'ADMISSION_RESULT' && !event.verdict.admitted;

/** Validation's deadline passed while the run waited for admission: it fails naming what held it. */
const blockedExpired: Guard = (scope, args) =>
  args.context.admission !== null && validationExpired(scope, args, undefined);

const allDryRunsSucceeded: Guard = ({ plan }, { context }) =>
  plan.steps.every((s) => context.dryRun[String(s.number)]?.outcome === 'succeeded');

export const validationGuards = {
  observed,
  planningExpired,
  validationExpired,
  safetyFailed,
  safetyPassed,
  dryRunFailed,
  dryRunNew,
  allDryRunsSucceeded,
  admitted,
  admittedToRollBack,
  admissionBlocked,
  blockedExpired,
};

const enterValidating: Update = (_, { context, event }) => ({
  times: { ...context.times, validating: now(event) },
});

const recordSafety: Update = (_, { event }) =>
  event.type === 'SAFETY_RESULT'
    ? { safety: event.results.map((r) => ({ ...r, checkedAt: event.now })) }
    : {};

const recordDryRun: Update = (_, { context, event }) =>
  event.type === 'DRYRUN_RESULT'
    ? {
        dryRun: {
          ...context.dryRun,
          [String(event.step)]: { outcome: event.outcome, message: event.message ?? null, at: event.now },
        },
      }
    : {};

const approve: Update = (_, { event }) =>
  event.type === 'APPROVED' ? { approval: { by: event.by, at: event.now } } : {};

/**
 * Why the run waits: the block, since the first one of this wait (a block that changes keeps the
 * wait's start, so the context, and the status, change only when the block does).
 */
const recordBlock: Update = (_, { context, event }) =>
  event.type === 'ADMISSION_RESULT' && !event.verdict.admitted
    ? { admission: { block: event.verdict.block, since: context.admission?.since ?? event.now } }
    : {};

const admit: Update = () => ({ admission: null });

export const validationActions = {
  enterValidating,
  recordSafety,
  recordDryRun,
  approve,
  recordBlock,
  admit,
};
