// The worker owns all image state: the wasm module, the open Session and
// the picked File objects. The page only holds plain records.
// Requests are handled one at a time, in arrival order.

import * as P from './protocol.js';

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

  async [P.DOWNLOAD](msg, post) {
    const s = needSession();
    const entry = s.stat(msg.volume, msg.path);
    if (entry.type !== 'file') {
      throw new Error(`“${entry.name}” is not a regular file, so it can't be downloaded.`);
    }
    const total = Number(entry.size);
    if (total > P.MAX_DOWNLOAD_BYTES) {
      throw new Error(
        `This file is ${(total / 1048576).toFixed(0)} MiB; downloads over 400 MiB aren't possible yet.`);
    }
    const pieces = [];
    let done = 0;
    post(P.progress(msg.id, 0, total));
    while (done < total) {
      const want = Math.min(P.READ_PIECE_BYTES, total - done);
      const piece = s.read(msg.volume, msg.path, done, want);
      if (piece.length === 0) break; // file ended early (e.g. truncated image)
      pieces.push(piece);
      done += piece.length;
      post(P.progress(msg.id, done, total));
    }
    if (done !== total) {
      throw new Error(`Only ${done} of ${total} bytes of “${entry.name}” could be read.`);
    }
    const blob = new Blob(pieces, { type: 'application/octet-stream' });
    return { blob, name: entry.name || baseName(msg.path), size: done };
  },
};

function messageOf(e) {
  if (e instanceof Error) return e.message || String(e);
  if (typeof e === 'string') return e;
  return String(e);
}

let queue = Promise.resolve();

self.onmessage = (event) => {
  const msg = event.data;
  const post = (m) => self.postMessage(m);
  if (!msg || typeof msg !== 'object') return;
  if (msg.v !== P.PROTOCOL_VERSION) {
    post(P.error(msg.id, `The page and its worker don't match (protocol ${msg.v} vs ${P.PROTOCOL_VERSION}); reload the page.`));
    return;
  }
  const handler = handlers[msg.type];
  if (!handler) {
    post(P.error(msg.id, `Unknown request “${msg.type}”.`));
    return;
  }
  queue = queue.then(async () => {
    try {
      post(P.result(msg.id, await handler(msg, post)));
    } catch (e) {
      post(P.error(msg.id, messageOf(e)));
    }
  });
};
