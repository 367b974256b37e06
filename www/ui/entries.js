// Turns the worker's column records (protocol.js: PAGE) into entry
// records the listing draws: {name, path, type, file_kind, mode, uid, gid,
// owner, group, size, mtime, target, problems}.

import { KINDS } from '../protocol.js';
import { joinPath } from './format.js';

const COARSE = { file: 'file', dir: 'dir', symlink: 'symlink' };

/**
 * Entries of a PAGE record. `dir` is the folder they are in (for paths),
 * unless the record has its own `paths` (search hits). `owners` ({users:
 * Map, groups: Map}) collects id → name across pages.
 */
export function unpack(page, dir, owners) {
  for (const [id, name] of page.users) owners.users.set(id, name);
  for (const [id, name] of page.groups) owners.groups.set(id, name);
  const names = page.count ? page.names.split('\0') : [];
  const paths = page.paths !== undefined && page.count ? page.paths.split('\0') : null;
  const targets = new Map(page.targets);
  const problems = new Map(page.problems);
  const out = new Array(page.count);
  for (let i = 0; i < page.count; i += 1) {
    const kind = KINDS[page.kinds[i]] || 'unknown';
    const name = names[i];
    out[i] = {
      name,
      path: paths ? paths[i] : name === '' ? dir : joinPath(dir, name),
      type: COARSE[kind] || 'other',
      file_kind: kind,
      mode: page.modes[i],
      uid: page.uids[i],
      gid: page.gids[i],
      size: page.sizes[i],
      mtime: page.mtimes[i],
      inode: page.inodes[i],
      target: targets.has(i) ? targets.get(i) : null,
      problems: problems.get(i) || [],
    };
  }
  return out;
}

/** The owner's name, or the number when the image's /etc/passwd has none. */
export function ownerName(owners, e) {
  return owners.users.get(e.uid) ?? String(e.uid);
}

export function groupName(owners, e) {
  return owners.groups.get(e.gid) ?? String(e.gid);
}
