/**
 * How the operator and wfx find and log in to a cluster, as client-go does: `--kubeconfig`, else
 * `$KUBECONFIG` (files merged, the first to name an entry wins), else the in-cluster ServiceAccount,
 * else `~/.kube/config`. Credentials: client certificates (files read again as they rotate), bearer
 * tokens (a token file is read again as the kubelet rotates it), basic auth, and exec plugins
 * (ExecCredential, cached until it expires or the apiserver answers 401; given the terminal when
 * the caller is interactive and the plugin's interactiveMode allows). Impersonation (`as`,
 * `as-uid`, `as-groups`, `as-user-extra`) is sent as Impersonate-* headers. What it does not support
 * (auth providers, proxy-url) it refuses with the reason, never ignores.
 *
 * Its own, not @kubernetes/client-node's KubeConfig: that one imports the whole generated API
 * client, which alone costs a process about 85 MiB of RSS (measured: 41 -> 126 MiB on import).
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { promisify } from 'node:util';
import type { RequestOptions } from 'node:https';
import { parse } from 'yaml';

const run = promisify(execFile);

/** What a client needs of a kubeconfig: client-node's KubeConfig has the same shape. */
export interface KubeCredentials {
  getCurrentCluster(): { server: string } | null;
  getCurrentUser(): { name: string } | null;
  /** Sets TLS material and auth headers on the options of the next request. */
  applyToHTTPSOptions(options: RequestOptions): Promise<void>;
  /**
   * After a 401: drop cached credentials that can be fetched again (an exec plugin's); true when
   * there were some, so the request is worth sending again.
   */
  refreshCredentials?(): boolean;
}

interface NamedEntry<T> {
  name: string;
  [kind: string]: T | string;
}

interface ClusterEntry {
  server?: string;
  'certificate-authority'?: string;
  'certificate-authority-data'?: string;
  'insecure-skip-tls-verify'?: boolean;
  'tls-server-name'?: string;
  'proxy-url'?: string;
}

interface ExecConfig {
  apiVersion?: string;
  command: string;
  args?: string[];
  env?: { name: string; value: string }[] | null;
  /** client-go's: Never, IfAvailable (the default of v1beta1), Always (the plugin needs a terminal). */
  interactiveMode?: 'Never' | 'IfAvailable' | 'Always';
}

interface UserEntry {
  'client-certificate'?: string;
  'client-certificate-data'?: string;
  'client-key'?: string;
  'client-key-data'?: string;
  token?: string;
  tokenFile?: string;
  username?: string;
  password?: string;
  exec?: ExecConfig;
  'auth-provider'?: { name?: string };
  as?: string;
  'as-uid'?: string;
  'as-groups'?: string[] | null;
  'as-user-extra'?: Record<string, string[]> | null;
}

interface ContextEntry {
  cluster?: string;
  user?: string;
  namespace?: string;
}

/** One kubeconfig file as parsed, with the directory its relative paths are relative to. */
export interface KubeconfigFile {
  dir: string;
  doc: {
    clusters?: NamedEntry<ClusterEntry>[] | null;
    users?: NamedEntry<UserEntry>[] | null;
    contexts?: NamedEntry<ContextEntry>[] | null;
    'current-context'?: string;
  };
}

/** Where a credential or certificate comes from: inline bytes, or a file read when needed. */
type Source = { data: Buffer } | { file: string };

export interface ResolvedConfig {
  contextName: string;
  server: string;
  namespace: string | undefined;
  userName: string;
  ca?: Source;
  cert?: Source;
  key?: Source;
  insecure: boolean;
  tlsServerName?: string;
  auth:
    | { kind: 'none' }
    | { kind: 'token'; token: Source }
    | { kind: 'basic'; username: string; password: string }
    | { kind: 'exec'; exec: ExecConfig; dir: string };
  /** Whom to act as: sent as Impersonate-User, -Uid, -Group and -Extra-* headers. */
  impersonate?: Impersonation;
}

export interface Impersonation {
  user: string;
  uid?: string;
  groups: string[];
  extra: Record<string, string[]>;
}

export const IN_CLUSTER_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

const pathIn = (dir: string, file: string) => (isAbsolute(file) ? file : join(dir, file));

function source(dir: string, data: string | undefined, file: string | undefined): Source | undefined {
  if (data) return { data: Buffer.from(data, 'base64') };
  if (file) return { file: pathIn(dir, file) };
  return undefined;
}

/** The first entry of that name across the files (inner object, e.g. `cluster:`), and its file's dir. */
function find(
  files: readonly KubeconfigFile[],
  list: 'clusters' | 'users' | 'contexts',
  kind: string,
  name: string,
): { entry: unknown; dir: string } | undefined {
  for (const file of files) {
    const entry = file.doc[list]?.find((e) => e.name === name);
    if (entry) return { entry: entry[kind] ?? {}, dir: file.dir };
  }
  return undefined;
}

/** The current context of the merged files, resolved to what a client needs (pure: no file is read). */
export function resolveKubeconfig(files: readonly KubeconfigFile[], context?: string): ResolvedConfig {
  const contextName = context ?? files.map((f) => f.doc['current-context']).find((c) => c);
  if (!contextName) throw new Error('the kubeconfig names no current-context');
  const found = find(files, 'contexts', 'context', contextName);
  if (!found) throw new Error(`the kubeconfig has no context ${JSON.stringify(contextName)}`);
  const ctxEntry = found.entry as ContextEntry;
  const clusterName = ctxEntry.cluster ?? '';
  const clusterFound = find(files, 'clusters', 'cluster', clusterName);
  const cluster = clusterFound && { entry: clusterFound.entry as ClusterEntry, dir: clusterFound.dir };
  if (!cluster?.entry.server)
    throw new Error(
      `context ${JSON.stringify(contextName)}: cluster ${JSON.stringify(clusterName)} has no server`,
    );
  if (cluster.entry['proxy-url'])
    throw new Error(
      `cluster ${JSON.stringify(clusterName)}: proxy-url is not supported; connect without the proxy`,
    );
  const userName = ctxEntry.user ?? '';
  const userFound = find(files, 'users', 'user', userName);
  const user = (userFound?.entry ?? {}) as UserEntry;
  const userDir = userFound?.dir ?? cluster.dir;
  if (user['auth-provider'])
    throw new Error(
      `user ${JSON.stringify(userName)}: auth-provider ${user['auth-provider'].name ?? ''} is not supported; use an exec credential plugin`,
    );
  const impersonate = impersonationOf(userName, user);
  const token = source(userDir, undefined, user.tokenFile);
  const cert = source(userDir, user['client-certificate-data'], user['client-certificate']);
  const key = source(userDir, user['client-key-data'], user['client-key']);
  const ca = source(
    cluster.dir,
    cluster.entry['certificate-authority-data'],
    cluster.entry['certificate-authority'],
  );
  return {
    contextName,
    server: cluster.entry.server.replace(/\/$/, ''),
    namespace: ctxEntry.namespace,
    userName,
    ...(ca ? { ca } : {}),
    ...(cert ? { cert } : {}),
    ...(key ? { key } : {}),
    insecure: cluster.entry['insecure-skip-tls-verify'] === true,
    ...(cluster.entry['tls-server-name'] ? { tlsServerName: cluster.entry['tls-server-name'] } : {}),
    auth: user.exec
      ? { kind: 'exec', exec: user.exec, dir: userDir }
      : user.token
        ? { kind: 'token', token: { data: Buffer.from(user.token) } }
        : token
          ? { kind: 'token', token }
          : user.username !== undefined && user.password !== undefined
            ? { kind: 'basic', username: user.username, password: user.password }
            : { kind: 'none' },
    ...(impersonate ? { impersonate } : {}),
  };
}

/** The user's `as*` fields; refused when they ask for groups, a uid or extras without a user, as kubectl does. */
function impersonationOf(userName: string, user: UserEntry): Impersonation | undefined {
  const groups = user['as-groups'] ?? [];
  const extra = user['as-user-extra'] ?? {};
  if (!user.as) {
    if (groups.length > 0 || user['as-uid'] || Object.keys(extra).length > 0)
      throw new Error(
        `user ${JSON.stringify(userName)}: as-groups, as-uid and as-user-extra impersonate a user: name it with as`,
      );
    return undefined;
  }
  return { user: user.as, ...(user['as-uid'] ? { uid: user['as-uid'] } : {}), groups, extra };
}

/** The Impersonate-* headers (an extra's key percent-encoded, as client-go does). */
export function impersonationHeaders(who: Impersonation): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = { 'impersonate-user': who.user };
  if (who.uid) headers['impersonate-uid'] = who.uid;
  if (who.groups.length > 0) headers['impersonate-group'] = who.groups;
  for (const [key, values] of Object.entries(who.extra))
    headers[`impersonate-extra-${encodeURIComponent(key)}`] = values;
  return headers;
}

/** The in-cluster config: the ServiceAccount's token (read again on every request) and CA. */
export function inClusterConfig(host: string, port: string, dir = IN_CLUSTER_DIR): ResolvedConfig {
  const hostPart = host.includes(':') ? `[${host}]` : host;
  return {
    contextName: 'in-cluster',
    server: `https://${hostPart}:${port}`,
    namespace: undefined,
    userName: 'serviceaccount',
    ca: { file: join(dir, 'ca.crt') },
    insecure: false,
    auth: { kind: 'token', token: { file: join(dir, 'token') } },
  };
}

interface ExecCredential {
  status?: {
    token?: string;
    clientCertificateData?: string;
    clientKeyData?: string;
    expirationTimestamp?: string;
  };
}

const read = (s: Source): Buffer => ('data' in s ? s.data : readFileSync(s.file));

/**
 * Token, certificate and key files are read again at most once a minute (client-go's period): the
 * kubelet rotates tokens, cert-manager or a sidecar rotates certificates.
 */
const TOKEN_FILE_TTL_MS = 60_000;

export interface ClientConfigOptions {
  /**
   * Whether a person is at a terminal (wfx): an exec plugin whose interactiveMode allows it then
   * gets stdin and the terminal for its prompts. The operator is never interactive.
   */
  interactive?: boolean;
}

/** A kubeconfig's current context as a client uses it; credentials are fetched as requests need them. */
export class ClientConfig implements KubeCredentials {
  private execCredential: { value: ExecCredential; expiresAt: number } | undefined;
  private tokenRead: { token: string; at: number } | undefined;
  private tls: { value: Pick<RequestOptions, 'ca' | 'cert' | 'key'>; at: number } | undefined;
  private readonly interactive: boolean;

  readonly resolved: ResolvedConfig;

  constructor(resolved: ResolvedConfig, options: ClientConfigOptions = {}) {
    this.resolved = resolved;
    this.interactive = options.interactive ?? false;
  }

  get namespace(): string | undefined {
    return this.resolved.namespace;
  }

  getCurrentCluster(): { server: string } {
    return { server: this.resolved.server };
  }

  getCurrentUser(): { name: string } {
    return { name: this.resolved.userName };
  }

  /** After a 401: an exec plugin's credential is dropped, so the next request runs the plugin again. */
  refreshCredentials(): boolean {
    if (this.resolved.auth.kind !== 'exec') return false;
    this.execCredential = undefined;
    return true;
  }

  async applyToHTTPSOptions(options: RequestOptions): Promise<void> {
    const r = this.resolved;
    // Read again after a while: the client pools connections by certificate, so a rotated one is
    // used from the next request on.
    const now = Date.now();
    if (!this.tls || now - this.tls.at > TOKEN_FILE_TTL_MS)
      this.tls = {
        value: {
          ...(r.ca ? { ca: read(r.ca) } : {}),
          ...(r.cert ? { cert: read(r.cert) } : {}),
          ...(r.key ? { key: read(r.key) } : {}),
        },
        at: now,
      };
    Object.assign(options, this.tls.value);
    if (r.insecure) options.rejectUnauthorized = false;
    if (r.tlsServerName) options.servername = r.tlsServerName;
    const headers = (options.headers ?? {}) as Record<string, string>;
    const auth = r.auth;
    if (auth.kind === 'token') headers['authorization'] = `Bearer ${this.token(auth.token)}`;
    if (auth.kind === 'basic')
      headers['authorization'] =
        `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
    if (auth.kind === 'exec') {
      const status = (await this.exec(auth.exec, auth.dir)).status ?? {};
      if (status.token) headers['authorization'] = `Bearer ${status.token}`;
      if (status.clientCertificateData) options.cert = status.clientCertificateData;
      if (status.clientKeyData) options.key = status.clientKeyData;
    }
    if (r.impersonate) Object.assign(headers, impersonationHeaders(r.impersonate));
    options.headers = headers;
  }

  private token(from: Source): string {
    const now = Date.now();
    if (!this.tokenRead || now - this.tokenRead.at > TOKEN_FILE_TTL_MS)
      this.tokenRead = { token: read(from).toString('utf8').trim(), at: now };
    return this.tokenRead.token;
  }

  /** Runs the exec plugin, or answers from its last credential while that has not expired. */
  private async exec(config: ExecConfig, dir: string): Promise<ExecCredential> {
    if (this.execCredential && Date.now() < this.execCredential.expiresAt) return this.execCredential.value;
    const apiVersion = config.apiVersion ?? 'client.authentication.k8s.io/v1';
    // client-go: v1 requires interactiveMode; v1beta1 defaults to IfAvailable.
    const mode = config.interactiveMode ?? 'IfAvailable';
    if (mode === 'Always' && !this.interactive)
      throw new Error(
        `exec plugin ${config.command}: its interactiveMode is Always, and no terminal is here to answer it`,
      );
    const interactive = this.interactive && mode !== 'Never';
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      KUBERNETES_EXEC_INFO: JSON.stringify({
        apiVersion,
        kind: 'ExecCredential',
        spec: { interactive },
      }),
    };
    for (const { name, value } of config.env ?? []) env[name] = value;
    const command = config.command.includes('/') ? pathIn(dir, config.command) : config.command;
    const stdout = interactive
      ? await runWithTerminal(command, config.args ?? [], env)
      : (await run(command, config.args ?? [], { env, timeout: 60_000 })).stdout;
    const value = JSON.parse(stdout) as ExecCredential;
    const expiry = value.status?.expirationTimestamp;
    // Without an expiry a credential is used until the process ends, as client-go does.
    this.execCredential = {
      value,
      expiresAt: expiry ? Date.parse(expiry) - 10_000 : Number.POSITIVE_INFINITY,
    };
    return value;
  }
}

/**
 * Runs an exec plugin with this process's stdin and stderr (its prompts and a person's answers), its
 * stdout read as the credential. No timeout: a person may take their time over an MFA prompt.
 */
function runWithTerminal(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['inherit', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => (stdout += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(stdout);
      else reject(new Error(`exec plugin ${command} exited with ${String(code)}`));
    });
  });
}

function readKubeconfigFile(path: string): KubeconfigFile {
  const doc = (parse(readFileSync(path, 'utf8')) ?? {}) as KubeconfigFile['doc'];
  return { dir: dirname(path), doc };
}

/**
 * The client config the way client-go finds it: an explicit path, else `$KUBECONFIG` (a list of
 * files), else in-cluster (KUBERNETES_SERVICE_HOST set), else `~/.kube/config`.
 */
export function loadClientConfig(
  path?: string,
  env: NodeJS.ProcessEnv = process.env,
  options: ClientConfigOptions = {},
): ClientConfig {
  if (path) return new ClientConfig(resolveKubeconfig([readKubeconfigFile(path)]), options);
  // As client-go: files of the list that do not exist are passed over.
  const listed = (env['KUBECONFIG'] ?? '').split(':').filter((p) => p !== '' && existsSync(p));
  if (listed.length > 0) return new ClientConfig(resolveKubeconfig(listed.map(readKubeconfigFile)), options);
  const host = env['KUBERNETES_SERVICE_HOST'];
  const port = env['KUBERNETES_SERVICE_PORT'];
  if (host && port) return new ClientConfig(inClusterConfig(host, port), options);
  return new ClientConfig(
    resolveKubeconfig([readKubeconfigFile(join(homedir(), '.kube', 'config'))]),
    options,
  );
}
