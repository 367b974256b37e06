// A stand-in for the wasm-bindgen output (www/pkg/salvage.js) with the same
// API, for working on the page before the real build exists. It ignores the
// image's bytes (except its size) and shows a fixed tree.
// Use: cp tests/e2e/mock-pkg/* www/pkg/   (www/pkg is gitignored)

const enc = new TextEncoder();
const T = 1704067200;
const tree = {
  '/': ['etc', 'home', 'var', 'caf\\xe9.txt', 'link'],
  '/etc': ['hostname', 'passwd'],
  '/home': ['alice'],
  '/home/alice': ['notes.txt'],
  '/var': ['lib'],
  '/var/lib': ['mysql'],
  '/var/lib/mysql': ['ibdata1'],
};
const files = {
  '/etc/hostname': enc.encode('salvage-test\n'),
  '/etc/passwd': enc.encode('root:x:0:0:root:/root:/bin/bash\n'),
  '/home/alice/notes.txt': enc.encode('notes\n'),
  '/var/lib/mysql/ibdata1': new Uint8Array(3 * 1048576).map((_, i) => i * 7),
  '/caf\\xe9.txt': enc.encode('caf\xe9 in Latin-1\n'),
};

function entry(path) {
  const name = path === '/' ? '/' : path.slice(path.lastIndexOf('/') + 1);
  const base = { name, path, uid: 0, gid: 0, mtime: T, mtime_ns: 0, target: null, inode: 12, problems: [] };
  if (tree[path]) return { ...base, type: 'dir', mode: path === '/home/alice' ? 0o700 : 0o1777 & 0o755, size: 4096 };
  if (files[path]) return { ...base, type: 'file', mode: path.endsWith('hostname') ? 0o4755 : 0o644, size: files[path].length };
  if (path === '/link') return { ...base, type: 'symlink', mode: 0o777, size: 13, target: '/usr/bin/dash', problems: ['A test problem.'] };
  throw new Error(`No such file or folder: ${path}.`);
}

export class Session {
  static open(list) {
    const size = list.reduce((a, f) => a + f.size, 0);
    if (size < 1048576) throw new Error('This file is too small to be a disk image.');
    return new Session(list, size);
  }
  constructor(list, size) { this.list_ = list; this.size = size; this.reads = 0; }
  info() {
    return {
      version: '0.1.0-mock',
      image: { format: this.list_.length > 1 ? 'split raw' : 'raw', size: this.size, parts: this.list_.map((f) => f.name), notes: [] },
      table: { kind: 'gpt', notes: [] },
      volumes: [
        { index: 1, offset: 1048576, length: 8388608, type_id: 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B', type_name: 'EFI system partition', name: 'EFI system', fs: 'fat32', label: 'EFI', uuid: null, supported: false, status: 'FAT32 — not supported yet; its files can\'t be listed', problems: [] },
        { index: 2, offset: 9437184, length: 48234496, type_id: '0FC63DAF-8483-4772-8E79-3D69D8477DE4', type_name: 'Linux filesystem', name: 'root', fs: 'ext4', label: 'root', uuid: '5a1ba6e0-0000-4000-8000-000000000002', supported: true, status: 'ext4 — files can be listed and copied', problems: [] },
        { index: 3, offset: 57671680, length: 8388608, type_id: '0657FD6D-A4AB-43C4-84E5-0933C84B4F4F', type_name: 'Linux swap', name: 'swap', fs: 'swap', label: 'swap0', uuid: null, supported: false, status: 'Swap space — holds no files', problems: [] },
      ],
    };
  }
  list(volume, path) {
    if (volume !== 2) throw new Error(`Volume ${volume} can't be listed.`);
    if (!tree[path]) throw new Error(`No such folder: ${path}.`);
    return tree[path].map((n) => entry(path === '/' ? `/${n}` : `${path}/${n}`));
  }
  stat(volume, path) { return entry(path); }
  read(volume, path, offset, len) {
    this.reads += 1;
    const f = files[path];
    if (!f) throw new Error(`Not a file: ${path}.`);
    return f.slice(offset, offset + len);
  }
  io_stats() { return { source_reads: this.reads, source_bytes: 0, hits: 0, misses: 0 }; }
  free() {}
}

export function version() { return '0.1.0-mock'; }

export default async function init() {}
