/**
 * The planner: a validated spec -> an execution plan (dependency graph, parallel groups, estimates,
 * rollback order, effective timeouts and retries), or every problem found, each with reason and path.
 * Pure and deterministic.
 */
import type { SpecIssue } from '../api/issues.ts';
import type { ResolvedSpec } from '../api/resolved-spec.ts';
import type {
  ExecutionPlan,
  ExecutionStrategyName,
  PlannedAdjustment,
  PlannedStep,
} from '../../machines/plan.ts';
import { MAX_SPEC_DURATION } from '../api/schema/builders.ts';
import { inferredRollback } from '../api/inferred-rollback.ts';
import { PHASE_TIMEOUT_BOUNDS, STABILITY_WINDOW_BOUNDS } from '../api/schema/workflowexecution.ts';
import { parseDuration } from './duration.ts';
import { historyTargetOf } from './history.ts';
import { checkPolicy } from './safety-policy.ts';
import { STEPS, indexSteps, numberedDependencies } from '../api/step-graph.ts';

/** The longest duration a spec may declare (the schema's 720h), in milliseconds. */
export const MAX_SPEC_DURATION_MS = parseDuration(MAX_SPEC_DURATION) ?? 0;

export const DEFAULTS = {
  stepTimeoutMs: 5 * 60_000,
  planningTimeoutMs: 30_000,
  validationTimeoutMs: 5 * 60_000,
  monitoringTimeoutMs: 10 * 60_000,
  /** The specification leaves `maxRetries` unset by default: a remediation is not repeated unasked. */
  maxRetries: 0,
  retryBackoffBaseMs: 10_000,
  retryBackoffMaxMs: 5 * 60_000,
  /** How long an attempt asked to stop has to acknowledge before the run goes on without it. */
  stopGraceMs: 30_000,
} as const;

export type PlanResult = { ok: true; plan: ExecutionPlan } | { ok: false; issues: SpecIssue[] };

const NAMED_DEPS = 'spec.workflowDefinition.dependencies';

interface Graph {
  /** step number -> its dependencies, as declared. */
  deps: Map<number, number[]>;
  issues: SpecIssue[];
  declared: boolean;
}

function namedDependencies(spec: ResolvedSpec, issues: SpecIssue[]) {
  const result = new Map<number, number[]>();
  const numberOf = new Map(spec.workflowDefinition.steps.map((s) => [s.name, s.stepNumber] as const));
  for (const [name, depNames] of Object.entries(spec.workflowDefinition.dependencies ?? {})) {
    const keyPath = `${NAMED_DEPS}[${JSON.stringify(name)}]`;
    const stepNumber = numberOf.get(name);
    if (stepNumber === undefined) {
      issues.push({
        reason: 'UnknownStep',
        path: keyPath,
        message: `no step is named ${JSON.stringify(name)}`,
      });
      continue;
    }
    const seen = new Set<number>();
    depNames.forEach((depName, depIndex) => {
      const path = `${keyPath}[${depIndex}]`;
      const dep = numberOf.get(depName);
      if (dep === undefined) {
        issues.push({
          reason: 'UnknownDependency',
          path,
          message: `no step is named ${JSON.stringify(depName)}`,
        });
      } else if (dep === stepNumber) {
        issues.push({
          reason: 'SelfDependency',
          path,
          message: `step ${JSON.stringify(name)} cannot depend on itself`,
        });
      } else if (seen.has(dep)) {
        issues.push({
          reason: 'DuplicateDependency',
          path,
          message: `${JSON.stringify(depName)} is listed twice`,
        });
      } else {
        seen.add(dep);
      }
    });
    result.set(stepNumber, [...seen]);
  }
  return result;
}

function buildGraph(spec: ResolvedSpec, byNumber: Map<number, number>, issues: SpecIssue[]): Graph {
  const steps = spec.workflowDefinition.steps;
  const numbered = numberedDependencies(spec, byNumber, issues);
  const named = namedDependencies(spec, issues);
  const deps = new Map<number, number[]>();
  const sameSet = (a: number[], b: number[]) => a.length === b.length && a.every((x) => b.includes(x));
  steps.forEach((step, index) => {
    const byNum = numbered.get(step.stepNumber);
    const byName = named.get(step.stepNumber);
    if (byNum && byName && !sameSet(byNum, byName)) {
      issues.push({
        reason: 'DependencyDisagreement',
        path: `${STEPS}[${index}].dependsOn`,
        message: `dependsOn [${[...byNum].sort((a, b) => a - b).join(', ')}] and dependencies[${JSON.stringify(step.name)}] (steps [${[...byName].sort((a, b) => a - b).join(', ')}]) disagree`,
      });
    }
    deps.set(
      step.stepNumber,
      [...new Set([...(byNum ?? []), ...(byName ?? [])])].sort((a, b) => a - b),
    );
  });
  return { deps, issues, declared: numbered.size > 0 || named.size > 0 };
}

/** Kahn's algorithm by levels; whatever is left over lies on or behind a cycle. */
function levelize(numbers: number[], deps: Map<number, number[]>): { levels: number[][]; rest: number[] } {
  const remaining = new Set(numbers);
  const done = new Set<number>();
  const levels: number[][] = [];
  for (;;) {
    const level = [...remaining]
      .filter((n) => (deps.get(n) ?? []).every((d) => done.has(d)))
      .sort((a, b) => a - b);
    if (level.length === 0) break;
    level.forEach((n) => {
      remaining.delete(n);
      done.add(n);
    });
    levels.push(level);
  }
  return { levels, rest: [...remaining].sort((a, b) => a - b) };
}

/** A cycle among the left-over steps, as step numbers, first repeated at the end. */
export function findCycle(rest: number[], deps: Map<number, number[]>): number[] {
  const inRest = new Set(rest);
  const start = rest[0];
  if (start === undefined) return [];
  // Every left-over step has a left-over dependency, so walking them must revisit a step.
  const path: number[] = [];
  const position = new Map<number, number>();
  let current = start;
  while (!position.has(current)) {
    position.set(current, path.length);
    path.push(current);
    const next = (deps.get(current) ?? []).find((d) => inRest.has(d));
    if (next === undefined) return [];
    current = next;
  }
  const cycle = path.slice(position.get(current));
  // Written in the direction a person reads "a waits for b": reverse the dependency walk.
  const ordered = cycle.reverse();
  const lowest = ordered.indexOf(Math.min(...ordered));
  const rotated = [...ordered.slice(lowest), ...ordered.slice(0, lowest)];
  return [...rotated, rotated[0] ?? start];
}

/** Without declared dependencies the steps run one after another, in step-number order. */
function implicitChain(numbers: number[]): Map<number, number[]> {
  const sorted = [...numbers].sort((a, b) => a - b);
  return new Map(sorted.map((n, i) => [n, i === 0 ? [] : [sorted[i - 1] ?? n]]));
}

function reachable(from: number, deps: Map<number, number[]>): Set<number> {
  const seen = new Set<number>();
  const stack = [...(deps.get(from) ?? [])];
  while (stack.length > 0) {
    const n = stack.pop();
    if (n === undefined || seen.has(n)) continue;
    seen.add(n);
    stack.push(...(deps.get(n) ?? []));
  }
  return seen;
}

/**
 * AI parallel-execution suggestions. In the implicit sequential chain, a group of consecutive steps
 * may run together; with declared dependencies the graph already runs everything it allows in
 * parallel, so a suggestion is only checked against it. Nothing that breaks a dependency is applied.
 */
function applyParallelSuggestions(
  spec: ResolvedSpec,
  deps: Map<number, number[]>,
  declared: boolean,
): { deps: Map<number, number[]>; adjustments: PlannedAdjustment[] } {
  const suggestions = spec.workflowDefinition.aiRecommendations?.parallelExecutionSuggestions ?? [];
  if (!spec.adaptiveOrchestration?.optimizationEnabled || suggestions.length === 0)
    return { deps, adjustments: [] };
  const adjustments: PlannedAdjustment[] = [];
  let current = new Map(deps);
  for (const group of suggestions) {
    const members = [...new Set(group.stepNumbers)].sort((a, b) => a - b);
    const label = group.groupName
      ? `group ${JSON.stringify(group.groupName)}`
      : `steps [${members.join(', ')}]`;
    const unknown = members.filter((n) => !current.has(n));
    if (unknown.length > 0) {
      adjustments.push({
        kind: 'ignored',
        adjustment: `ignored parallel suggestion ${label}`,
        reason: `steps [${unknown.join(', ')}] do not exist`,
      });
      continue;
    }
    if (declared) {
      const linked = members.find((a) => members.some((b) => b !== a && reachable(a, current).has(b)));
      adjustments.push(
        linked === undefined
          ? {
              kind: 'confirmed',
              adjustment: `confirmed parallel execution of ${label}`,
              reason: 'the declared dependencies already let these steps run together',
            }
          : {
              kind: 'ignored',
              adjustment: `ignored parallel suggestion ${label}`,
              reason: `step ${linked} depends on another step of the group`,
            },
      );
      continue;
    }
    const order = [...current.keys()].sort((a, b) => a - b);
    const first = order.indexOf(members[0] ?? -1);
    const consecutive = members.every((n, i) => order[first + i] === n);
    if (!consecutive || members.length < 2) {
      adjustments.push({
        kind: 'ignored',
        adjustment: `ignored parallel suggestion ${label}`,
        reason: 'only consecutive steps of a sequential workflow can be run together',
      });
      continue;
    }
    const before = current.get(members[0] ?? -1) ?? [];
    const next = order[first + members.length];
    const updated = new Map(current);
    members.forEach((n) => updated.set(n, [...before]));
    if (next !== undefined) updated.set(next, [...members]);
    current = updated;
    adjustments.push({
      kind: 'applied',
      adjustment: `steps [${members.join(', ')}] run in parallel`,
      reason: `AI suggestion ${label} (confidence ${group.confidence ?? 'unknown'}) and no dependency between them`,
    });
  }
  return { deps: current, adjustments };
}

function durationOr(text: string | undefined, fallback: number, path: string, issues: SpecIssue[]): number {
  if (text === undefined) return fallback;
  const ms = parseDuration(text);
  if (ms === undefined || ms <= 0) {
    issues.push({
      reason: 'InvalidDuration',
      path,
      message: `${JSON.stringify(text)} is not a positive duration such as "30s" or "5m"`,
    });
    return fallback;
  }
  if (ms > MAX_SPEC_DURATION_MS) {
    issues.push({
      reason: 'InvalidDuration',
      path,
      message: `${JSON.stringify(text)} is longer than the longest timeout allowed, ${MAX_SPEC_DURATION}`,
    });
    return fallback;
  }
  return ms;
}

/** A duration within [min, max] (schema strings), or an issue naming the path and the bounds. */
function boundedDuration(
  text: string | undefined,
  fallback: number,
  [min, max]: readonly [string, string],
  path: string,
  issues: SpecIssue[],
): number {
  if (text === undefined) return fallback;
  const ms = durationOr(text, fallback, path, issues);
  const lo = parseDuration(min) ?? 0;
  const hi = parseDuration(max) ?? MAX_SPEC_DURATION_MS;
  if (ms < lo || ms > hi) {
    issues.push({
      reason: 'InvalidDuration',
      path,
      message: `${JSON.stringify(text)} is outside ${min} to ${max}`,
    });
    return fallback;
  }
  return ms;
}

function strategyOf(levels: number[][]): ExecutionStrategyName {
  if (levels.every((l) => l.length === 1)) return 'sequential';
  if (levels.length === 1) return 'parallel';
  return 'sequential-with-parallel';
}

/** The longest chain of step durations through the dependency graph; steps in topological order. */
export function criticalPathMs(
  steps: readonly PlannedStep[],
  durationOf: (step: PlannedStep) => number,
): number {
  const finish = new Map<number, number>();
  for (const step of steps) {
    const start = Math.max(0, ...step.dependsOn.map((d) => finish.get(d) ?? 0));
    finish.set(step.number, start + durationOf(step));
  }
  return Math.max(0, ...finish.values());
}

export function planWorkflow(spec: ResolvedSpec): PlanResult {
  const issues: SpecIssue[] = [];
  const steps = spec.workflowDefinition.steps;
  if (steps.length === 0) {
    return {
      ok: false,
      issues: [{ reason: 'EmptyWorkflow', path: STEPS, message: 'a workflow needs at least one step' }],
    };
  }
  const byNumber = indexSteps(steps, issues);
  const graph = buildGraph(spec, byNumber, issues);
  const numbers = [...byNumber.keys()];
  const baseDeps = graph.declared ? graph.deps : implicitChain(numbers);
  const { deps, adjustments } = applyParallelSuggestions(spec, baseDeps, graph.declared);

  const { levels, rest } = levelize(numbers, deps);
  if (rest.length > 0) {
    const cycle = findCycle(rest, deps);
    const names = cycle.map((n) => `${n} (${steps[byNumber.get(n) ?? -1]?.name ?? '?'})`);
    issues.push({
      reason: 'DependencyCycle',
      path: `${STEPS}[${byNumber.get(cycle[0] ?? rest[0] ?? -1) ?? 0}].dependsOn`,
      message: `dependency cycle: step ${names.join(' -> ')}`,
    });
  }

  const strategyRetries = spec.executionStrategy.maxRetries ?? DEFAULTS.maxRetries;
  const levelOf = new Map(levels.flatMap((level, i) => level.map((n) => [n, i] as const)));
  const planned = new Map<number, PlannedStep>();
  steps.forEach((step, index) => {
    if (planned.has(step.stepNumber)) return;
    const timeoutMs = durationOr(step.timeout, DEFAULTS.stepTimeoutMs, `${STEPS}[${index}].timeout`, issues);
    // A step without a rollbackSpec is undone by its action's inverse (src/api/inferred-rollback.ts).
    const inverse = step.rollbackSpec ? null : inferredRollback(step);
    const rollback = step.rollbackSpec
      ? {
          action: step.rollbackSpec.action,
          source: 'rollbackSpec' as const,
          timeoutMs: durationOr(
            step.rollbackSpec.timeout,
            timeoutMs,
            `${STEPS}[${index}].rollbackSpec.timeout`,
            issues,
          ),
        }
      : inverse
        ? { action: inverse.action, source: 'inverse' as const, timeoutMs }
        : null;
    planned.set(step.stepNumber, {
      number: step.stepNumber,
      name: step.name,
      action: step.action,
      critical: step.criticalStep ?? false,
      dependsOn: deps.get(step.stepNumber) ?? [],
      dependencyKind: graph.declared ? 'data' : 'order',
      level: levelOf.get(step.stepNumber) ?? 0,
      timeoutMs,
      maxRetries: step.maxRetries ?? strategyRetries,
      rollback,
      target: historyTargetOf(step),
    });
  });
  const strategy = spec.executionStrategy;
  const STRATEGY = 'spec.executionStrategy';
  const phaseTimeout = (phase: keyof typeof PHASE_TIMEOUT_BOUNDS, fallback: number) =>
    boundedDuration(
      strategy.phaseTimeouts?.[phase],
      fallback,
      PHASE_TIMEOUT_BOUNDS[phase],
      `${STRATEGY}.phaseTimeouts.${phase}`,
      issues,
    );
  const timeouts = {
    planningMs: phaseTimeout('planning', DEFAULTS.planningTimeoutMs),
    validationMs: phaseTimeout('validation', DEFAULTS.validationTimeoutMs),
    monitoringMs: phaseTimeout('monitoring', DEFAULTS.monitoringTimeoutMs),
  };
  const windowPath = `${STRATEGY}.stabilityWindow`;
  // Unlike a timeout, a window may be 0s: the first check that finds the run fixed completes it.
  const windowText = strategy.stabilityWindow;
  const stabilityWindowMs = windowText === undefined ? null : (parseDuration(windowText) ?? -1);
  const [windowMin, windowMax] = STABILITY_WINDOW_BOUNDS.map((b) => parseDuration(b) ?? 0) as [
    number,
    number,
  ];
  if (stabilityWindowMs !== null && (stabilityWindowMs < windowMin || stabilityWindowMs > windowMax))
    issues.push({
      reason: 'InvalidDuration',
      path: windowPath,
      message: `${JSON.stringify(windowText)} is not a duration from ${STABILITY_WINDOW_BOUNDS.join(' to ')}`,
    });
  // A window as long as the deadline could never be seen through: the run would always end unknown.
  if (stabilityWindowMs !== null && stabilityWindowMs >= timeouts.monitoringMs)
    issues.push({
      reason: 'InvalidDuration',
      path: windowPath,
      message: `${JSON.stringify(strategy.stabilityWindow)} is not shorter than the monitoring deadline (${timeouts.monitoringMs / 1000}s)`,
    });
  if (issues.length > 0) return { ok: false, issues };

  const order = levels.flat();
  const orderedSteps = order.map((n) => planned.get(n)).filter((s): s is PlannedStep => s !== undefined);
  const criticalPath = criticalPathMs(orderedSteps, (s) => s.timeoutMs);
  const aiEstimate = spec.workflowDefinition.aiRecommendations?.estimatedDuration;
  const aiMs = aiEstimate === undefined ? undefined : parseDuration(aiEstimate);

  return {
    ok: true,
    plan: {
      workflowName: spec.workflowDefinition.name,
      steps: orderedSteps,
      levels,
      rollbackOrder: [...order].reverse(),
      strategy: strategyOf(levels),
      estimatedDurationMs: aiMs ?? criticalPath,
      rollbackStrategy: spec.executionStrategy.rollbackStrategy,
      approvalRequired: spec.executionStrategy.approvalRequired ?? false,
      dryRunFirst: spec.executionStrategy.dryRunFirst ?? false,
      safetyChecks: checkPolicy(spec),
      adaptiveAdjustments: adjustments,
      dynamicStepAdjustment: spec.adaptiveOrchestration?.dynamicStepAdjustment === true,
      timeouts,
      remediatesAlert: spec.alertRef !== undefined,
      stabilityWindowMs,
      backoff: { baseMs: DEFAULTS.retryBackoffBaseMs, maxMs: DEFAULTS.retryBackoffMaxMs },
      stopGraceMs: DEFAULTS.stopGraceMs,
    },
  };
}
