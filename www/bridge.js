// The page's side of the worker: starts it, sends requests and routes the
// replies (see protocol.js). The page talks to the worker only through
// send() and ask().
//
// When the worker dies (an uncaught error, or worker-guard.js's CRASHED
// after a wasm trap: a Rust panic) it is replaced by a fresh one, never
// reused: requests in flight fail with a sentence saying so, the image
// that was open is opened again in the new worker, and onWorkerFailure's
// listener hears what happened in plain words. Workers start through
// worker-start.js, so they run under the page's Content-Security-Policy.

import * as P from './protocol.js';
import { startWorker, CRASHED, DEBUG } from './worker-start.js';

// Restarts allowed within RESTART_WINDOW_MS before the page gives up.
const MAX_RESTARTS = 3;
const RESTART_WINDOW_MS = 60_000;

const testHooks = globalThis.__SALVAGE_TEST_HOOKS__ === true;

const pending = new Map(); // id → {resolve, reject, onProgress, type, fields}
let nextId = 1;
let failureListener = () => {};
let worker = null;
let generation = 0;        // bumps with every new worker
let answered = false;      // the current worker has answered at least once
let lastOpened = null;     // the File[] of the image open in the worker
const restarts = [];       // times of recent restarts
const saved = [];          // test hooks: files the fake save dialog received

function start() {
  generation += 1;
  const mine = generation;
  answered = false;
  const w = startWorker(new URL('./worker.js', import.meta.url), { type: 'module' });
  w.onmessage = (event) => { if (mine === generation) route(event.data); };
  w.onerror = (event) => {
    event.preventDefault();
    if (mine !== generation) return;
    const what = event.message ? `an error: ${event.message}` : 'an error it did not describe';
    died(answered ? what : `it could not start: ${event.message || 'its script did not load'}`, answered);
  };
  w.onmessageerror = () => { if (mine === generation) died('a message it could not read', true); };
  worker = w;
  if (testHooks) w.postMessage(P.request(0, DEBUG, { action: 'enable' }));
}

function route(msg) {
  if (!msg || typeof msg !== 'object') return;
  answered = true;
  if (msg.type === CRASHED) {
    died(msg.message || 'a bug', true);
    return;
  }
  if (msg.type === DEBUG && msg.saved) {
    saved.push(msg.saved);
    return;
  }
  const call = pending.get(msg.id);
  if (!call) return;
  if (msg.type === P.PROGRESS) {
    if (call.onProgress) call.onProgress(msg.done, msg.total, msg);
    return;
  }
  pending.delete(msg.id);
  if (msg.type === P.RESULT) {
    if (call.type === P.OPEN) lastOpened = Array.from(call.fields.files || []);
    call.resolve(msg.value);
  } else {
    if (call.type === P.OPEN && call.reopen) lastOpened = null;
    call.reject(Object.assign(new Error(msg.message), { cancelled: Boolean(msg.cancelled) }));
  }
}

const sentence = (s) => (/[.!?]$/.test(s) ? s : `${s}.`);

/** The worker is gone: fail what was asked, start a new one, reopen the image. */
function died(why, restart) {
  const old = worker;
  worker = null;
  generation += 1; // ignore anything more from the old worker
  old?.terminate();
  // A file that stops the engine as it opens would stop it again: name it,
  // and don't suggest trying again.
  const opening = [...pending.values()].filter((c) => c.type === P.OPEN && !c.reopen)
    .flatMap((c) => Array.from(c.fields.files || []).map((f) => f.name));
  const stopped = `The engine stopped (${why})${opening.length ? ` while opening ${opening.join(', ')}` : ''}`;
  const now = Date.now();
  while (restarts.length && now - restarts[0] > RESTART_WINDOW_MS) restarts.shift();
  const canRestart = restart && restarts.length < MAX_RESTARTS;
  const calls = [...pending.values()];
  pending.clear();
  const reopen = canRestart ? lastOpened : null;
  lastOpened = null;
  for (const call of calls) {
    call.reject(new Error(canRestart ? `${stopped}; it is being restarted.` : sentence(stopped)));
  }
  if (!canRestart) {
    // Said after the rejections' own messages, so it is the one left showing.
    queueMicrotask(() => setTimeout(() => failureListener(restart
      ? `${stopped}, again and again, so it was not restarted. Reload the page.`
      : `${stopped}. Reload the page.`)));
    return;
  }
  restarts.push(now);
  start();
  const mine = generation;
  const tell = (text) => { if (mine === generation) failureListener(text); };
  if (!reopen || reopen.length === 0) {
    setTimeout(() => tell(`${stopped}. It was restarted${opening.length ? '' : '; open the image again'}.`));
    return;
  }
  const names = reopen.map((f) => f.name).join(', ');
  const { reply } = post(P.OPEN, { files: reopen }, null, true);
  reply.then(
    () => tell(`${stopped}. It was restarted and ${names} was opened again${opening.length ? '' : '; try again'}.`),
    (e) => tell(`${stopped}. It was restarted, but opening ${names} again failed: ${sentence(e.message || String(e))} Open the image again.`),
  );
}

/** Tells `listener(sentence)` when the worker fails (and whether it was restarted). */
export function onWorkerFailure(listener) {
  failureListener = listener;
}

/** Sends a request; returns {id, reply} (the id lets it be cancelled). */
export function send(type, fields = {}, onProgress = null) {
  return post(type, fields, onProgress, false);
}

// `reopen`: the OPEN that brings back the image after a restart.
function post(type, fields, onProgress, reopen) {
  const id = nextId++;
  const reply = new Promise((resolve, reject) => {
    if (!worker) {
      reject(new Error('The engine is not running; reload the page.'));
      return;
    }
    pending.set(id, { resolve, reject, onProgress, type, fields, reopen });
    worker.postMessage(P.request(id, type, fields));
  });
  return { id, reply };
}

/** Sends a request; resolves to its result. */
export function ask(type, fields = {}, onProgress = null) {
  return send(type, fields, onProgress).reply;
}

start();

if (testHooks) {
  // Browser tests only (see tests/e2e/privacy.test.mjs and single-file.test.mjs).
  globalThis.salvageTestHooks = Object.freeze({
    /** 'panic' (a trap in the wasm instance; with `on`, in the next call of that export) or 'throw'. */
    crash: (action, fields = {}) => ask(DEBUG, { action, ...fields }),
    ask: (type, fields = {}) => ask(type, fields),
    /** Files written through the fake save dialog, as base64 strings. */
    saved: async () => Promise.all(saved.map(async (f) => {
      const bytes = new Uint8Array(await f.arrayBuffer());
      let s = '';
      for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      return { name: f.name, base64: btoa(s) };
    })),
    generation: () => generation,
  });
}
