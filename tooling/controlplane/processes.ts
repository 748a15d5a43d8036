// Child processes of a control plane: logs to files, graceful stop, and a watchdog so that children
// never outlive the Node process that started them (even when it is killed with SIGKILL).
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  /** Resolves with the exit code (or the signal name) once the process has exited. */
  readonly exited: Promise<number | string>;
  hasExited(): boolean;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

export interface SpawnSpec {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly logDir: string;
  /** Removed by the watchdog when it has to clean up after a dead parent. */
  readonly dataDir: string;
  readonly env?: NodeJS.ProcessEnv;
}

/*
 * Node has no prctl(PR_SET_PDEATHSIG), so each child starts as `sh`, which forks a watchdog and then
 * execs the binary in its own place (so `$$` is the binary's pid). The watchdog polls the binary's
 * parent pid in /proc: once it is no longer the launcher (the launcher died and the binary was
 * re-parented), it stops the binary and removes the data dir. It also ends when the binary exits.
 * Re-parenting is checked rather than `kill -0 <launcher>`, which a zombie or a reused pid would pass.
 */
const WATCHDOG = String.raw`
parent="$1"; datadir="$2"; shift 2
ppid_of() { while read -r key value; do if [ "$key" = "PPid:" ]; then echo "$value"; return; fi; done < "/proc/$1/status"; }
(
  trap '' INT HUP
  while [ -d "/proc/$$" ] && [ "$(ppid_of $$ 2>/dev/null)" = "$parent" ]; do sleep 0.5; done
  # The binary ended while the launcher lives: an ordinary stop, nothing to clean up.
  if [ ! -d "/proc/$$" ] && [ -d "/proc/$parent" ]; then exit 0; fi
  kill -TERM $$ 2>/dev/null
  for _ in 1 2 3 4; do [ -d "/proc/$$" ] || break; sleep 0.5; done
  kill -KILL $$ 2>/dev/null
  rm -rf "$datadir"
) </dev/null >/dev/null 2>&1 &
exec "$@"
`;

export function spawnManaged(spec: SpawnSpec): ManagedProcess {
  const logFile = join(spec.logDir, `${spec.name}.log`);
  const fd = openSync(logFile, 'a');
  let child;
  try {
    child = spawn(
      'sh',
      ['-c', WATCHDOG, `wfe-${spec.name}`, String(process.pid), spec.dataDir, spec.command, ...spec.args],
      { stdio: ['ignore', fd, fd], detached: false, env: spec.env ?? process.env },
    );
  } finally {
    closeSync(fd);
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${spec.name} (${spec.command})`);
  let done = false;
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      done = true;
      resolve(code ?? signal ?? 'unknown');
    });
    child.once('error', (err) => {
      done = true;
      resolve(err.message);
    });
  });
  return {
    name: spec.name,
    pid,
    logFile,
    exited,
    hasExited: () => done,
    async stop(graceMs = 5000): Promise<void> {
      if (done) return;
      child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => {
          resolve('timeout');
        }, graceMs);
      });
      const outcome = await Promise.race([exited, timeout]);
      clearTimeout(timer);
      if (outcome === 'timeout') {
        // Harmless if it exited in the meantime.
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}

/** The last lines of a log, for error messages when a component fails to start. */
export function logTail(logFile: string, lines = 30): string {
  try {
    return readFileSync(logFile, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
