// Starts a real control plane (etcd, kube-apiserver, kube-controller-manager, and with `workloads`
// kube-scheduler + kwok with fake nodes) on random loopback ports, envtest style.
import { constants, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { KubeConfig } from '@kubernetes/client-node';

import {
  KUBERNETES_VERSION,
  REPO_ROOT,
  defaultBinDir,
  ensureBinaries,
  mayAccess,
  type ControlPlaneBinary,
} from './binaries.ts';
import { writeKubeconfig } from './kubeconfig.ts';
import { installRepoManifests } from './manifests.ts';
import { startRealNode, type RealNode } from './real-node.ts';
import { KWOK_NODE_SELECTOR, createFakeNodes, waitForNodesReady } from './nodes.ts';
import { caFiles, clientCert, createPki, type Pki } from './pki.ts';
import { freePorts } from './ports.ts';
import { spawnManaged, type ManagedProcess } from './processes.ts';
import { assertRunning, waitForHealthy } from './readiness.ts';

export interface ControlPlaneOptions {
  /** Also run kube-scheduler, kwok and fake nodes, so Deployments get available pods. */
  readonly workloads?: boolean;
  /**
   * A real node instead of kwok's (deploy tests; root, Debian's containerd and runc): kubelet,
   * kube-scheduler, the ServiceAccount admission plugin and token controller, Node authorization,
   * and the `kubernetes` Service reachable from Pods. See real-node.ts.
   */
  readonly realNode?: boolean;
  /** How many kwok nodes with `workloads` (default 3). */
  readonly fakeNodes?: number;
  /** Where the binaries are (default: the build cache); missing ones are built. */
  readonly binDir?: string;
  /** Parent of the per-run data dir (default /dev/shm when writable, else the OS temp dir). */
  readonly dataRoot?: string;
  /** Also write the admin kubeconfig here (default: only inside the data dir). */
  readonly kubeconfigPath?: string;
  /** Install crds/ and manifests/admission/ from this repo (default true). */
  readonly installManifests?: boolean;
  /** Keep the data dir (logs, etcd) after stop(), for debugging. */
  readonly keepDataDir?: boolean;
  /** How long each component may take to become healthy (default 60 s, 180 s with a real node). */
  readonly startTimeoutMs?: number;
  /** The apiserver serves /debug/pprof (default false). */
  readonly apiserverProfiling?: boolean;
  /** Progress messages (default: none). */
  readonly log?: (message: string) => void;
}

export interface ControlPlaneUser {
  readonly name: string;
  readonly groups?: readonly string[];
}

export interface ControlPlane {
  /** Admin (system:masters) kubeconfig. */
  readonly kubeconfigPath: string;
  /** https://127.0.0.1:<port> */
  readonly server: string;
  readonly binDir: string;
  readonly dataDir: string;
  readonly version: string;
  /** Pids of the component processes, by name. */
  readonly pids: Readonly<Record<string, number>>;
  /** Installed CRD names. */
  readonly crds: readonly string[];
  /** With `realNode`: the node, its containerd and image store. */
  readonly realNode?: RealNode;
  /** A kubeconfig for a client-certificate user with no permissions beyond what RBAC grants. */
  addUser(user: ControlPlaneUser): Promise<string>;
  /**
   * Stop kube-apiserver and start it again on the same port and storage (etcd keeps the data), as
   * an upgrade or crash would: every watch breaks, and clients must recover.
   */
  restartApiserver(): Promise<void>;
  /**
   * SIGKILL etcd (no clean shutdown, as a crash or an OOM kill would) and start it again on the same
   * data dir and port; resolves once the apiserver is ready again.
   */
  restartEtcd(): Promise<void>;
  /** SIGTERM every component (SIGKILL after 5 s), then remove the data dir. Idempotent. */
  stop(): Promise<void>;
}

const CONTROLLERS = [
  'garbage-collector-controller',
  'namespace-controller',
  'serviceaccount-controller',
  'serviceaccount-token-controller',
  'root-ca-certificate-publisher-controller',
  'validatingadmissionpolicy-status-controller',
];
// daemonset and disruption: the executor's drain and eviction tests need DaemonSet pods and PodDisruptionBudgets with a status.
const WORKLOAD_CONTROLLERS = [
  'deployment-controller',
  'replicaset-controller',
  'job-controller',
  'daemonset-controller',
  'disruption-controller',
];
const REAL_NODE_CONTROLLERS = ['endpointslice-controller', 'endpoints-controller'];

async function makeDataDir(root: string | undefined): Promise<string> {
  const parent = root ?? ((await mayAccess('/dev/shm', constants.W_OK)) ? '/dev/shm' : tmpdir());
  return mkdtemp(join(parent, 'wfe-controlplane-'));
}

function etcdArgs(dataDir: string, clientPort: number, peerPort: number): string[] {
  const client = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  return [
    '--name=wfe',
    `--data-dir=${join(dataDir, 'etcd')}`,
    `--listen-client-urls=${client}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=wfe=${peer}`,
    // Throwaway data: durability buys nothing and fsync dominates write latency.
    '--unsafe-no-fsync',
    '--log-level=warn',
  ];
}

function apiserverArgs(
  dataDir: string,
  pki: Pki,
  etcdPort: number,
  port: number,
  realNode: boolean,
  profiling: boolean,
): string[] {
  return [
    `--etcd-servers=http://127.0.0.1:${etcdPort}`,
    `--secure-port=${port}`,
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    `--cert-dir=${join(dataDir, 'apiserver')}`,
    `--tls-cert-file=${pki.apiserver.certFile}`,
    `--tls-private-key-file=${pki.apiserver.keyFile}`,
    `--client-ca-file=${pki.ca.certFile}`,
    // A real kubelet logs in as system:node:NAME and gets exactly what the Node authorizer allows.
    `--authorization-mode=${realNode ? 'Node,RBAC' : 'RBAC'}`,
    '--service-account-issuer=https://kubernetes.default.svc',
    `--service-account-key-file=${pki.serviceAccountKeyFile}`,
    `--service-account-signing-key-file=${pki.serviceAccountKeyFile}`,
    // ServiceAccount: no token volumes for pods, nothing mounts them here (envtest does the same).
    // TaintNodesByCondition: it taints new nodes not-ready, and only the node lifecycle controller
    // (not run: no kubelets) would lift it, so kwok's nodes would never take pods.
    // With a real node, ServiceAccount stays on: Pods get their projected token volume.
    `--disable-admission-plugins=${realNode ? '' : 'ServiceAccount,'}TaintNodesByCondition`,
    '--service-cluster-ip-range=10.0.0.0/24',
    '--allow-privileged=true',
    // WFE_APISERVER_PROFILING=1: /debug/pprof for a CPU profile of the apiserver (benchmarks).
    profiling ? '--profiling=true' : '--profiling=false',
  ];
}

function componentServing(dataDir: string, name: string, port: number): string[] {
  return [`--secure-port=${port}`, '--bind-address=127.0.0.1', `--cert-dir=${join(dataDir, name)}`];
}

/**
 * A kubeconfig for a new client-certificate user of the control plane whose data dir is `dataDir`
 * (usable from any process that can read it, e.g. jest workers: the handle lives in the parent).
 */
export async function addControlPlaneUser(
  dataDir: string,
  server: string,
  user: ControlPlaneUser,
): Promise<string> {
  const pkiDir = join(dataDir, 'pki');
  const ca = caFiles(pkiDir);
  const client = await clientCert(pkiDir, ca, user);
  const safe = user.name.replace(/[^A-Za-z0-9_.-]/g, '_');
  return writeKubeconfig({
    path: join(dataDir, `user-${safe}.kubeconfig`),
    server,
    caFile: ca.certFile,
    user: user.name,
    client,
  });
}

export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const log = options.log ?? ((): void => undefined);
  const started = Date.now();
  const realNode = options.realNode ?? false;
  const workloads = (options.workloads ?? false) && !realNode;
  // A real node has more to start (containerd, kubelet, the node's registration).
  const timeoutMs = options.startTimeoutMs ?? (realNode ? 180_000 : 60_000);
  const profiling = options.apiserverProfiling ?? false;
  const wanted: ControlPlaneBinary[] = ['etcd', 'kube-apiserver', 'kube-controller-manager'];
  if (workloads) wanted.push('kube-scheduler', 'kwok');
  if (realNode) wanted.push('kube-scheduler', 'kubelet', 'pause');
  const binDir = await ensureBinaries(options.binDir ?? defaultBinDir(), wanted);
  const bin = (name: ControlPlaneBinary): string => join(binDir, name);

  const dataDir = await makeDataDir(options.dataRoot);
  const logDir = join(dataDir, 'logs');
  await mkdir(logDir, { recursive: true });
  const processes: ManagedProcess[] = [];
  let stopped: Promise<void> | undefined;
  let node: RealNode | undefined;

  const stop = (): Promise<void> => {
    stopped ??= (async (): Promise<void> => {
      // Its containers, mounts and network first, while containerd still answers.
      await node?.stop();
      // Clients first, then the apiserver, then its storage.
      const layers = [
        processes.filter((p) => !['kube-apiserver', 'etcd'].includes(p.name)),
        processes.filter((p) => p.name === 'kube-apiserver'),
        processes.filter((p) => p.name === 'etcd'),
      ];
      for (const layer of layers) await Promise.all(layer.map((p) => p.stop(5000)));
      if (options.keepDataDir !== true) await rm(dataDir, { recursive: true, force: true });
    })();
    return stopped;
  };

  const start = (name: string, binary: ControlPlaneBinary, args: string[]): ManagedProcess => {
    const p = spawnManaged({
      name,
      command: bin(binary),
      args,
      logDir,
      dataDir,
      // kwok reads ~/.kwok/kwok.yaml when present: keep a developer's own file out of the tests.
      env: binary === 'kwok' ? { ...process.env, HOME: dataDir } : process.env,
    });
    processes.push(p);
    return p;
  };

  try {
    const [pki, ports] = await Promise.all([
      createPki(join(dataDir, 'pki')),
      freePorts(workloads || realNode ? 6 : 5),
    ]);
    const [etcdPort, peerPort, apiPort, kcmPort, schedulerPort] = ports as [
      number,
      number,
      number,
      number,
      number,
    ];
    const server = `https://127.0.0.1:${apiPort}`;
    log(`data dir ${dataDir}, apiserver ${server}`);

    const adminKubeconfig = await writeKubeconfig({
      path: join(dataDir, 'admin.kubeconfig'),
      server,
      caFile: pki.ca.certFile,
      user: 'admin',
      client: pki.admin,
    });

    let etcd = start('etcd', 'etcd', etcdArgs(dataDir, etcdPort, peerPort));
    let apiserver = start(
      'kube-apiserver',
      'kube-apiserver',
      apiserverArgs(dataDir, pki, etcdPort, apiPort, realNode, profiling),
    );
    const adminTls = { caFile: pki.ca.certFile, certFile: pki.admin.certFile, keyFile: pki.admin.keyFile };
    // kube-controller-manager gives up after 20 s without a healthy apiserver, which a loaded
    // machine can take longer than to start: the other components start once it is ready.
    await waitForHealthy(`${server}/readyz`, adminTls, [apiserver, etcd], timeoutMs);
    log(`kube-apiserver ready after ${Date.now() - started} ms`);
    const controllers = [
      ...CONTROLLERS,
      ...(workloads || realNode ? WORKLOAD_CONTROLLERS : []),
      ...(realNode ? REAL_NODE_CONTROLLERS : []),
    ];
    const kcm = start('kube-controller-manager', 'kube-controller-manager', [
      `--kubeconfig=${adminKubeconfig}`,
      `--controllers=${controllers.join(',')}`,
      '--leader-elect=false',
      '--use-service-account-credentials=false',
      `--service-account-private-key-file=${pki.serviceAccountKeyFile}`,
      `--root-ca-file=${pki.ca.certFile}`,
      ...componentServing(dataDir, 'kube-controller-manager', kcmPort),
    ]);
    const workloadProcesses: ManagedProcess[] = [];
    const scheduler = (): ManagedProcess =>
      start('kube-scheduler', 'kube-scheduler', [
        `--kubeconfig=${adminKubeconfig}`,
        '--leader-elect=false',
        ...componentServing(dataDir, 'kube-scheduler', schedulerPort),
      ]);
    if (realNode) workloadProcesses.push(scheduler());
    if (workloads) {
      workloadProcesses.push(
        scheduler(),
        start('kwok', 'kwok', [
          `--kubeconfig=${adminKubeconfig}`,
          '--manage-all-nodes=false',
          `--manage-nodes-with-annotation-selector=${KWOK_NODE_SELECTOR}`,
        ]),
      );
    }

    const kc = new KubeConfig();
    kc.loadFromFile(adminKubeconfig);
    const all = (): Promise<void> => assertRunning(processes);
    const [installed] = await Promise.all([
      options.installManifests === false
        ? Promise.resolve({ crds: [], admission: 0 })
        : installRepoManifests(kc, REPO_ROOT),
      waitForHealthy(`https://127.0.0.1:${kcmPort}/healthz`, {}, [kcm, apiserver], timeoutMs),
      workloads
        ? (async (): Promise<void> => {
            const [scheduler] = workloadProcesses as [ManagedProcess, ManagedProcess];
            await waitForHealthy(`https://127.0.0.1:${schedulerPort}/healthz`, {}, [scheduler], timeoutMs);
            const nodes = await createFakeNodes(kc, options.fakeNodes ?? 3);
            await waitForNodesReady(kc, nodes, timeoutMs, all);
          })()
        : Promise.resolve(),
      realNode
        ? (async (): Promise<void> => {
            const [schedulerProcess] = workloadProcesses as [ManagedProcess];
            await waitForHealthy(
              `https://127.0.0.1:${schedulerPort}/healthz`,
              {},
              [schedulerProcess],
              timeoutMs,
            );
            node = await startRealNode({
              dataDir,
              binDir,
              pki,
              server,
              kc,
              start: (name, command, args) => {
                const p = spawnManaged({ name, command, args, logDir, dataDir });
                processes.push(p);
                return p;
              },
              timeoutMs,
              log,
            });
          })()
        : Promise.resolve(),
    ]);
    await all();

    const kubeconfigPath =
      options.kubeconfigPath === undefined
        ? adminKubeconfig
        : await writeKubeconfig({
            path: options.kubeconfigPath,
            server,
            caFile: pki.ca.certFile,
            user: 'admin',
            client: pki.admin,
          });
    log(
      `control plane ready in ${Date.now() - started} ms (${installed.crds.length} CRDs, ${installed.admission} admission objects)`,
    );

    const pids: Record<string, number> = {};
    for (const p of processes) pids[p.name] = p.pid;
    return {
      kubeconfigPath,
      server,
      binDir,
      dataDir,
      version: KUBERNETES_VERSION,
      pids,
      crds: installed.crds,
      ...(node === undefined ? {} : { realNode: node }),
      addUser: (user: ControlPlaneUser) => addControlPlaneUser(dataDir, server, user),
      restartApiserver: async () => {
        const old = apiserver;
        await old.stop(5000);
        processes.splice(processes.indexOf(old), 1);
        apiserver = start(
          'kube-apiserver',
          'kube-apiserver',
          apiserverArgs(dataDir, pki, etcdPort, apiPort, realNode, profiling),
        );
        pids['kube-apiserver'] = apiserver.pid;
        await waitForHealthy(`${server}/readyz`, adminTls, [apiserver, etcd], timeoutMs);
      },
      restartEtcd: async () => {
        const old = etcd;
        process.kill(old.pid, 'SIGKILL');
        await old.exited;
        processes.splice(processes.indexOf(old), 1);
        etcd = start('etcd', 'etcd', etcdArgs(dataDir, etcdPort, peerPort));
        pids['etcd'] = etcd.pid;
        await waitForHealthy(`${server}/readyz`, adminTls, [apiserver, etcd], timeoutMs);
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
