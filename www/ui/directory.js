// Draws one directory of a volume: breadcrumb and entries table.

import { el, clear } from './dom.js';
import { humanSize, exactBytes, utcTime, permString, joinPath, parentPath, hasInvalidBytes } from './format.js';

const TYPE_BADGE = { dir: 'dir', file: 'file', symlink: 'link', other: 'other' };
const TYPE_LABEL = {
  dir: 'folder', file: 'file', symlink: 'symbolic link', other: 'special file',
  chardevice: 'character device', blockdevice: 'block device', fifo: 'named pipe', socket: 'socket',
};

function breadcrumb(volume, path, go) {
  const parts = path.split('/').filter((p) => p !== '');
  const crumbs = [el('li', {}, el('button', { type: 'button', class: 'link', onclick: () => go('/'), text: `Volume ${volume.index}` }))];
  let at = '';
  parts.forEach((part, i) => {
    at += '/' + part;
    const target = at;
    crumbs.push(el('li', {}, i === parts.length - 1
      ? el('span', { 'aria-current': 'page', text: part })
      : el('button', { type: 'button', class: 'link', onclick: () => go(target), text: part })));
  });
  return el('nav', { class: 'breadcrumb', 'aria-label': 'Folder path' }, el('ol', {}, crumbs));
}

function sortEntries(entries) {
  const rank = (e) => (e.type === 'dir' ? 0 : 1);
  return [...entries].sort((a, b) => rank(a) - rank(b) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * `go(path)` enters a folder; `download(entry)` saves a file;
 * `isSelected(path)` and `select(entry, path, on)` keep the selection,
 * which lives in the caller; `bar` (a node) is shown above the table.
 */
export function drawDirectory(root, volume, path, entries, { go, download, back, isSelected, select, bar }) {
  const sorted = sortEntries(entries);
  const boxes = [];
  const all = el('input', {
    type: 'checkbox', 'aria-label': 'Select all in this folder',
    onchange: () => {
      for (const b of boxes) {
        if (b.checked !== all.checked) {
          b.checked = all.checked;
          select(b.entry, b.path, all.checked);
        }
      }
    },
  });
  const syncAll = () => {
    const on = boxes.filter((b) => b.checked).length;
    all.checked = boxes.length > 0 && on === boxes.length;
    all.indeterminate = on > 0 && on < boxes.length;
  };
  const head = el('tr', {},
    el('th', { scope: 'col', class: 'pick' }, entries.length === 0 ? null : all),
    ['Type', 'Name', 'Size', 'Modified (UTC)', 'Permissions', 'uid', 'gid', '']
      .map((h) => el('th', { scope: 'col', text: h })));
  const rows = [];
  if (path !== '/') {
    rows.push(el('tr', { class: 'up' },
      el('td', { class: 'pick' }),
      el('td', { class: 'icon' }, el('span', { class: 'badge up', text: 'up' })),
      el('td', { class: 'name' }, el('button', { type: 'button', class: 'link', onclick: () => go(parentPath(path)), text: '..', 'aria-label': 'Up to the parent folder' })),
      el('td', { colspan: 6 })));
  }
  for (const e of sorted) {
    const full = e.path || joinPath(path, e.name);
    const box = el('input', { type: 'checkbox', 'aria-label': `Select ${e.name}`, dataset: { path: full } });
    box.checked = isSelected(full);
    box.entry = e;
    box.path = full;
    box.addEventListener('change', () => { select(e, full, box.checked); syncAll(); });
    boxes.push(box);
    const kind = e.type === 'other' && e.file_kind ? e.file_kind : e.type;
    let nameCell;
    if (e.type === 'dir') {
      nameCell = el('button', { type: 'button', class: 'link', onclick: () => go(full), text: e.name });
    } else {
      nameCell = el('span', { text: e.name });
    }
    const extras = [];
    if (hasInvalidBytes(e.name)) {
      nameCell.title = 'This name has bytes that are not valid UTF-8; they are shown as \\xHH.';
    }
    if (e.type === 'symlink' && e.target !== null && e.target !== undefined) {
      extras.push(el('span', { class: 'target', text: ` → ${e.target}` }));
    }
    if (e.problems && e.problems.length) {
      extras.push(el('span', { class: 'warn', title: e.problems.join('\n'), 'aria-label': 'Problems: ' + e.problems.join(' '), text: ' ⚠' }));
    }
    const action = e.type === 'file'
      ? el('button', { type: 'button', class: 'download', onclick: () => download(e, full), text: 'Download', 'aria-label': `Download ${e.name}` })
      : null;
    rows.push(el('tr', { class: `entry ${e.type}`, dataset: { name: e.name, type: e.type } },
      el('td', { class: 'pick' }, box),
      el('td', { class: 'icon' }, el('span', { class: `badge ${e.type}`, title: TYPE_LABEL[kind] || kind, text: TYPE_BADGE[e.type] || '?' })),
      el('td', { class: 'name' }, nameCell, extras),
      el('td', { class: 'num', title: exactBytes(e.size), text: e.type === 'dir' ? '' : humanSize(e.size) }),
      el('td', { class: 'time', text: utcTime(e.mtime) }),
      el('td', { class: 'mode', text: permString(kind, e.mode) }),
      el('td', { class: 'num', text: e.uid }),
      el('td', { class: 'num', text: e.gid }),
      el('td', {}, action)));
  }
  clear(root).append(...[
    el('div', { class: 'dir-head' },
      el('h2', { text: `Files in volume ${volume.index}` + (volume.label ? ` (${volume.label})` : '') }),
      el('button', { type: 'button', class: 'secondary', onclick: back, text: 'Back to volumes' })),
    breadcrumb(volume, path, go),
    bar,
    entries.length === 0 ? el('p', { class: 'empty', text: 'This folder is empty.' }) : null,
    el('div', { class: 'scroll' },
      el('table', { class: 'entries' }, el('thead', {}, head), el('tbody', {}, rows))),
  ].filter(Boolean));
  all.addEventListener('change', syncAll);
  syncAll();
  root.dataset.volume = String(volume.index);
  root.dataset.path = path;
}
