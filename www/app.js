// Wires the page: starts the worker, sends it requests, and hands the
// answers to the ui/ modules. Holds only plain records, never image data.

import * as P from './protocol.js';
import { drawSummary, drawVolumes } from './ui/volumes.js';
import { drawDirectory } from './ui/directory.js';
import { humanSize, downloadName } from './ui/format.js';

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
  overlay: $('drop-overlay'),
};

// ---- worker bridge -------------------------------------------------------

const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
const pending = new Map(); // id → {resolve, reject, onProgress}
let nextId = 1;

worker.onmessage = (event) => {
  const msg = event.data;
  const call = pending.get(msg.id);
  if (!call) return;
  if (msg.type === P.PROGRESS) {
    if (call.onProgress) call.onProgress(msg.done, msg.total);
    return;
  }
  pending.delete(msg.id);
  if (msg.type === P.RESULT) call.resolve(msg.value);
  else call.reject(new Error(msg.message));
};

worker.onerror = (event) => {
  event.preventDefault();
  const message = 'The worker stopped unexpectedly' + (event.message ? `: ${event.message}` : '.');
  for (const call of pending.values()) call.reject(new Error(message));
  pending.clear();
  showStatus(message, 'error');
};

function ask(type, fields = {}, onProgress = null) {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject, onProgress });
    worker.postMessage(P.request(id, type, fields));
  });
}

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
  drawDirectory(ui.directory, volume, path, entries, {
    go: (p) => openDirectory(volume, p),
    download: (entry, full) => download(volume, entry, full),
    back: () => { showVolumesView(); showStatus(''); ui.volumes.querySelector('button')?.focus(); },
  });
  ui.summary.hidden = true;
  ui.volumes.hidden = true;
  ui.directory.hidden = false;
  showStatus(`${path} — ${plural(entries.length, 'item', 'items')}`, 'ok');
  const first = ui.directory.querySelector('tbody button') || ui.directory.querySelector('button');
  if (first && ui.directory.contains(document.activeElement) === false) first.focus({ preventScroll: true });
}

async function download(volume, entry, path) {
  const size = humanSize(entry.size);
  const got = await busy(`Reading ${entry.name} (${size})…`, () =>
    ask(P.DOWNLOAD, { volume: volume.index, path }, (done, total) => {
      const pct = total > 0 ? Math.floor((done / total) * 100) : 100;
      showStatus(`Reading ${entry.name}: ${humanSize(done)} of ${humanSize(total)} (${pct}%)`, 'busy');
    }), `Couldn't download ${entry.name}`);
  if (!got) return;
  const url = URL.createObjectURL(got.blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = downloadName(got.name);
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  // The browser has taken its copy once the download starts; keep the URL a while to be safe.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  showStatus(`Saved ${entry.name} (${humanSize(got.size)}).`, 'ok');
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

// Debug hook for tests and curious users: I/O counters of the open image.
window.salvageDebug = Object.freeze({ stats: () => ask(P.STATS) });

findSample();
ask(P.VERSION).then(
  (v) => { ui.version.textContent = `v${v}`; document.documentElement.dataset.ready = 'true'; },
  (e) => showStatus(`The Salvage engine could not start: ${e.message}`, 'error'),
);
