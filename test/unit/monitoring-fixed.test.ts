// Monitoring for "fixed" (issue 19) in the statechart: the stability window, the alert the run
// remediates, and a run with nothing verifiable. Time comes from the events, as everywhere.
import { describe, expect, it } from '@jest/globals';
import type { EffectivenessObservation } from '../../machines/events.ts';
import { monitoringVerdict } from '../../src/core/monitoring-verdict.ts';
import { projectStatus } from '../../src/core/status.ts';
import { sequentialSpec, specWith, step } from '../fixtures/specs.ts';
import { HEALTHY, T0, world } from '../model/workflow-world.ts';

const S = 1000;
const MINUTE = 60 * S;
const WINDOW: EffectivenessObservation = { ...HEALTHY, stabilityWindowMs: 60 * S };
const UNHEALTHY: EffectivenessObservation = {
  ...WINDOW,
  effective: false,
  score: 0,
  resourceHealth: 'unhealthy',
};
const withAlert = (alert: EffectivenessObservation['alert']): EffectivenessObservation => ({
  ...WINDOW,
  alert,
  alertmanager: alert === 'unknown' ? 'unreachable' : 'answered',
});

/** A one-step run that reached monitoring at T0 + 1 s (its deadline ten minutes later). */
const monitoring = (spec = sequentialSpec(1)) =>
  world(spec)
    .tick(T0)
    .succeed(1, T0 + S);

const conditions = (w: ReturnType<typeof monitoring>) =>
  new Map(
    (projectStatus(w.snapshot, w.plan, { generation: 1, previousConditions: [] }).conditions ?? []).map(
      (c) => [c.type, c],
    ),
  );

describe('the stability window', () => {
  it('completes only once the run stayed fixed for the whole window', () => {
    const w = monitoring().observe(T0 + 2 * S, WINDOW);
    expect(w.phase).toBe('monitoring');
    expect(w.snapshot.context.effectiveness?.stableSince).toBe(T0 + 2 * S);
    w.observe(T0 + 30 * S, WINDOW);
    expect(w.phase).toBe('monitoring');
    expect(w.snapshot.context.effectiveness?.stableSince).toBe(T0 + 2 * S);
    w.observe(T0 + 62 * S, WINDOW);
    expect(w.phase).toBe('completed');
    expect(w.snapshot.context.outcome).toBe('success');
    expect(monitoringVerdict(w.snapshot.context)).toBe('Effective');
  });

  it('restarts when a check finds a target unhealthy', () => {
    const w = monitoring()
      .observe(T0 + 2 * S, WINDOW)
      .observe(T0 + 40 * S, UNHEALTHY);
    expect(w.snapshot.context.effectiveness?.stableSince).toBeNull();
    w.observe(T0 + 50 * S, WINDOW).observe(T0 + 70 * S, WINDOW);
    // 62 s after the first healthy check, but only 20 s after the restart.
    expect(w.phase).toBe('monitoring');
    expect(w.snapshot.context.effectiveness?.stableSince).toBe(T0 + 50 * S);
    w.observe(T0 + 110 * S, WINDOW);
    expect(w.phase).toBe('completed');
  });

  it('with a window of 0 completes on the first check that finds the run fixed', () => {
    const w = monitoring().observe(T0 + 2 * S, HEALTHY);
    expect(w.phase).toBe('completed');
  });

  it('not seen through by the deadline: completed unknown, NotStable', () => {
    const w = monitoring()
      .observe(T0 + 9 * MINUTE + 30 * S, WINDOW)
      .tick(T0 + 10 * MINUTE + S);
    expect(w.phase).toBe('completed');
    expect(w.snapshot.context.outcome).toBe('unknown');
    expect(monitoringVerdict(w.snapshot.context)).toBe('NotStable');
    expect(conditions(w).get('Ready')?.reason).toBe('NotStable');
  });
});

describe('the alert the run remediates', () => {
  it('still firing: never completes, and fails AlertStillFiring at the deadline', () => {
    const w = monitoring().observe(T0 + 2 * S, withAlert('firing'));
    w.observe(T0 + 5 * MINUTE, withAlert('firing'));
    expect(w.phase).toBe('monitoring');
    expect(w.snapshot.context.effectiveness?.stableSince).toBeNull();
    expect(conditions(w).get('AlertResolved')).toMatchObject({ status: 'False', reason: 'AlertStillFiring' });
    w.tick(T0 + 10 * MINUTE + S);
    expect(w.phase).toBe('failed');
    expect(w.snapshot.context.failure?.code).toBe('AlertStillFiring');
    expect(w.snapshot.context.outcome).toBe('ineffective');
    expect(monitoringVerdict(w.snapshot.context)).toBe('AlertStillFiring');
  });

  it('resolved: the window starts then, and the run completes once it is seen through', () => {
    const w = monitoring()
      .observe(T0 + 2 * S, withAlert('firing'))
      .observe(T0 + 20 * S, withAlert('resolved'));
    expect(w.snapshot.context.effectiveness?.stableSince).toBe(T0 + 20 * S);
    expect(conditions(w).get('AlertResolved')).toMatchObject({ status: 'True', reason: 'Resolved' });
    w.observe(T0 + 80 * S, withAlert('resolved'));
    expect(w.phase).toBe('completed');
    expect(w.snapshot.context.outcome).toBe('success');
  });

  it('firing again restarts the window', () => {
    const w = monitoring()
      .observe(T0 + 2 * S, withAlert('resolved'))
      .observe(T0 + 30 * S, withAlert('firing'))
      .observe(T0 + 63 * S, withAlert('resolved'));
    expect(w.phase).toBe('monitoring');
    expect(w.snapshot.context.effectiveness?.stableSince).toBe(T0 + 63 * S);
  });

  it('not known (Alertmanager unreachable): never a pass; unknown at the deadline, with the reason', () => {
    const w = monitoring().observe(T0 + 2 * S, withAlert('unknown'));
    expect(conditions(w).get('AlertResolved')).toMatchObject({
      status: 'Unknown',
      reason: 'AlertmanagerUnreachable',
    });
    expect(conditions(w).get('AlertmanagerReachable')).toMatchObject({
      status: 'False',
      reason: 'Unreachable',
    });
    w.observe(T0 + 5 * MINUTE, withAlert('unknown')).tick(T0 + 10 * MINUTE + S);
    expect(w.phase).toBe('completed');
    expect(w.snapshot.context.outcome).toBe('unknown');
    expect(monitoringVerdict(w.snapshot.context)).toBe('AlertmanagerUnreachable');
  });

  it('not known because no Alertmanager is configured: its targets judged, unknown once stable for the window, no deadline waited for', () => {
    const unconfigured = { ...WINDOW, alert: 'unknown' as const, alertmanager: 'notConfigured' as const };
    const w = monitoring(specWith([step(1)])).observe(T0 + 2 * S, unconfigured);
    expect(w.phase).toBe('monitoring');
    w.observe(T0 + 2 * S + WINDOW.stabilityWindowMs, unconfigured);
    expect(w.phase).toBe('completed');
    expect(w.snapshot.context.outcome).toBe('unknown');
    expect(monitoringVerdict(w.snapshot.context)).toBe('AlertmanagerNotConfigured');
    expect(conditions(w).get('Ready')).toMatchObject({ reason: 'AlertmanagerNotConfigured' });
    expect(conditions(w).get('AlertResolved')).toMatchObject({
      status: 'Unknown',
      reason: 'AlertmanagerNotConfigured',
    });
  });

  it('nothing to judge and its alert uncheckable for want of an Alertmanager: completes unknown at once', () => {
    const w = monitoring().observe(T0 + 2 * S, {
      ...WINDOW,
      score: null,
      resourceHealth: 'unknown',
      alert: 'unknown',
      alertmanager: 'notConfigured',
    });
    expect(w.phase).toBe('completed');
    expect(w.snapshot.context.outcome).toBe('unknown');
    expect(monitoringVerdict(w.snapshot.context)).toBe('AlertmanagerNotConfigured');
  });

  it('not known because no Alertmanager is configured, and a target unhealthy: still waits, unknown at the deadline', () => {
    const w = monitoring(specWith([step(1)]))
      .observe(T0 + 2 * S, { ...WINDOW, effective: false, alert: 'unknown', alertmanager: 'notConfigured' })
      .observe(T0 + 5 * MINUTE, {
        ...WINDOW,
        effective: false,
        alert: 'unknown',
        alertmanager: 'notConfigured',
      });
    expect(w.phase).toBe('monitoring');
    w.tick(T0 + 10 * MINUTE + S);
    expect(w.snapshot.context.outcome).toBe('unknown');
  });
});

describe('a run with nothing verifiable', () => {
  it('completes unknown at once, with no score', () => {
    const w = monitoring().observe(T0 + 2 * S, {
      ...WINDOW,
      score: null,
      resourceHealth: 'unknown',
    });
    expect(w.phase).toBe('completed');
    expect(w.snapshot.context.outcome).toBe('unknown');
    expect(monitoringVerdict(w.snapshot.context)).toBe('NoVerifiableTarget');
    const status = projectStatus(w.snapshot, w.plan, { generation: 1, previousConditions: [] });
    expect(status.workflowResult).toMatchObject({ outcome: 'unknown', resourceHealth: 'unknown' });
    expect(status.workflowResult?.effectivenessScore).toBeUndefined();
    expect(conditions(w).get('Ready')?.reason).toBe('NoVerifiableTarget');
  });

  it('is verified by its alert alone when it names one: resolved for the window, success without a score', () => {
    const w = monitoring()
      .observe(T0 + 2 * S, { ...withAlert('resolved'), score: null, resourceHealth: 'unknown' })
      .observe(T0 + 70 * S, { ...withAlert('resolved'), score: null, resourceHealth: 'unknown' });
    expect(w.phase).toBe('completed');
    expect(w.snapshot.context.outcome).toBe('success');
  });
});
