/**
 * The faults, each as Toxiproxy toxics (or an etcd crash) with the full durations scaled
 * by `scale`, never below a floor that outlasts the operator's detection of them.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Rig } from './rig.ts';
import type { Toxic } from './toxiproxy.ts';

export interface Fault {
  name: string;
  /** Short name, for workflow name prefixes. */
  key: string;
  durationMs: number;
  /** The apiserver cannot be reached during it: /ready must turn false. */
  unreachable: boolean;
  /** Start the fault; resolves once it is on. */
  inject: () => Promise<void>;
  /** Optional work during the fault (rotating toxics); resolves when the fault should end. */
  during?: (untilMs: number) => Promise<void>;
  heal: () => Promise<void>;
  /** The operator still works during it: start a second batch halfway through. */
  batchDuring: boolean;
}

/** `rig` is asked for when a fault is injected, so the catalogue can be listed before the rig starts. */
export function faultCatalog(rig: () => Pick<Rig, 'proxy' | 'cp'>, scale: number): Fault[] {
  const proxy = {
    addToxic: (...args: Parameters<Rig['proxy']['addToxic']>) => rig().proxy.addToxic(...args),
    heal: () => rig().proxy.heal(),
    disable: () => rig().proxy.disable(),
  };
  const ms = (fullS: number, floorS: number): number => Math.max(floorS, fullS * scale) * 1000;
  const heal = () => proxy.heal();
  /** One toxic on each direction of the connection, named `<name>-up` and `<name>-down`. */
  const bothWays = async (name: string, type: Toxic['type'], attributes: Toxic['attributes']) => {
    await proxy.addToxic({ name: `${name}-up`, type, stream: 'upstream', attributes });
    await proxy.addToxic({ name: `${name}-down`, type, stream: 'downstream', attributes });
  };
  return [
    {
      name: 'latency 200±100 ms',
      key: 'lat',
      durationMs: ms(60, 6),
      unreachable: false,
      batchDuring: true,
      inject: () =>
        proxy.addToxic({
          name: 'latency',
          type: 'latency',
          stream: 'downstream',
          attributes: { latency: 200, jitter: 100 },
        }),
      heal,
    },
    {
      name: 'cut (connections refused)',
      key: 'cut',
      durationMs: ms(30, 10),
      unreachable: true,
      batchDuring: false,
      inject: () => proxy.disable(),
      heal,
    },
    {
      name: 'blackhole (accepted, never answered)',
      key: 'hole',
      durationMs: ms(30, 10),
      unreachable: true,
      batchDuring: false,
      inject: () => bothWays('hole', 'timeout', { timeout: 0 }),
      heal,
    },
    {
      name: 'bandwidth 64 KB/s',
      key: 'bw',
      durationMs: ms(30, 6),
      unreachable: false,
      batchDuring: true,
      inject: () => bothWays('bw', 'bandwidth', { rate: 64 }),
      heal,
    },
    {
      name: 'resets during writes',
      key: 'rst',
      durationMs: ms(30, 8),
      unreachable: false,
      batchDuring: true,
      inject: () => Promise.resolve(),
      // Every second, new toxics: answers cut off after a random number of bytes (the apiserver
      // applied the write, the operator never hears of it), and connections reset at random moments.
      during: async (until) => {
        for (let round = 0; Date.now() < until; round++) {
          await proxy.heal();
          await proxy.addToxic({
            name: `limit-${round}`,
            type: 'limit_data',
            stream: 'downstream',
            toxicity: 0.5,
            attributes: { bytes: 1000 + Math.floor(Math.random() * 40_000) },
          });
          await proxy.addToxic({
            name: `reset-${round}`,
            type: 'reset_peer',
            stream: 'upstream',
            toxicity: 0.3,
            attributes: { timeout: Math.floor(Math.random() * 1000) },
          });
          await sleep(Math.min(1000, Math.max(0, until - Date.now())));
        }
      },
      heal,
    },
    {
      name: 'etcd SIGKILL and restart',
      key: 'etcd',
      durationMs: 0,
      unreachable: false,
      batchDuring: false,
      inject: () => rig().cp.restartEtcd(),
      heal: () => Promise.resolve(),
    },
  ];
}
