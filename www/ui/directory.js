// Lays out the browser of one volume: title, toolbar (up, breadcrumb,
// filter and search), the selection bar, then the folder tree, the
// listing and the preview side by side, and the problems panel. The parts
// themselves come from tree.js, listing.js and preview.js.

import { el, clear } from './dom.js';

/**
 * Builds the skeleton in `root`. Handlers: `back()` to the volumes,
 * `up()`, `filter(text)` as the user types, `search(text)` for the
 * whole volume, `stopSearch()`, `clearSearch()`. `bar` is the selection
 * bar's node; `tree`, `listing`, `preview` the nodes of those parts.
 */
export function drawBrowser(root, volume, { back, up, filter, search, stopSearch, clearSearch, bar, tree, listing, preview }) {
  const upButton = el('button', { type: 'button', class: 'secondary up', onclick: up, text: '↑ Up', 'aria-label': 'Up to the parent folder', title: 'Up to the parent folder (Backspace)' });
  const crumbs = el('ol');
  const breadcrumb = el('nav', { class: 'breadcrumb', 'aria-label': 'Folder path' }, crumbs);
  const input = el('input', {
    type: 'search', class: 'search', placeholder: 'Filter this folder, or search the volume (press /)',
    'aria-label': 'Filter or search', 'aria-keyshortcuts': '/', autocomplete: 'off', spellcheck: 'false',
  });
  const searchButton = el('button', { type: 'button', class: 'secondary', text: 'Search volume', title: 'Search every folder for names containing the text, or matching a pattern like *.sql or ib?ata[0-9] (Enter)' });
  const stopButton = el('button', { type: 'button', class: 'secondary', text: 'Stop search', hidden: true });
  const backToFolder = el('button', { type: 'button', class: 'link', text: 'Back to the folder', hidden: true });
  const searchLine = el('p', { class: 'search-line', role: 'status', hidden: true });
  const problemsList = el('ul', { class: 'problems-list' });
  const problemsSummary = el('summary');
  const problems = el('details', { class: 'problems', hidden: true }, problemsSummary, problemsList);

  input.addEventListener('input', () => filter(input.value));
  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && input.value.trim()) {
      ev.preventDefault();
      search(input.value.trim());
    } else if (ev.key === 'Escape') {
      if (input.value) {
        ev.preventDefault();
        input.value = '';
        clearSearch();
      }
    } else if (ev.key === 'ArrowDown') {
      ev.preventDefault();
      listing.dispatchEvent(new CustomEvent('salvage-focus'));
    }
  });
  searchButton.addEventListener('click', () => { if (input.value.trim()) search(input.value.trim()); else input.focus(); });
  stopButton.addEventListener('click', stopSearch);
  backToFolder.addEventListener('click', () => { input.value = ''; clearSearch(); });

  clear(root).append(
    el('div', { class: 'dir-head' },
      el('h2', { text: `Files in volume ${volume.index}` + (volume.label ? ` (${volume.label})` : '') }),
      el('button', { type: 'button', class: 'secondary', onclick: back, text: 'Back to volumes' })),
    el('div', { class: 'toolbar' }, upButton, breadcrumb,
      el('div', { class: 'search-box', role: 'search' }, input, searchButton, stopButton)),
    searchLine,
    bar,
    el('div', { class: 'browser' }, tree, el('div', { class: 'list-pane' }, backToFolder, listing), preview),
    problems);
  root.dataset.volume = String(volume.index);

  return {
    input,
    /** Shows `path` in the breadcrumb; `go(p)` opens an ancestor. */
    setPath(path, go) {
      const parts = path.split('/').filter((p) => p !== '');
      const items = [el('li', {}, el('button', { type: 'button', class: 'link', onclick: () => go('/'), text: `Volume ${volume.index}` }))];
      let at = '';
      parts.forEach((part, i) => {
        at += `/${part}`;
        const target = at;
        items.push(el('li', {}, i === parts.length - 1
          ? el('span', { 'aria-current': 'page', text: part })
          : el('button', { type: 'button', class: 'link', onclick: () => go(target), text: part })));
      });
      clear(crumbs).append(...items);
      upButton.disabled = path === '/';
    },
    /** The search line: `text`, whether a search runs, whether hits are shown. */
    setSearch(text, { running = false, showing = false } = {}) {
      searchLine.hidden = !text;
      searchLine.textContent = text || '';
      stopButton.hidden = !running;
      backToFolder.hidden = !showing;
      root.classList.toggle('searching', running);
    },
    /** The problems panel: [{path, text}] and how many there are in all. */
    setProblems(list, total = list.length) {
      problems.hidden = list.length === 0;
      problemsSummary.textContent = `Problems reading this folder (${total.toLocaleString('en-US')})`;
      clear(problemsList).append(...list.map((p) => el('li', {}, el('span', { class: 'problem-path', text: p.path }), ' ', el('span', { text: p.text }))));
    },
  };
}
