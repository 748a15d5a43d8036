// Certificates for a throwaway control plane, made with the openssl CLI: node:crypto can make keys
// but not X.509 certificates.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface KeyPair {
  readonly certFile: string;
  readonly keyFile: string;
}

export interface Pki {
  readonly dir: string;
  readonly ca: KeyPair;
  readonly apiserver: KeyPair;
  readonly admin: KeyPair;
  /** Signs and verifies service account tokens (the apiserver accepts a private key for both). */
  readonly serviceAccountKeyFile: string;
}

export interface ClientIdentity {
  readonly name: string;
  readonly groups?: readonly string[];
}

const DAYS = '30';

async function openssl(args: readonly string[]): Promise<void> {
  await run('openssl', [...args]);
}

async function newKey(keyFile: string): Promise<void> {
  // EC keys are fast to make; every start makes a fresh set.
  await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', keyFile]);
}

/** A subject string for openssl; `/` and `,` must not appear unescaped inside values. */
function subject(cn: string, orgs: readonly string[] = []): string {
  const escape = (v: string): string => v.replace(/[/\\+,]/g, (c) => `\\${c}`);
  return [...orgs.map((o) => `/O=${escape(o)}`), `/CN=${escape(cn)}`].join('');
}

async function signedCert(
  dir: string,
  name: string,
  ca: KeyPair,
  subj: string,
  extensions: readonly string[],
): Promise<KeyPair> {
  const keyFile = join(dir, `${name}.key`);
  const certFile = join(dir, `${name}.crt`);
  const csrFile = join(dir, `${name}.csr`);
  const extFile = join(dir, `${name}.ext`);
  await newKey(keyFile);
  await openssl(['req', '-new', '-key', keyFile, '-subj', subj, '-out', csrFile]);
  await writeFile(extFile, `${extensions.join('\n')}\n`);
  await openssl([
    'x509',
    '-req',
    '-in',
    csrFile,
    '-CA',
    ca.certFile,
    '-CAkey',
    ca.keyFile,
    // A random serial, not -CAcreateserial: certificates are signed concurrently.
    '-set_serial',
    `0x${randomBytes(12).toString('hex')}`,
    '-days',
    DAYS,
    '-extfile',
    extFile,
    '-out',
    certFile,
  ]);
  return { certFile, keyFile };
}

/** A client certificate: the apiserver takes the user from CN and the groups from O. */
export async function clientCert(dir: string, ca: KeyPair, who: ClientIdentity): Promise<KeyPair> {
  const fileName = `user-${who.name.replace(/[^A-Za-z0-9_.-]/g, '_')}`;
  return signedCert(dir, fileName, ca, subject(who.name, who.groups), [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage=clientAuth',
  ]);
}

/** The CA's files in a PKI directory made by createPki. */
export function caFiles(dir: string): KeyPair {
  return { certFile: join(dir, 'ca.crt'), keyFile: join(dir, 'ca.key') };
}

export async function createPki(dir: string): Promise<Pki> {
  await mkdir(dir, { recursive: true });
  const ca = caFiles(dir);
  const serviceAccountKeyFile = join(dir, 'sa.key');
  // RSA for service account tokens (RS256, which every consumer accepts); the slowest key, so it
  // is made while the rest is signed.
  const saKey = openssl([
    'genpkey',
    '-algorithm',
    'RSA',
    '-pkeyopt',
    'rsa_keygen_bits:2048',
    '-out',
    serviceAccountKeyFile,
  ]);
  await newKey(ca.keyFile);
  await openssl([
    'req',
    '-x509',
    '-new',
    '-key',
    ca.keyFile,
    '-subj',
    subject('wfe-controlplane-ca'),
    '-days',
    DAYS,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
    '-out',
    ca.certFile,
  ]);
  const [apiserver, admin] = await Promise.all([
    signedCert(dir, 'apiserver', ca, subject('kube-apiserver'), [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth',
      // 10.0.0.1 is the kubernetes service IP in --service-cluster-ip-range.
      'subjectAltName=IP:127.0.0.1,DNS:localhost,IP:10.0.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc',
    ]),
    clientCert(dir, ca, { name: 'admin', groups: ['system:masters'] }),
    saKey,
  ]);
  return { dir, ca, apiserver, admin, serviceAccountKeyFile };
}
