// The metrics server's certificate: a self-signed one made at start is a valid X.509 server
// certificate a TLS client accepts for the names it lists; a mounted one is read from tls.crt and
// tls.key, and a change of it is served without a restart.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TLSSocket } from 'node:tls';
import { afterAll, describe, expect, it } from '@jest/globals';
import { selfSignedCertificate } from '../../src/shell/self-signed.ts';
import { loadServingCertificate } from '../../src/shell/serving-certificate.ts';
import { startMetricsServer } from '../../src/shell/servers.ts';
import { Registry } from 'prom-client';

const NOW = Date.UTC(2026, 5, 1);

describe('a self-signed certificate', () => {
  const made = selfSignedCertificate(['localhost', '127.0.0.1', '::1', 'wfe.kubernaut-system.svc'], {
    now: NOW,
    days: 365,
  });
  const cert = new X509Certificate(made.cert);

  it('names every host it serves, as DNS names and IP addresses', () => {
    expect(cert.subjectAltName).toBe(
      'DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, DNS:wfe.kubernaut-system.svc',
    );
    expect(cert.checkHost('wfe.kubernaut-system.svc')).toBe('wfe.kubernaut-system.svc');
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(cert.checkHost('elsewhere.example')).toBeUndefined();
  });

  it('is signed by its own key, is no CA, and is valid from an hour before it was made for the days asked', () => {
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(cert.checkPrivateKey(createPrivateKey(made.key))).toBe(true);
    expect(cert.ca).toBe(false);
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
    expect(Date.parse(cert.validFrom)).toBe(NOW - 3_600_000);
    expect(Date.parse(cert.validTo)).toBe(NOW + 365 * 86_400_000);
    expect(cert.fingerprint256.replace(/:/g, '').toLowerCase()).toBe(made.fingerprint256);
  });

  it('is valid DER whatever its random serial: its first byte is 0x40-0x7f, so never padding; 300 made, every one parses', () => {
    // One random serial in 256 once began with a zero byte, which DER refuses as padding.
    for (let i = 0; i < 300; i++) {
      const cert = new X509Certificate(selfSignedCertificate(['localhost']).cert);
      expect(cert.serialNumber).toMatch(/^[4-7][0-9A-F]{31}$/);
    }
  });

  it('writes dates from 2050 on as GeneralizedTime, as RFC 5280 asks', () => {
    const late = new X509Certificate(
      selfSignedCertificate(['a'], { now: Date.UTC(2049, 11, 1), days: 60 }).cert,
    );
    expect(new Date(late.validTo).getUTCFullYear()).toBe(2050);
  });
});

describe('the metrics server’s certificate', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wfe-cert-'));
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('is made at start when none is mounted', () => {
    const certificate = loadServingCertificate(undefined);
    expect(certificate.source).toBe('self-signed');
    expect(new X509Certificate(certificate.cert).checkHost('localhost')).toBe('localhost');
  });

  it('refuses a cert dir without tls.crt and tls.key, naming it', () => {
    expect(() => loadServingCertificate(join(dir, 'missing'))).toThrow(
      `--metrics-cert-dir ${join(dir, 'missing')}: tls.crt and tls.key must be readable there`,
    );
  });

  it('is the mounted one, checked by a client that trusts it; a new one is served from the next connection', async () => {
    const first = selfSignedCertificate(['localhost']);
    writeFileSync(join(dir, 'tls.crt'), first.cert);
    writeFileSync(join(dir, 'tls.key'), first.key);
    const mounted = loadServingCertificate(dir);
    expect(mounted.source).toBe('mounted');
    const server = await startMetricsServer(
      new Registry(),
      () => Promise.resolve(200),
      mounted,
      0,
      '127.0.0.1',
    );
    const served = (ca: string) =>
      new Promise<{ status: number; fingerprint: string }>((resolve, reject) => {
        get(
          {
            host: '127.0.0.1',
            port: server.port,
            path: '/metrics',
            ca,
            servername: 'localhost',
            agent: false,
            headers: { authorization: 'Bearer t' },
          },
          (res) => {
            const fingerprint =
              (res.socket instanceof TLSSocket ? res.socket.getPeerX509Certificate()?.fingerprint256 : '') ??
              '';
            res.resume();
            res.on('end', () => {
              resolve({
                status: res.statusCode ?? 0,
                fingerprint: fingerprint.replace(/:/g, '').toLowerCase(),
              });
            });
          },
        ).on('error', reject);
      });
    try {
      expect(await served(first.cert)).toEqual({ status: 200, fingerprint: first.fingerprint256 });
      const second = selfSignedCertificate(['localhost']);
      server.setCertificate({ cert: second.cert, key: second.key, source: 'mounted' });
      expect(await served(second.cert)).toEqual({ status: 200, fingerprint: second.fingerprint256 });
      // A client that trusts only the old certificate is refused now.
      await expect(served(first.cert)).rejects.toThrow();
    } finally {
      await server.close();
    }
  });
});
