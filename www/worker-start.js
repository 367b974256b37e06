// Starting workers so that every one of them runs under the page's
// Content-Security-Policy, and the messages that tell a worker's crash.
// Shared by bridge.js (the page) and worker-guard.js (inside the worker).
//
// A worker loaded from a URL gets its policy from that script's HTTP
// headers, which a static host may not send; a worker loaded from a blob:
// URL inherits the policy of whoever created it. So a worker script's URL
// is never started directly: a one-line blob: module that imports it is,
// and the page's <meta> policy (connect-src 'none') binds the worker and
// every worker it starts in turn. blob: and data: URLs (the single-file
// build's inlined workers, see scripts/build-single.mjs) start as they are.

// Worker → page: the engine hit a fatal error (a wasm trap: a Rust panic)
// and must not be used again. {v, id: null, type: CRASHED, message}.
export const CRASHED = 'salvage-crashed';

// Page → worker, handled by worker-guard.js before worker.js sees it:
// {v, id, type: DEBUG, action, ...}. Only sent when the page was loaded with
// globalThis.__SALVAGE_TEST_HOOKS__ = true (browser tests).
export const DEBUG = 'salvage-debug';

/** The URL a `Worker` may be started from so that it inherits our policy. */
export function inheritingUrl(url, options = {}) {
  const href = String(url instanceof URL ? url.href : new URL(String(url), self.location.href).href);
  if (/^(blob|data):/i.test(href)) return href;
  const body = options && options.type === 'module' ? moduleShim(href) : `importScripts(${JSON.stringify(href)});\n`;
  return URL.createObjectURL(new Blob([body], { type: 'text/javascript' }));
}

// A dynamic import(), not a static one: Chromium checks a module worker's
// static imports against worker-src, import() against script-src ('self').
// (Firefox checks the static imports inside imported modules against
// worker-src too, which is why the page's worker-src names 'self'.) Messages that arrive while the module loads are kept and handed
// to it once it has set its handlers; a module that fails to load throws,
// so the page sees the worker's error event.
function moduleShim(href) {
  return `const early = [];
const keep = (event) => { event.stopImmediatePropagation(); early.push(event); };
self.addEventListener('message', keep);
import(${JSON.stringify(href)}).then(() => {
  self.removeEventListener('message', keep);
  for (const e of early) self.dispatchEvent(new MessageEvent('message', { data: e.data, ports: [...e.ports] }));
}, (e) => { setTimeout(() => { throw e; }); });
`;
}

// The shim's URL is let go once the worker has answered or failed: by
// then it has been read.
function revokeLater(worker, shim, url) {
  if (shim === String(url instanceof URL ? url.href : url)) return worker;
  const revoke = () => URL.revokeObjectURL(shim);
  worker.addEventListener('message', revoke, { once: true });
  worker.addEventListener('error', revoke, { once: true });
  return worker;
}

/** Starts a worker that runs under this page's (or this worker's) policy. */
export function startWorker(url, options = {}) {
  const shim = inheritingUrl(url, options);
  return revokeLater(new NativeWorker(shim, options), shim, url);
}

const NativeWorker = globalThis.Worker;

/**
 * Makes `new Worker(url)` in this global start through inheritingUrl(), so
 * modules that start workers of their own (sink.js's opfs-writer.js) need
 * not know about it. Used inside the worker by worker-guard.js.
 */
export function guardWorkerConstructor() {
  if (typeof NativeWorker !== 'function' || NativeWorker.salvageGuarded) return;
  class InheritingWorker extends NativeWorker {
    constructor(url, options = {}) {
      const shim = inheritingUrl(url, options);
      super(shim, options);
      revokeLater(this, shim, url);
    }
  }
  InheritingWorker.salvageGuarded = true;
  globalThis.Worker = InheritingWorker;
}
