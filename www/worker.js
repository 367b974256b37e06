// The worker owns all image state: the wasm module, the open Session and
// the picked File objects. The page only holds plain records.
// Requests are handled one at a time, in arrival order; downloads and
// exports in a queue of their own, between whose steps the others run;
// CANCEL at once: a running download or export checks for it after
// every step, when it returns to the event loop.

import * as P from './protocol.js';
import { openSink, cleanStale, probeStorage } from './sink.js';

let wasmReady = null; // cached promise of the module's exports
let session = null;

function loadWasm() {
  if (!wasmReady) {
    wasmReady = (async () => {
      const mod = await import('./pkg/salvage.js');
      const { wasmBase64 } = await import('./pkg/salvage_bg_wasm.js');
      const bytes = Uint8Array.from(atob(wasmBase64), (c) => c.charCodeAt(0));
      await mod.default({ module_or_path: bytes });
      return mod;
    })();
    // A failed start should be retried on the next request, not cached.
    wasmReady.catch(() => { wasmReady = null; });
  }
  return wasmReady;
}

let storageProbe = null;

function storage() {
  if (!storageProbe) storageProbe = probeStorage();
  return storageProbe;
}

// Ids of requests the page cancelled (running or still queued).
const cancelled = new Set();

class Cancelled extends Error {
  constructor() {
    super('Cancelled; nothing was saved.');
    this.cancelled = true;
  }
}

// Lets queued messages (a cancel) run and frees the step's ArrayBuffers.
const toEventLoop = () => new Promise((resolve) => setTimeout(resolve, 0));

// Transfer rate over the last few seconds, for progress and ETA.
function rateMeter(windowMs = 5000) {
  const samples = [];
  return (bytes) => {
    const now = performance.now();
    samples.push([now, bytes]);
    while (samples.length > 2 && now - samples[0][0] > windowMs) samples.shift();
    const [t0, b0] = samples[0];
    return now - t0 >= 250 ? ((bytes - b0) * 1000) / (now - t0) : null;
  };
}

const MB = (n) => `${(n / 1e6).toLocaleString('en-US', { maximumFractionDigits: 0 })} MB`;

/**
 * Once the size is known: refuses at once an export to OPFS that can't fit
 * in the room the browser gives this page, rather than failing hours later.
 */
async function checkRoom(p) {
  if (!navigator.storage || !navigator.storage.estimate) return;
  const { quota, usage } = await navigator.storage.estimate();
  if (!Number.isFinite(quota) || !Number.isFinite(usage)) return;
  // File data plus zip headers, the manifest row and report line per file.
  const need = p.bytes_total + p.files_total * 600;
  const room = quota - usage;
  if (need > room) {
    throw new Error(`This needs about ${MB(need)} of the browser's storage, but it lets this page use only ${MB(room)} more. ` +
      'Use “Save to a file…” where offered to write straight to a file of your choice, or select less.');
  }
}

/**
 * Runs a job (ExportJob or FileJob from the wasm core) step by step into
 * the sink the request names, posting progress; returns the saved record.
 * On cancel or failure the sink is aborted: no partial file is left.
 */
async function save(msg, post, makeJob, name) {
  if (cancelled.has(msg.id)) throw new Cancelled();
  const spec = msg.sink || { kind: 'opfs' };
  await cleanStale();
  const job = makeJob();
  let sink = null;
  try {
    sink = await openSink(spec, name);
    const meter = rateMeter();
    // Where the time goes (ms), for the benchmark: in the wasm step, in
    // handing chunks to the sink, in the event loop between steps.
    const timing = { step: 0, write: 0, yield: 0, steps: 0, start: performance.now() };
    let lastPost = 0;
    let roomChecked = false;
    for (;;) {
      let t = performance.now();
      const p = job.step(P.STEP_BYTES);
      timing.step += performance.now() - t;
      timing.steps += 1;
      const chunk = p.chunk;
      if (!roomChecked && p.phase !== 'counting') {
        roomChecked = true;
        if (sink.kind === 'opfs') await checkRoom(p);
      }
      t = performance.now();
      if (chunk.length > 0) await sink.write(chunk);
      timing.write += performance.now() - t;
      const now = performance.now();
      if (p.done || now - lastPost >= 100) {
        lastPost = now;
        const rate = p.phase === 'counting' ? null : meter(p.bytes_done);
        const left = p.bytes_total - p.bytes_done;
        post(P.progress(msg.id, p.bytes_done, p.bytes_total, {
          phase: p.phase,
          files_done: p.files_done,
          files_total: p.files_total,
          current: p.current_path,
          rate,
          eta: rate && rate > 0 && p.phase !== 'counting' ? left / rate : null,
        }));
      }
      if (p.done) break;
      t = performance.now();
      await toEventLoop();
      timing.yield += performance.now() - t;
      if (cancelled.has(msg.id)) throw new Cancelled();
    }
    const summary = job.finish();
    if (summary.chunk.length > 0) await sink.write(summary.chunk);
    delete summary.chunk;
    const file = await sink.close();
    timing.total = performance.now() - timing.start;
    console.debug(`salvage timing ${JSON.stringify(timing, (k, v) => (typeof v === 'number' ? Math.round(v) : v))}`);
    const saved = { name: sink.kind === 'handle' ? sink.name : name, sink: sink.kind, size: summary.archive_bytes, summary };
    if (file) saved.file = file;
    return saved;
  } catch (e) {
    if (sink) await sink.abort();
    throw e;
  } finally {
    job.free();
    cancelled.delete(msg.id);
  }
}

function needSession() {
  if (!session) throw new Error('No disk image is open.');
  return session;
}

function baseName(path) {
  const parts = path.split('/').filter((p) => p !== '');
  return parts.length ? parts[parts.length - 1] : 'file';
}

const handlers = {
  async [P.OPEN](msg) {
    const wasm = await loadWasm();
    const files = Array.from(msg.files || []);
    if (files.length === 0) throw new Error('No file was chosen.');
    const next = wasm.Session.open(files);
    if (session && typeof session.free === 'function') session.free();
    session = next;
    return session.info();
  },

  async [P.INFO]() {
    return needSession().info();
  },

  async [P.LIST](msg) {
    return needSession().list(msg.volume, msg.path);
  },

  async [P.VERSION]() {
    return (await loadWasm()).version();
  },

  async [P.STATS]() {
    return needSession().io_stats();
  },

  async [P.STORAGE]() {
    return storage();
  },

  async [P.DOWNLOAD](msg, post) {
    const s = needSession();
    const entry = s.stat(msg.volume, msg.path);
    if (entry.type !== 'file') {
      throw new Error(`“${entry.name}” is not a regular file, so it can't be downloaded.`);
    }
    const name = entry.name || baseName(msg.path);
    return save(msg, post, () => s.export_file(msg.volume, msg.path), name);
  },

  async [P.EXPORT](msg, post) {
    const s = needSession();
    const paths = Array.from(msg.paths || []);
    if (paths.length === 0) throw new Error('Nothing is selected.');
    return save(msg, post, () => s.export(msg.volume, paths, msg.options || {}), msg.name || 'salvage-export.zip');
  },
};

function messageOf(e) {
  if (e instanceof Error) return e.message || String(e);
  if (typeof e === 'string') return e;
  return String(e);
}

let queue = Promise.resolve();
let jobs = Promise.resolve();

self.onmessage = (event) => {
  const msg = event.data;
  const post = (m) => self.postMessage(m);
  if (!msg || typeof msg !== 'object') return;
  if (msg.v !== P.PROTOCOL_VERSION) {
    post(P.error(msg.id, `The page and its worker don't match (protocol ${msg.v} vs ${P.PROTOCOL_VERSION}); reload the page.`));
    return;
  }
  const handler = handlers[msg.type];
  if (msg.type === P.CANCEL) {
    cancelled.add(msg.target);
    post(P.result(msg.id, true));
    return;
  }
  if (!handler) {
    post(P.error(msg.id, `Unknown request “${msg.type}”.`));
    return;
  }
  const run = async () => {
    try {
      post(P.result(msg.id, await handler(msg, post)));
    } catch (e) {
      post(P.error(msg.id, messageOf(e), e instanceof Cancelled));
    }
  };
  // Downloads and exports take turns on their own queue, so listing and
  // opening go on between their steps.
  if (msg.type === P.DOWNLOAD || msg.type === P.EXPORT) jobs = jobs.then(run);
  else queue = queue.then(run);
};

// Exports left from an earlier visit: the page has downloaded them by now.
queue = queue.then(() => cleanStale());
