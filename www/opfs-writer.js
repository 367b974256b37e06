// Writes one OPFS file for sink.js, in a worker of its own, so the disk
// works while the export worker computes the next step. Requests
// {id, op, ...} are answered {id, ok, value} or {id, ok: false, name, message}:
//   open {name}     create the file and its sync access handle
//   write {buffer, length}  append the first `length` (all when absent)
//                   bytes of the transferred buffer; the reply gives the
//                   buffer back (transferred) as `buffer`, for reuse
//   close           flush, close → the File
//   abort           close and remove the file

let dir = null;
let handle = null;
let access = null;
let fileName = null;
let at = 0;

async function run(msg) {
  switch (msg.op) {
    case 'open':
      dir = await navigator.storage.getDirectory();
      fileName = msg.name;
      handle = await dir.getFileHandle(fileName, { create: true });
      access = await handle.createSyncAccessHandle();
      at = 0;
      return null;
    case 'write': {
      const bytes = new Uint8Array(msg.buffer, 0, msg.length ?? msg.buffer.byteLength);
      let done = 0;
      while (done < bytes.length) {
        const n = access.write(bytes.subarray(done), { at: at + done });
        if (!(n > 0)) throw new Error('nothing was written (is the disk full?)');
        done += n;
      }
      at += done;
      return at;
    }
    case 'close':
      access.flush();
      access.close();
      access = null;
      return handle.getFile();
    case 'abort':
      if (access) {
        try { access.close(); } catch { /* closed */ }
        access = null;
      }
      if (dir && fileName) await dir.removeEntry(fileName).catch(() => {});
      return null;
    default:
      throw new Error(`unknown request ${msg.op}`);
  }
}

self.onmessage = async (event) => {
  const msg = event.data;
  try {
    const value = await run(msg);
    if (msg.op === 'write') self.postMessage({ id: msg.id, ok: true, value, buffer: msg.buffer }, [msg.buffer]);
    else self.postMessage({ id: msg.id, ok: true, value });
  } catch (e) {
    self.postMessage({ id: msg.id, ok: false, name: e.name || 'Error', message: e.message || String(e) });
  }
};
