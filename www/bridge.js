// The page's side of the worker: starts it, sends requests and routes the
// replies (see protocol.js). The page talks to the worker only through
// send() and ask().

import * as P from './protocol.js';

const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
const pending = new Map(); // id → {resolve, reject, onProgress}
let nextId = 1;
let failureListener = () => {};

worker.onmessage = (event) => {
  const msg = event.data;
  const call = pending.get(msg.id);
  if (!call) return;
  if (msg.type === P.PROGRESS) {
    if (call.onProgress) call.onProgress(msg.done, msg.total, msg);
    return;
  }
  pending.delete(msg.id);
  if (msg.type === P.RESULT) call.resolve(msg.value);
  else call.reject(Object.assign(new Error(msg.message), { cancelled: Boolean(msg.cancelled) }));
};

worker.onerror = (event) => {
  event.preventDefault();
  const message = 'The worker stopped unexpectedly' + (event.message ? `: ${event.message}` : '.');
  for (const call of pending.values()) call.reject(new Error(message));
  pending.clear();
  failureListener(message);
};

/** Tells `listener(sentence)` when the worker fails. */
export function onWorkerFailure(listener) {
  failureListener = listener;
}

/** Sends a request; returns {id, reply} (the id lets it be cancelled). */
export function send(type, fields = {}, onProgress = null) {
  const id = nextId++;
  const reply = new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject, onProgress });
    worker.postMessage(P.request(id, type, fields));
  });
  return { id, reply };
}

/** Sends a request; resolves to its result. */
export function ask(type, fields = {}, onProgress = null) {
  return send(type, fields, onProgress).reply;
}
