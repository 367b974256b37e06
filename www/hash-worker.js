// The manifest's SHA-256 of stored file bytes, for jobs.js, in a worker of
// its own, while the export worker reads the next step.
//
// Files up to WEBCRYPTO_MAX_BYTES are hashed by the browser's own SHA-256
// (crypto.subtle.digest: native code, the CPU's SHA instructions where it
// has them, about 5× wasm). WebCrypto has no streaming interface, so a
// file that spans several chunks is first copied whole into one buffer of
// its size; that bound keeps the copy's memory in check. Larger files, and
// every file where WebCrypto is missing, stream through the wasm module's
// Sha256Stream (about 330 MB/s).
//
// Requests {id, op, ...} are answered {id, ok, ...} or
// {id, ok: false, name, message}:
//   start                      → {} (the wasm loads when a file needs it)
//   hash {buffer, spans}       buffer: one step's output chunk (transferred);
//                              spans: Uint32Array of [entry, start, end, last,
//                              size] (see ExportJob.hash_outside) → {buffer
//                              (given back, transferred), digests: [entry,
//                              Uint8Array, …]} at once: the digests finished
//                              by now; WebCrypto's still running come with a
//                              later reply (the reply doesn't wait for them,
//                              so the next chunk isn't held up)
//   flush                      → {digests}: every one still to come
//   reset                      forget unfinished files (an export stopped)

import { loadEngine } from './engine.js';

const WEBCRYPTO_MAX_BYTES = 128 * 1024 * 1024;
const subtle = self.crypto && self.crypto.subtle;

// entry index → {stream: Sha256Stream} or {whole: true, at}
const states = new Map();
// The bytes of the file being collected for WebCrypto: the export writes
// one file at a time, and digest() copies its input before returning, so
// one buffer serves every file in turn (allocated once per export, for
// the largest such file seen).
let whole = null;
// WebCrypto digests: finished and not yet replied ([entry, bytes, …]),
// and the ones still running. `generation` drops those of a reset export.
let done = [];
const running = new Set();
let generation = 0;

function later(entry, promise) {
  const gen = generation;
  const p = promise.then((d) => { if (gen === generation) done.push(entry, bytesOf(d)); });
  running.add(p);
  p.finally(() => running.delete(p)).catch(() => {});
}

function takeDone() {
  const out = done;
  done = [];
  return out;
}

function reset() {
  for (const s of states.values()) if (s.stream) s.stream.free();
  states.clear();
  whole = null;
  done = [];
  generation += 1;
}

const bytesOf = (digest) => new Uint8Array(digest);

async function run(msg) {
  switch (msg.op) {
    case 'start':
      if (!subtle) await loadEngine();
      return [{}, []];
    case 'hash': {
      const bytes = new Uint8Array(msg.buffer);
      const spans = msg.spans;
      const digests = [];
      for (let k = 0; k + 4 < spans.length; k += 5) {
        const [entry, start, end, last, size] = [spans[k], spans[k + 1], spans[k + 2], spans[k + 3], spans[k + 4]];
        const piece = bytes.subarray(start, end);
        let s = states.get(entry);
        if (!s && last && subtle) {
          // The whole file is here: digest() copies it before returning.
          later(entry, subtle.digest('SHA-256', piece));
          continue;
        }
        if (!s) {
          if (subtle && size <= WEBCRYPTO_MAX_BYTES) {
            if (!whole || whole.length < size) whole = new Uint8Array(size);
            s = { whole: true, at: 0, size };
          } else {
            s = { stream: new (await loadEngine()).Sha256Stream() };
          }
          states.set(entry, s);
        }
        if (s.stream) {
          if (piece.length > 0) s.stream.update(piece);
        } else {
          const n = Math.min(piece.length, s.size - s.at);
          whole.set(piece.subarray(0, n), s.at);
          s.at += n;
        }
        if (last) {
          states.delete(entry);
          if (s.stream) {
            digests.push(entry, s.stream.finish());
          } else {
            later(entry, subtle.digest('SHA-256', whole.subarray(0, s.at)));
          }
        }
      }
      digests.push(...takeDone());
      return [{ buffer: msg.buffer, digests }, [msg.buffer]];
    }
    case 'flush': {
      while (running.size > 0) await Promise.all([...running]);
      return [{ digests: takeDone() }, []];
    }
    case 'reset':
      reset();
      return [{}, []];
    default:
      throw new Error(`unknown request ${msg.op}`);
  }
}

self.onmessage = async (event) => {
  const msg = event.data;
  try {
    const [value, transfer] = await run(msg);
    self.postMessage({ id: msg.id, ok: true, ...value }, transfer);
  } catch (e) {
    self.postMessage({ id: msg.id, ok: false, name: e.name || 'Error', message: e.message || String(e) });
  }
};
