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
export const LIST = 'list';         // {volume, path} → entry records
export const DOWNLOAD = 'download'; // {volume, path} → {blob, name, size}
export const STATS = 'stats';       // {} → io_stats record (debug and tests)
export const VERSION = 'version';   // {} → version string of the wasm core

// Replies (worker → page).
export const RESULT = 'result';     // {value}
export const ERROR = 'error';       // {message}: a sentence for the user
export const PROGRESS = 'progress'; // {done, total} in bytes

export const REQUEST_TYPES = [OPEN, INFO, LIST, DOWNLOAD, STATS, VERSION];

// Biggest file `download` accepts for now: it is assembled into one Blob,
// and Blobs much over ~500 MiB fail. Streaming exports come later.
export const MAX_DOWNLOAD_BYTES = 400 * 1024 * 1024;

// Size of each `read` call while downloading.
export const READ_PIECE_BYTES = 16 * 1024 * 1024;

export function request(id, type, fields = {}) {
  return { v: PROTOCOL_VERSION, id, type, ...fields };
}

export function result(id, value) {
  return { v: PROTOCOL_VERSION, id, type: RESULT, value };
}

export function error(id, message) {
  return { v: PROTOCOL_VERSION, id, type: ERROR, message };
}

export function progress(id, done, total) {
  return { v: PROTOCOL_VERSION, id, type: PROGRESS, done, total };
}
