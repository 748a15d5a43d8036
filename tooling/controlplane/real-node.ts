// A real node for the deploy tests: containerd and runc (Debian's packages), the CNI plugins (Go
// modules), a kubelet built from the control plane's own Kubernetes modules, and a userspace proxy
// (what kube-proxy's userspace mode was) from the `kubernetes` Service's ClusterIP to the
// apiserver, so a Pod's in-cluster config (KUBERNETES_SERVICE_HOST/PORT, the projected token and CA)
// works unchanged. One real node per machine: it owns the bridge wfe0 and the 10.213.0.0/24 pods.
import { execFile } from 'node:child_process';
import { access, constants, mkdir, readFile, readdir, rmdir, writeFile } from 'node:fs/promises';
import { createConnection, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';

import type { KubeConfig } from '@kubernetes/client-node';
import { CoreV1Api } from '@kubernetes/client-node';

import { writeImage } from '../image/oci.ts';
import { ensureDeployTool } from './deploy-tools.ts';
import { writeKubeconfig } from './kubeconfig.ts';
import { clientCert, type Pki } from './pki.ts';
import { freePorts } from './ports.ts';
import type { ManagedProcess } from './processes.ts';
import { assertRunning } from './readiness.ts';
import {
  BRIDGE,
  NODE_IP,
  PAUSE_IMAGE,
  cniConfig,
  containerdConfig,
  kubeletConfig,
} from './real-node-config.ts';

export { PAUSE_IMAGE } from './real-node-config.ts';

const execFileAsync = promisify(execFile);

export const REAL_NODE_NAME = 'wfe-node';
/** The first address of the apiserver's --service-cluster-ip-range: the `kubernetes` Service. */
export const KUBERNETES_SERVICE_IP = '10.0.0.1';
const REQUIRED_COMMANDS = [
  '/usr/bin/containerd',
  '/usr/bin/containerd-shim-runc-v2',
  '/usr/bin/ctr',
  '/usr/sbin/runc',
];

export interface RealNode {
  readonly name: string;
  /** containerd's socket (`ctr --address … -n k8s.io`). */
  readonly containerdAddress: string;
  /** `ctr -n k8s.io images import ARCHIVE`: the image is then on the node under its recorded name. */
  importImage(archive: string): Promise<void>;
  /** Another name for an image already on the node (`ctr images tag`). */
  tagImage(source: string, target: string): Promise<void>;
  /** Lets the node pull from a plain-HTTP registry at HOST:PORT on loopback. */
  trustRegistry(hostPort: string): Promise<void>;
  stop(): Promise<void>;
}

export interface RealNodeContext {
  readonly dataDir: string;
  readonly binDir: string;
  readonly pki: Pki;
  /** https://127.0.0.1:PORT of the apiserver. */
  readonly server: string;
  /** The admin client, to wait for the Node. */
  readonly kc: KubeConfig;
  readonly start: (name: string, command: string, args: string[]) => ManagedProcess;
  readonly timeoutMs: number;
  readonly log: (message: string) => void;
}

async function run(command: string, args: readonly string[]): Promise<string> {
  try {
    const { stdout } = await execFileAsync(command, args, { maxBuffer: 16 << 20 });
    return stdout;
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`${command} ${args.join(' ')}: ${(e.stderr ?? '').trim() || e.message}`);
  }
}

async function succeeds(command: string, args: readonly string[]): Promise<boolean> {
  try {
    await execFileAsync(command, args);
    return true;
  } catch {
    return false;
  }
}

/** Which cgroup hierarchy this machine has (the kubelet's cgroupfs driver works on both). */
export async function cgroupVersion(): Promise<1 | 2> {
  const fsType = (await run('stat', ['-fc', '%T', '/sys/fs/cgroup'])).trim();
  return fsType === 'cgroup2fs' ? 2 : 1;
}

async function checkPrerequisites(): Promise<void> {
  const missing: string[] = [];
  for (const command of REQUIRED_COMMANDS) {
    try {
      await access(command, constants.X_OK);
    } catch {
      missing.push(command);
    }
  }
  if (missing.length > 0)
    throw new Error(
      `a real node needs Debian's containerd and runc (missing ${missing.join(', ')}): apt-get install containerd runc`,
    );
  if (process.getuid?.() !== 0)
    throw new Error('a real node needs root (kubelet, containerd, network setup)');
}

/** Processes whose command line names `needle` (this node's own containerd shims). */
async function pidsMentioning(needle: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8');
      if (cmdline.includes(needle)) pids.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

/** Shims of an earlier real node whose launcher was killed: their data dir is gone. */
async function stopStaleShims(log: (m: string) => void): Promise<void> {
  for (const pid of await pidsMentioning('wfe-controlplane-')) {
    const args = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
    if (!args[0]?.endsWith('containerd-shim-runc-v2')) continue;
    const address = args[args.indexOf('-address') + 1];
    if (
      address === undefined ||
      (await access(address).then(
        () => true,
        () => false,
      ))
    )
      continue;
    log(`stopping stale containerd shim ${pid} (${address} is gone)`);
    process.kill(pid, 'SIGKILL');
  }
}

async function setUpBridge(log: (m: string) => void): Promise<void> {
  if (await succeeds('ip', ['link', 'show', BRIDGE])) {
    log(`removing the stale bridge ${BRIDGE} of an earlier real node`);
    await run('ip', ['link', 'delete', BRIDGE]);
  }
  await run('ip', ['link', 'add', BRIDGE, 'type', 'bridge']);
  await run('ip', ['addr', 'add', `${NODE_IP}/24`, 'dev', BRIDGE]);
  // The Service IP lives on the bridge: Pods route to it through their gateway, to the proxy below.
  await run('ip', ['addr', 'add', `${KUBERNETES_SERVICE_IP}/32`, 'dev', BRIDGE]);
  await run('ip', ['link', 'set', BRIDGE, 'up']);
}

/** KUBERNETES_SERVICE_IP:443 -> the apiserver on loopback, byte for byte (TLS end to end). */
function startServiceProxy(apiPort: number): Promise<Server> {
  const server = createServer((client) => {
    const upstream = createConnection({ host: '127.0.0.1', port: apiPort });
    client.pipe(upstream).pipe(client);
    const close = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close);
    upstream.on('error', close);
    client.on('close', close);
    upstream.on('close', close);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(443, KUBERNETES_SERVICE_IP, () => {
      resolve(server);
    });
  });
}

async function waitForNodeReady(ctx: RealNodeContext, kubelet: ManagedProcess[]): Promise<void> {
  const api = ctx.kc.makeApiClient(CoreV1Api);
  const deadline = Date.now() + ctx.timeoutMs;
  for (;;) {
    await assertRunning(kubelet);
    const node = await api.readNode({ name: REAL_NODE_NAME }).catch(() => undefined);
    const ready = node?.status?.conditions?.find((c) => c.type === 'Ready');
    if (ready?.status === 'True') return;
    if (Date.now() > deadline)
      throw new Error(
        `node ${REAL_NODE_NAME} not Ready after ${ctx.timeoutMs} ms: ${ready?.reason ?? 'not registered'} ${ready?.message ?? ''}`,
      );
    await sleep(250);
  }
}

/** Unmounts everything below `dir` (snapshots, Pod volumes), deepest first. */
async function unmountBelow(dir: string): Promise<void> {
  const mounts = (await readFile('/proc/self/mounts', 'utf8'))
    .split('\n')
    .map((line) => line.split(' ')[1]?.replace(/\\040/g, ' '))
    .filter((m): m is string => m !== undefined && m.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) await succeeds('umount', ['-l', m]);
}

async function netnsNames(): Promise<Set<string>> {
  return new Set(await readdir('/var/run/netns').catch(() => []));
}

/** The kubelet's cgroups (kubepods*) in every v1 hierarchy, removed leaves first. */
async function removeKubeletCgroups(): Promise<void> {
  const remove = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const e of entries) if (e.isDirectory()) await remove(join(dir, e.name));
    await rmdir(dir).catch(() => undefined);
  };
  for (const hierarchy of await readdir('/sys/fs/cgroup').catch(() => [])) {
    for (const top of await readdir(join('/sys/fs/cgroup', hierarchy)).catch(() => [])) {
      if (top.startsWith('kubepods')) await remove(join('/sys/fs/cgroup', hierarchy, top));
    }
  }
}

export async function startRealNode(ctx: RealNodeContext): Promise<RealNode> {
  await checkPrerequisites();
  const started = Date.now();
  const [cniBin] = await Promise.all([ensureDeployTool('cni'), stopStaleShims(ctx.log)]);
  const dir = join(ctx.dataDir, 'containerd');
  const kubeletDir = join(ctx.dataDir, 'kubelet');
  const address = join(dir, 'containerd.sock');
  await Promise.all([
    mkdir(join(dir, 'net.d'), { recursive: true }),
    mkdir(join(dir, 'certs.d'), { recursive: true }),
    mkdir(join(kubeletDir, 'pki'), { recursive: true }),
  ]);
  const netnsBefore = await netnsNames();
  const processes: ManagedProcess[] = [];
  let proxy: Server | undefined;
  let stopped: Promise<void> | undefined;
  const ctr = (...args: string[]): Promise<string> =>
    run('/usr/bin/ctr', ['--address', address, '-n', 'k8s.io', ...args]);

  const stop = (): Promise<void> => {
    stopped ??= (async (): Promise<void> => {
      const kubelet = processes.find((p) => p.name === 'kubelet');
      await kubelet?.stop(5000);
      const containerd = processes.find((p) => p.name === 'containerd');
      if (containerd !== undefined && !containerd.hasExited()) {
        const tasks = (await ctr('tasks', 'ls', '-q').catch(() => '')).split('\n').filter(Boolean);
        await Promise.all(tasks.map((t) => ctr('tasks', 'kill', '-a', '-s', 'SIGKILL', t).catch(() => '')));
        await sleep(tasks.length > 0 ? 500 : 0);
        await Promise.all(tasks.map((t) => ctr('tasks', 'delete', '-f', t).catch(() => '')));
        await containerd.stop(5000);
      }
      for (const pid of await pidsMentioning(address)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
      await new Promise<void>((resolve) => {
        if (proxy === undefined) resolve();
        else
          proxy.close(() => {
            resolve();
          });
      });
      for (const ns of await netnsNames())
        if (!netnsBefore.has(ns) && ns.startsWith('cni-')) await succeeds('ip', ['netns', 'delete', ns]);
      await succeeds('ip', ['link', 'delete', BRIDGE]);
      await unmountBelow(ctx.dataDir);
      await removeKubeletCgroups();
    })();
    return stopped;
  };

  try {
    const version = await cgroupVersion();
    ctx.log(`real node: cgroup v${version}, kubelet with the cgroupfs driver`);
    await setUpBridge(ctx.log);
    await writeFile(join(dir, 'config.toml'), containerdConfig(dir, cniBin));
    await writeFile(join(dir, 'net.d', '10-wfe.conflist'), cniConfig(ctx.dataDir));
    const containerd = ctx.start('containerd', '/usr/bin/containerd', ['--config', join(dir, 'config.toml')]);
    processes.push(containerd);

    // The sandbox image: our pause binary, as an OCI archive containerd imports.
    const pauseArchive = join(ctx.dataDir, 'images', 'pause.oci.tar');
    writeImage({
      name: PAUSE_IMAGE,
      epoch: 0,
      layers: [
        {
          name: 'pause',
          createdBy: 'pause (test/controlplane/cmd/pause)',
          entries: [
            {
              type: 'file',
              path: '/pause',
              data: await readFile(join(ctx.binDir, 'pause')),
              executable: true,
            },
          ],
        },
      ],
      runtime: { User: '65535:65535', Entrypoint: ['/pause'] },
      layout: join(ctx.dataDir, 'images', 'pause'),
      archive: pauseArchive,
    });

    const deadline = Date.now() + ctx.timeoutMs;
    while (!(await succeeds('/usr/bin/ctr', ['--address', address, 'version']))) {
      await assertRunning([containerd]);
      if (Date.now() > deadline) throw new Error(`containerd not answering on ${address}`);
      await sleep(100);
    }
    await ctr('images', 'import', pauseArchive);
    proxy = await startServiceProxy(Number(new URL(ctx.server).port));

    const client = await clientCert(ctx.pki.dir, ctx.pki.ca, {
      name: `system:node:${REAL_NODE_NAME}`,
      groups: ['system:nodes'],
    });
    const kubeconfig = await writeKubeconfig({
      path: join(kubeletDir, 'kubeconfig'),
      server: ctx.server,
      caFile: ctx.pki.ca.certFile,
      user: `system:node:${REAL_NODE_NAME}`,
      client,
    });
    const configFile = join(kubeletDir, 'config.json');
    await writeFile(configFile, kubeletConfig(ctx.dataDir, address, ctx.pki, await freePorts(2)));
    const kubelet = ctx.start('kubelet', join(ctx.binDir, 'kubelet'), [
      `--config=${configFile}`,
      `--kubeconfig=${kubeconfig}`,
      `--root-dir=${join(kubeletDir, 'root')}`,
      `--cert-dir=${join(kubeletDir, 'pki')}`,
      `--hostname-override=${REAL_NODE_NAME}`,
      `--node-ip=${NODE_IP}`,
      '--v=1',
    ]);
    processes.push(kubelet);
    await waitForNodeReady(ctx, [kubelet, containerd]);
    ctx.log(`real node ${REAL_NODE_NAME} Ready in ${Date.now() - started} ms`);
  } catch (error) {
    await stop();
    throw error;
  }

  return { name: REAL_NODE_NAME, containerdAddress: address, ...realNodeImages(address), stop };
}

/** The node's image store, from any process that knows containerd's socket (e.g. a jest worker). */
export function realNodeImages(
  containerdAddress: string,
): Omit<RealNode, 'name' | 'containerdAddress' | 'stop'> {
  const ctr = (...args: string[]): Promise<string> =>
    run('/usr/bin/ctr', ['--address', containerdAddress, '-n', 'k8s.io', ...args]);
  const certsDir = join(containerdAddress, '..', 'certs.d');
  return {
    importImage: async (archive) => {
      await ctr('images', 'import', archive);
    },
    tagImage: async (source, target) => {
      await ctr('images', 'tag', '--force', source, target);
    },
    trustRegistry: async (hostPort) => {
      await mkdir(join(certsDir, hostPort), { recursive: true });
      await writeFile(
        join(certsDir, hostPort, 'hosts.toml'),
        `server = "http://${hostPort}"\n\n[host."http://${hostPort}"]\n  capabilities = ["pull", "resolve"]\n`,
      );
    },
  };
}
