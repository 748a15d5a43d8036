// The developer's knobs for a control plane, read from the environment by the programs that start
// one (the CLI, benches, tests), so the launcher itself takes everything as parameters.
import type { ControlPlaneOptions } from './launcher.ts';

/**
 * WFE_CONTROLPLANE_START_TIMEOUT_MS: more patience on a machine shared with other heavy work;
 * WFE_APISERVER_PROFILING=1: the apiserver serves /debug/pprof.
 */
export function controlPlaneTuning(
  env: NodeJS.ProcessEnv,
): Pick<ControlPlaneOptions, 'startTimeoutMs' | 'apiserverProfiling'> {
  const timeout = env['WFE_CONTROLPLANE_START_TIMEOUT_MS'];
  return {
    ...(timeout === undefined ? {} : { startTimeoutMs: Number(timeout) }),
    apiserverProfiling: env['WFE_APISERVER_PROFILING'] === '1',
  };
}
