// Stops the control plane started by global-setup.ts.
export default async function globalTeardown(): Promise<void> {
  const cp = globalThis.wfeControlPlane;
  globalThis.wfeControlPlane = undefined;
  await cp?.stop();
}
