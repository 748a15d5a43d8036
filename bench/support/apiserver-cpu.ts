/**
 * CPU a process (kube-apiserver, an operator, a controller) spends on a piece of work, less what it
 * spends idle over the same time: watches, leases and controllers keep an apiserver busy even when
 * nothing is being measured.
 */
import { performance } from 'node:perf_hooks';

import { cpuMs } from '../../test/support/proc.ts';

/** CPU ms per second the process spends over `ms` of doing nothing here. */
export async function idleRate(pid: number, ms = 3000): Promise<number> {
  const cpu0 = await cpuMs(pid);
  const t0 = performance.now();
  await new Promise((resolve) => setTimeout(resolve, ms));
  return ((await cpuMs(pid)) - cpu0) / ((performance.now() - t0) / 1000);
}

/** CPU ms the process spends while `fn` runs, less `idleMsPerS` over the same time. */
export async function cpuDuring(pid: number, idleMsPerS: number, fn: () => Promise<void>): Promise<number> {
  const cpu0 = await cpuMs(pid);
  const t0 = performance.now();
  await fn();
  const elapsedS = (performance.now() - t0) / 1000;
  return (await cpuMs(pid)) - cpu0 - idleMsPerS * elapsedS;
}
