// Runs the long jobs of the worker (downloads and exports) step by step
// into a sink, with progress, cancel and the timing the benchmark reads.
// Used by worker.js only.

import * as P from './protocol.js';
import { openSink, cleanStale } from './sink.js';

// Ids of requests the page cancelled (running or still queued).
const cancelled = new Set();

/** Marks a running or queued job as cancelled; it stops after its current step. */
export function cancel(id) {
  cancelled.add(id);
}

export class Cancelled extends Error {
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
export async function save(msg, post, makeJob, name) {
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

