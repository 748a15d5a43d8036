/**
 * `npm run dev`: everything a developer needs on one machine. A real control plane with
 * fake nodes (built from Go modules the first time), the CRDs and admission policy, the operator
 * in-process, the demo executor, the targets and sample workflows of examples/ applied; then the
 * commands to follow them. `startDev` is the whole start-up, shared by the CLI and the e2e test.
 */
import { mkdir, readFile, readdir, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join, relative } from 'node:path';
import winston from 'winston';
import { startExecutor, type RunningExecutor } from '../../src/executor/executor.ts';
import { REPO_ROOT, defaultBinDir, missingBinaries } from '../controlplane/binaries.ts';
import { startControlPlane, type ControlPlane } from '../controlplane/launcher.ts';
import { controlPlaneTuning } from '../controlplane/environment.ts';
import { applyAll, parseManifests } from '../controlplane/manifests.ts';
import { createKubeClient } from '../../src/shell/kube/client.ts';
import type { Logger } from '../../src/shell/logger.ts';
import { startOperator, type RunningOperator } from '../../src/shell/operator.ts';
import { loadClientConfig } from '../../src/shell/kube/kubeconfig.ts';
import { startInspector } from '../../src/inspect/server.ts';
import { Cleanup } from '../../src/shell/cleanup.ts';
import { startMonitoring } from '../monitoring/bundle.ts';
import { ensureMonitoringTools } from '../monitoring/tools.ts';

/** The executor's ServiceAccount, as manifests/ ship it. */
const EXECUTOR_NAMESPACE = 'kubernaut-system';
const EXECUTOR_USER = `system:serviceaccount:${EXECUTOR_NAMESPACE}:kubernetes-executor`;

export const DEV_CACHE = join(REPO_ROOT, '.cache');

/** The ServiceAccount the demo's alerts are posted as: what Alertmanager would run as. */
export const ALERT_SENDER = { namespace: 'kubernaut-system', name: 'alertmanager' };

/** Alertmanager's identity in the dev cluster: its ServiceAccount, bound to the shipped alert-sender role. */
async function alertSender(admin: ReturnType<typeof loadClientConfig>): Promise<void> {
  const role = parseManifests(await readFile(join(REPO_ROOT, 'manifests/rbac/operator.yaml'), 'utf8')).filter(
    (o) => o.kind === 'ClusterRole' && o.metadata?.name === 'workflowexecution-alert-sender',
  );
  await applyAll(admin, [
    ...role,
    ...parseManifests(
      [
        `apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: ${ALERT_SENDER.name}\n  namespace: ${ALERT_SENDER.namespace}\n`,
        `apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: workflowexecution-alert-sender\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: workflowexecution-alert-sender\nsubjects:\n  - kind: ServiceAccount\n    name: ${ALERT_SENDER.name}\n    namespace: ${ALERT_SENDER.namespace}\n`,
      ].join('---\n'),
    ),
  ]);
}

export interface DevOptions {
  /** Where the admin kubeconfig is written (default .cache/kubeconfig). */
  kubeconfigPath?: string;
  /** Parent of the control plane's data dir (default: the launcher's, /dev/shm or the temp dir). */
  dataRoot?: string;
  /** Operator and executor JSON logs go here (default .cache/dev). */
  logDir?: string;
  /** Preferred ports: used when free, else a random one (0: always random). */
  healthPort?: number;
  metricsPort?: number;
  inspectorPort?: number;
  /** The Alertmanager webhook receiver's (default 9443). */
  alertWebhookPort?: number;
  /** The samples; targets.yaml is applied first (default examples/). */
  examplesDir?: string;
  /** Progress lines (default: stderr). */
  progress?: (line: string) => void;
  /** Also the monitoring bundle and a Prometheus scraping the operator (`npm run monitoring`). */
  monitoring?: boolean;
  prometheusPort?: number;
}

export interface DevEnvironment {
  readonly kubeconfigPath: string;
  readonly server: string;
  readonly healthPort: number | undefined;
  readonly metricsPort: number | undefined;
  /** The Alertmanager webhook receiver (POST /alerts, a bearer token of ALERT_SENDER). */
  readonly alertWebhookPort: number | undefined;
  /** The live statechart inspector's page. */
  readonly inspectorUrl: string;
  /** Prometheus, with --monitoring. */
  readonly prometheusUrl: string | undefined;
  readonly logDir: string;
  readonly controlPlane: ControlPlane;
  readonly operator: RunningOperator;
  readonly executor: RunningExecutor;
  /** Names of the WorkflowExecutions applied from the examples. */
  readonly workflows: readonly string[];
  /** How long start-up took, in ms. */
  readonly startMs: number;
  /** Stops the executor, the operator and the control plane. Idempotent. */
  stop(): Promise<void>;
}

/** `preferred` when nothing listens on it, else 0 (the server then picks a free port). */
export function portOrRandom(preferred: number): Promise<number> {
  if (preferred === 0) return Promise.resolve(0);
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => {
      resolve(0);
    });
    probe.listen(preferred, '127.0.0.1', () => {
      probe.close(() => {
        resolve(preferred);
      });
    });
  });
}

function fileLogger(file: string): Logger {
  return winston.createLogger({
    level: 'info',
    format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
    // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment -- winston's File is a TransportStream; its typings come from two packages
    transports: [new winston.transports.File({ filename: file })],
  });
}

const closeLogger = (log: Logger): Promise<void> =>
  new Promise((resolve) => {
    log.on('finish', () => {
      resolve();
    });
    log.end();
  });

/** The examples' files: targets.yaml first, then the samples in name order. */
async function exampleFiles(dir: string): Promise<string[]> {
  const files = (await readdir(dir)).filter((f) => /\.ya?ml$/.test(f)).sort();
  return [
    ...files.filter((f) => f.startsWith('targets.')),
    ...files.filter((f) => !f.startsWith('targets.')),
  ];
}

export async function startDev(options: DevOptions = {}): Promise<DevEnvironment> {
  const started = Date.now();
  const progress = options.progress ?? ((line: string) => process.stderr.write(`dev: ${line}\n`));
  const kubeconfigPath = options.kubeconfigPath ?? join(DEV_CACHE, 'kubeconfig');
  const logDir = options.logDir ?? join(DEV_CACHE, 'dev');
  const examplesDir = options.examplesDir ?? join(REPO_ROOT, 'examples');
  await mkdir(logDir, { recursive: true });

  const missing = await missingBinaries(defaultBinDir());
  if (missing.length > 0)
    progress(`building the control plane (${missing.join(', ')}): first time only, several minutes`);
  progress('starting the control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok)');
  const controlPlane = await startControlPlane({
    ...controlPlaneTuning(process.env),
    workloads: true,
    kubeconfigPath,
    ...(options.dataRoot !== undefined ? { dataRoot: options.dataRoot } : {}),
    log: (m) => {
      progress(`control plane: ${m}`);
    },
  });

  const cleanup = new Cleanup();
  cleanup.add('the control plane', () => controlPlane.stop());
  // The kubeconfig names a cluster that is gone once the control plane stops.
  cleanup.add('the kubeconfig', () => rm(kubeconfigPath, { force: true }));
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => (stopping ??= cleanup.run());

  try {
    const operatorLog = fileLogger(join(logDir, 'operator.log'));
    const executorLog = fileLogger(join(logDir, 'executor.log'));
    cleanup.add('the logs', () => Promise.all([closeLogger(operatorLog), closeLogger(executorLog)]));
    const [healthPort, metricsPort, alertWebhookPort] = await Promise.all([
      portOrRandom(options.healthPort ?? 8080),
      portOrRandom(options.metricsPort ?? 9090),
      portOrRandom(options.alertWebhookPort ?? 9443),
    ]);
    // The executor's identity and its permissions as the install ships them (its namespace, its
    // ServiceAccount, the ClusterRole generated from the action catalogue): the rbac safety check
    // asks about that identity, so it passes here because the executor is permitted, as on a cluster.
    const admin = loadClientConfig(kubeconfigPath);
    for (const file of ['manifests/base/namespace.yaml', 'manifests/rbac/executor.yaml']) {
      const objects = parseManifests(await readFile(join(REPO_ROOT, file), 'utf8'));
      await applyAll(admin, objects);
    }
    await applyAll(
      admin,
      parseManifests(
        'apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: kubernetes-executor\n  namespace: kubernaut-system\n',
      ),
    );
    await alertSender(admin);
    const operator = await startOperator({
      kubeconfig: kubeconfigPath,
      healthPort,
      metricsPort,
      alertWebhookPort,
      bindAddress: '127.0.0.1',
      log: operatorLog,
      auditPath: join(controlPlane.dataDir, 'audit.sqlite'),
      // The identity the checks ask about, and the one the executor below acts as.
      executorUser: EXECUTOR_USER,
      // The samples complete within seconds of being healthy; an installation's default is 60 s.
      stabilityWindowMs: 10_000,
    });
    cleanup.add('the operator', () => operator.stop());
    progress(
      `operator running (health :${String(operator.healthPort)}, metrics :${String(operator.metricsPort)}, alert webhook :${String(operator.alertWebhookPort)})`,
    );

    // The executor acts as its ServiceAccount (a client certificate of that user name and its
    // groups, which RBAC matches as the ServiceAccount): it may do only what the shipped RBAC grants,
    // as on a cluster, so a permission the action catalogue lacks shows here as a 403.
    const executorKubeconfig = await controlPlane.addUser({
      name: EXECUTOR_USER,
      groups: ['system:serviceaccounts', `system:serviceaccounts:${EXECUTOR_NAMESPACE}`],
    });
    const executorClient = await createKubeClient(loadClientConfig(executorKubeconfig));
    cleanup.add("the executor's client", () => {
      executorClient.close();
    });
    // --development: the samples script their runs with the test hooks and fault annotations.
    const executor = await startExecutor({ client: executorClient, log: executorLog, development: true });
    cleanup.add('the executor', () => executor.stop());
    progress('executor running (development: test hooks and fault annotations honoured)');

    const inspector = await startInspector({
      kubeconfig: kubeconfigPath,
      port: await portOrRandom(options.inspectorPort ?? 8090),
      host: '127.0.0.1',
    });
    cleanup.add('the inspector', () => inspector.stop());
    progress(`inspector at ${inspector.url}`);
    let prometheusUrl: string | undefined;
    if (options.monitoring === true) {
      progress('monitoring: prometheus, promtool and kustomize (built from Go modules the first time)');
      const tools = await ensureMonitoringTools();
      const client = await createKubeClient(admin);
      try {
        const monitoring = await startMonitoring({
          kc: admin,
          client,
          tools,
          metricsAddress: `127.0.0.1:${String(operator.metricsPort)}`,
          dir: join(controlPlane.dataDir, 'prometheus'),
          port: await portOrRandom(options.prometheusPort ?? 9091),
          scrapeInterval: '5s',
        });
        cleanup.add('prometheus', () => monitoring.stop());
        prometheusUrl = monitoring.prometheus.url;
        progress(
          `prometheus at ${monitoring.prometheus.url} (the shipped rules; log ${monitoring.prometheus.logFile})`,
        );
      } finally {
        client.close();
      }
    }

    const workflows: string[] = [];
    for (const file of await exampleFiles(examplesDir)) {
      const objects = parseManifests(await readFile(join(examplesDir, file), 'utf8'));
      await applyAll(admin, objects);
      workflows.push(
        ...objects.filter((o) => o.kind === 'WorkflowExecution').map((o) => o.metadata?.name ?? ''),
      );
      progress(`applied ${relative(REPO_ROOT, join(examplesDir, file))} (${objects.length} objects)`);
    }

    return {
      kubeconfigPath,
      server: controlPlane.server,
      healthPort: operator.healthPort,
      metricsPort: operator.metricsPort,
      alertWebhookPort: operator.alertWebhookPort,
      inspectorUrl: inspector.url,
      prometheusUrl,
      logDir,
      controlPlane,
      operator,
      executor,
      workflows,
      startMs: Date.now() - started,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** What to type next, printed once everything runs. */
export function instructions(env: DevEnvironment): string {
  const wfx = 'node_modules/.bin/node src/cli/wfx.ts';
  const kubeconfig = relative(process.cwd(), env.kubeconfigPath) || env.kubeconfigPath;
  return [
    '',
    `Ready in ${(env.startMs / 1000).toFixed(1)} s: control plane ${env.server}, operator, demo executor, inspector.`,
    `Operator: http://127.0.0.1:${String(env.healthPort)}/healthz, https://127.0.0.1:${String(env.metricsPort)}/metrics (self-signed; bearer token; TokenReview)`,
    `Inspector (live statecharts): ${env.inspectorUrl}`,
    ...(env.prometheusUrl
      ? [
          `Prometheus (scrapes the operator as the ServiceMonitor says; the shipped alert rules): ${env.prometheusUrl}`,
          `  ${env.prometheusUrl}/alerts, ${env.prometheusUrl}/api/v1/query?query=kubernaut_workflowexecution_workflow_status`,
        ]
      : []),
    `Sample workflows in namespace demo: ${env.workflows.join(', ')}`,
    '',
    'Follow them (another terminal):',
    `  export KUBECONFIG=${env.kubeconfigPath}`,
    `  ${wfx} get -n demo                        # or: npm run wfx -- get -n demo`,
    `  ${wfx} describe sequential-demo -n demo`,
    `  ${wfx} approve approval-demo -n demo      # the approval sample waits for this (5 min)`,
    `  ${wfx} diagram rollback-demo -n demo --format mermaid`,
    `  kubectl --kubeconfig ${kubeconfig} get wfe,kexec,deploy,cm -n demo`,
    `  kubectl --kubeconfig ${kubeconfig} get wfe -n demo -o wide -w`,
    '',
    'Fire an alert as Alertmanager would (the high-load AlertRoute makes a run of template scale-up):',
    `  TOKEN=$(kubectl --kubeconfig ${kubeconfig} create token ${ALERT_SENDER.name} -n ${ALERT_SENDER.namespace})`,
    `  curl -s -H "Authorization: Bearer $TOKEN" --data @examples/alerts/high-load.json http://127.0.0.1:${String(env.alertWebhookPort)}/alerts`,
    `  ${wfx} get -n demo                        # alert-d3e0a1e2f0c0ffee-...: frontend scaled to 3`,
    '',
    `Logs: ${relative(process.cwd(), env.logDir) || env.logDir}/operator.log, executor.log; control plane: ${env.controlPlane.dataDir}/logs`,
    'Ctrl-C stops everything.',
    '',
  ].join('\n');
}
