// Formatting of sizes, dates, permissions and names for display.

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** 1536 → "1.5 KiB"; exact byte counts stay available in `title`s. */
export function humanSize(bytes) {
  let n = Number(bytes);
  if (!Number.isFinite(n) || n < 0) return '?';
  let unit = 0;
  while (n >= 1024 && unit < UNITS.length - 1) {
    n /= 1024;
    unit += 1;
  }
  if (unit === 0) return `${n} B`;
  return `${n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2)} ${UNITS[unit]}`;
}

/** 1234567 → "1,234,567 bytes". */
export function exactBytes(bytes) {
  return `${Number(bytes).toLocaleString('en-US')} bytes`;
}

/** Seconds since the epoch (may be negative) → "2024-05-01 12:34:56 UTC". */
export function utcTime(secs) {
  const ms = Number(secs) * 1000;
  const d = new Date(ms);
  if (!Number.isFinite(ms) || Number.isNaN(d.getTime())) return '?';
  return d.toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, ' UTC');
}

const TYPE_CHAR = {
  dir: 'd', symlink: 'l', file: '-', other: '?',
  // The core's exact kinds (entry.file_kind), for `other` entries.
  chardevice: 'c', blockdevice: 'b', fifo: 'p', socket: 's',
};

/**
 * Type + permission bits → "drwxr-xr-x", with s/S (setuid/setgid) and t/T
 * (sticky). `type` is the entry's `file_kind` when known, else its `type`.
 */
export function permString(type, mode) {
  const m = Number(mode) || 0;
  const rwx = (shift, special, specialChar) => {
    const bits = (m >> shift) & 7;
    const exec = bits & 1;
    let x = exec ? 'x' : '-';
    if (m & special) x = exec ? specialChar : specialChar.toUpperCase();
    return (bits & 4 ? 'r' : '-') + (bits & 2 ? 'w' : '-') + x;
  };
  return (TYPE_CHAR[type] || '?') +
    rwx(6, 0o4000, 's') + rwx(3, 0o2000, 's') + rwx(0, 0o1000, 't');
}

/**
 * Names come from the core escaped losslessly: bytes that aren't UTF-8 as
 * `\xHH`, a backslash as `\\`. The page shows that escaped form as is (so
 * two names differing only in invalid bytes stay distinct). For a saved
 * file's name, each invalid byte becomes U+FFFD and `\\` a backslash
 * (which the browser turns into `_`).
 */
export function downloadName(escaped) {
  const name = escaped.replace(/\\(\\|x[0-9a-fA-F]{2})/g, (_, e) => (e === '\\' ? '\\' : '\uFFFD'));
  return name.replace(/\uFFFD+/g, '\uFFFD') || 'file';
}

/** True if an escaped name holds bytes that aren't valid UTF-8. */
export function hasInvalidBytes(escaped) {
  return /(^|[^\\])(\\\\)*\\x[0-9a-fA-F]{2}/.test(escaped);
}

/** "/var/lib" + "mysql" → "/var/lib/mysql". */
export function joinPath(dir, name) {
  return dir.endsWith('/') ? dir + name : `${dir}/${name}`;
}

/** "/var/lib/mysql" → "/var/lib"; "/" stays "/". */
export function parentPath(path) {
  const i = path.replace(/\/+$/, '').lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}
