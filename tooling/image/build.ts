/**
 * `npm run image [-- --push REGISTRY/NAME:TAG] [--name NAME:TAG]`: the operator's OCI image, built
 * without a container daemon, written as an OCI archive under .cache/image/.
 *
 * Layers (each a deterministic tar, gzip'd):
 *   1. base: the shared libraries the node binary needs (found with ldd, taken from this machine's
 *      Debian packages, whose names and versions go into a label and whose dpkg status paragraphs go
 *      into /var/lib/dpkg/status.d/, so Trivy and Grype see glibc), the machine's /etc/os-release (the
 *      distribution scanners match them against) and /etc/passwd, /etc/group with the non-root user
 *      65532; no shell, no package manager;
 *   2. runtime: the node binary of the pinned `node` npm package at /usr/local/bin/node;
 *   3. dependencies: `npm ci --omit=dev` of the committed package-lock.json, less TypeScript
 *      declarations and source maps (nothing at run time reads them);
 *   4. app: src/ and machines/, compiled to JavaScript (types stripped, `.ts` specifiers rewritten):
 *      Node's own type stripping loads a WebAssembly compiler that costs the process ~17 MiB of RSS.
 * Sources come from the commit (git archive HEAD), not the working tree, and every timestamp is the
 * commit's time (or SOURCE_DATE_EPOCH), so two builds of one commit give the same digest. The
 * architecture is the build machine's. An SPDX 2.3 SBOM (JSON) is written beside the archive.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, posix, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { mb, treeEntries, writeImage, type WrittenImage } from './oci.ts';
import type { TarEntry } from './tar.ts';
import {
  dpkgStatusEntries,
  isBuildOnlyFile,
  ociArchitecture,
  productionPackages,
  spdxDocument,
  splitStatusParagraphs,
  type DebianPackage,
} from './packages.ts';
import { pushImage } from './push.ts';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const OUT_DIR = join(REPO, '.cache', 'image');
/** What the image holds from the repository (the rest of it comes from the registries). */
/**
 * How the image runs node, and `npm run bench -- memory` with it. A controller's heap is small and
 * its work bursty: a burst of creates grew V8's young generation (16 MiB semi-spaces) and glibc's
 * per-thread malloc arenas, and neither shrank back, so 10,000 workflows created at 45 a second left
 * 207 MiB of RSS where a full GC showed 168 (589 during the burst). A 4 MiB semi-space and two
 * arenas: 153 MiB, 215 at the peak, at the same pace (README, Performance).
 */
export const OPERATOR_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4'];
export const OPERATOR_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2' };

export const IMAGE_INPUTS = ['src', 'machines', 'package.json', 'package-lock.json'];
const NODE_BINARY = join(REPO, 'node_modules', 'node', 'bin', 'node');
const NODE_PACKAGE_DIR = join(REPO, 'node_modules', 'node', 'node_modules', `node-linux-${process.arch}`);
const USER = 65532;
const SOURCE = 'https://github.com/kubernaut/workflowexecution-operator';

export interface BuiltImage extends WrittenImage {
  readonly revision: string;
}

function git(...args: string[]): string {
  return execFileSync('git', args, { cwd: REPO, encoding: 'utf8' }).trim();
}

/**
 * A host file as the image must hold it: each symlink met on the way (/lib -> usr/lib, the soname
 * link -> the versioned file) becomes a symlink entry, and the file it ends at a file entry.
 */
function hostFileEntries(path: string, into: Map<string, TarEntry>, depth = 0): void {
  if (depth > 40) throw new Error(`too many symlinks resolving ${path}`);
  const parts = path.split('/').filter(Boolean);
  for (let i = 1; i <= parts.length; i++) {
    const prefix = `/${parts.slice(0, i).join('/')}`;
    const st = lstatSync(prefix);
    if (st.isSymbolicLink()) {
      const target = readlinkSync(prefix);
      into.set(prefix, { type: 'symlink', path: prefix, target });
      const resolved = posix.resolve(posix.dirname(prefix), target, ...parts.slice(i));
      hostFileEntries(resolved, into, depth + 1);
      return;
    }
    if (i === parts.length) {
      if (!st.isFile()) throw new Error(`${path} is not a regular file`);
      into.set(prefix, {
        type: 'file',
        path: prefix,
        data: readFileSync(prefix),
        executable: (st.mode & 0o111) !== 0,
      });
    }
  }
}

/** The shared objects `ldd` says the binary loads, the dynamic loader included. */
function sharedLibraries(binary: string): string[] {
  const out = execFileSync('ldd', [binary], { encoding: 'utf8' });
  const libs = new Set<string>();
  for (const line of out.split('\n')) {
    const linked = /=>\s+(\/\S+)/.exec(line);
    const loader = /^\s*(\/\S+)\s+\(/.exec(line);
    const path = linked?.[1] ?? loader?.[1];
    if (path !== undefined) libs.add(path);
  }
  if (libs.size === 0) throw new Error(`ldd found no libraries for ${binary} (static binary?)`);
  return [...libs].sort();
}

/** The Debian packages that installed each library, with their dpkg status paragraphs. */
function debianPackages(files: readonly string[]): DebianPackage[] {
  const packages = new Set<string>();
  for (const file of files) {
    const candidates = [file, execFileSync('realpath', [file], { encoding: 'utf8' }).trim()];
    const owner = candidates
      .flatMap((c) => [c, c.replace(/^\/usr\/lib/, '/lib'), c.replace(/^\/lib/, '/usr/lib')])
      .map((c) => spawnSync('dpkg-query', ['-S', c], { encoding: 'utf8' }))
      .find((r) => r.status === 0);
    if (owner === undefined) throw new Error(`no Debian package owns ${file}`);
    packages.add(owner.stdout.split(':')[0] ?? '');
  }
  const names = [...packages].sort();
  const paragraphs = splitStatusParagraphs(
    execFileSync('dpkg-query', ['-s', ...names], { encoding: 'utf8' }),
  );
  return names.map((p) => {
    const status = paragraphs.get(p.replace(/:.*/, ''));
    if (status === undefined) throw new Error(`dpkg-query -s gave no paragraph for ${p}`);
    const field = (key: string) => new RegExp(`^${key}: (.*)$`, 'm').exec(status)?.[1] ?? '';
    return {
      name: p.replace(/:.*/, ''),
      version: field('Version'),
      architecture: field('Architecture'),
      status,
    };
  });
}

const packageLabel = (p: DebianPackage) => `${p.name} ${p.version}`;

function baseLayer(libraries: readonly string[], packages: readonly DebianPackage[]): TarEntry[] {
  const files = new Map<string, TarEntry>();
  for (const lib of libraries) hostFileEntries(lib, files);
  const text = (path: string, content: string): TarEntry => ({
    type: 'file',
    path,
    data: Buffer.from(content),
    executable: false,
  });
  const copyrights = packages.map((p) => `/usr/share/doc/${p.name}/copyright`).filter((f) => existsSync(f));
  for (const c of copyrights) hostFileEntries(c, files);
  // The distribution the libraries come from: without it scanners list the Debian packages but
  // cannot match them to Debian's security feed (Trivy skips them, syft's purls lack `distro=`).
  hostFileEntries('/etc/os-release', files);
  return [
    ...files.values(),
    ...dpkgStatusEntries(packages),
    text(
      '/etc/passwd',
      `root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:${USER}:${USER}:nonroot:/home/nonroot:/sbin/nologin\n`,
    ),
    text('/etc/group', `root:x:0:\nnonroot:x:${USER}:\n`),
    { type: 'dir', path: '/home/nonroot' },
    { type: 'dir', path: '/tmp' },
  ];
}

function nodeVersion(): string {
  return execFileSync(NODE_BINARY, ['--version'], { encoding: 'utf8' }).trim();
}

function runtimeLayer(): TarEntry[] {
  const entries: TarEntry[] = [
    { type: 'file', path: '/usr/local/bin/node', data: readFileSync(NODE_BINARY), executable: true },
  ];
  const license = join(NODE_PACKAGE_DIR, 'LICENSE');
  if (existsSync(license))
    entries.push({
      type: 'file',
      path: '/usr/local/share/doc/node/LICENSE',
      data: readFileSync(license),
      executable: false,
    });
  return entries;
}

/** The committed app files and their production dependencies, in a fresh staging directory. */
function stage(commit: string, staging: string, log: (m: string) => void): void {
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  const archive = execFileSync('git', ['archive', '--format=tar', commit, ...IMAGE_INPUTS], {
    cwd: REPO,
    maxBuffer: 1 << 30,
  });
  execFileSync('tar', ['-x', '-C', staging], { input: archive });
  log('tsc: the sources to JavaScript');
  compileStaged(staging);
  log('npm ci --omit=dev (production dependencies of the committed package-lock.json)');
  // The system npm, run on the pinned Node 24 so the packages' engines fields are met.
  const npmCli =
    process.env['npm_execpath'] ??
    realpathSync(execFileSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).trim());
  execFileSync(
    process.execPath,
    [npmCli, 'ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'],
    {
      cwd: staging,
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, NODE_ENV: 'production' },
    },
  );
}

/**
 * Strips the types of the staged sources in place, with the repository's TypeScript (no type check:
 * `npm run typecheck` did that), and leaves only the JavaScript.
 */
export function compileStaged(staging: string): void {
  const config = join(staging, 'tsconfig.image.json');
  writeFileSync(
    config,
    JSON.stringify({
      compilerOptions: {
        target: 'ES2023',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        rewriteRelativeImportExtensions: true,
        verbatimModuleSyntax: true,
        resolveJsonModule: true,
        noCheck: true,
        skipLibCheck: true,
        types: [],
      },
      include: ['src/**/*.ts', 'machines/**/*.ts'],
    }),
  );
  execFileSync(process.execPath, [join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', config], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  rmSync(config);
  for (const dir of ['src', 'machines'])
    for (const file of readdirSync(join(staging, dir), { recursive: true, encoding: 'utf8' }))
      if (file.endsWith('.ts')) rmSync(join(staging, dir, file));
}

export interface BuildOptions {
  readonly name?: string | undefined;
  readonly commit?: string | undefined;
  readonly log?: (message: string) => void;
}

export function buildImage(options: BuildOptions = {}): BuiltImage {
  const log = options.log ?? ((m: string) => process.stderr.write(`image: ${m}\n`));
  const commit = git('rev-parse', options.commit ?? 'HEAD');
  const epochText = process.env['SOURCE_DATE_EPOCH'] ?? git('log', '-1', '--format=%ct', commit);
  const epoch = Number(epochText);
  if (!Number.isInteger(epoch) || epoch < 0)
    throw new Error(`SOURCE_DATE_EPOCH is not a Unix time: ${epochText}`);
  const created = new Date(epoch * 1000).toISOString().replace(/\.000Z$/, 'Z');
  const pkg = JSON.parse(git('show', `${commit}:package.json`)) as {
    version: string;
    description: string;
    license: string;
  };
  const name = options.name ?? `wfe.local/workflowexecution-operator:${pkg.version}`;
  const dirty = git('status', '--porcelain', '--', ...IMAGE_INPUTS);
  if (dirty !== '')
    log(
      `note: uncommitted changes under ${IMAGE_INPUTS.join(', ')} are not in the image (built from ${commit.slice(0, 12)})`,
    );

  const staging = join(OUT_DIR, 'staging');
  stage(commit, staging, log);
  const libraries = sharedLibraries(NODE_BINARY);
  const packages = debianPackages(libraries);
  const node = nodeVersion();

  const layerSpecs: { name: string; createdBy: string; entries: TarEntry[] }[] = [
    {
      name: 'base',
      createdBy: `shared libraries of node (ldd) from ${packages.map(packageLabel).join(', ')}; user ${USER}`,
      entries: baseLayer(libraries, packages),
    },
    { name: 'runtime', createdBy: `node ${node} from the node npm package`, entries: runtimeLayer() },
    {
      name: 'dependencies',
      createdBy: 'npm ci --omit=dev --ignore-scripts (no .d.ts, no source maps)',
      entries: treeEntries(join(staging, 'node_modules'), '/app/node_modules', isBuildOnlyFile),
    },
    {
      name: 'app',
      createdBy: `git archive ${commit} ${IMAGE_INPUTS.join(' ')}`,
      entries: treeEntries(staging, '/app', (rel) => rel === 'node_modules'),
    },
  ];

  const labels: Record<string, string> = {
    'org.opencontainers.image.created': created,
    'org.opencontainers.image.description': pkg.description,
    'org.opencontainers.image.licenses': pkg.license,
    'org.opencontainers.image.revision': commit,
    'org.opencontainers.image.source': SOURCE,
    'org.opencontainers.image.title': 'workflowexecution-operator',
    'org.opencontainers.image.version': pkg.version,
    'io.kubernaut.image.base-packages': packages.map(packageLabel).join(', '),
    'io.kubernaut.image.node-version': node,
  };
  const architecture = ociArchitecture(process.arch);
  // What npm installed (its hidden lockfile lists exactly that), for the SBOM.
  const npmPackages = productionPackages(
    JSON.parse(readFileSync(join(staging, 'node_modules', '.package-lock.json'), 'utf8')) as Parameters<
      typeof productionPackages
    >[0],
  );
  const image = writeImage({
    name,
    epoch,
    architecture,
    layers: layerSpecs,
    runtime: {
      User: `${USER}:${USER}`,
      Env: [
        'PATH=/usr/local/bin',
        'NODE_ENV=production',
        'HOME=/home/nonroot',
        ...Object.entries(OPERATOR_ENV).map(([key, value]) => `${key}=${value}`),
      ],
      Entrypoint: ['/usr/local/bin/node', ...OPERATOR_NODE_FLAGS, '/app/src/cli/wfx.js'],
      Cmd: ['operator'],
      WorkingDir: '/app',
      ExposedPorts: { '8080/tcp': {}, '9090/tcp': {} },
      Labels: labels,
    },
    layout: join(OUT_DIR, 'oci'),
    archive: join(OUT_DIR, `workflowexecution-operator-${pkg.version}.oci.tar`),
    log,
  });
  rmSync(staging, { recursive: true, force: true });
  const sbom = image.archive.replace(/\.oci\.tar$/, '.spdx.json');
  writeFileSync(
    sbom,
    `${JSON.stringify(
      spdxDocument({
        image: name,
        digest: image.digest,
        version: pkg.version,
        created,
        debian: packages,
        node: { version: node, architecture },
        npm: npmPackages,
      }),
      null,
      2,
    )}\n`,
  );
  log(`SBOM (SPDX 2.3): ${relative(REPO, sbom)}`);
  const built: BuiltImage = { ...image, revision: commit };
  writeFileSync(join(OUT_DIR, 'image.json'), `${JSON.stringify(built, null, 2)}\n`);
  return built;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { push: { type: 'string' }, name: { type: 'string' }, commit: { type: 'string' } },
  });
  const image = buildImage({ name: values.name, commit: values.commit });
  process.stdout.write(
    `${image.name} ${image.digest}\n` +
      `  compressed ${mb(image.compressedBytes)}, uncompressed ${mb(image.uncompressedBytes)}\n` +
      `  archive ${relative(REPO, image.archive)} (OCI layout in ${relative(REPO, image.layout)})\n`,
  );
  if (values.push !== undefined) {
    const pushed = await pushImage(image.layout, values.push);
    if (pushed !== image.digest) throw new Error(`registry reports ${pushed}, built ${image.digest}`);
    process.stdout.write(`pushed ${values.push}@${pushed}\n`);
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url))
  await main();
