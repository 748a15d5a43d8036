import { describe, expect, it } from '@jest/globals';
import {
  alertConcerns,
  isReferencedAlert,
  newAlertsOn,
  referencedAlertFiring,
  selectorLabels,
  type ActiveAlert,
  type TouchedObject,
} from '../../src/core/alert-match.ts';

const T = Date.parse('2026-12-08T03:00:00Z');
const alert = (labels: Record<string, string>, overrides: Partial<ActiveAlert> = {}): ActiveAlert => ({
  fingerprint: 'aa11',
  labels,
  startsAt: new Date(T + 60_000).toISOString(),
  ...overrides,
});
const web: TouchedObject = { namespace: 'shop', names: { deployment: ['web'] }, labels: { app: 'web' } };
const node: TouchedObject = {
  namespace: '',
  names: { node: ['worker-1'], instance: ['worker-1'] },
  labels: {},
};

describe('the alert a run remediates', () => {
  it('is found by fingerprint when the reference has one, else by all its labels', () => {
    const a = alert(
      { alertname: 'HighMemory', namespace: 'shop', deployment: 'web' },
      { fingerprint: 'c0ffee' },
    );
    expect(isReferencedAlert({ fingerprint: 'c0ffee', labels: { alertname: 'Other' } }, a)).toBe(true);
    expect(isReferencedAlert({ fingerprint: 'beef', labels: { alertname: 'HighMemory' } }, a)).toBe(false);
    expect(isReferencedAlert({ labels: { alertname: 'HighMemory', namespace: 'shop' } }, a)).toBe(true);
    expect(isReferencedAlert({ labels: { alertname: 'HighMemory', namespace: 'other' } }, a)).toBe(false);
  });

  it('fires while it is among the active alerts', () => {
    const ref = { labels: { alertname: 'HighMemory' } };
    expect(referencedAlertFiring(ref, [alert({ alertname: 'HighMemory' })])).toBe(true);
    expect(referencedAlertFiring(ref, [alert({ alertname: 'DiskFull' })])).toBe(false);
    expect(referencedAlertFiring(ref, [])).toBe(false);
  });
});

describe('an alert concerns a touched object', () => {
  it.each<[string, Record<string, string>, TouchedObject, boolean]>([
    ['naming the Deployment', { namespace: 'shop', deployment: 'web' }, web, true],
    ['carrying its labels', { namespace: 'shop', app: 'web', alertname: 'Latency' }, web, true],
    ['another Deployment of the namespace', { namespace: 'shop', deployment: 'api' }, web, false],
    ['another app of the namespace', { namespace: 'shop', app: 'api' }, web, false],
    ['the namespace only', { namespace: 'shop', alertname: 'QuotaNearlyFull' }, web, false],
    ['the same name in another namespace', { namespace: 'other', deployment: 'web' }, web, false],
    ['no namespace at all', { deployment: 'web' }, web, false],
    ['its node by the node label', { node: 'worker-1' }, node, true],
    ['its node by instance host:port', { instance: 'worker-1:9100' }, node, true],
    ['another node', { node: 'worker-2', instance: 'worker-2:9100' }, node, false],
    ['a cluster-wide alert, for a node step', { alertname: 'APIServerDown' }, node, false],
  ])('%s: %s', (_what, labels, object, expected) => {
    expect(alertConcerns(alert(labels), object)).toBe(expected);
  });
});

describe('new alerts', () => {
  const ref = { fingerprint: 'f00d', labels: { alertname: 'HighMemory' } };
  it('are those that started after the run began and concern a touched object, the run’s own alert excepted', () => {
    const before = alert(
      { namespace: 'shop', deployment: 'web' },
      { startsAt: new Date(T - 1000).toISOString() },
    );
    const own = alert({ namespace: 'shop', deployment: 'web' }, { fingerprint: 'f00d' });
    const elsewhere = alert({ namespace: 'shop', deployment: 'api' }, { fingerprint: 'bb22' });
    const onWeb = alert(
      { namespace: 'shop', deployment: 'web', alertname: 'CrashLooping' },
      { fingerprint: 'cc33' },
    );
    expect(newAlertsOn([before, own, elsewhere, onWeb], T, [web], ref)).toEqual([onWeb]);
    expect(newAlertsOn([before, own, elsewhere], T, [web], ref)).toEqual([]);
  });
});

describe('selector labels', () => {
  it('are the equalities of a label selector', () => {
    expect(selectorLabels('app=web, tier==front,env!=prod,zone in (a,b)')).toEqual({
      app: 'web',
      tier: 'front',
    });
    expect(selectorLabels(undefined)).toEqual({});
  });
});
