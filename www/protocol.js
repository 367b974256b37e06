// Messages between the page (app.js) and the worker (worker.js).
//
// Every message is a plain object {v, id, type, ...}. The page sends
// requests; the worker answers each with zero or more `progress` messages
// and then exactly one `result` or `error`, all echoing the request's id.
// Bumping PROTOCOL_VERSION is a deliberate break: the worker refuses
// messages of another version.

export const PROTOCOL_VERSION = 1;

// Requests (page → worker).
export const OPEN = 'open';         // {files: File[]} → info record
export const INFO = 'info';         // {} → info record
export const DOWNLOAD = 'download'; // {volume, path, sink} → saved record (see EXPORT)
export const EXPORT = 'export';     // {volume, paths, name, sink, options} → saved record
export const CANCEL = 'cancel';     // {target: id of a running DOWNLOAD/EXPORT} → true; handled at once
export const STORAGE = 'storage';   // {} → {opfs: bool, why}: can exports go to the origin's private storage?
export const STATS = 'stats';       // {} → io_stats record (debug and tests)
export const VERSION = 'version';   // {} → version string of the wasm core
// Browsing jobs, stepped by the page one request at a time (so other
// requests run between steps, and the page drops a job by ending it):
export const LIST_OPEN = 'list-open'; // {volume, path} → {job, total}; steps give PAGE records
export const SEARCH = 'search';       // {volume, path, pattern, max_hits} → {job}; steps give SEARCH records
export const SIZES = 'sizes';         // {volume, paths} → {job}; steps give SIZE records
export const STEP = 'step';           // {job, budget} → the job's next record; the job ends itself when `done`
export const END = 'end';             // {job} → true: frees a job before it is done
export const READ = 'read';           // {volume, path, offset, length} → Uint8Array (≤ length bytes of a regular file)
export const STAT = 'stat';           // {volume, path} → the entry record of one path (its type and size, for a selection)
// "At a glance": the inventory of the first volume holding a Linux root,
// stepped by STEP like the jobs above (quick stages first, then the file
// scan and sizes); END stops it.
export const INVENTORY = 'inventory'; // {volume?} → {job, volume}, or {job: null} when no volume holds a Linux root

// Replies (worker → page).
export const RESULT = 'result';     // {value}
export const ERROR = 'error';       // {message}: a sentence for the user
export const PROGRESS = 'progress'; // {done, total} in bytes, and for DOWNLOAD/EXPORT:
//   {phase, files_done, files_total, current, rate (bytes/s or null), eta (s or null)}

export const REQUEST_TYPES = [OPEN, INFO, DOWNLOAD, EXPORT, CANCEL, STORAGE, STATS, VERSION,
  LIST_OPEN, SEARCH, SIZES, STEP, END, READ, STAT, INVENTORY];

// Records of the browsing jobs (see src/web/browse.rs):
//   PAGE   {start, count, done, names ("\0"-joined), kinds (Uint8Array of
//          KINDS indexes), modes, uids, gids (Uint32Array), sizes, mtimes,
//          inodes (Float64Array), targets [[i, text]], problems [[i, [sentence]]],
//          users [[uid, name]], groups [[gid, name]]}
//   SEARCH {done, dirs_read, entries_seen, dirs_queued, problem_count, problems,
//          hits: a PAGE with `paths`, hits_total, truncated}
//   SIZE   {done, files, dirs, others, bytes, dirs_read, entries_seen, dirs_queued,
//          problem_count, problems}
//   INVENTORY {volume, stage (the stage about to run: system, users, … files,
//          sizes, done), done, items, work, inventory} (see src/web/inventory.rs;
//          the inventory record's shape is src/inventory/mod.rs's Inventory)
export const KINDS = ['file', 'dir', 'symlink', 'chardevice', 'blockdevice', 'fifo', 'socket', 'unknown'];

// Where DOWNLOAD and EXPORT write (the request's `sink`):
//   {kind: 'opfs'}                 a new file in the origin's private storage;
//                                  the result carries it as `file` to download
//   {kind: 'handle', handle}       a FileSystemFileHandle from showSaveFilePicker
//   {kind: 'memory'}               in memory, for browsers with neither; refused
//                                  above MAX_MEMORY_BYTES (Blobs much over
//                                  ~500 MiB fail)
// The saved record: {name, sink, file (opfs/memory only), size, summary}.
export const MAX_MEMORY_BYTES = 400 * 1024 * 1024;

// OPFS files written by exports start with this; stale ones are removed
// when the worker starts and before each new export.
export const OPFS_PREFIX = 'salvage-export-';

// Bytes of file data an export step works through before the worker
// writes its output, reports progress and returns to its event loop
// (which frees ArrayBuffers and lets a cancel in). Well under 256 MiB.
export const STEP_BYTES = 16 * 1024 * 1024;

export function request(id, type, fields = {}) {
  return { v: PROTOCOL_VERSION, id, type, ...fields };
}

export function result(id, value) {
  return { v: PROTOCOL_VERSION, id, type: RESULT, value };
}

// `cancelled` is true when the request stopped because it was cancelled.
export function error(id, message, cancelled = false) {
  return { v: PROTOCOL_VERSION, id, type: ERROR, message, cancelled };
}

export function progress(id, done, total, detail = {}) {
  return { v: PROTOCOL_VERSION, id, type: PROGRESS, done, total, ...detail };
}
