/**
 * Kubernetes resource quantities ("100m", "1.5", "128Mi", "2G", "1e3") as numbers of base units
 * (cores, bytes, pods), for the capacity check's arithmetic. Pure; an unreadable quantity is null.
 */
const SUFFIXES: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

export function parseQuantity(text: string | number | undefined): number | null {
  if (typeof text === 'number') return text;
  if (text === undefined) return null;
  const match = /^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]?)$/.exec(text.trim());
  if (!match) return null;
  const value = Number(match[1]);
  const factor = SUFFIXES[match[2] ?? ''];
  return Number.isFinite(value) && factor !== undefined ? value * factor : null;
}

/** The resources the capacity check weighs: cpu (cores), memory (bytes), pods (count). */
export interface Resources {
  cpu: number;
  memory: number;
  pods: number;
}

export const NO_RESOURCES: Resources = { cpu: 0, memory: 0, pods: 0 };

export const addResources = (a: Resources, b: Resources): Resources => ({
  cpu: a.cpu + b.cpu,
  memory: a.memory + b.memory,
  pods: a.pods + b.pods,
});

export const subtractResources = (a: Resources, b: Resources): Resources => ({
  cpu: a.cpu - b.cpu,
  memory: a.memory - b.memory,
  pods: a.pods - b.pods,
});

/** `cpu`/`memory` of a resource list (requests or allocatable), 0 when absent. */
export function resourcesOf(list: Record<string, string> | undefined, pods = 0): Resources {
  return {
    cpu: parseQuantity(list?.['cpu']) ?? 0,
    memory: parseQuantity(list?.['memory']) ?? 0,
    pods,
  };
}

/** How many copies of `each` fit into `free` (each pod also takes one pod slot). */
export function copiesThatFit(free: Resources, each: Resources): number {
  const bounds = [
    each.cpu > 0 ? Math.floor(free.cpu / each.cpu + 1e-9) : Infinity,
    each.memory > 0 ? Math.floor(free.memory / each.memory + 1e-9) : Infinity,
    Math.floor(free.pods),
  ];
  return Math.max(0, Math.min(...bounds));
}

/**
 * Whether pods of the given requests can all be placed on the nodes' free resources, first-fit by
 * decreasing size: a sufficient placement, as the scheduler would find one (it may find more).
 */
export function fitsOnNodes(pods: readonly Resources[], free: readonly Resources[]): boolean {
  const left = free.map((f) => ({ ...f }));
  const bySize = [...pods].sort((a, b) => b.cpu - a.cpu || b.memory - a.memory);
  return bySize.every((pod) => {
    const node = left.find((n) => copiesThatFit(n, { ...pod, pods: 1 }) >= 1);
    if (!node) return false;
    node.cpu -= pod.cpu;
    node.memory -= pod.memory;
    node.pods -= 1;
    return true;
  });
}
