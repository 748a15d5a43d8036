/**
 * Planning and validation: leaving planning on the first observation, the validation deadline, the
 * safety checks' verdict, the dry runs and the approval.
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

export const validationActions = { enterValidating, recordSafety, recordDryRun, approve };
