// The image as a scanner sees it: syft (anchore, built from Go modules) catalogues the OCI archive the
// builder wrote and must find what the SPDX SBOM beside it says: every Debian package with its
// version, read from the dpkg database (so glibc is there for Grype or Trivy to match), the node
// binary and the npm packages. Full deploy suite only (`npm run test:deploy`): the first build of
// syft takes minutes.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it, jest } from '@jest/globals';
import { ensureDeployTool } from '../../tooling/controlplane/deploy-tools.ts';
import { imageOfHead } from './support.ts';

const execFileAsync = promisify(execFile);

jest.setTimeout(10 * 60_000);

/** What syft's JSON output (`-o syft-json`) says, as far as these tests read it. */
interface SyftReport {
  artifacts: {
    name: string;
    version: string;
    type: string;
    purl?: string;
    locations: { path: string }[];
  }[];
  distro?: { id?: string; versionID?: string };
  source: { type: string; metadata?: { architecture?: string } };
}

interface SpdxPackage {
  name: string;
  versionInfo: string;
  externalRefs: { referenceType: string; referenceLocator: string }[];
}

const scanner = await ensureDeployTool('syft').catch((error: unknown) => {
  process.stderr.write(
    `image scan SKIPPED: syft could not be built from Go modules (scripts/build-deploy-tools.sh syft): ${(error as Error).message}\n`,
  );
  return undefined;
});

const describeWithScanner = scanner === undefined ? describe.skip : describe;

describeWithScanner('the image scanned by syft', () => {
  let report: SyftReport;
  let sbom: SpdxPackage[];
  const purlOf = (p: SpdxPackage) => p.externalRefs.find((r) => r.referenceType === 'purl')?.referenceLocator;
  const ofType = (type: string) => report.artifacts.filter((a) => a.type === type);

  beforeAll(async () => {
    const image = imageOfHead();
    const { stdout } = await execFileAsync(
      scanner ?? 'syft',
      ['scan', `oci-archive:${image.archive}`, '-o', 'syft-json', '-q'],
      // No update check: the tests run without the internet.
      { maxBuffer: 256 << 20, env: { ...process.env, SYFT_CHECK_FOR_APP_UPDATE: 'false' } },
    );
    report = JSON.parse(stdout) as SyftReport;
    const spdx = image.archive.replace(/\.oci\.tar$/, '.spdx.json');
    sbom = (JSON.parse(readFileSync(spdx, 'utf8')) as { packages: SpdxPackage[] }).packages;
  });

  it('lists exactly the SBOM’s Debian packages, glibc among them, with their versions, from the dpkg database', () => {
    const inSbom = sbom
      .filter((p) => purlOf(p)?.startsWith('pkg:deb/') === true)
      .map((p) => `${p.name} ${p.versionInfo}`)
      .sort();
    expect(inSbom).toEqual(expect.arrayContaining([expect.stringMatching(/^libc6 \d/)]));
    const debs = ofType('deb');
    expect(debs.map((a) => `${a.name} ${a.version}`).sort()).toEqual(inSbom);
    for (const deb of debs)
      expect(deb.locations.map((l) => l.path)).toContain(`/var/lib/dpkg/status.d/${deb.name}`);
  });

  it('knows the distribution the libraries come from, so a vulnerability matcher can use its feed', () => {
    const release = readFileSync('/etc/os-release', 'utf8');
    const field = (key: string) => new RegExp(`^${key}="?([^"\\n]*)"?$`, 'm').exec(release)?.[1];
    expect(report.distro).toMatchObject({ id: field('ID'), versionID: field('VERSION_ID') });
    for (const deb of ofType('deb'))
      expect(deb.purl).toContain(`distro=${field('ID')}-${field('VERSION_ID')}`);
  });

  it('finds the node binary with the SBOM’s version', () => {
    const node = sbom.find((p) => purlOf(p)?.startsWith('pkg:generic/node@') === true);
    expect(node?.versionInfo).toMatch(/^v\d+\.\d+\.\d+$/);
    const found = ofType('binary').filter((a) => a.name === 'node');
    expect(found.map((a) => [a.version, a.locations.map((l) => l.path)])).toEqual([
      [node?.versionInfo.slice(1), ['/usr/local/bin/node']],
    ]);
  });

  it('finds every npm package of the SBOM with its version', () => {
    const inSbom = sbom
      .filter((p) => purlOf(p)?.startsWith('pkg:npm/') === true)
      .map((p) => `${p.name}@${p.versionInfo}`);
    expect(inSbom.length).toBeGreaterThan(10);
    const found = new Set(ofType('npm').map((a) => `${a.name}@${a.version}`));
    expect(inSbom.filter((p) => !found.has(p))).toEqual([]);
  });
});
