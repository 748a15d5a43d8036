import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { planWorkflow } from '../../src/core/plan.ts';
import { specWith, step } from '../fixtures/specs.ts';

/** A random DAG: each step may depend only on lower-numbered steps. */
const dagArb = fc
  .integer({ min: 1, max: 40 })
  .chain((count) =>
    fc.tuple(
      ...Array.from({ length: count }, (_, i) =>
        fc
          .uniqueArray(fc.integer({ min: 1, max: Math.max(1, i) }), { maxLength: Math.min(i, 5) })
          .map((deps) => (i === 0 ? [] : deps)),
      ),
    ),
  );

describe('planner properties', () => {
  it('gives levels that respect every dependency, for any DAG', () => {
    fc.assert(
      fc.property(dagArb, (deps) => {
        const spec = specWith(deps.map((d, i) => step(i + 1, { dependsOn: d })));
        const result = planWorkflow(spec);
        if (!result.ok) return false;
        const levelOf = new Map(result.plan.levels.flatMap((l, i) => l.map((n) => [n, i] as const)));
        expect(levelOf.size).toBe(deps.length);
        deps.forEach((d, i) => {
          d.forEach((dep) => {
            expect(levelOf.get(dep)!).toBeLessThan(levelOf.get(i + 1)!);
          });
        });
        // Every step sits as early as its dependencies allow.
        deps.forEach((d, i) => {
          expect(levelOf.get(i + 1)).toBe(
            d.length === 0 ? 0 : Math.max(...d.map((x) => levelOf.get(x)!)) + 1,
          );
        });
        expect(result.plan.rollbackOrder).toEqual(result.plan.levels.flat().reverse());
        return true;
      }),
      { numRuns: 200 },
    );
  });

  it('rejects any graph with a cycle and names a real cycle', () => {
    fc.assert(
      fc.property(dagArb, fc.nat(), fc.nat(), (deps, a, b) => {
        const n = deps.length;
        if (n < 2) return true;
        // Close a cycle: a lower step now also waits for a higher step that (transitively) waits for it,
        // by adding the chain hi -> lo and lo -> hi.
        const lo = (a % (n - 1)) + 1;
        const hi = lo + 1 + (b % (n - lo));
        const withCycle = deps.map((d) => [...d]);
        withCycle[lo - 1] = [...new Set([...(withCycle[lo - 1] ?? []), hi])];
        withCycle[hi - 1] = [...new Set([...(withCycle[hi - 1] ?? []), lo])];
        const result = planWorkflow(specWith(withCycle.map((d, i) => step(i + 1, { dependsOn: d }))));
        if (result.ok) return false;
        const cycleIssue = result.issues.find((i) => i.reason === 'DependencyCycle');
        expect(cycleIssue).toBeDefined();
        const named = [...cycleIssue!.message.matchAll(/(\d+) \(step-\d+\)/g)].map((m) => Number(m[1]));
        expect(named[0]).toBe(named[named.length - 1]);
        // Each named step really waits for the one named after it.
        for (let i = 0; i + 1 < named.length; i++) expect(withCycle[named[i]! - 1]).toContain(named[i + 1]);
        return true;
      }),
      { numRuns: 200 },
    );
  });
});
