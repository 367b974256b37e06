// The worker's crash handling, imported first by worker.js.
//
// - A Rust panic in the wasm core traps (WebAssembly.RuntimeError:
//   unreachable) and may leave the instance half-changed, so after a trap
//   the instance is never used again: every wasm export is wrapped, the
//   first trap marks the engine dead, tells the page (CRASHED, with the
//   panic message when the core printed one) and closes this worker. The
//   page's bridge.js starts a fresh worker and opens the image again.
// - Workers this worker starts (opfs-writer.js) run under the page's
//   policy too (worker-start.js).
// - Test hooks (DEBUG messages), honoured only after the page sent
//   {action: 'enable'}, which bridge.js does only when the test set
//   globalThis.__SALVAGE_TEST_HOOKS__ before the page loaded: make the
//   engine trap (a real abort in the real wasm instance), make the worker
//   throw, and stand in for the save dialog's file handle where the
//   browser has no other writable file (file:// has no OPFS).

import * as P from './protocol.js';
import { CRASHED, DEBUG, guardWorkerConstructor } from './worker-start.js';

guardWorkerConstructor();

let dead = null;        // the sentence, once the engine trapped
let lastPanic = null;   // the last "panicked at …" line the core printed
let exports = null;     // the wrapped exports of the wasm instance
let hooks = false;      // test hooks enabled
let panicOn = null;     // test: trap on the next call of an export whose name contains this
let panicText = null;   // test: what the core prints before that trap, as a panic hook would

/** Whether `e` leaves the wasm instance unusable. */
export function isFatal(e) {
  if (typeof WebAssembly === 'object' && e instanceof WebAssembly.RuntimeError) return true;
  return e instanceof RangeError && /call stack/i.test(e.message || '');
}

function reason(e) {
  if (lastPanic) return `a bug: ${lastPanic}`;
  return `a bug: ${e && e.name ? `${e.name}: ` : ''}${(e && e.message) || e}`;
}

/** Marks the engine dead, tells the page and closes this worker. Idempotent. */
export function fatal(e) {
  if (dead) return;
  dead = reason(e);
  self.postMessage({ v: P.PROTOCOL_VERSION, id: null, type: CRASHED, message: dead });
  self.close();
}

function deadError() {
  return new Error(`The engine stopped (${dead}) and can't be used any more; it is being restarted.`);
}

// ---- every wasm export goes through here ----------------------------------

function wrapExports(raw) {
  const wrapped = {};
  for (const [name, value] of Object.entries(raw)) {
    if (typeof value !== 'function') {
      wrapped[name] = value;
      continue;
    }
    wrapped[name] = function guarded(...args) {
      if (dead) throw deadError();
      try {
        if (panicOn && name.includes(panicOn)) {
          panicOn = null;
          abortInWasm(raw);
        }
        return value.apply(this, args);
      } catch (e) {
        if (isFatal(e)) fatal(e);
        throw e;
      }
    };
  }
  return Object.freeze(wrapped);
}

// A genuine trap in the real instance, for tests: wasm-bindgen's allocator
// aborts (in a release build: `unreachable`) on a size no layout allows;
// nothing is allocated.
function abortInWasm(raw) {
  if (panicText) console.error(panicText);
  if (typeof raw.__wbindgen_malloc !== 'function') throw new WebAssembly.RuntimeError('unreachable (test hook)');
  raw.__wbindgen_malloc(0xfffffff0, 8);
  throw new WebAssembly.RuntimeError('unreachable (test hook: the allocator did not abort)');
}

function guardedInstance(instance) {
  exports = wrapExports(instance.exports);
  return Object.create(WebAssembly.Instance.prototype, { exports: { value: exports, enumerable: true } });
}

if (typeof WebAssembly === 'object') {
  const instantiate = WebAssembly.instantiate;
  WebAssembly.instantiate = async function guardedInstantiate(source, imports) {
    const made = await instantiate.call(WebAssembly, source, imports);
    if (made instanceof WebAssembly.Instance) return guardedInstance(made);
    return { module: made.module, instance: guardedInstance(made.instance) };
  };
  if (typeof WebAssembly.instantiateStreaming === 'function') {
    const streaming = WebAssembly.instantiateStreaming;
    WebAssembly.instantiateStreaming = async function guardedStreaming(source, imports) {
      const made = await streaming.call(WebAssembly, source, imports);
      return { module: made.module, instance: guardedInstance(made.instance) };
    };
  }
}

// The core may print its panic message before it traps.
for (const level of ['error', 'warn']) {
  const original = console[level];
  console[level] = function remembered(...args) {
    const text = args.map(String).join(' ');
    const m = /panicked at ([^\n]*(?:\n[^\n]*)?)/.exec(text);
    if (m) lastPanic = `panicked at ${m[1].replace(/\s+/g, ' ').trim()}`;
    return original.apply(this, args);
  };
}

self.addEventListener('unhandledrejection', (event) => {
  if (isFatal(event.reason)) fatal(event.reason);
});

// ---- test hooks -------------------------------------------------------------

// A stand-in for a FileSystemFileHandle from showSaveFilePicker: the page's
// fake picker returns {salvageFakeHandle: name}, and this handle's bytes go
// back to the page (bridge.js keeps them for the test).
function fakeHandle(name) {
  return {
    kind: 'file',
    name,
    async createWritable() {
      let parts = [];
      return {
        async write(chunk) { parts.push(new Blob([chunk])); },
        async close() {
          self.postMessage({ v: P.PROTOCOL_VERSION, id: null, type: DEBUG, saved: new File(parts, name) });
          parts = [];
        },
        async abort() { parts = []; },
      };
    },
    async remove() {},
  };
}

function debug(msg) {
  switch (msg.action) {
    case 'enable':
      hooks = true;
      return true;
    case 'panic':
      // Trap now, or in the next call of a matching export (e.g.
      // 'session_list'); first print `message` if given, as a panic hook would.
      panicText = msg.message || null;
      if (msg.on) {
        panicOn = msg.on;
        return true;
      }
      if (!exports) throw new Error('the engine is not loaded yet');
      panicOn = '__wbindgen_malloc';
      exports.__wbindgen_malloc(0, 1);
      return false;
    case 'throw':
      setTimeout(() => { throw new Error('test hook: the worker threw'); });
      return true;
    default:
      throw new Error(`unknown test hook ${msg.action}`);
  }
}

self.addEventListener('message', (event) => {
  const msg = event.data;
  if (msg && typeof msg === 'object' && msg.sink && msg.sink.handle && msg.sink.handle.salvageFakeHandle && hooks) {
    msg.sink.handle = fakeHandle(String(msg.sink.handle.salvageFakeHandle));
  }
  if (!msg || msg.type !== DEBUG) return;
  event.stopImmediatePropagation();
  if (msg.action !== 'enable' && !hooks) return;
  let value;
  try {
    value = debug(msg);
  } catch (e) {
    if (isFatal(e)) return; // fatal() has told the page
    self.postMessage(P.error(msg.id, e.message || String(e)));
    return;
  }
  self.postMessage(P.result(msg.id, value));
});
