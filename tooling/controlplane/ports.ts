// Free loopback ports, so several control planes (and other tests) can run side by side.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * Where ports are picked: below the kernel's ephemeral range. A port the kernel handed out (listen
 * on 0) is also what it hands to the next outgoing connection, and between our check and the
 * process that binds it, one of the hundreds of client connections a test machine opens took it
 * (EADDRINUSE at an operator's start). Below the range only another listener can.
 */
function pickRange(): [number, number] | undefined {
  try {
    const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
      .trim()
      .split(/\s+/)
      .map(Number);
    return low !== undefined && low > 12_000 ? [10_000, low] : undefined;
  } catch {
    return undefined;
  }
}
const RANGE = pickRange();

/** Whether `port` (0: any) can be bound on 127.0.0.1 now; the port bound, or undefined. */
function tryPort(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.on('error', () => {
      resolve(undefined);
    });
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      const bound = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => {
        resolve(bound === 0 ? undefined : bound);
      });
    });
  });
}

async function onePort(): Promise<number> {
  if (RANGE) {
    const [low, high] = RANGE;
    for (let tries = 0; tries < 50; tries++) {
      const port = await tryPort(low + Math.floor(Math.random() * (high - low)));
      if (port !== undefined) return port;
    }
  }
  const port = await tryPort(0);
  if (port === undefined) throw new Error('could not allocate a port');
  return port;
}

/** `count` distinct free ports on 127.0.0.1 (free when asked; only another listener can take one first). */
export async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await onePort());
  return [...ports];
}
