/**
 * Writes an OCI image (layout directory and archive) from deterministic layers: the same files, the
 * same config and the same epoch give the same digest.
 */
import { createHash } from 'node:crypto';
import {
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join, posix, relative } from 'node:path';
import { gzipSync } from 'node:zlib';
import { tarEntries, withParents, type TarEntry } from './tar.ts';

const MEDIA = {
  layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
  config: 'application/vnd.oci.image.config.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  index: 'application/vnd.oci.image.index.v1+json',
} as const;

export interface LayerSpec {
  readonly name: string;
  /** The history line of this layer. */
  readonly createdBy: string;
  readonly entries: readonly TarEntry[];
}

export interface ImageSpec {
  /** REGISTRY/NAME:TAG recorded in the index (containerd imports the image under it). */
  readonly name: string;
  /** Unix seconds: every tar entry's mtime and the config's `created`. */
  readonly epoch: number;
  readonly layers: readonly LayerSpec[];
  /** The config's `config` (User, Env, Entrypoint, Cmd, WorkingDir, ExposedPorts, Labels). */
  readonly runtime: Record<string, unknown> & { Labels?: Record<string, string> };
  /** OCI architecture of what the layers hold (amd64, arm64): the build machine's. */
  readonly architecture: string;
  readonly layout: string;
  readonly archive: string;
  readonly log?: (message: string) => void;
}

export interface LayerSize {
  readonly name: string;
  readonly compressedBytes: number;
  readonly uncompressedBytes: number;
}

export interface WrittenImage {
  readonly name: string;
  /** The manifest digest: what a registry and containerd show. */
  readonly digest: string;
  /** The config digest: the image ID (what a kubelet reports as a container's imageID). */
  readonly id: string;
  readonly layout: string;
  readonly archive: string;
  /** Layers, config and manifest as a registry stores them. */
  readonly compressedBytes: number;
  /** The layers' tar streams. */
  readonly uncompressedBytes: number;
  readonly layers: readonly LayerSize[];
  readonly created: string;
}

const sha256 = (data: Buffer): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;

/** Every file, directory and symlink under `root`, placed under `prefix` in the image. */
export function treeEntries(
  root: string,
  prefix: string,
  skip: (rel: string) => boolean = () => false,
): TarEntry[] {
  const entries: TarEntry[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const abs = join(dir, name);
      const rel = relative(root, abs);
      if (skip(rel)) continue;
      const path = posix.join(prefix, rel);
      const st = lstatSync(abs);
      if (st.isSymbolicLink()) entries.push({ type: 'symlink', path, target: readlinkSync(abs) });
      else if (st.isDirectory()) {
        entries.push({ type: 'dir', path });
        walk(abs);
      } else if (st.isFile()) {
        entries.push({ type: 'file', path, data: readFileSync(abs), executable: (st.mode & 0o111) !== 0 });
      }
    }
  };
  walk(root);
  return entries;
}

export function writeImage(spec: ImageSpec): WrittenImage {
  const { layout, epoch } = spec;
  const created = new Date(epoch * 1000).toISOString().replace(/\.000Z$/, 'Z');
  rmSync(layout, { recursive: true, force: true });
  mkdirSync(join(layout, 'blobs', 'sha256'), { recursive: true });
  const writeBlob = (data: Buffer): string => {
    const digest = sha256(data);
    writeFileSync(join(layout, 'blobs', 'sha256', digest.slice('sha256:'.length)), data);
    return digest;
  };
  const layers: { mediaType: string; digest: string; size: number }[] = [];
  const diffIds: string[] = [];
  const sizes: LayerSize[] = [];
  for (const layer of spec.layers) {
    const tar = Buffer.concat(tarEntries(withParents(layer.entries), epoch));
    const gz = gzipSync(tar, { level: 9 });
    diffIds.push(sha256(tar));
    layers.push({ mediaType: MEDIA.layer, digest: writeBlob(gz), size: gz.length });
    sizes.push({ name: layer.name, compressedBytes: gz.length, uncompressedBytes: tar.length });
    spec.log?.(`layer ${layer.name}: ${mb(gz.length)} compressed, ${mb(tar.length)} uncompressed`);
  }
  const config = {
    created,
    architecture: spec.architecture,
    os: 'linux',
    config: spec.runtime,
    rootfs: { type: 'layers', diff_ids: diffIds },
    history: spec.layers.map((l) => ({ created, created_by: l.createdBy })),
  };
  const configBytes = Buffer.from(JSON.stringify(config));
  const id = writeBlob(configBytes);
  const manifest = {
    schemaVersion: 2,
    mediaType: MEDIA.manifest,
    config: { mediaType: MEDIA.config, digest: id, size: configBytes.length },
    layers,
    ...(spec.runtime.Labels === undefined ? {} : { annotations: spec.runtime.Labels }),
  };
  const manifestBytes = Buffer.from(JSON.stringify(manifest));
  const digest = writeBlob(manifestBytes);
  const index = {
    schemaVersion: 2,
    mediaType: MEDIA.index,
    manifests: [
      {
        mediaType: MEDIA.manifest,
        digest,
        size: manifestBytes.length,
        annotations: {
          'io.containerd.image.name': spec.name,
          'org.opencontainers.image.ref.name': spec.name.slice(spec.name.lastIndexOf(':') + 1),
        },
      },
    ],
  };
  writeFileSync(join(layout, 'index.json'), JSON.stringify(index));
  writeFileSync(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  mkdirSync(join(spec.archive, '..'), { recursive: true });
  writeFileSync(spec.archive, Buffer.concat(tarEntries(treeEntries(layout, ''), epoch)));
  return {
    name: spec.name,
    digest,
    id,
    layout,
    archive: spec.archive,
    compressedBytes: layers.reduce((n, l) => n + l.size, configBytes.length + manifestBytes.length),
    uncompressedBytes: sizes.reduce((n, s) => n + s.uncompressedBytes, 0),
    layers: sizes,
    created,
  };
}

export function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}
