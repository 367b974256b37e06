// The listing: a table (ARIA grid "Files") of entries with sortable
// columns, checkboxes, a keyboard cursor and virtualised rows. Rows have
// one fixed height, so only the rows in view (plus a margin) exist in the
// DOM and two spacer rows stand for the others: a folder of 100,000
// entries scrolls like one of 100, and nothing moves while pages of it
// arrive (they come in name order and are appended below).

import { el } from './dom.js';
import { humanSize, exactBytes, utcTime, permString, hasInvalidBytes } from './format.js';
import { ownerName, groupName } from './entries.js';

/** Pixel height of every row; style.css gives `tr.entry` the same. */
export const ROW_HEIGHT = 30;
// Rows drawn above and below the visible ones.
const OVERSCAN = 15;
// Up to this many rows are all drawn (no virtualisation needed).
const DRAW_ALL_UP_TO = 400;

const TYPE_BADGE = { dir: 'dir', file: 'file', symlink: 'link', other: 'other' };
const TYPE_LABEL = {
  dir: 'folder', file: 'file', symlink: 'symbolic link', other: 'special file', unknown: 'unreadable entry',
  chardevice: 'character device', blockdevice: 'block device', fifo: 'named pipe', socket: 'socket',
};

const COLUMNS = [
  { key: 'name', label: 'Name', cls: 'name' },
  { key: 'size', label: 'Size', cls: 'num' },
  { key: 'mtime', label: 'Modified (UTC)', cls: 'time' },
  { key: 'mode', label: 'Permissions', cls: 'mode' },
  { key: 'owner', label: 'Owner', cls: 'owner' },
  { key: 'group', label: 'Group', cls: 'group' },
];

const byString = (a, b) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Handlers: `open(entry)` enters a folder (or a search hit's folder),
 * `activate(entry)` previews it, `cursor(entry)` follows the keyboard
 * cursor, `toggle(entry, on)` and `isSelected(path)` keep the selection
 * (owned by the caller), `download(entry)` saves a file, `up()` goes to
 * the parent folder. `owners` is the {users, groups} map of entries.js.
 */
export function createListing({ owners, open, activate, cursor: onCursor, toggle, isSelected, download, up, selectAll }) {
  let source = [];        // entries as given
  let sourceInNameOrder = false;
  let sorted = [];        // source in the chosen order
  let rows = [];          // sorted, filtered: what is shown
  let filter = '';
  let sort = { key: 'name', dir: 1 };
  let paths = false;      // search hits: the name column shows the path
  let cursor = 0;
  let winA = 0;
  let winB = 0;
  const drawn = new Map(); // row index → <tr>

  const all = el('input', { type: 'checkbox', 'aria-label': 'Select all in this folder' });
  const sortButtons = new Map();
  const head = el('tr', {},
    el('th', { scope: 'col', class: 'pick' }, all),
    el('th', { scope: 'col', class: 'icon', text: 'Type' }),
    COLUMNS.map((c) => {
      const b = el('button', { type: 'button', class: 'sort', text: c.label, onclick: () => sortBy(c.key) });
      sortButtons.set(c.key, b);
      return el('th', { scope: 'col', class: c.cls, dataset: { key: c.key } }, b);
    }),
    el('th', { scope: 'col', class: 'act' }, el('span', { class: 'visually-hidden', text: 'Actions' })));
  const thead = el('thead', {}, head);
  const spacerTop = el('tr', { class: 'spacer', 'aria-hidden': 'true' }, el('td', { colspan: 9 }));
  const spacerBottom = el('tr', { class: 'spacer', 'aria-hidden': 'true' }, el('td', { colspan: 9 }));
  const tbody = el('tbody', {}, spacerTop, spacerBottom);
  const colgroup = el('colgroup', {},
    ['pick', 'icon', 'name', 'size', 'time', 'mode', 'owner', 'group', 'act'].map((c) => el('col', { class: `c-${c}` })));
  const table = el('table', { class: 'entries', role: 'grid', 'aria-label': 'Files', 'aria-multiselectable': 'true' },
    colgroup, thead, tbody);
  const empty = el('p', { class: 'empty', hidden: true });
  const scroller = el('div', { class: 'list-scroll', tabindex: '-1' }, table, empty);

  all.addEventListener('change', () => {
    const on = all.checked;
    selectAll(rows.filter((e) => e.name !== '' && isSelected(e.path) !== on), on);
    for (const [i, tr] of drawn) markSelected(tr, rows[i]);
    syncAll();
  });

  function syncAll() {
    let on = 0;
    let selectable = 0;
    for (const e of rows) {
      if (e.name === '') continue;
      selectable += 1;
      if (isSelected(e.path)) on += 1;
    }
    all.checked = selectable > 0 && on === selectable;
    all.indeterminate = on > 0 && on < selectable;
    all.disabled = selectable === 0;
  }

  function keyOf(e, key) {
    switch (key) {
      case 'owner': return ownerName(owners, e);
      case 'group': return groupName(owners, e);
      default: return e[key];
    }
  }

  function resort() {
    if (sort.key === 'name' && sort.dir === 1 && sourceInNameOrder) {
      sorted = source;
      return;
    }
    const { key, dir } = sort;
    const numeric = key === 'size' || key === 'mtime' || key === 'mode';
    sorted = [...source].sort((a, b) => {
      const x = keyOf(a, key);
      const y = keyOf(b, key);
      const c = numeric ? x - y : byString(x, y);
      return (c || byString(a.name, b.name) || byString(a.path, b.path)) * dir;
    });
  }

  function refilter() {
    const f = filter.toLowerCase();
    rows = f ? sorted.filter((e) => (paths ? e.path : e.name).toLowerCase().includes(f)) : sorted;
    table.setAttribute('aria-rowcount', String(rows.length + 1));
    empty.hidden = rows.length > 0;
    empty.textContent = source.length === 0 ? (paths ? 'Nothing found yet.' : 'This folder is empty.') : `Nothing here matches “${filter}”.`;
    if (cursor >= rows.length) cursor = Math.max(0, rows.length - 1);
  }

  function headHeight() {
    return thead.offsetHeight || ROW_HEIGHT;
  }

  function windowFor() {
    const n = rows.length;
    if (n <= DRAW_ALL_UP_TO) return [0, n];
    const top = Math.max(0, scroller.scrollTop - headHeight());
    const first = Math.max(0, Math.floor(top / ROW_HEIGHT) - OVERSCAN);
    const count = Math.ceil((scroller.clientHeight || 600) / ROW_HEIGHT) + 2 * OVERSCAN;
    return [first, Math.min(n, first + count)];
  }

  function markSelected(tr, e) {
    const on = isSelected(e.path);
    tr.setAttribute('aria-selected', on ? 'true' : 'false');
    const box = tr.querySelector('td.pick input');
    if (box) box.checked = on;
  }

  function warnMark(e) {
    const text = e.problems.join('\n');
    return el('span', {
      class: 'warn', tabindex: '0', role: 'img', title: text, dataset: { tip: text },
      'aria-label': `Problems: ${e.problems.join(' ')}`, text: '⚠',
    });
  }

  function buildRow(i) {
    const e = rows[i];
    const label = paths ? e.path : e.name === '' ? '(part of this folder)' : e.name;
    const tr = el('tr', {
      class: `entry ${e.type}${i % 2 ? ' alt' : ''}${i === cursor ? ' cursor' : ''}`,
      'aria-rowindex': String(i + 2),
      tabindex: i === cursor ? '0' : '-1',
      dataset: { name: e.name, type: e.type, path: e.path, index: String(i) },
    });
    let box = null;
    if (e.name !== '') {
      box = el('input', { type: 'checkbox', tabindex: '-1', 'aria-label': `Select ${e.name}`, dataset: { path: e.path } });
      box.addEventListener('change', () => {
        toggle(e, box.checked);
        markSelected(tr, e);
        syncAll();
      });
    }
    const nameCell = e.type === 'dir'
      ? el('button', { type: 'button', class: 'link', tabindex: '-1', onclick: () => open(e), text: label })
      : el('span', { text: label });
    if (hasInvalidBytes(e.name)) nameCell.title = 'This name has bytes that are not valid UTF-8; they are shown as \\xHH.';
    else nameCell.title = label;
    const extras = [];
    if (e.type === 'symlink' && e.target !== null) extras.push(el('span', { class: 'target', title: e.target, text: ` → ${e.target}` }));
    if (e.problems.length) extras.push(' ', warnMark(e));
    const kind = e.file_kind;
    tr.append(
      el('td', { class: 'pick' }, box),
      el('td', { class: 'icon' }, el('span', { class: `badge ${e.type}`, title: TYPE_LABEL[kind] || kind, text: TYPE_BADGE[e.type] || '?' })),
      el('td', { class: 'name' }, nameCell, extras),
      el('td', { class: 'num', title: exactBytes(e.size), text: e.type === 'dir' || e.name === '' ? '' : humanSize(e.size) }),
      el('td', { class: 'time', title: utcTime(e.mtime), text: e.name === '' ? '' : utcTime(e.mtime).slice(0, 16) }),
      el('td', { class: 'mode', text: e.name === '' ? '' : permString(kind, e.mode) }),
      el('td', { class: 'owner', title: `uid ${e.uid}`, text: e.name === '' ? '' : ownerName(owners, e) }),
      el('td', { class: 'group', title: `gid ${e.gid}`, text: e.name === '' ? '' : groupName(owners, e) }),
      el('td', { class: 'act' }, e.type === 'file'
        ? el('button', { type: 'button', class: 'download', tabindex: '-1', onclick: () => download(e), text: '↓', title: 'Download this file', 'aria-label': `Download ${e.name}` })
        : null));
    if (box) markSelected(tr, e);
    tr.addEventListener('click', (ev) => {
      if (ev.target.closest('button, input, a')) return;
      moveCursor(i, { focus: true });
      activate(e);
    });
    tr.addEventListener('dblclick', (ev) => {
      if (ev.target.closest('button, input, a')) return;
      if (e.type === 'dir' || paths) open(e);
    });
    return tr;
  }

  /** Draws the rows in view; `all` redraws even those already drawn. */
  function draw(redraw = false) {
    const [a, b] = windowFor();
    if (!redraw && a === winA && b === winB && drawn.size === b - a) return;
    const hadFocus = tbody.contains(document.activeElement);
    for (const [i, tr] of drawn) {
      if (redraw || i < a || i >= b) {
        tr.remove();
        drawn.delete(i);
      }
    }
    let before = spacerBottom;
    for (let i = b - 1; i >= a; i -= 1) {
      let tr = drawn.get(i);
      if (!tr) {
        tr = buildRow(i);
        drawn.set(i, tr);
        tbody.insertBefore(tr, before);
      }
      before = tr;
    }
    spacerTop.firstChild.style.height = `${a * ROW_HEIGHT}px`;
    spacerBottom.firstChild.style.height = `${(rows.length - b) * ROW_HEIGHT}px`;
    spacerTop.hidden = a === 0;
    spacerBottom.hidden = b === rows.length;
    winA = a;
    winB = b;
    if (hadFocus && !tbody.contains(document.activeElement)) {
      const tr = drawn.get(cursor);
      (tr || scroller).focus({ preventScroll: true });
    }
  }

  let pending = false;
  scroller.addEventListener('scroll', () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      draw();
    });
  });
  new ResizeObserver(() => draw()).observe(scroller);

  function scrollToRow(i) {
    const h = headHeight();
    const top = h + i * ROW_HEIGHT;
    if (top < scroller.scrollTop + h) scroller.scrollTop = i * ROW_HEIGHT;
    else if (top + ROW_HEIGHT > scroller.scrollTop + scroller.clientHeight) scroller.scrollTop = top + ROW_HEIGHT - scroller.clientHeight;
  }

  function moveCursor(i, { focus = true } = {}) {
    if (rows.length === 0) return;
    const next = Math.max(0, Math.min(rows.length - 1, i));
    const old = drawn.get(cursor);
    if (old) {
      old.classList.remove('cursor');
      old.tabIndex = -1;
    }
    cursor = next;
    scrollToRow(next);
    draw();
    const tr = drawn.get(next);
    if (tr) {
      tr.classList.add('cursor');
      tr.tabIndex = 0;
      if (focus) tr.focus({ preventScroll: true });
    }
    onCursor(rows[next]);
  }

  function pageRows() {
    return Math.max(1, Math.floor((scroller.clientHeight - headHeight()) / ROW_HEIGHT) - 1);
  }

  scroller.addEventListener('keydown', (ev) => {
    if (ev.altKey || ev.ctrlKey || ev.metaKey) return;
    const onRow = ev.target.matches && ev.target.matches('tr.entry');
    const inList = onRow || ev.target === scroller;
    const e = rows[cursor];
    const moves = { ArrowDown: 1, ArrowUp: -1, PageDown: pageRows(), PageUp: -pageRows() };
    if (ev.key in moves) {
      moveCursor(cursor + moves[ev.key]);
    } else if (ev.key === 'Home' && inList) {
      moveCursor(0);
    } else if (ev.key === 'End' && inList) {
      moveCursor(rows.length - 1);
    } else if (ev.key === 'Enter' && inList && e) {
      if (e.type === 'dir') open(e);
      else activate(e);
    } else if (ev.key === ' ' && inList && e) {
      const box = drawn.get(cursor)?.querySelector('td.pick input');
      if (box) {
        box.checked = !box.checked;
        box.dispatchEvent(new Event('change'));
      }
    } else if (ev.key === 'Backspace' && !paths) {
      up();
    } else {
      return;
    }
    ev.preventDefault();
    ev.stopPropagation();
  });

  function sortBy(key) {
    sort = sort.key === key ? { key, dir: -sort.dir } : { key, dir: 1 };
    for (const [k, b] of sortButtons) {
      const th = b.parentElement;
      if (k === sort.key) th.setAttribute('aria-sort', sort.dir > 0 ? 'ascending' : 'descending');
      else th.removeAttribute('aria-sort');
    }
    resort();
    refilter();
    cursor = 0;
    scroller.scrollTop = 0;
    draw(true);
  }
  sortButtons.get('name').parentElement.setAttribute('aria-sort', 'ascending');

  return {
    node: scroller,
    table,
    /**
     * Shows `entries`. `nameOrder`: they come sorted by name (a folder's
     * pages); `paths`: search hits; `keep`: more of the same list (keep
     * scroll and cursor).
     */
    setEntries(entries, { nameOrder = false, paths: showPaths = false, keep = false } = {}) {
      source = entries;
      sourceInNameOrder = nameOrder;
      paths = showPaths;
      table.classList.toggle('hits', paths);
      all.setAttribute('aria-label', paths ? 'Select all found' : 'Select all in this folder');
      resort();
      refilter();
      if (!keep) {
        cursor = 0;
        scroller.scrollTop = 0;
      }
      draw(true);
      syncAll();
    },
    setFilter(text) {
      filter = text;
      refilter();
      cursor = 0;
      scroller.scrollTop = 0;
      draw(true);
      syncAll();
    },
    /** Redraws (after the selection or owner names changed elsewhere). */
    refresh() {
      draw(true);
      syncAll();
    },
    focus() {
      const tr = drawn.get(cursor);
      if (tr) tr.focus({ preventScroll: true });
      else scroller.focus({ preventScroll: true });
    },
    moveCursor,
    get rows() { return rows; },
    get cursorEntry() { return rows[cursor]; },
    get drawnCount() { return drawn.size; },
  };
}
