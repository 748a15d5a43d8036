/**
 * The metrics server's certificate: `tls.crt` and `tls.key` from a mounted directory (a Secret, such
 * as cert-manager's), read again when the file changes so a renewed certificate is served without a
 * restart; or, without one, a self-signed certificate made at start, as controller-runtime does.
 */
import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { selfSignedCertificate } from './self-signed.ts';

export interface ServingCertificate {
  cert: string;
  key: string;
  source: 'mounted' | 'self-signed';
}

/** How often a mounted certificate's file is looked at for a change (kubelet updates Secrets ~1 min). */
const WATCH_INTERVAL_MS = 10_000;

export function loadServingCertificate(certDir: string | undefined): ServingCertificate {
  if (certDir) {
    try {
      return {
        cert: readFileSync(join(certDir, 'tls.crt'), 'utf8'),
        key: readFileSync(join(certDir, 'tls.key'), 'utf8'),
        source: 'mounted',
      };
    } catch (error) {
      throw new Error(
        `--metrics-cert-dir ${certDir}: tls.crt and tls.key must be readable there (${(error as Error).message})`,
      );
    }
  }
  const { cert, key } = selfSignedCertificate(['localhost', '127.0.0.1', '::1', hostname()]);
  return { cert, key, source: 'self-signed' };
}

/** Calls `onChange` with the new certificate when the mounted one changes; returns the stop. */
export function watchServingCertificate(
  certDir: string,
  onChange: (certificate: ServingCertificate) => void,
  onError: (error: Error) => void,
): () => void {
  const file = join(certDir, 'tls.crt');
  watchFile(file, { interval: WATCH_INTERVAL_MS, persistent: false }, (now, before) => {
    if (now.mtimeMs === before.mtimeMs && now.size === before.size) return;
    try {
      onChange(loadServingCertificate(certDir));
    } catch (error) {
      // Half-written (the key not yet there): the last good one is served until the next change.
      onError(error as Error);
    }
  });
  return () => {
    unwatchFile(file);
  };
}
