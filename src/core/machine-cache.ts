/**
 * Built machines, kept by spec hash (least recently used first out), so a 200-step workflow's
 * machine is not rebuilt on every reconcile. A spec is immutable, so its hash names its machine.
 */
import { createWorkflowMachine, MACHINE_VERSION, type WorkflowMachine } from '../../machines/workflow.ts';
import type { ExecutionPlan } from './plan.ts';

export const MACHINE_CACHE_SIZE = 128;

const cache = new Map<string, WorkflowMachine>();

export function machineFor(plan: ExecutionPlan, specHash: string): WorkflowMachine {
  const key = `${MACHINE_VERSION}:${specHash}`;
  const hit = cache.get(key);
  if (hit) {
    cache.delete(key);
    cache.set(key, hit);
    return hit;
  }
  const machine = createWorkflowMachine(plan);
  cache.set(key, machine);
  while (cache.size > MACHINE_CACHE_SIZE) {
    const oldest = cache.keys().next();
    if (oldest.done) break;
    cache.delete(oldest.value);
  }
  return machine;
}

export const machineCacheSize = (): number => cache.size;
export const clearMachineCache = (): void => {
  cache.clear();
};
