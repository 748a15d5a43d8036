/**
 * A Prometheus-family server (Prometheus, Alertmanager) as a child process on 127.0.0.1: started with
 * its log in a file, waited for until `/-/ready` answers, stopped with SIGTERM (SIGKILL after 10 s).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export interface ReadyProcess {
  url: string;
  logFile: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Starts `binary` with `args` (its listen address is `address`) and waits until it is ready. */
export async function startReadyProcess(
  name: string,
  binary: string,
  args: string[],
  address: string,
  logFile: string,
): Promise<ReadyProcess> {
  const log = openSync(logFile, 'a');
  const child = spawn(binary, args, { stdio: ['ignore', log, log] });
  closeSync(log);
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      resolve();
    }),
  );
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
  };
  const url = `http://${address}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`${name} exited (${String(child.exitCode)}); see ${logFile}`);
    const ready = await fetch(`${url}/-/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${name} not ready after 60 s; see ${logFile}`);
    }
    await sleep(100);
  }
  return { url, logFile, child, stop };
}
