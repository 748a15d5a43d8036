/**
 * The persisted statechart across versions: a snapshot written by the previous machine version
 * migrates and runs on; and the current machine's shape is the one recorded for its version, so a
 * change of states, transitions or context without a version bump (and a migration) fails here.
 */
import { describe, expect, it } from '@jest/globals';
import type { AnyStateNode } from 'xstate';
import { MACHINE_VERSION, type WorkflowSnapshot } from '../../machines/workflow.ts';
import type { WorkflowContext } from '../../machines/context.ts';
import { canonicalJson, fnv1a64 } from '../../src/core/spec-hash.ts';
import { advance, persist, rehydrate } from '../../src/core/statechart.ts';
import { customStep, diamondSpec, sequentialSpec, specWith, step } from '../fixtures/specs.ts';
import { HEALTHY, T0, legacyEnvelope, world, type World } from '../model/workflow-world.ts';

/**
 * The fingerprint of each machine version's shape. When the test below fails because the machine
 * changed: bump MACHINE_VERSION, add the migration from the previous version in
 * src/core/statechart.ts, test it here, and record the new fingerprint under the new version.
 */
const FINGERPRINTS: Record<number, string> = {
  2: '67919673995bdcf5',
  3: '6126441937ca5ca9',
  // Re-recorded, not bumped, twice: when the planner gave reversible steps without a rollbackSpec their
  // catalogue inverse (more rollback states in the sample plans), and when every sample plan came to
  // hold the four safety checks (DESIGN 12). The machine of a given plan is unchanged and a version-4
  // snapshot is still a valid state of it (states were only added).
  4: '198c3b0f66bbd2d5',
  // Admission (target locks, storm limits) as validation's last state, `admission` in the context.
  5: '015bdc60028b2acb',
  // Stop requests (issue 19): the context's `stops`, STEP_STOPPED, and the waits for an answer.
  // Re-recorded, not bumped, when a retry and a requested rollback came to wait in admission (the
  // target locks) before executing or rolling back: the same states and context, so a version-6
  // snapshot is still a valid state of the machine.
  6: '04b67d3a04d3ed3f',
  // Monitoring for "fixed" (issue 19): the stability window, the alert resolved, Alertmanager's
  // reachability in the context, a run with nothing verifiable, AlertStillFiring.
  7: 'd00329357d5748e9',
};

const S = 1000;
const rollbackSpec = {
  action: 'scale-to-previous' as const,
  parameters: { scaleToPrevious: { namespace: 'shop', deployment: 'web', previousReplicas: 2 } },
};
const rollbackable = (strategy: 'automatic' | 'manual' | 'none') =>
  specWith(
    [
      step(1, { rollbackSpec }),
      step(2, { dependsOn: [1], criticalStep: true, maxRetries: 1 }),
      step(3, { dependsOn: [1], rollbackSpec }),
    ],
    { rollbackStrategy: strategy },
  );

type Named = string | { type: string } | ((...args: never[]) => unknown) | undefined;
const nameOf = (x: Named): string | undefined =>
  x === undefined ? undefined : typeof x === 'string' ? x : typeof x === 'function' ? 'inline' : x.type;

function stateShape(node: AnyStateNode): unknown {
  const transition = (t: {
    guard?: unknown;
    target?: readonly AnyStateNode[] | undefined;
    actions: readonly unknown[];
  }) => ({
    guard: nameOf(t.guard as Named),
    target: t.target?.map((n) => n.id) ?? [],
    actions: t.actions.map((a) => nameOf(a as Named)),
  });
  return {
    id: node.id,
    type: node.type,
    entry: node.entry.map((a) => nameOf(a as Named)),
    on: [...node.transitions.entries()].map(([event, list]) => [event, list.map(transition)]),
    always: (node.always ?? []).map(transition),
    states: Object.values(node.states).map(stateShape),
  };
}

/** Every key path of a context, step numbers folded to `*`, with the type found there. */
function contextShape(value: unknown, path = '', out = new Set<string>()): Set<string> {
  if (value === null || typeof value !== 'object') {
    out.add(`${path}:${value === null ? 'null' : typeof value}`);
    return out;
  }
  if (Array.isArray(value)) {
    out.add(`${path}:array`);
    value.forEach((v) => contextShape(v, `${path}[]`, out));
    return out;
  }
  out.add(`${path}:object`);
  for (const [key, v] of Object.entries(value))
    contextShape(v, `${path}.${/^\d+$/.test(key) ? '*' : key}`, out);
  return out;
}

/** Worlds that reach every part of the context: checks, dry runs, approval, retries, rollbacks. */
function sampleWorlds(): World[] {
  const validated = world(
    specWith([step(1)], {
      safetyChecks: [{ type: 'rbac', required: true }],
      dryRunFirst: true,
      approvalRequired: true,
    }),
  )
    .tick(T0)
    .send({
      type: 'SAFETY_RESULT',
      now: T0 + S,
      results: [{ type: 'rbac', required: true, result: 'passed', message: 'ok' }],
    })
    .send({ type: 'DRYRUN_RESULT', now: T0 + 2 * S, step: 1, outcome: 'succeeded' })
    .send({ type: 'APPROVED', now: T0 + 3 * S, by: 'alice' })
    .succeed(1, T0 + 4 * S)
    .send({
      type: 'EFFECTIVENESS_RESULT',
      now: T0 + 5 * S,
      ...HEALTHY,
    });
  const rolledBack = world(rollbackable('automatic'))
    .tick(T0)
    .succeed(1, T0 + S)
    .failStep(2, T0 + 2 * S)
    .succeed(3, T0 + 3 * S);
  rolledBack.tick(T0 + 20 * S).failStep(2, T0 + 21 * S);
  const retried = world(rollbackable('none'))
    .tick(T0)
    .succeed(1, T0 + S)
    .failStep(2, T0 + 2 * S)
    .tick(T0 + 20 * S)
    .failStep(2, T0 + 21 * S)
    .succeed(3, T0 + 21 * S)
    .send({ type: 'RETRY_REQUESTED', now: T0 + 30 * S, by: 'frank', request: 'r1' })
    .send({ type: 'RETRY_REQUESTED', now: T0 + 31 * S, by: 'grace', request: 'r2' });
  const blocked = world(sequentialSpec(1), T0, { admission: 'manual' })
    .tick(T0)
    .send({
      type: 'ADMISSION_RESULT',
      now: T0 + S,
      verdict: {
        admitted: false,
        block: { reason: 'TargetBusy', target: 'Deployment shop/web', holder: 'shop/first/uid-1' },
      },
    });
  return [
    validated,
    blocked,
    rolledBack,
    stopsAsked(),
    adjustedAtRunTime(),
    world(sequentialSpec(3)),
    world(diamondSpec()).tick(T0),
    world(rollbackable('manual')),
    retried,
  ];
}

/** Step 1 timed out and stopped, its retry timed out and is awaited; step 2 waits for it. */
function stopsAsked(): World {
  return world(specWith([step(1, { maxRetries: 1 }), step(2)]))
    .tick(T0)
    .tick(T0 + 5 * 60 * S)
    .send({ type: 'STEP_STOPPED', now: T0 + 5 * 60 * S + S, step: 1, attempt: 1 })
    .tick(T0 + 5 * 60 * S + 10 * S)
    .tick(T0 + 11 * 60 * S);
}

/**
 * With dynamicStepAdjustment: step 1 fails once and is fixed by its retry, so step 3 (the same
 * action) starts with raised retries; step 2 (independent, the same action) fails, so step 3 is
 * also flagged.
 */
function adjustedAtRunTime(): World {
  const flaky = (n: number, dependsOn: number[], maxRetries = 0) =>
    customStep(n, { dependsOn, maxRetries, parameters: { custom: { actionType: 'flaky' } } });
  return world(
    specWith(
      [flaky(1, [], 1), flaky(2, []), flaky(3, [1])],
      {},
      {
        adaptiveOrchestration: { dynamicStepAdjustment: true },
      },
    ),
  )
    .tick(T0)
    .failStep(1, T0 + S)
    .failStep(2, T0 + S)
    .tick(T0 + 11 * S)
    .succeed(1, T0 + 12 * S);
}

function fingerprint(): string {
  const worlds = sampleWorlds();
  const machines = worlds.map((w) => stateShape(w.machine.root));
  const contexts = [...new Set(worlds.flatMap((w) => [...contextShape(w.snapshot.context)]))].sort();
  // The persisted layout too: how the context is written into the status is part of the version.
  const persisted = [
    ...new Set(worlds.flatMap((w) => [...contextShape(persist(w.snapshot, 'h').snapshot)])),
  ].sort();
  return fnv1a64(canonicalJson({ machines, contexts, persisted }));
}

describe('the machine version', () => {
  it('matches the shape recorded for it: a changed machine or context needs a new version', () => {
    expect({ version: MACHINE_VERSION, fingerprint: fingerprint() }).toEqual({
      version: MACHINE_VERSION,
      fingerprint: FINGERPRINTS[MACHINE_VERSION],
    });
  });

  it('has a fingerprint that sees the states, the transitions and the context', () => {
    const plain = world(sequentialSpec(2));
    const retrying = world(specWith([step(1, { maxRetries: 1 }), step(2)]));
    expect(canonicalJson(stateShape(plain.machine.root))).not.toBe(
      canonicalJson(stateShape(retrying.machine.root)),
    );
    expect([...contextShape(plain.snapshot.context)]).toContain('.rollbackTrigger:null');
    expect([...contextShape(sampleWorlds()[2]!.snapshot.context)]).toContain(
      '.steps.*.rollback.status:string',
    );
    expect([...contextShape(adjustedAtRunTime().snapshot.context)]).toEqual(
      expect.arrayContaining(['.adjustments[].to:number', '.adjustments[].to:null']),
    );
  });
});

/** Steps 1 and 3 succeeded, critical step 2 failed its attempt and its retry. */
const criticalStepFailedTwice = (strategy: 'automatic' | 'manual' | 'none') =>
  world(rollbackable(strategy))
    .tick(T0)
    .succeed(1, T0 + S)
    .succeed(3, T0 + S)
    .failStep(2, T0 + 2 * S)
    .tick(T0 + 20 * S)
    .failStep(2, T0 + 21 * S);

/** The snapshot as machine version 1 persisted it: no rollbackTrigger. */
function asVersion1(snapshot: WorkflowSnapshot, hash: string) {
  const envelope = legacyEnvelope(snapshot, hash, 1);
  const { rollbackTrigger: _dropped, ...context } = envelope.snapshot['context'] as WorkflowContext;
  return { ...envelope, snapshot: { ...envelope.snapshot, context } };
}

describe('a snapshot persisted by machine version 1', () => {
  it.each<[string, WorkflowContext['rollbackTrigger'], () => World]>([
    [
      'rolling back after a critical failure',
      'criticalStepFailed',
      () => criticalStepFailedTwice('automatic'),
    ],
    [
      'rolling back after a cancellation',
      'cancelled',
      () =>
        world(rollbackable('automatic'))
          .tick(T0)
          .succeed(1, T0 + S)
          .send({ type: 'CANCEL_REQUESTED', now: T0 + 2 * S, by: 'erin' })
          .succeed(2, T0 + 3 * S)
          .succeed(3, T0 + 3 * S),
    ],
    [
      'rolling back on request',
      'requested',
      () =>
        criticalStepFailedTwice('manual').send({ type: 'ROLLBACK_REQUESTED', now: T0 + 22 * S, by: 'dave' }),
    ],
    [
      'executing, before any rollback',
      null,
      () =>
        world(rollbackable('automatic'))
          .tick(T0)
          .succeed(1, T0 + S),
    ],
  ])('%s migrates with rollbackTrigger %s and runs on like the current machine', (_what, trigger, run) => {
    const w = run();
    const hash = 'h';
    const restored = rehydrate(asVersion1(w.snapshot, hash), { machine: w.machine, hash, plan: w.plan });
    if (!restored.ok) throw new Error(restored.message);
    expect(restored.migratedFrom).toBe(1);
    expect(restored.snapshot.context.rollbackTrigger).toBe(trigger);
    // A version 1 run asked no attempt to stop (version 6 does, on cancel): the rest is the same.
    const current = { ...w.snapshot, context: { ...w.snapshot.context, stops: [] } } as WorkflowSnapshot;
    expect(restored.snapshot.context).toStrictEqual(current.context);
    const next = {
      type: 'ROLLBACK_RESULT' as const,
      now: T0 + 30 * S,
      step: 3,
      outcome: 'succeeded' as const,
    };
    expect(persist(advance(w.machine, restored.snapshot, [next]), hash)).toEqual(
      persist(advance(w.machine, current, [next]), hash),
    );
  });

  it('is refused, with the reason, when no migration from it exists', () => {
    const w = world(sequentialSpec(1)).tick(T0);
    const result = rehydrate(
      asVersion1(w.snapshot, 'h'),
      { machine: w.machine, hash: 'h', plan: w.plan },
      0,
      {},
    );
    expect(result).toMatchObject({ ok: false, reason: 'UnsupportedMachineVersion' });
  });
});

/** The snapshot as machine version 2 persisted it: no run-time adjustments, no retries. */
function asVersion2(snapshot: WorkflowSnapshot, hash: string) {
  const envelope = legacyEnvelope(snapshot, hash, 2);
  const {
    adjustments: _adjustments,
    retries: _retries,
    retryRefusal: _refusal,
    ...context
  } = envelope.snapshot['context'] as WorkflowContext;
  return { ...envelope, snapshot: { ...envelope.snapshot, context } };
}

describe('a snapshot persisted by machine version 2', () => {
  it('migrates with no run-time adjustments and runs on like the current machine', () => {
    const w = world(rollbackable('automatic'))
      .tick(T0)
      .succeed(1, T0 + S);
    const hash = 'h';
    const restored = rehydrate(asVersion2(w.snapshot, hash), { machine: w.machine, hash, plan: w.plan });
    if (!restored.ok) throw new Error(restored.message);
    expect(restored.migratedFrom).toBe(2);
    expect(restored.snapshot.context.adjustments).toEqual([]);
    expect(restored.snapshot.context).toStrictEqual(w.snapshot.context);
    const next = {
      type: 'STEP_RESULT' as const,
      now: T0 + 2 * S,
      step: 2,
      attempt: 1,
      outcome: 'failed' as const,
    };
    expect(persist(advance(w.machine, restored.snapshot, [next]), hash)).toEqual(
      persist(advance(w.machine, w.snapshot, [next]), hash),
    );
  });

  it('migrates with no retries and can then be retried like a current one', () => {
    const w = criticalStepFailedTwice('none');
    expect(w.phase).toBe('failed');
    const hash = 'h';
    const restored = rehydrate(asVersion2(w.snapshot, hash), { machine: w.machine, hash, plan: w.plan });
    if (!restored.ok) throw new Error(restored.message);
    expect(restored.migratedFrom).toBe(2);
    expect(restored.snapshot.context).toStrictEqual(w.snapshot.context);
    expect(restored.snapshot.context.retries).toEqual([]);
    const retry = { type: 'RETRY_REQUESTED' as const, now: T0 + 30 * S, by: 'frank', request: 'r1' };
    // A retry waits for admission (the target locks) like a fresh run; admitted at once here.
    const admittedNow = {
      type: 'ADMISSION_RESULT' as const,
      now: T0 + 30 * S,
      verdict: { admitted: true as const },
    };
    const after = advance(w.machine, restored.snapshot, [retry, admittedNow]);
    expect(after.context.steps['2']).toMatchObject({ status: 'running', attempt: 3 });
    expect(persist(after, hash)).toEqual(persist(advance(w.machine, w.snapshot, [retry, admittedNow]), hash));
  });
});

describe('a snapshot persisted by machine version 5 (no stop requests)', () => {
  const worlds: [string, () => World][] = [
    [
      'executing, a step retrying',
      () =>
        world(specWith([step(1, { maxRetries: 1 }), step(2)]))
          .tick(T0)
          .failStep(1, T0 + S),
    ],
    ['rolling back after a critical failure', () => criticalStepFailedTwice('automatic')],
    ['planning', () => world(sequentialSpec(3))],
  ];
  it.each(worlds)('%s migrates with no stop asked and runs on like the current machine', (_what, run) => {
    const w = run();
    const envelope = persist(w.snapshot, 'h');
    const { stops: _none, ...context } = envelope.snapshot['context'] as Record<string, unknown>;
    const v5 = { ...envelope, machineVersion: 5, snapshot: { ...envelope.snapshot, context } };
    const restored = rehydrate(JSON.parse(JSON.stringify(v5)) as typeof envelope, {
      machine: w.machine,
      hash: 'h',
      plan: w.plan,
    });
    if (!restored.ok) throw new Error(restored.message);
    expect(restored.migratedFrom).toBe(5);
    expect(restored.snapshot.context.stops).toEqual([]);
    expect(restored.snapshot.context).toStrictEqual(w.snapshot.context);
    const next = { type: 'TICK' as const, now: T0 + 60 * S };
    expect(persist(advance(w.machine, restored.snapshot, [next]), 'h')).toEqual(
      persist(advance(w.machine, w.snapshot, [next]), 'h'),
    );
  });
});

describe('a snapshot persisted by machine version 6 (monitoring before "fixed")', () => {
  /** The envelope as version 6 wrote it: no `alertmanager`, an effectiveness record without the new fields. */
  function asVersion6(w: World) {
    const envelope = persist(w.snapshot, 'h');
    const { alertmanager: _dropped, ...context } = envelope.snapshot['context'] as Record<string, unknown>;
    const e = context['effectiveness'] as Record<string, unknown> | null;
    if (e) {
      const { alert: _a, alertmanager: _am, stabilityWindowMs: _w, stableSince: _s, ...rest } = e;
      context['effectiveness'] = rest;
    }
    return JSON.parse(
      JSON.stringify({ ...envelope, machineVersion: 6, snapshot: { ...envelope.snapshot, context } }),
    ) as typeof envelope;
  }
  const unhealthy = {
    ...HEALTHY,
    effective: false,
    score: 0.5,
    resourceHealth: 'degraded' as const,
    newAlertsTriggered: null,
    stabilityWindowMs: 60 * S,
  };
  it('monitoring, a check recorded: migrates with no alert named and the window not started', () => {
    const w = world(sequentialSpec(1))
      .tick(T0)
      .succeed(1, T0 + S)
      .observe(T0 + 2 * S, unhealthy);
    expect(w.phase).toBe('monitoring');
    const restored = rehydrate(asVersion6(w), { machine: w.machine, hash: 'h', plan: w.plan });
    if (!restored.ok) throw new Error(restored.message);
    expect(restored.migratedFrom).toBe(6);
    expect(restored.snapshot.context.alertmanager).toBeNull();
    expect(restored.snapshot.context.effectiveness).toEqual({
      ...w.snapshot.context.effectiveness,
      alert: null,
      alertmanager: 'notConfigured',
      stabilityWindowMs: 0,
      stableSince: null,
    });
    // It runs on as a current run: fixed now, then fixed through the window.
    const fixed = { type: 'EFFECTIVENESS_RESULT' as const, ...HEALTHY, stabilityWindowMs: 60 * S };
    const after = advance(w.machine, restored.snapshot, [
      { ...fixed, now: T0 + 3 * S },
      { ...fixed, now: T0 + 63 * S },
    ]);
    expect(after.value).toBe('completed');
    expect(after.context.outcome).toBe('success');
  });

  it('executing: migrates to the same snapshot', () => {
    const w = world(sequentialSpec(2))
      .tick(T0)
      .succeed(1, T0 + S);
    const restored = rehydrate(asVersion6(w), { machine: w.machine, hash: 'h', plan: w.plan });
    if (!restored.ok) throw new Error(restored.message);
    expect(restored.snapshot.context).toStrictEqual(w.snapshot.context);
  });
});

describe('a snapshot persisted by machine version 3 (step runs as objects, step regions in the value)', () => {
  const worlds: [string, () => World][] = [
    [
      'executing, a step retrying',
      () =>
        world(specWith([step(1, { maxRetries: 1 }), step(2)]))
          .tick(T0)
          .failStep(1, T0 + S),
    ],
    ['rolling back after a critical failure', () => criticalStepFailedTwice('automatic')],
    ['validated, executed and monitored', () => sampleWorlds()[0]!],
    ['planning', () => world(sequentialSpec(3))],
    ['with run-time adjustments', adjustedAtRunTime],
  ];
  it.each(worlds)('%s migrates to the same snapshot and runs on like the current machine', (_what, run) => {
    const w = run();
    const restored = rehydrate(legacyEnvelope(w.snapshot, 'h', 3), {
      machine: w.machine,
      hash: 'h',
      plan: w.plan,
    });
    if (!restored.ok) throw new Error(restored.message);
    expect(restored.migratedFrom).toBe(3);
    expect(restored.snapshot.value).toEqual(w.snapshot.value);
    expect(restored.snapshot.context).toStrictEqual(w.snapshot.context);
    const next = { type: 'TICK' as const, now: T0 + 60 * S };
    expect(persist(advance(w.machine, restored.snapshot, [next]), 'h')).toEqual(
      persist(advance(w.machine, w.snapshot, [next]), 'h'),
    );
  });

  it('is refused, naming the step, when a step region disagrees with its run', () => {
    const w = world(sequentialSpec(2))
      .tick(T0)
      .succeed(1, T0 + S);
    const envelope = legacyEnvelope(w.snapshot, 'h', 3);
    const value = envelope.snapshot['value'] as { executing: Record<string, string> };
    value.executing['step1'] = 'running';
    const result = rehydrate(envelope, { machine: w.machine, hash: 'h', plan: w.plan });
    expect(result).toMatchObject({ ok: false, reason: 'UnsupportedMachineVersion' });
    expect(!result.ok && result.message).toContain('step 1');
  });
});

describe('a snapshot persisted by machine version 4 (no admission)', () => {
  /** The envelope as version 4 wrote it: the current persisted form without `admission`. */
  function asVersion4(w: World) {
    const envelope = persist(w.snapshot, 'h');
    const { admission: _dropped, ...context } = envelope.snapshot['context'] as Record<string, unknown>;
    return { ...envelope, machineVersion: 4, snapshot: { ...envelope.snapshot, context } };
  }
  const worlds: [string, () => World][] = [
    ['planning', () => world(sequentialSpec(2))],
    ['waiting for approval', () => world(specWith([step(1)], { approvalRequired: true })).tick(T0)],
    [
      'executing, a step retrying',
      () =>
        world(specWith([step(1, { maxRetries: 1 }), step(2)]))
          .tick(T0)
          .failStep(1, T0 + S),
    ],
    ['rolling back after a critical failure', () => criticalStepFailedTwice('automatic')],
  ];
  it.each(worlds)('%s migrates, never blocked, and runs on like the current machine', (_what, run) => {
    const w = run();
    const restored = rehydrate(asVersion4(w), { machine: w.machine, hash: 'h', plan: w.plan });
    if (!restored.ok) throw new Error(restored.message);
    expect(restored.migratedFrom).toBe(4);
    expect(restored.snapshot.context.admission).toBeNull();
    expect(restored.snapshot.context).toStrictEqual(w.snapshot.context);
    const next = { type: 'TICK' as const, now: T0 + 60 * S };
    expect(persist(advance(w.machine, restored.snapshot, [next]), 'h')).toEqual(
      persist(advance(w.machine, w.snapshot, [next]), 'h'),
    );
  });

  it('approved after the upgrade, it passes admission before executing', () => {
    const w = world(specWith([step(1)], { approvalRequired: true }), T0, { admission: 'manual' }).tick(T0);
    const restored = rehydrate(asVersion4(w), { machine: w.machine, hash: 'h', plan: w.plan });
    if (!restored.ok) throw new Error(restored.message);
    const approved = advance(w.machine, restored.snapshot, [{ type: 'APPROVED', now: T0 + S, by: 'alice' }]);
    expect(approved.value).toEqual({ validating: 'admission' });
  });
});
