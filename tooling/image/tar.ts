/**
 * A deterministic tar writer (POSIX ustar, with a PAX header for long names): entries sorted by
 * path, one fixed mtime, owner 0:0 with no names, modes reduced to 0755/0644, so the same files
 * give the same bytes on any machine and on any day.
 */

export type TarEntry =
  | { readonly type: 'dir'; readonly path: string }
  | { readonly type: 'file'; readonly path: string; readonly data: Buffer; readonly executable: boolean }
  | { readonly type: 'symlink'; readonly path: string; readonly target: string };

const BLOCK = 512;

function octal(value: number, width: number): string {
  // width - 1 digits and a NUL, as GNU and BSD tar write them.
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

function header(fields: {
  name: string;
  mode: number;
  size: number;
  mtime: number;
  typeflag: string;
  linkname: string;
}): Buffer {
  const h = Buffer.alloc(BLOCK, 0);
  h.write(fields.name, 0, 100, 'utf8');
  h.write(octal(fields.mode, 8), 100, 8, 'ascii');
  h.write(octal(0, 8), 108, 8, 'ascii'); // uid
  h.write(octal(0, 8), 116, 8, 'ascii'); // gid
  h.write(octal(fields.size, 12), 124, 12, 'ascii');
  h.write(octal(fields.mtime, 12), 136, 12, 'ascii');
  h.write('        ', 148, 8, 'ascii'); // checksum placeholder: eight spaces
  h.write(fields.typeflag, 156, 1, 'ascii');
  h.write(fields.linkname, 157, 100, 'utf8');
  h.write('ustar\0', 257, 6, 'ascii');
  h.write('00', 263, 2, 'ascii');
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(octal(sum, 7) + ' ', 148, 8, 'ascii');
  return h;
}

function padding(size: number): Buffer {
  const rest = size % BLOCK;
  return Buffer.alloc(rest === 0 ? 0 : BLOCK - rest, 0);
}

/** A PAX record "<len> key=value\n", where len counts the whole record including itself. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len)
    len = String(len).length + Buffer.byteLength(body);
  return `${String(len)}${body}`;
}

function fits(value: string): boolean {
  return Buffer.byteLength(value) <= 100 && /^[\x20-\x7e]*$/.test(value);
}

/** Paths in the archive are relative ("usr/lib/…"), directories end with "/". */
function archivePath(entry: TarEntry): string {
  const path = entry.path.replace(/^\/+/, '');
  return entry.type === 'dir' ? `${path}/` : path;
}

/** The tar stream of `entries` (sorted here), ending with the two zero blocks. */
export function tarEntries(entries: readonly TarEntry[], mtime: number): Buffer[] {
  const sorted = [...entries].sort((a, b) => (archivePath(a) < archivePath(b) ? -1 : 1));
  const out: Buffer[] = [];
  for (const entry of sorted) {
    const name = archivePath(entry);
    const linkname = entry.type === 'symlink' ? entry.target : '';
    const records = [
      ...(fits(name) ? [] : [paxRecord('path', name)]),
      ...(fits(linkname) ? [] : [paxRecord('linkpath', linkname)]),
    ];
    if (records.length > 0) {
      const pax = Buffer.from(records.join(''), 'utf8');
      out.push(
        header({ name: 'PaxHeader', mode: 0o644, size: pax.length, mtime, typeflag: 'x', linkname: '' }),
        pax,
        padding(pax.length),
      );
    }
    const common = { name: name.slice(0, 100), mtime, linkname: linkname.slice(0, 100) };
    if (entry.type === 'dir') out.push(header({ ...common, mode: 0o755, size: 0, typeflag: '5' }));
    else if (entry.type === 'symlink') out.push(header({ ...common, mode: 0o777, size: 0, typeflag: '2' }));
    else {
      const mode = entry.executable ? 0o755 : 0o644;
      out.push(header({ ...common, mode, size: entry.data.length, typeflag: '0' }), entry.data);
      out.push(padding(entry.data.length));
    }
  }
  out.push(Buffer.alloc(2 * BLOCK, 0));
  return out;
}

/** Adds the parent directories every entry needs (an OCI layer must not rely on implicit ones). */
export function withParents(entries: readonly TarEntry[]): TarEntry[] {
  const paths = new Set(entries.map((e) => e.path.replace(/^\/+/, '')));
  const dirs = new Set<string>();
  for (const path of paths) {
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  }
  const missing = [...dirs].filter((d) => !paths.has(d)).map((path): TarEntry => ({ type: 'dir', path }));
  return [...entries, ...missing];
}
