// Where an export's bytes go, in the worker. Every sink only appends, and
// has three calls: write(chunk) as the bytes come, close() at the end
// (→ a File to download, or null when the bytes are already in the user's
// file), abort() on cancel or failure (→ nothing is left behind).
// openSink's `recycle(arrayBuffer)`, when given, receives each written
// chunk's whole ArrayBuffer once the sink is done with it, for reuse (the
// chunk may be a view of its first bytes); the caller must not touch a
// chunk's buffer between write() and recycle.
//
//   opfs    a new file in the origin private file system, written through a
//           sync access handle at increasing offsets, by a worker of its own
//           (opfs-writer.js) so writing overlaps the next step's reading and
//           hashing; one write is in flight at most. Its File is posted to
//           the page, which downloads it; it stays until the next export or
//           the next start of the worker (cleanStale). Where workers can't
//           start workers, the handle is used here instead.
//   handle  a file the user chose with showSaveFilePicker (page-only API;
//           the page posts the FileSystemFileHandle here). createWritable()
//           writes to a temporary file the browser swaps in on close, so an
//           abort leaves the chosen file as it was.
//   memory  for browsers with neither: chunks kept as Blobs, refused past
//           MAX_MEMORY_BYTES.

import { MAX_MEMORY_BYTES, OPFS_PREFIX } from './protocol.js';

/** Whether OPFS sync access works here: {opfs, why}. */
export async function probeStorage() {
  try {
    if (!navigator.storage || !navigator.storage.getDirectory) {
      return { opfs: false, why: "this browser has no private file storage for pages" };
    }
    const dir = await navigator.storage.getDirectory();
    const name = `${OPFS_PREFIX}probe-${Date.now()}-${Math.random().toString(36).slice(2)}`;
    const handle = await dir.getFileHandle(name, { create: true });
    try {
      if (typeof handle.createSyncAccessHandle !== 'function') {
        return { opfs: false, why: 'this browser cannot write private files from a worker' };
      }
      const access = await handle.createSyncAccessHandle();
      access.close();
    } finally {
      await dir.removeEntry(name).catch(() => {});
    }
    return { opfs: true, why: null };
  } catch (e) {
    // From file:// Chromium throws SecurityError here.
    return { opfs: false, why: `the browser refused private file storage (${e.name || 'error'}: ${e.message || e})` };
  }
}

/**
 * Removes the OPFS files of earlier exports, except `keep` (a name).
 * Files still open elsewhere (another tab exporting) can't be removed and
 * are left. Never throws.
 */
export async function cleanStale(keep = null) {
  try {
    if (!navigator.storage || !navigator.storage.getDirectory) return 0;
    const dir = await navigator.storage.getDirectory();
    const stale = [];
    for await (const name of dir.keys()) {
      if (name.startsWith(OPFS_PREFIX) && name !== keep) stale.push(name);
    }
    let removed = 0;
    for (const name of stale) {
      try {
        await dir.removeEntry(name);
        removed += 1;
      } catch { /* open in another tab, or gone already */ }
    }
    return removed;
  } catch {
    return 0;
  }
}

function storageFullMessage(e) {
  return e && e.name === 'QuotaExceededError'
    ? "The browser's storage for this page is full. Free disk space, or use “Save to a file…” to write straight to a file of your choice."
    : null;
}

// Names in OPFS: the prefix, a unique stamp, and a tame version of the
// download name (OPFS refuses some characters, e.g. "/" and "\\").
function opfsName(name) {
  const tame = String(name || 'export').replace(/[^A-Za-z0-9._-]+/g, '_').slice(-80);
  const stamp = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  return `${OPFS_PREFIX}${stamp}-${tame}`;
}

function writeError(e) {
  return new Error(storageFullMessage(e) || `Writing to the browser's storage failed: ${e.message || e}`);
}

// The OPFS sink with its writes in opfs-writer.js.
async function opfsWriterSink(name, recycle) {
  const writer = new Worker(new URL('./opfs-writer.js', import.meta.url), { type: 'module' });
  const waiting = new Map();
  let nextId = 1;
  let broken = null; // the writer itself failed (e.g. its script didn't load)
  writer.onmessage = (event) => {
    const { id, ok, value, name: errName, message, buffer } = event.data;
    if (buffer && recycle) recycle(buffer);
    const call = waiting.get(id);
    waiting.delete(id);
    if (!call) return;
    if (ok) call.resolve(value);
    else call.reject(Object.assign(new Error(message), { name: errName }));
  };
  writer.onerror = (event) => {
    event.preventDefault();
    broken = new Error(`the storage writer stopped${event.message ? `: ${event.message}` : ''}`);
    for (const call of waiting.values()) call.reject(broken);
    waiting.clear();
  };
  const call = (msg, transfer = []) => new Promise((resolve, reject) => {
    if (broken) return reject(broken);
    const id = nextId++;
    waiting.set(id, { resolve, reject });
    writer.postMessage({ ...msg, id }, transfer);
  });
  const file = opfsName(name);
  try {
    await call({ op: 'open', name: file });
  } catch (e) {
    writer.terminate();
    throw e;
  }
  let inFlight = null;
  const settle = async () => {
    if (!inFlight) return;
    const pending = inFlight;
    inFlight = null;
    try {
      await pending;
    } catch (e) {
      throw writeError(e);
    }
  };
  return {
    kind: 'opfs',
    name: file,
    async write(chunk) {
      await settle();
      // Move the chunk's buffer there, don't copy it (it comes back for reuse).
      const length = chunk.byteLength;
      const buffer = chunk.byteOffset === 0 ? chunk.buffer : chunk.slice().buffer;
      inFlight = call({ op: 'write', buffer, length }, [buffer]);
      inFlight.catch(() => {}); // reported by the next settle()
    },
    async close() {
      try {
        await settle();
        return await call({ op: 'close' });
      } finally {
        writer.terminate();
      }
    },
    async abort() {
      inFlight = null;
      await call({ op: 'abort' }).catch(() => {});
      writer.terminate();
      const dir = await navigator.storage.getDirectory();
      await dir.removeEntry(file).catch(() => {});
    },
  };
}

// The OPFS sink writing from this worker.
async function opfsSink(name, recycle) {
  const dir = await navigator.storage.getDirectory();
  const file = opfsName(name);
  const handle = await dir.getFileHandle(file, { create: true });
  let access;
  try {
    access = await handle.createSyncAccessHandle();
  } catch (e) {
    await dir.removeEntry(file).catch(() => {});
    throw e;
  }
  let at = 0;
  let open = true;
  return {
    kind: 'opfs',
    name: file,
    async write(chunk) {
      let done = 0;
      while (done < chunk.length) {
        let n;
        try {
          n = access.write(chunk.subarray(done), { at: at + done });
        } catch (e) {
          throw new Error(storageFullMessage(e) || `Writing to the browser's storage failed: ${e.message || e}`);
        }
        if (!(n > 0)) throw new Error("Writing to the browser's storage failed: nothing was written (is the disk full?).");
        done += n;
      }
      at += done;
      if (recycle) recycle(chunk.buffer);
    },
    async close() {
      access.flush();
      access.close();
      open = false;
      return handle.getFile();
    },
    async abort() {
      if (open) {
        try { access.close(); } catch { /* already closed */ }
        open = false;
      }
      await dir.removeEntry(file).catch(() => {});
    },
  };
}

async function handleSink(handle, recycle) {
  let writable;
  try {
    writable = await handle.createWritable();
  } catch (e) {
    throw new Error(`The chosen file can't be written (${e.name || 'error'}: ${e.message || e}).`);
  }
  return {
    kind: 'handle',
    name: handle.name,
    async write(chunk) {
      try {
        await writable.write(chunk);
      } catch (e) {
        throw new Error(storageFullMessage(e) || `Writing the chosen file failed: ${e.message || e}`);
      }
      if (recycle) recycle(chunk.buffer);
    },
    async close() {
      await writable.close();
      return null;
    },
    async abort() {
      await writable.abort().catch(() => {});
      // The picker made an empty file; Chromium can remove it again.
      if (typeof handle.remove === 'function') await handle.remove().catch(() => {});
    },
  };
}

function memorySink(name, recycle) {
  let parts = [];
  let size = 0;
  return {
    kind: 'memory',
    name,
    async write(chunk) {
      size += chunk.length;
      if (size > MAX_MEMORY_BYTES) {
        throw new Error(`This browser can't save more than ${MAX_MEMORY_BYTES / 1048576} MiB from a page without private file storage or a save dialog; select less, or use Chromium, Chrome or Edge.`);
      }
      parts.push(new Blob([chunk]));
      if (recycle) recycle(chunk.buffer);
    },
    async close() {
      const file = new File(parts, name, { type: 'application/octet-stream' });
      parts = [];
      return file;
    },
    async abort() {
      parts = [];
    },
  };
}

/** Opens the sink a request asked for; `name` is the download's name. */
export async function openSink(spec, name, recycle = null) {
  switch (spec && spec.kind) {
    case 'opfs': return typeof Worker === 'function' ? opfsWriterSink(name, recycle) : opfsSink(name, recycle);
    case 'handle': return handleSink(spec.handle, recycle);
    case 'memory': return memorySink(name, recycle);
    default: throw new Error(`Unknown place to save to: ${spec && spec.kind}.`);
  }
}
