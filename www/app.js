// Wires the page: sends the worker requests (through bridge.js) and hands the
// answers to the ui/ modules. Holds only plain records, never image data.

import * as P from './protocol.js';
import { send, ask, onWorkerFailure } from './bridge.js';
import { drawSummary, drawVolumes } from './ui/volumes.js';
import { drawBrowser } from './ui/directory.js';
import { createListing } from './ui/listing.js';
import { createTree } from './ui/tree.js';
import { createPreview } from './ui/preview.js';
import { unpack } from './ui/entries.js';
import { runSteps } from './ui/steps.js';
import { humanSize, downloadName, parentPath } from './ui/format.js';
import { selectionBar, jobPanel, summaryText } from './ui/export.js';
import { createGlance } from './ui/glance.js';

const $ = (id) => document.getElementById(id);
const ui = {
  version: $('version'),
  status: $('status'),
  fileInput: $('file-input'),
  openButton: $('open-button'),
  sampleButton: $('sample-button'),
  summary: $('summary'),
  volumes: $('volumes'),
  glance: $('glance'),
  directory: $('directory'),
  job: $('job'),
  overlay: $('drop-overlay'),
};

// ---- status line ---------------------------------------------------------

function showStatus(text, kind = 'info') {
  ui.status.textContent = text;
  ui.status.className = `status ${kind}`;
}

// Runs `work` with a busy status; on failure shows the worker's message as
// is, after `failed` (what we were doing), and resolves to undefined.
async function busy(text, work, failed = '') {
  showStatus(text, 'busy');
  document.body.setAttribute('aria-busy', 'true');
  try {
    return await work();
  } catch (e) {
    const message = e.message || String(e);
    const sentence = /[.!?]$/.test(message) ? message : `${message}.`;
    showStatus(failed ? `${failed}: ${sentence}` : sentence, 'error');
    return undefined;
  } finally {
    document.body.removeAttribute('aria-busy');
  }
}

// ---- views ---------------------------------------------------------------

let info = null;

function showVolumesView() {
  stopJobs();
  document.body.classList.remove('browsing');
  ui.directory.hidden = true;
  ui.summary.hidden = false;
  ui.volumes.hidden = false;
  if (glance) {
    ui.glance.hidden = false;
    glance.view.barSlot.append(bar.node);
  }
}

async function openImage(picked) {
  if (!picked || picked.length === 0) return;
  // Pieces of a split image (disk.000, disk.001, …) go in name order.
  const files = [...picked].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const names = files.map((f) => f.name).join(', ');
  const opened = await busy(`Opening ${names}…`, () => ask(P.OPEN, { files }), `Couldn't open ${names}`);
  if (!opened) return;
  info = opened;
  stopJobs();
  view = null;
  endGlance();
  clearSelection();
  drawSummary(ui.summary, info);
  drawVolumes(ui.volumes, info, (v) => openVolume(v));
  showVolumesView();
  showStatus(openedSentence(names, info), 'ok');
  startGlance(info);
}

const plural = (n, one, many) => `${Number(n).toLocaleString('en-US')} ${n === 1 ? one : many}`;

function openedSentence(names, info) {
  const vols = info.volumes;
  const usable = vols.filter((v) => v.supported).length;
  if (vols.length === 0 || (info.table.kind === 'none' && vols.every((v) => !v.fs))) {
    return `Opened ${names}, but found no partitions or file systems in it.`;
  }
  if (usable === 0) {
    return `Opened ${names}: ${plural(vols.length, 'volume', 'volumes')}, none of which can be browsed yet (see their status).`;
  }
  return `Opened ${names}: ${plural(vols.length, 'volume', 'volumes')}, ${usable} can be browsed.`;
}

// ---- browsing a volume -----------------------------------------------------

// Entries per listing step: a small first page so the first rows show at
// once, then bigger ones.
const FIRST_PAGE = 500;
const NEXT_PAGE = 10_000;
// Directory entries read per search or size step (~10–50 ms of work).
const WALK_BUDGET = 4000;
const MAX_HITS = 10_000;

let view = null; // the volume being browsed: its parts and jobs

function openVolume(volume) {
  if (selectionVolume !== volume.index) clearSelection();
  selectionVolume = volume.index;
  currentVolume = volume;
  const owners = { users: new Map(), groups: new Map() };
  const v = { volume, owners, path: null, entries: [], hits: null, listJob: null, searchJob: null, focusName: null };
  let previewTimer = 0;
  v.preview = createPreview({
    owners,
    read: (e, length) => ask(P.READ, { volume: volume.index, path: e.path, offset: 0, length }),
    download: (e) => download(volume, e, e.path),
  });
  v.listing = createListing({
    owners,
    open: (e) => (e.type === 'dir' ? go(e.path) : go(parentPath(e.path), e.name)),
    activate: (e) => { clearTimeout(previewTimer); v.preview.show(e); },
    // Following the cursor: wait until it rests, so holding an arrow key doesn't read every file.
    cursor: (e) => { clearTimeout(previewTimer); previewTimer = setTimeout(() => v.preview.show(e), 150); },
    toggle: (e, on) => { setSelected(e, on); selectionChanged(); },
    selectAll: (list, on) => { for (const e of list) setSelected(e, on); selectionChanged(); },
    isSelected: (p) => selection.has(p),
    download: (e) => download(volume, e, e.path),
    up: () => goUp(),
  });
  v.listing.node.addEventListener('salvage-focus', () => v.listing.focus());
  v.tree = createTree({
    rootLabel: `Volume ${volume.index}${volume.label ? ` (${volume.label})` : ''}`,
    load: (p) => subfolders(volume, p),
    go: (p) => go(p),
  });
  v.layout = drawBrowser(ui.directory, volume, {
    back: () => { stopJobs(); showVolumesView(); showStatus(''); ui.volumes.querySelector('button')?.focus(); },
    up: () => goUp(),
    filter: (text) => { if (!v.hits) v.listing.setFilter(text); },
    search: (text) => startSearch(text),
    stopSearch: () => { if (v.searchJob) v.searchJob.cancel(); },
    clearSearch: () => endSearch(),
    bar: bar.node,
    tree: v.tree.node,
    listing: v.listing.node,
    preview: v.preview.node,
  });
  view = v;
  document.body.classList.add('browsing');
  ui.glance.hidden = true;
  ui.summary.hidden = true;
  ui.volumes.hidden = true;
  ui.directory.hidden = false;
  return go('/');
}

function stopJobs() {
  if (!view) return;
  view.listJob?.cancel();
  view.searchJob?.cancel();
}

function goUp() {
  if (!view || view.path === '/' || view.path === null) return;
  const from = view.path;
  go(parentPath(from), from.split('/').filter(Boolean).pop());
}

/** Names of the subfolders of `path`, for the tree (a listing of its own). */
async function subfolders(volume, path) {
  if (view && view.path === path && view.listJob === null) {
    return view.entries.filter((e) => e.type === 'dir').map((e) => e.name);
  }
  const names = [];
  const owners = { users: new Map(), groups: new Map() };
  await runSteps(ask, P.LIST_OPEN, { volume: volume.index, path }, NEXT_PAGE, {
    onStep: (page) => { for (const e of unpack(page, path, owners)) if (e.type === 'dir') names.push(e.name); },
  }).done;
  return names;
}

function folderProblems(entries) {
  const out = [];
  for (const e of entries) for (const text of e.problems) out.push({ path: e.name === '' ? `${e.path} (the folder)` : e.path, text });
  return out;
}

/**
 * Shows folder `path` of the volume in view; `focusName` puts the cursor
 * on that entry once listed. Big folders come in pages: the first rows
 * show at once, the rest are appended below as they arrive.
 */
async function go(path, focusName = null) {
  const v = view;
  if (!v) return;
  stopJobs();
  v.searchJob = null;
  v.hits = null;
  v.layout.setSearch('');
  v.layout.input.value = '';
  const started = performance.now();
  const entries = [];
  let first = true;
  let total = 0;
  document.body.setAttribute('aria-busy', 'true');
  showStatus(`Listing ${path}…`, 'busy');
  ui.directory.dataset.loaded = 'false';
  const place = () => {
    if (focusName === null) return;
    const i = v.listing.rows.findIndex((e) => e.name === focusName);
    if (i >= 0) {
      v.listing.moveCursor(i, { focus: ui.directory.contains(document.activeElement) || document.activeElement === document.body });
      focusName = null;
    }
  };
  const job = runSteps(ask, P.LIST_OPEN, { volume: v.volume.index, path }, () => (first ? FIRST_PAGE : NEXT_PAGE), {
    onStart: (s) => { total = s.total; },
    onStep: (page) => {
      const got = unpack(page, path, v.owners);
      for (const e of got) entries.push(e);
      if (first) {
        first = false;
        v.path = path;
        v.entries = entries;
        v.listing.setFilter('');
        v.listing.setEntries(entries, { nameOrder: true });
        v.layout.setPath(path, (p) => go(p));
        v.layout.setProblems([]);
        v.preview.show(null);
        ui.directory.dataset.path = path;
        ui.directory.dataset.firstRowsMs = String(Math.round(performance.now() - started));
        document.body.removeAttribute('aria-busy');
        if (!ui.directory.contains(document.activeElement)) v.listing.focus();
      } else {
        v.listing.setEntries(entries, { nameOrder: true, keep: true });
      }
      place();
      if (!page.done) showStatus(`Listing ${path}: ${entries.length.toLocaleString('en-US')} of ${total.toLocaleString('en-US')} entries…`, 'busy');
    },
  });
  v.listJob = job;
  let last;
  try {
    last = await job.done;
  } catch (e) {
    if (v.listJob === job) v.listJob = null;
    document.body.removeAttribute('aria-busy');
    const message = e.message || String(e);
    showStatus(`Couldn't list ${path}: ${/[.!?]$/.test(message) ? message : `${message}.`}`, 'error');
    return;
  }
  if (!last) return; // cancelled: another folder was opened
  v.listJob = null;
  ui.directory.dataset.loaded = 'true';
  ui.directory.dataset.allRowsMs = String(Math.round(performance.now() - started));
  const problems = folderProblems(entries);
  v.layout.setProblems(problems);
  v.tree.setChildren(path, entries.filter((e) => e.type === 'dir').map((e) => e.name));
  v.tree.reveal(path);
  const warn = problems.length ? `; ${plural(problems.length, 'problem', 'problems')} reading it (see below)` : '';
  showStatus(`${path} — ${plural(entries.length, 'item', 'items')}${warn}`, problems.length ? 'warn' : 'ok');
}

function searchWords(text, rec, running) {
  const found = plural(rec ? rec.hits_total : 0, 'match', 'matches');
  const where = rec ? `${rec.dirs_read.toLocaleString('en-US')} ${rec.dirs_read === 1 ? 'folder' : 'folders'} searched` : 'starting';
  const kind = /[*?[]/.test(text) ? 'names matching' : 'names containing';
  if (running) return `Searching the volume for ${kind} “${text}”: ${found} so far, ${where}…`;
  const more = rec.truncated ? ` Stopped at ${MAX_HITS.toLocaleString('en-US')}; make the search narrower to see the rest.` : '';
  return `${found[0].toUpperCase()}${found.slice(1)} for ${kind} “${text}” in the whole volume (${where}).${more}`;
}

/** Searches the whole volume for `text` (substring, or glob with * ? [ ]). */
function startSearch(text) {
  const v = view;
  if (!v) return;
  v.searchJob?.cancel();
  const hits = [];
  v.hits = hits;
  v.listing.setFilter('');
  v.listing.setEntries(hits, { paths: true });
  v.layout.setSearch(searchWords(text, null, true), { running: true, showing: true });
  v.layout.setProblems([]);
  ui.directory.dataset.search = 'running';
  const job = runSteps(ask, P.SEARCH, { volume: v.volume.index, path: '/', pattern: text, max_hits: MAX_HITS }, WALK_BUDGET, {
    onStep: (rec) => {
      if (v.hits !== hits) return;
      for (const e of unpack(rec.hits, '/', v.owners)) hits.push(e);
      if (rec.hits.count > 0 || hits.length === 0) v.listing.setEntries(hits, { paths: true, keep: true });
      v.layout.setSearch(searchWords(text, rec, !rec.done), { running: !rec.done, showing: true });
    },
  });
  v.searchJob = job;
  job.done.then((last) => {
    if (v.searchJob !== job) return;
    v.searchJob = null;
    if (!last) {
      v.layout.setSearch(`Search stopped: ${plural(hits.length, 'match', 'matches')} so far.`, { showing: true });
      ui.directory.dataset.search = 'stopped';
      return;
    }
    ui.directory.dataset.search = 'done';
    const walk = last.problems.map((t) => ({ path: '', text: t }));
    v.layout.setProblems([...folderProblems(hits), ...walk], folderProblems(hits).length + last.problem_count);
  }, (e) => {
    if (v.searchJob !== job) return;
    v.searchJob = null;
    ui.directory.dataset.search = 'failed';
    v.layout.setSearch(`The search failed: ${e.message || e}`, { showing: true });
  });
}

function endSearch() {
  const v = view;
  if (!v || !v.hits) { v?.listing.setFilter(''); return; }
  v.searchJob?.cancel();
  v.searchJob = null;
  v.hits = null;
  delete ui.directory.dataset.search;
  v.layout.setSearch('');
  v.listing.setEntries(v.entries, { nameOrder: true });
  v.layout.setProblems(folderProblems(v.entries));
  v.listing.focus();
}

// ---- selection, downloads and exports -----------------------------------

// Ticked entries of the volume in view: full path → {name, type, size}.
const selection = new Map();
let selectionVolume = null;
let currentVolume = null;
// What the worker found about OPFS ({opfs, why}); asked once at start.
let storage = { opfs: false, why: 'not checked yet' };
let jobRunning = false;

const canPick = typeof window.showSaveFilePicker === 'function';
const bar = selectionBar({
  onDownload: () => exportSelection(false),
  onSaveAs: canPick ? () => exportSelection(true) : null,
  onClear: () => {
    clearSelection();
    view?.listing.refresh();
  },
});

function clearSelection() {
  selection.clear();
  selectionChanged();
}

function setSelected(e, on) {
  if (on) selection.set(e.path, { name: e.name, type: e.type, size: e.size });
  else selection.delete(e.path);
}

// Sizes of what is selected, folders included: counted by the worker in
// steps, again after each change (once the ticking pauses).
let sizesJob = null;
let sizesTimer = 0;

function selectionChanged() {
  bar.update(selection);
  glance?.view.refresh();
  sizesJob?.cancel();
  sizesJob = null;
  clearTimeout(sizesTimer);
  const top = topPaths();
  const dirs = top.filter((p) => selection.get(p).type === 'dir');
  const volume = currentVolume;
  if (dirs.length === 0 || !volume) {
    bar.totals(null);
    return;
  }
  // Files ticked outside the ticked folders: their sizes are known here.
  let looseFiles = 0;
  let looseBytes = 0;
  for (const p of top) {
    const e = selection.get(p);
    if (e.type === 'file') {
      looseFiles += 1;
      looseBytes += Number(e.size || 0);
    }
  }
  const show = (rec) => bar.totals({ ...rec, files: rec.files + looseFiles, bytes: rec.bytes + looseBytes });
  show({ counting: true, files: 0, bytes: 0, dirs: 0 });
  sizesTimer = setTimeout(() => {
    const job = runSteps(ask, P.SIZES, { volume: volume.index, paths: dirs }, WALK_BUDGET, {
      onStep: (rec) => { if (sizesJob === job) show({ ...rec, counting: !rec.done }); },
    });
    sizesJob = job;
    job.done.catch((e) => { if (sizesJob === job) bar.totals({ error: e.message || String(e) }); });
  }, 200);
}

/** Selected paths without those inside another selected folder (sorted). */
function topPaths() {
  const out = [];
  for (const p of [...selection.keys()].sort()) {
    let inside = false;
    for (let q = p; q !== '/' && !inside;) {
      q = parentPath(q);
      if (selection.get(q)?.type === 'dir') inside = true;
    }
    if (!inside) out.push(p);
  }
  return out;
}

function zipName(volume, paths) {
  const base = (p) => downloadName(p.split('/').filter(Boolean).pop() || '');
  const tame = (s) => s.replace(/[\\/:*?"<>|\u0000-\u001f]+/g, '_');
  const vol = volume.label ? tame(volume.label) : `volume-${volume.index}`;
  if (paths.length === 1) return `${tame(base(paths[0]) || vol)}.zip`;
  return `${vol}-${paths.length}-items.zip`;
}

/**
 * Where a job writes: the user's own file when asked (or when the browser
 * has no private storage), else OPFS, else memory. Must be called straight
 * from a click (the save dialog needs it); null if the user backed out.
 */
async function chooseSink(toPickedFile, suggestedName, isZip) {
  if (toPickedFile || (!storage.opfs && canPick)) {
    try {
      const types = isZip ? [{ description: 'Zip archive', accept: { 'application/zip': ['.zip'] } }] : undefined;
      const handle = await window.showSaveFilePicker({ suggestedName, types });
      return { kind: 'handle', handle };
    } catch (e) {
      if (e && e.name === 'AbortError') return null;
      throw e;
    }
  }
  return storage.opfs ? { kind: 'opfs' } : { kind: 'memory' };
}

/** Hands an OPFS/memory result to the browser's downloads. */
function offerDownload(saved) {
  // A Blob over the File refers to its bytes without copying them; the
  // generic type keeps the browser from adding an extension of its own.
  const url = URL.createObjectURL(new Blob([saved.file], { type: 'application/octet-stream' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = downloadName(saved.name);
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  // The browser has taken its copy once the download starts; keep the URL a while to be safe.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/**
 * Runs a DOWNLOAD or EXPORT in the job panel. `describe(saved)` words the
 * outcome. Resolves to the saved record, or undefined.
 */
async function runJob(type, fields, title, onProgress, describe) {
  if (jobRunning) {
    showStatus('Another download is still running; wait for it or cancel it first.', 'error');
    return undefined;
  }
  jobRunning = true;
  let job = null;
  for (const k of ['bytes', 'files', 'size']) delete ui.job.dataset[k];
  const panel = jobPanel(ui.job, title, () => ask(P.CANCEL, { target: job.id }));
  job = send(type, fields, (done, total, msg) => {
    panel.progress(msg);
    if (onProgress) onProgress(msg);
  });
  try {
    const saved = await job.reply;
    // For tests and benchmarks: what was saved, in exact numbers.
    Object.assign(ui.job.dataset, { bytes: String(saved.summary.bytes_ok), files: String(saved.summary.files_ok), size: String(saved.size) });
    if (saved.file) offerDownload(saved);
    const text = describe(saved);
    const complete = !saved.summary || saved.summary.files_incomplete + saved.summary.skipped + saved.summary.walk_problems === 0;
    panel.done(text, complete ? 'ok' : 'warn');
    showStatus(text, complete ? 'ok' : 'warn');
    return saved;
  } catch (e) {
    const message = e.message || String(e);
    const sentence = /[.!?]$/.test(message) ? message : `${message}.`;
    if (e.cancelled) {
      panel.done(sentence, 'muted');
      showStatus(sentence, 'ok');
    } else {
      panel.failed(`${title} failed: ${sentence}`);
      showStatus(`${title} failed: ${sentence}`, 'error');
    }
    return undefined;
  } finally {
    jobRunning = false;
  }
}

async function exportSelection(toPickedFile) {
  const volume = currentVolume;
  const paths = topPaths();
  if (!volume || paths.length === 0) return;
  const name = zipName(volume, paths);
  let sink;
  try {
    sink = await chooseSink(toPickedFile, name, true);
  } catch (e) {
    showStatus(`Couldn't open the save dialog: ${e.message || e}`, 'error');
    return;
  }
  if (!sink) return;
  const what = paths.length === 1 ? paths[0] : `${paths.length} items`;
  await runJob(P.EXPORT, { volume: volume.index, paths, name, sink }, `Exporting ${what}`, null, (saved) =>
    summaryText(saved, saved.sink === 'handle' ? `Saved ${what} to ${saved.name}` : `Saved ${saved.name}`));
}

async function download(volume, entry, path) {
  let sink;
  try {
    sink = await chooseSink(false, downloadName(entry.name), false);
  } catch (e) {
    showStatus(`Couldn't open the save dialog: ${e.message || e}`, 'error');
    return;
  }
  if (!sink) return;
  await runJob(P.DOWNLOAD, { volume: volume.index, path, sink }, `Downloading ${entry.name}`, (p) => {
    const pct = p.total > 0 ? Math.floor((p.done / p.total) * 100) : 100;
    showStatus(`Reading ${entry.name}: ${humanSize(p.done)} of ${humanSize(p.total)} (${pct}%)`, 'busy');
  }, (saved) => `Saved ${entry.name} (${humanSize(saved.size)}).`);
}

// ---- at a glance ----------------------------------------------------------

// Units of inventory work per step: adjusted so a step takes about
// STEP_MS, within these bounds (a unit is a lookup, a folder entry, a read).
const GLANCE_BUDGET = { first: 2000, min: 200, max: 200_000 };
const STEP_MS = 40;

// The inventory of the image's Linux root, if it has one:
// {volume, view (ui/glance.js), cancelled, job (worker id)}.
let glance = null;
// Tests slow the scan down (salvageDebug.glanceSlow): a fixed budget and a
// pause between steps.
let glanceFixedBudget = null;
let glancePauseMs = 0;

function endGlance() {
  if (glance) {
    glance.cancelled = true;
    if (glance.job !== null && !glance.finished) ask(P.END, { job: glance.job }).catch(() => {});
    glance = null;
  }
  ui.glance.hidden = true;
  ui.glance.replaceChildren();
  for (const k of ['state', 'quickMs', 'totalMs']) delete ui.glance.dataset[k];
}

/**
 * Asks the worker for the inventory of the first volume holding a Linux
 * root and draws it as it comes: the quick stages at once, then the file
 * scan and sizes in steps (other requests run between them).
 */
async function startGlance(opened) {
  const g = { volume: null, view: null, cancelled: false, job: null, finished: false };
  glance = g;
  const started = performance.now();
  let startedJob;
  try {
    startedJob = await ask(P.INVENTORY, {});
  } catch (e) {
    // No inventory (the root refused it): the volumes are there as before.
    if (glance === g) {
      glance = null;
      ui.glance.dataset.state = 'none';
    }
    return;
  }
  if (g.cancelled || info !== opened) {
    if (startedJob.job !== null) ask(P.END, { job: startedJob.job }).catch(() => {});
    return;
  }
  if (startedJob.job === null) {
    glance = null;
    ui.glance.dataset.state = 'none';
    return;
  }
  g.job = startedJob.job;
  g.volume = opened.volumes.find((v) => v.index === startedJob.volume) || { index: startedJob.volume };
  g.view = createGlance(ui.glance, g.volume, {
    select: (paths, on) => glanceSelect(g, paths, on),
    isSelected: (p) => selectionVolume === g.volume.index && selection.has(p),
    stop: () => {
      g.cancelled = true;
      if (!g.finished) ask(P.END, { job: g.job }).catch(() => {});
      g.finished = true;
      g.view.update(null, { stopped: true });
      ui.glance.dataset.state = 'stopped';
    },
    browse: () => openVolume(g.volume),
    toVolumes: () => {
      ui.volumes.scrollIntoView({ block: 'start' });
      ui.volumes.querySelector('button')?.focus({ preventScroll: true });
    },
  });
  g.view.update(null);
  if (!document.body.classList.contains('browsing')) g.view.barSlot.append(bar.node);
  else ui.glance.hidden = true;
  ui.glance.dataset.state = 'running';
  let budget = glanceFixedBudget ?? GLANCE_BUDGET.first;
  let quickMs = null;
  for (;;) {
    const t0 = performance.now();
    let record;
    try {
      record = await ask(P.STEP, { job: g.job, budget });
    } catch (e) {
      if (g.cancelled) return;
      g.finished = true;
      g.view.update(null, { failed: e.message || String(e) });
      ui.glance.dataset.state = 'failed';
      return;
    }
    if (g.cancelled) return;
    const took = performance.now() - t0;
    if (record.done) g.finished = true;
    if (quickMs === null && (record.done || record.stage === 'files' || record.stage === 'sizes')) {
      quickMs = performance.now() - started;
      ui.glance.dataset.quickMs = String(Math.round(quickMs));
    }
    g.view.update(record, { done: record.done });
    if (record.done) {
      ui.glance.dataset.totalMs = String(Math.round(performance.now() - started));
      ui.glance.dataset.state = 'done';
      return;
    }
    if (glancePauseMs) await new Promise((resume) => setTimeout(resume, glancePauseMs));
    if (g.cancelled) return;
    if (quickMs !== null && glanceFixedBudget === null) {
      const scaled = budget * (STEP_MS / Math.max(took, 1));
      budget = Math.round(Math.min(GLANCE_BUDGET.max, Math.max(GLANCE_BUDGET.min, scaled, budget / 4)));
    }
  }
}

/** Adds (or removes) `paths` of the inventoried volume to the selection. */
async function glanceSelect(g, paths, on) {
  if (glance !== g) return;
  const volume = g.volume;
  if (selectionVolume !== volume.index) selection.clear();
  selectionVolume = volume.index;
  currentVolume = volume;
  const failed = [];
  for (const path of paths) {
    if (!on) {
      selection.delete(path);
      continue;
    }
    if (selection.has(path)) continue;
    try {
      const e = await ask(P.STAT, { volume: volume.index, path });
      setSelected({ path, name: e.name, type: e.type, size: e.size }, true);
    } catch (err) {
      failed.push(`${path} (${err.message || err})`);
    }
  }
  selectionChanged();
  if (failed.length) showStatus(`Couldn't select ${failed.join('; ')}`, 'error');
  else if (on) showStatus(`Selected ${paths.length === 1 ? paths[0] : `${paths.length} paths`} on volume ${volume.index}; Download selected saves them as one zip.`, 'ok');
}

// ---- sample disk ---------------------------------------------------------

let sampleModule = null;

async function findSample() {
  try {
    sampleModule = await import('./sample/sample-img-gz.js');
    if (typeof sampleModule.sampleBase64 === 'string') ui.sampleButton.hidden = false;
  } catch {
    sampleModule = null; // not built: keep the button hidden
  }
}

async function openSample() {
  const file = await busy('Unpacking the sample disk…', async () => {
    const gz = Uint8Array.from(atob(sampleModule.sampleBase64), (c) => c.charCodeAt(0));
    const stream = new Blob([gz]).stream().pipeThrough(new DecompressionStream('gzip'));
    const blob = await new Response(stream).blob();
    return new File([blob], sampleModule.sampleName || 'sample.img', { type: 'application/octet-stream' });
  }, "Couldn't unpack the sample disk");
  if (file) await openImage([file]);
}

// ---- input: picker and drag & drop ---------------------------------------

ui.openButton.addEventListener('click', () => ui.fileInput.click());
ui.fileInput.addEventListener('change', () => {
  const files = Array.from(ui.fileInput.files || []);
  ui.fileInput.value = '';
  openImage(files);
});
ui.sampleButton.addEventListener('click', openSample);

let dragDepth = 0;
const hasFiles = (e) => e.dataTransfer && Array.from(e.dataTransfer.types).includes('Files');
document.addEventListener('dragenter', (e) => {
  if (!hasFiles(e)) return;
  e.preventDefault();
  dragDepth += 1;
  ui.overlay.hidden = false;
});
document.addEventListener('dragover', (e) => {
  if (!hasFiles(e)) return;
  e.preventDefault();
  e.dataTransfer.dropEffect = 'copy';
});
document.addEventListener('dragleave', () => {
  dragDepth = Math.max(0, dragDepth - 1);
  if (dragDepth === 0) ui.overlay.hidden = true;
});
document.addEventListener('drop', (e) => {
  if (!hasFiles(e)) return;
  e.preventDefault();
  dragDepth = 0;
  ui.overlay.hidden = true;
  openImage(Array.from(e.dataTransfer.files));
});

// ---- start ---------------------------------------------------------------

onWorkerFailure((message) => showStatus(message, 'error'));

// Keys of the browser: `/` searches, Backspace goes up (the listing handles the rest).
document.addEventListener('keydown', (ev) => {
  if (!view || ui.directory.hidden || ev.altKey || ev.ctrlKey || ev.metaKey) return;
  const t = ev.target;
  const typing = t instanceof HTMLInputElement && t.type !== 'checkbox' || t instanceof HTMLTextAreaElement;
  if (ev.key === '/' && !typing) {
    ev.preventDefault();
    view.layout.input.focus();
    view.layout.input.select();
  } else if (ev.key === 'Backspace' && !typing && !view.hits) {
    ev.preventDefault();
    goUp();
  }
});

// Debug hook for tests and curious users: I/O counters of the open image.
window.salvageDebug = Object.freeze({
  stats: () => ask(P.STATS),
  // Units of work per step of the next "At a glance" scans (null: adaptive), and a pause between steps.
  glanceSlow: ({ budget = null, pauseMs = 0 } = {}) => {
    glanceFixedBudget = budget === null ? null : Math.max(1, Number(budget) || 1);
    glancePauseMs = Math.max(0, Number(pauseMs) || 0);
  },
});

findSample();
clearSelection();
ask(P.STORAGE).then((s) => { storage = s; }, () => {});
ask(P.VERSION).then(
  (v) => { ui.version.textContent = `v${v}`; document.documentElement.dataset.ready = 'true'; },
  (e) => showStatus(`The Salvage engine could not start: ${e.message}`, 'error'),
);
