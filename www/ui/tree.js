// The folder tree beside the listing: nested lists of folders, each with
// a button to show or hide its subfolders (read when first shown) and one
// to open it. The folder in view is marked and its ancestors shown.

import { el, clear } from './dom.js';
import { joinPath } from './format.js';

/**
 * `load(path)` resolves to the names of a folder's subfolders; `go(path)`
 * opens a folder. `rootLabel` names the volume ("Volume 2 (root)").
 */
export function createTree({ rootLabel, load, go }) {
  const nodes = new Map(); // path → {li, toggle, group, state: 'unknown'|'loading'|'loaded', open}
  const list = el('ul', { class: 'tree' });
  const node = el('nav', { class: 'tree-pane', 'aria-label': 'Folders' }, list);
  let current = null;

  function makeNode(path, label) {
    const toggle = el('button', { type: 'button', class: 'twisty', 'aria-expanded': 'false', 'aria-label': `Show folders in ${label}`, text: '▸' });
    const name = el('button', { type: 'button', class: 'folder', title: path, text: label, onclick: () => go(path) });
    const group = el('ul', { hidden: true });
    const li = el('li', { dataset: { path } }, el('div', { class: 'tree-row' }, toggle, name), group);
    const n = { li, toggle, name, group, state: 'unknown', open: false };
    toggle.addEventListener('click', () => (n.open ? collapse(path) : expand(path)));
    nodes.set(path, n);
    return n;
  }

  function setChildren(path, names) {
    const n = nodes.get(path);
    if (!n) return;
    n.state = 'loaded';
    const kids = [...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    clear(n.group).append(...kids.map((name) => {
      const p = joinPath(path, name);
      return (nodes.get(p) || makeNode(p, name)).li;
    }));
    n.toggle.disabled = kids.length === 0;
    n.toggle.classList.toggle('leaf', kids.length === 0);
    if (kids.length === 0) n.toggle.textContent = '·';
  }

  async function expand(path) {
    const n = nodes.get(path);
    if (!n) return;
    n.open = true;
    n.toggle.setAttribute('aria-expanded', 'true');
    n.toggle.textContent = '▾';
    n.group.hidden = false;
    if (n.state === 'unknown') {
      n.state = 'loading';
      n.li.setAttribute('aria-busy', 'true');
      try {
        setChildren(path, await load(path));
      } catch {
        n.state = 'unknown';
      } finally {
        n.li.removeAttribute('aria-busy');
      }
    }
    if (n.state === 'loaded' && n.group.childElementCount === 0) n.toggle.textContent = '·';
  }

  function collapse(path) {
    const n = nodes.get(path);
    if (!n) return;
    n.open = false;
    n.toggle.setAttribute('aria-expanded', 'false');
    n.toggle.textContent = n.toggle.disabled ? '·' : '▸';
    n.group.hidden = true;
  }

  /** Marks `path` as the folder in view and shows its ancestors. */
  async function reveal(path) {
    if (current) current.name.removeAttribute('aria-current');
    const parts = path.split('/').filter(Boolean);
    if (!nodes.get('/').open) await expand('/');
    let at = '/';
    for (const part of parts) {
      if (!nodes.has(joinPath(at, part))) {
        await expand(at);
      } else if (!nodes.get(at).open) {
        await expand(at);
      }
      at = joinPath(at, part);
      if (!nodes.has(at)) break;
    }
    current = nodes.get(path) || null;
    if (current) {
      current.name.setAttribute('aria-current', 'true');
      current.name.scrollIntoView({ block: 'nearest' });
    }
  }

  // Keys, as in a file manager's folder pane: ↑/↓ move between the folders
  // shown, → shows a folder's subfolders (or goes to the first), ← hides
  // them (or goes to the parent); Enter opens (the buttons do that).
  node.addEventListener('keydown', (ev) => {
    const button = ev.target.closest('button');
    const li = ev.target.closest('li[data-path]');
    if (!button || !li || ev.altKey || ev.ctrlKey || ev.metaKey) return;
    const n = nodes.get(li.dataset.path);
    const shown = [...list.querySelectorAll('button.folder')].filter((b) => b.offsetParent !== null);
    const at = shown.indexOf(n.name);
    const focus = (b) => { if (b) b.focus(); };
    if (ev.key === 'ArrowDown') focus(shown[at + 1]);
    else if (ev.key === 'ArrowUp') focus(shown[at - 1]);
    else if (ev.key === 'ArrowRight') {
      if (!n.open && !n.toggle.disabled) expand(li.dataset.path);
      else focus(n.group.querySelector('button.folder'));
    } else if (ev.key === 'ArrowLeft') {
      if (n.open) collapse(li.dataset.path);
      else focus(li.parentElement.closest('li[data-path]')?.querySelector('button.folder'));
    } else return;
    ev.preventDefault();
    ev.stopPropagation();
  });

  const root = makeNode('/', rootLabel);
  list.append(root.li);
  return { node, setChildren, expand, reveal };
}
