/** Monitoring: the effectiveness check's findings, until its deadline. */
import { expired, now, type Guard, type Update } from './scope.ts';

const newAlerts: Guard = (_, { event }) =>
  event.type === 'EFFECTIVENESS_RESULT' && event.newAlertsTriggered === true;

const effective: Guard = (_, { event }) => event.type === 'EFFECTIVENESS_RESULT' && event.effective;

const monitoringExpired: Guard = ({ plan }, { context, event }) =>
  expired(context.times.monitoring, plan.timeouts.monitoringMs, event);

export const monitoringGuards = { newAlerts, effective, monitoringExpired };

const enterMonitoring: Update = (_, { context, event }) => ({
  times: { ...context.times, monitoring: now(event) },
});

const recordEffectiveness: Update = (_, { event }) =>
  event.type === 'EFFECTIVENESS_RESULT'
    ? {
        effectiveness: {
          effective: event.effective,
          score: event.score,
          resourceHealth: event.resourceHealth,
          newAlertsTriggered: event.newAlertsTriggered,
          at: event.now,
        },
      }
    : {};

export const monitoringActions = { enterMonitoring, recordEffectiveness };
