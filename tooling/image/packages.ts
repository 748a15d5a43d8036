/**
 * What the image says about its contents, so scanners and people can see it: a dpkg database for
 * the Debian libraries it copies (one status paragraph per package under /var/lib/dpkg/status.d/,
 * the distroless layout Trivy and Grype read), its architecture as the build's, which files of the
 * production dependencies it leaves out (TypeScript declarations and source maps), and an SPDX 2.3
 * SBOM (JSON) written beside the OCI archive. Pure: the builder gathers the facts.
 */
import type { TarEntry } from './tar.ts';

/** OCI's name for Node's `process.arch` (and Debian's, for these). */
export function ociArchitecture(nodeArch: string): string {
  const known: Record<string, string> = {
    x64: 'amd64',
    arm64: 'arm64',
    arm: 'arm',
    ppc64: 'ppc64le',
    s390x: 's390x',
  };
  const arch = known[nodeArch];
  if (arch === undefined) throw new Error(`no OCI architecture known for ${nodeArch}`);
  return arch;
}

/** Files of the dependencies that no running process reads: declarations and source maps. */
export function isBuildOnlyFile(path: string): boolean {
  return (
    /\.d\.[cm]?ts$/.test(path) || /\.(?:[cm]?[jt]s|css)\.map$/.test(path) || path.endsWith('.tsbuildinfo')
  );
}

export interface DebianPackage {
  name: string;
  version: string;
  architecture: string;
  /** `dpkg-query -s` of the package: its status paragraph as this machine has it. */
  status: string;
}

/** One status paragraph per package, as distroless images carry them; each ends with one newline. */
export function dpkgStatusEntries(packages: readonly DebianPackage[]): TarEntry[] {
  return packages.map((p) => {
    // The copied files belong to an installed package, whatever state a paragraph claims.
    const paragraph = p.status
      .trim()
      .split('\n')
      .filter((line) => !line.startsWith('Status:'))
      .join('\n');
    const withStatus = paragraph.replace(/^(Package: .*)$/m, '$1\nStatus: install ok installed');
    return {
      type: 'file',
      path: `/var/lib/dpkg/status.d/${p.name.replace(/:.*/, '')}`,
      data: Buffer.from(`${withStatus}\n`),
      executable: false,
    };
  });
}

/** `Package: x` paragraphs of `dpkg-query -s a b c` output, split per package. */
export function splitStatusParagraphs(text: string): Map<string, string> {
  const byName = new Map<string, string>();
  for (const paragraph of text.split(/\n\s*\n/)) {
    const name = /^Package: (\S+)$/m.exec(paragraph)?.[1];
    if (name !== undefined) byName.set(name, paragraph.trim());
  }
  return byName;
}

export interface NpmPackage {
  name: string;
  version: string;
  license?: string | undefined;
}

export interface SbomInput {
  /** The image's name, e.g. `wfe.local/workflowexecution-operator:0.1.0`. */
  image: string;
  /** The image's manifest digest. */
  digest: string;
  version: string;
  /** ISO time, the image's created time. */
  created: string;
  debian: readonly DebianPackage[];
  node: { version: string; architecture: string };
  npm: readonly NpmPackage[];
}

const spdxId = (kind: string, name: string, version: string) =>
  `SPDXRef-${kind}-${`${name}-${version}`.replace(/[^A-Za-z0-9.-]/g, '-')}`;

/** An SPDX 2.3 document: the image, and every package it contains with its purl. */
export function spdxDocument(input: SbomInput): Record<string, unknown> {
  const imageId = 'SPDXRef-image';
  const purl = (locator: string) => [
    { referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: locator },
  ];
  const pkg = (id: string, name: string, version: string, locator: string, license?: string) => ({
    SPDXID: id,
    name,
    versionInfo: version,
    downloadLocation: 'NOASSERTION',
    filesAnalyzed: false,
    licenseConcluded: 'NOASSERTION',
    licenseDeclared: license ?? 'NOASSERTION',
    copyrightText: 'NOASSERTION',
    externalRefs: purl(locator),
  });
  const contained = [
    ...input.debian.map((d) =>
      pkg(
        spdxId('deb', d.name, d.version),
        d.name,
        d.version,
        `pkg:deb/debian/${d.name}@${encodeURIComponent(d.version)}?arch=${d.architecture}`,
      ),
    ),
    pkg(
      spdxId('node', 'node', input.node.version),
      'node',
      input.node.version,
      `pkg:generic/node@${input.node.version}?arch=${input.node.architecture}`,
      'MIT',
    ),
    ...input.npm.map((n) =>
      pkg(
        spdxId('npm', n.name, n.version),
        n.name,
        n.version,
        `pkg:npm/${n.name.startsWith('@') ? `%40${n.name.slice(1)}` : n.name}@${n.version}`,
        n.license,
      ),
    ),
  ];
  return {
    spdxVersion: 'SPDX-2.3',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: input.image,
    documentNamespace: `https://kubernaut.io/spdx/workflowexecution-operator/${input.digest}`,
    creationInfo: { created: input.created, creators: ['Tool: workflowexecution-operator-image-builder'] },
    packages: [
      {
        ...pkg(
          imageId,
          input.image,
          input.version,
          `pkg:oci/workflowexecution-operator@${encodeURIComponent(input.digest)}`,
        ),
        primaryPackagePurpose: 'CONTAINER',
      },
      ...contained,
    ],
    relationships: [
      { spdxElementId: 'SPDXRef-DOCUMENT', relationshipType: 'DESCRIBES', relatedSpdxElement: imageId },
      ...contained.map((c) => ({
        spdxElementId: imageId,
        relationshipType: 'CONTAINS',
        relatedSpdxElement: c.SPDXID,
      })),
    ],
  };
}

/** The production packages of a package-lock.json (lockfileVersion 2 or 3): name, version, license. */
export function productionPackages(lock: {
  packages?: Record<string, { version?: string; license?: string; dev?: boolean; name?: string }>;
}): NpmPackage[] {
  const result = new Map<string, NpmPackage>();
  for (const [path, entry] of Object.entries(lock.packages ?? {})) {
    if (path === '' || entry.dev === true || entry.version === undefined) continue;
    const name = entry.name ?? path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
    result.set(`${name}@${entry.version}`, { name, version: entry.version, license: entry.license });
  }
  return [...result.values()].sort(
    (a, b) => a.name.localeCompare(b.name) || a.version.localeCompare(b.version),
  );
}
