// Runs the long jobs of the worker (downloads and exports) step by step
// into a sink, with progress, cancel and the timing the benchmark reads.
// Used by worker.js only.

import * as P from './protocol.js';
import { openSink, cleanStale } from './sink.js';

// Ids of requests the page cancelled (running or still queued).
const cancelled = new Set();
// id → functions to call when that request is cancelled (a job waiting
// for its hashing or writing stops waiting).
const onCancel = new Map();

/**
 * Marks a running or queued job as cancelled; it stops after its current
 * step, or at once if it is waiting for earlier chunks to be hashed and
 * written.
 */
export function cancel(id) {
  cancelled.add(id);
  for (const wake of onCancel.get(id) || []) wake();
  onCancel.delete(id);
}

/** Waits for `promise`, but throws Cancelled as soon as request `id` is cancelled. */
function unlessCancelled(id, promise) {
  if (cancelled.has(id)) return Promise.reject(new Cancelled());
  let wake;
  const stop = new Promise((_, reject) => { wake = () => reject(new Cancelled()); });
  if (!onCancel.has(id)) onCancel.set(id, []);
  onCancel.get(id).push(wake);
  return Promise.race([promise, stop]).finally(() => {
    const left = (onCancel.get(id) || []).filter((w) => w !== wake);
    if (left.length) onCancel.set(id, left);
    else onCancel.delete(id);
  });
}

export class Cancelled extends Error {
  constructor() {
    super('Cancelled; nothing was saved.');
    this.cancelled = true;
  }
}

// The hashing worker (hash-worker.js), started on the first export and
// kept for the next ones; null where it can't start (then the wasm step
// hashes, as before).
let hasherReady = null;

function startHasher() {
  if (typeof Worker !== 'function') return Promise.resolve(null);
  const worker = new Worker(new URL('./hash-worker.js', import.meta.url), { type: 'module' });
  const waiting = new Map();
  let nextId = 1;
  let broken = null;
  worker.onmessage = (event) => {
    const call = waiting.get(event.data.id);
    waiting.delete(event.data.id);
    if (!call) return;
    if (event.data.ok) call.resolve(event.data);
    else call.reject(Object.assign(new Error(event.data.message), { name: event.data.name }));
  };
  worker.onerror = (event) => {
    event.preventDefault();
    broken = new Error(`the hashing worker stopped${event.message ? `: ${event.message}` : ''}`);
    for (const call of waiting.values()) call.reject(broken);
    waiting.clear();
    hasherReady = null; // the next export starts a new one
    worker.terminate();
  };
  const call = (msg, transfer = []) => new Promise((resolve, reject) => {
    if (broken) return reject(broken);
    const id = nextId++;
    waiting.set(id, { resolve, reject });
    worker.postMessage({ ...msg, id }, transfer);
  });
  const hasher = {
    // → {chunk (the same bytes, given back), digests: [entry, Uint8Array, …]}
    async hash(chunk, spans) {
      const length = chunk.byteLength; // before the transfer empties the view
      const buffer = chunk.byteOffset === 0 ? chunk.buffer : chunk.slice().buffer;
      const r = await call({ op: 'hash', buffer, spans }, [buffer]);
      return { chunk: new Uint8Array(r.buffer, 0, length), digests: r.digests };
    },
    // → [entry, Uint8Array, …]: the digests not given back yet.
    async flush() {
      return (await call({ op: 'flush' })).digests;
    },
    reset() {
      call({ op: 'reset' }).catch(() => {});
    },
  };
  return call({ op: 'start' }).then(() => hasher, () => {
    worker.terminate();
    return null;
  });
}

function hasher() {
  if (!hasherReady) hasherReady = startHasher();
  return hasherReady;
}

// Output buffers the steps copy their chunk into, reused once the sink
// has written them: a fresh 16 MiB ArrayBuffer per step cost more than
// the copy (its pages are touched for the first time). A step's chunk is
// at most STEP_BYTES of file data plus zip headers, or 1 MiB of manifest.
const POOL_BYTES = P.STEP_BYTES + 4 * 1024 * 1024;
const POOL_MAX = 4;

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
export async function save(msg, post, makeJob, name) {
  if (cancelled.has(msg.id)) throw new Cancelled();
  const spec = msg.sink || { kind: 'opfs' };
  await cleanStale();
  const job = makeJob();
  let sink = null;
  // Zip exports hash stored bytes in the hashing worker while the next
  // step runs: each step's chunk goes there, then (given back) to the
  // sink, one chunk in flight at a time; the digests go back into the
  // job before its next step.
  const hashing = typeof job.hash_outside === 'function' ? await hasher() : null;
  if (hashing) job.hash_outside();
  const digests = [];
  let inFlight = null;
  let stopped = false; // cancelled or failed: a chunk still hashing is dropped
  const pass = async (chunk, spans) => {
    let bytes = chunk;
    if (hashing && spans && spans.length > 0) {
      const r = await hashing.hash(chunk, spans);
      bytes = r.chunk;
      digests.push(...r.digests);
    }
    if (bytes.length > 0 && !stopped) await sink.write(bytes);
  };
  const settle = async () => {
    if (!inFlight) return;
    const pending = inFlight;
    inFlight = null;
    await unlessCancelled(msg.id, pending);
  };
  const pool = [];
  const recycle = (buffer) => {
    if (buffer.byteLength === POOL_BYTES && pool.length < POOL_MAX) pool.push(new Uint8Array(buffer));
  };
  try {
    sink = await openSink(spec, name, recycle);
    const meter = rateMeter();
    // Where the time goes (ms), for the benchmark: in the wasm step, in
    // waiting for the previous chunk's hashing and writing, in the event
    // loop between steps.
    const timing = { step: 0, write: 0, yield: 0, steps: 0, start: performance.now() };
    let lastPost = 0;
    let roomChecked = false;
    for (;;) {
      for (let k = 0; k + 1 < digests.length; k += 2) job.set_sha256(digests[k], digests[k + 1]);
      digests.length = 0;
      let t = performance.now();
      const given = pool.pop() || new Uint8Array(POOL_BYTES);
      const p = job.step(P.STEP_BYTES, given);
      const spansHere = p.spans && p.spans.length > 0;
      if (p.chunk.buffer !== given.buffer || (p.chunk.length === 0 && !spansHere)) recycle(given.buffer);
      timing.step += performance.now() - t;
      timing.steps += 1;
      if (p.read_ms !== undefined) {
        if (timing.read0 === undefined) [timing.read0, timing.copy0] = [p.read_ms, p.copy_ms];
        [timing.read, timing.copyIn] = [p.read_ms - timing.read0, p.copy_ms - timing.copy0];
        timing.take = (timing.take || 0) + p.take_ms;
        [timing.reads, timing.readMB] = [p.reads, p.read_bytes / 1e6];
      }
      const chunk = p.chunk;
      if (!roomChecked && p.phase !== 'counting') {
        roomChecked = true;
        if (sink.kind === 'opfs') await checkRoom(p);
      }
      t = performance.now();
      await settle();
      if (chunk.length > 0 || (p.spans && p.spans.length > 0)) {
        inFlight = pass(chunk, p.spans);
        inFlight.catch(() => {}); // reported by the next settle()
      }
      if (p.waiting) {
        // The manifest needs the digests of the chunks in flight.
        await settle();
        if (hashing) digests.push(...await unlessCancelled(msg.id, hashing.flush()));
        if (digests.length === 0) throw new Error('The export is waiting for file digests that never came.');
      }
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
    await settle();
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
    // Cancel within a second: don't wait for the chunk being hashed.
    stopped = true;
    if (sink) await sink.abort();
    throw e;
  } finally {
    // Unfinished files (a cancel) and the hashing worker's buffer go.
    if (hashing) hashing.reset();
    job.free();
    cancelled.delete(msg.id);
    onCancel.delete(msg.id);
  }
}

