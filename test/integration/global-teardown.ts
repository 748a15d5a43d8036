// Stops the control plane launcher started by global-setup.ts (it stops its components and
// removes its data dir on SIGTERM).
export default async function globalTeardown(): Promise<void> {
  const child = globalThis.wfeControlPlane;
  globalThis.wfeControlPlane = undefined;
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      resolve();
    });
  });
  child.kill('SIGTERM');
  const timer = setTimeout(() => {
    child.kill('SIGKILL');
  }, 20_000);
  await exited;
  clearTimeout(timer);
}
