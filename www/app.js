// Wires the page: sends the worker requests (through bridge.js) and hands the
// answers to the ui/ modules. Holds only plain records, never image data.

import * as P from './protocol.js';
import { send, ask, onWorkerFailure } from './bridge.js';
import { drawSummary, drawVolumes } from './ui/volumes.js';
import { drawDirectory } from './ui/directory.js';
import { humanSize, downloadName } from './ui/format.js';
import { selectionBar, jobPanel, summaryText } from './ui/export.js';

const $ = (id) => document.getElementById(id);
const ui = {
  version: $('version'),
  status: $('status'),
  fileInput: $('file-input'),
  openButton: $('open-button'),
  sampleButton: $('sample-button'),
  summary: $('summary'),
  volumes: $('volumes'),
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
  ui.directory.hidden = true;
  ui.summary.hidden = false;
  ui.volumes.hidden = false;
}

async function openImage(picked) {
  if (!picked || picked.length === 0) return;
  // Pieces of a split image (disk.000, disk.001, …) go in name order.
  const files = [...picked].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const names = files.map((f) => f.name).join(', ');
  const opened = await busy(`Opening ${names}…`, () => ask(P.OPEN, { files }), `Couldn't open ${names}`);
  if (!opened) return;
  info = opened;
  clearSelection();
  drawSummary(ui.summary, info);
  drawVolumes(ui.volumes, info, (v) => openDirectory(v, '/'));
  showVolumesView();
  showStatus(openedSentence(names, info), 'ok');
}

const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;

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

async function openDirectory(volume, path) {
  const entries = await busy(`Listing ${path}…`, () => ask(P.LIST, { volume: volume.index, path }), `Couldn't list ${path}`);
  if (!entries) return;
  if (selectionVolume !== volume.index) clearSelection();
  selectionVolume = volume.index;
  currentVolume = volume;
  drawDirectory(ui.directory, volume, path, entries, {
    go: (p) => openDirectory(volume, p),
    download: (entry, full) => download(volume, entry, full),
    isSelected: (p) => selection.has(p),
    select: (entry, p, on) => {
      if (on) selection.set(p, { name: entry.name, type: entry.type, size: entry.size });
      else selection.delete(p);
      bar.update(selection);
    },
    bar: bar.node,
    back: () => { showVolumesView(); showStatus(''); ui.volumes.querySelector('button')?.focus(); },
  });
  ui.summary.hidden = true;
  ui.volumes.hidden = true;
  ui.directory.hidden = false;
  showStatus(`${path} — ${plural(entries.length, 'item', 'items')}`, 'ok');
  const first = ui.directory.querySelector('tbody button') || ui.directory.querySelector('button');
  if (first && ui.directory.contains(document.activeElement) === false) first.focus({ preventScroll: true });
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
    for (const b of ui.directory.querySelectorAll('input[type=checkbox]')) { b.checked = false; b.indeterminate = false; }
  },
});

function clearSelection() {
  selection.clear();
  bar.update(selection);
}

/** Selected paths without those inside another selected folder. */
function topPaths() {
  const paths = [...selection.keys()].sort();
  return paths.filter((p) => !paths.some((q) => q !== p && selection.get(q).type === 'dir' &&
    (q === '/' ? p !== '/' : p.startsWith(`${q}/`))));
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

// Debug hook for tests and curious users: I/O counters of the open image.
window.salvageDebug = Object.freeze({ stats: () => ask(P.STATS) });

findSample();
clearSelection();
ask(P.STORAGE).then((s) => { storage = s; }, () => {});
ask(P.VERSION).then(
  (v) => { ui.version.textContent = `v${v}`; document.documentElement.dataset.ready = 'true'; },
  (e) => showStatus(`The Salvage engine could not start: ${e.message}`, 'error'),
);
