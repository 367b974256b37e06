// Draws the selection bar (what is ticked, "Download selected", "Save to a
// file…") and the job panel: progress of a download or export with rate,
// ETA, current file and Cancel, then its outcome.

import { el, clear } from './dom.js';
import { humanSize, exactBytes } from './format.js';

const plural = (n, one, many) => `${Number(n).toLocaleString('en-US')} ${Number(n) === 1 ? one : many}`;

/**
 * The bar's node and an `update(selection)` to call when the selection
 * changes. `selection` is a Map path → entry record. `onDownload()` and
 * `onSaveAs()` start the export; `onSaveAs` is null where the browser has
 * no save dialog for pages (showSaveFilePicker).
 */
export function selectionBar({ onDownload, onSaveAs, onClear }) {
  const count = el('span', { class: 'count', 'aria-live': 'polite' });
  const download = el('button', { type: 'button', class: 'primary', onclick: onDownload, text: 'Download selected' });
  const saveAs = onSaveAs
    ? el('button', { type: 'button', class: 'secondary', onclick: onSaveAs, text: 'Save to a file…', title: 'Write the zip straight to a file you choose' })
    : null;
  const clearButton = el('button', { type: 'button', class: 'link', onclick: onClear, text: 'Clear selection' });
  const sizes = el('span', { class: 'totals', 'aria-live': 'polite' });
  const node = el('div', { class: 'selection-bar', role: 'region', 'aria-label': 'Selection' },
    count, sizes, download, saveAs, clearButton);
  function update(selection) {
    const items = [...selection.values()];
    const folders = items.filter((e) => e.type === 'dir').length;
    const others = items.length - folders;
    const bytes = items.filter((e) => e.type === 'file').reduce((sum, e) => sum + Number(e.size || 0), 0);
    if (items.length === 0) {
      count.textContent = 'Nothing selected: tick files and folders to download them as one zip.';
    } else {
      const parts = [];
      if (folders) parts.push(plural(folders, 'folder', 'folders'));
      if (others) parts.push(`${plural(others, 'file', 'files')} (${humanSize(bytes)})`);
      count.textContent = `${items.length.toLocaleString('en-US')} selected: ${parts.join(', ')}`;
    }
    for (const b of [download, saveAs, clearButton]) if (b) b.disabled = items.length === 0;
  }
  /**
   * What the selection holds in all, folders' contents included:
   * {counting, files, dirs, bytes, problem_count} from the worker's size
   * job, {error}, or null when there is no folder to count.
   */
  function totals(t) {
    for (const k of ['files', 'bytes', 'dirs', 'state']) delete sizes.dataset[k];
    if (!t) {
      sizes.textContent = '';
      return;
    }
    if (t.error) {
      sizes.textContent = `Couldn't count the folders' sizes: ${t.error}`;
      sizes.dataset.state = 'error';
      return;
    }
    const what = `${plural(t.files, 'file', 'files')}, ${humanSize(t.bytes)}`;
    if (t.counting) {
      sizes.textContent = `Counting what the folders hold: ${what} so far…`;
      sizes.dataset.state = 'counting';
    } else {
      const damaged = t.problem_count ? `; ${plural(t.problem_count, 'folder or file', 'folders or files')} could not be read` : '';
      sizes.textContent = `In all: ${what} in ${plural(t.dirs, 'folder', 'folders')}${damaged}.`;
      sizes.title = exactBytes(t.bytes);
      Object.assign(sizes.dataset, { files: String(t.files), bytes: String(t.bytes), dirs: String(t.dirs), state: 'done' });
    }
  }
  return { node, update, totals, setBusy(busy) { for (const b of [download, saveAs]) if (b) b.disabled = busy || b.disabled; } };
}

function duration(secs) {
  if (secs === null || secs === undefined || !Number.isFinite(secs)) return null;
  const s = Math.max(0, Math.round(secs));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

function rateText(rate) {
  return rate === null || rate === undefined ? null : `${(rate / 1e6).toFixed(rate >= 1e8 ? 0 : 1)} MB/s`;
}

/**
 * Shows a job in `root` (the #job panel): `title`, then `progress(p)` for
 * each progress message, and `done(text, kind)` or `failed(text)`. Cancel
 * calls `onCancel`.
 */
export function jobPanel(root, title, onCancel) {
  const bar = el('progress', { max: 1, 'aria-label': 'Progress' });
  const line = el('p', { class: 'job-line' });
  const current = el('p', { class: 'job-current' });
  const cancel = el('button', { type: 'button', class: 'secondary', text: 'Cancel' });
  const outcome = el('p', { class: 'job-outcome', role: 'status' });
  cancel.addEventListener('click', () => {
    cancel.disabled = true;
    cancel.textContent = 'Cancelling…';
    onCancel();
  });
  clear(root).append(
    el('div', { class: 'job-head' }, el('h2', { id: 'job-title', text: title }), cancel),
    bar, line, current, outcome);
  root.setAttribute('aria-labelledby', 'job-title');
  root.setAttribute('aria-busy', 'true');
  root.hidden = false;
  line.textContent = 'Starting…';

  function end(text, kind) {
    root.removeAttribute('aria-busy');
    cancel.remove();
    current.textContent = '';
    outcome.className = `job-outcome ${kind}`;
    outcome.textContent = text;
  }

  return {
    progress(p) {
      if (p.phase === 'counting') {
        bar.removeAttribute('value');
        line.textContent = `Counting: ${plural(p.files_total, 'file', 'files')}, ${humanSize(p.total)} so far…`;
      } else {
        bar.value = p.total > 0 ? p.done / p.total : p.phase === 'done' ? 1 : 0;
        const parts = [];
        if (p.files_total > 1) parts.push(`${Number(p.files_done).toLocaleString('en-US')} of ${plural(p.files_total, 'file', 'files')}`);
        parts.push(`${humanSize(p.done)} of ${humanSize(p.total)}`);
        const rate = rateText(p.rate);
        if (rate) parts.push(rate);
        const eta = p.phase === 'finishing' ? 'writing the report' : duration(p.eta);
        if (eta) parts.push(p.phase === 'finishing' ? eta : `about ${eta} left`);
        line.textContent = parts.join(' · ');
        line.title = `${exactBytes(p.done)} of ${exactBytes(p.total)}`;
      }
      current.textContent = p.current ? `Now: ${p.current}` : '';
    },
    done(text, kind = 'ok') { bar.value = 1; end(text, kind); },
    failed(text) { end(text, 'error'); },
  };
}

/** One or two sentences on a finished zip export, from the core's summary. */
export function summaryText(saved, where) {
  const s = saved.summary;
  const stored = [plural(s.files_ok, 'file', 'files') + ` (${humanSize(s.bytes_ok)})`];
  if (s.dirs) stored.push(plural(s.dirs, 'folder', 'folders'));
  if (s.symlinks) stored.push(plural(s.symlinks, 'symbolic link', 'symbolic links'));
  let text = `${where} (${humanSize(saved.size)}): ${stored.join(', ')}.`;
  const problems = [];
  if (s.files_incomplete) problems.push(`${plural(s.files_incomplete, 'file is', 'files are')} incomplete`);
  if (s.skipped) problems.push(`${plural(s.skipped, 'entry was', 'entries were')} left out`);
  if (s.walk_problems) problems.push(`${plural(s.walk_problems, 'folder', 'folders')} could not be fully read`);
  if (s.specials) problems.push(`${plural(s.specials, 'special file', 'special files')} (devices, pipes, sockets) listed but not stored`);
  if (problems.length) {
    text += ` Not everything could be saved: ${problems.join(', ')}; ${s.report_name} inside the zip says which and why.`;
  } else {
    text += ` Everything selected was saved intact; ${s.report_name} and ${s.manifest_name} inside the zip describe it.`;
  }
  return text;
}
