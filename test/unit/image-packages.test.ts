// What the image says about its contents: a dpkg database scanners read (so glibc is listed), the
// build's architecture, no declarations or source maps from the dependencies, and an SPDX SBOM.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from '@jest/globals';
import {
  dpkgStatusEntries,
  isBuildOnlyFile,
  ociArchitecture,
  productionPackages,
  spdxDocument,
  splitStatusParagraphs,
  type DebianPackage,
} from '../../tooling/image/packages.ts';

/** This machine's own status paragraph of libc6: the real thing the image copies. */
const libc6Status = execFileSync('dpkg-query', ['-s', 'libc6'], { encoding: 'utf8' });
const field = (text: string, key: string) => new RegExp(`^${key}: (.*)$`, 'm').exec(text)?.[1];
const libc6: DebianPackage = {
  name: 'libc6',
  version: field(libc6Status, 'Version') ?? '',
  architecture: field(libc6Status, 'Architecture') ?? '',
  status: libc6Status,
};

describe('the image’s dpkg database', () => {
  it('holds one status paragraph per copied package, where distroless keeps them (Trivy and Grype read it)', () => {
    const [entry, ...rest] = dpkgStatusEntries([libc6]);
    expect(rest).toEqual([]);
    expect(entry).toMatchObject({ type: 'file', path: '/var/lib/dpkg/status.d/libc6' });
    const text = entry?.type === 'file' ? entry.data.toString('utf8') : '';
    expect(text.startsWith('Package: libc6\nStatus: install ok installed\n')).toBe(true);
    expect(field(text, 'Version')).toBe(libc6.version);
    expect(field(text, 'Architecture')).toBe(libc6.architecture);
    expect(text.match(/^Status:/gm)).toHaveLength(1);
    expect(text.endsWith('\n')).toBe(true);
  });

  it('splits `dpkg-query -s a b` output back into packages', () => {
    const both = execFileSync('dpkg-query', ['-s', 'libc6', 'libgcc-s1'], { encoding: 'utf8' });
    expect([...splitStatusParagraphs(both).keys()]).toEqual(['libc6', 'libgcc-s1']);
  });
});

describe('the image’s architecture', () => {
  it('is the build’s, in OCI’s words', () => {
    expect(ociArchitecture('x64')).toBe('amd64');
    expect(ociArchitecture('arm64')).toBe('arm64');
    expect(() => ociArchitecture('mips')).toThrow('no OCI architecture known for mips');
  });
});

describe('the files of the dependencies', () => {
  it.each([
    ['@kubernetes/client-node/dist/gen/models/V1Pod.d.ts', true],
    ['typescript/lib/lib.dom.d.mts', true],
    ['yaml/dist/index.js.map', true],
    ['@opentelemetry/api/dist/api/context.d.cts.map', true],
    ['winston/lib/winston.js', false],
    ['prom-client/index.d.js', false],
    ['ajv/dist/ajv.js', false],
  ])('%s left out: %s', (path, left) => {
    expect(isBuildOnlyFile(path)).toBe(left);
  });
});

describe('the SBOM', () => {
  const npm = productionPackages({
    packages: {
      '': { name: 'workflowexecution-operator', version: '0.1.0' },
      'node_modules/xstate': { version: '5.33.3', license: 'MIT' },
      'node_modules/@types/node': { version: '24.0.0', dev: true },
      'node_modules/ajv/node_modules/fast-uri': { version: '3.0.1', license: 'BSD-3-Clause' },
    },
  });
  const doc = spdxDocument({
    image: 'wfe.local/workflowexecution-operator:0.1.0',
    digest: 'sha256:abc',
    version: '0.1.0',
    created: '2026-12-07T00:00:00Z',
    debian: [libc6],
    node: { version: 'v24.21.0', architecture: 'amd64' },
    npm,
  }) as {
    spdxVersion: string;
    packages: { SPDXID: string; name: string; externalRefs: { referenceLocator: string }[] }[];
    relationships: { relationshipType: string; relatedSpdxElement: string }[];
  };

  it('lists the production npm packages only', () => {
    expect(npm.map((p) => `${p.name}@${p.version}`)).toEqual(['fast-uri@3.0.1', 'xstate@5.33.3']);
  });

  it('is SPDX 2.3 naming glibc, node and each npm package by purl, all contained in the image', () => {
    expect(doc.spdxVersion).toBe('SPDX-2.3');
    const purls = doc.packages.map((p) => p.externalRefs[0]?.referenceLocator);
    expect(purls).toEqual([
      'pkg:oci/workflowexecution-operator@sha256%3Aabc',
      `pkg:deb/debian/libc6@${encodeURIComponent(libc6.version)}?arch=${libc6.architecture}`,
      'pkg:generic/node@v24.21.0?arch=amd64',
      'pkg:npm/fast-uri@3.0.1',
      'pkg:npm/xstate@5.33.3',
    ]);
    expect(doc.relationships.filter((r) => r.relationshipType === 'CONTAINS')).toHaveLength(4);
    expect(new Set(doc.packages.map((p) => p.SPDXID)).size).toBe(doc.packages.length);
  });
});
