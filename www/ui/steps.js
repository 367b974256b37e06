// Drives a browsing job of the worker (listing pages, name search, folder
// sizes): starts it, asks for one bounded step at a time, hands each
// record to `onStep`, and ends it early when cancelled. Between steps the
// worker answers other requests, so browsing goes on while a job runs.

import * as P from '../protocol.js';

/**
 * `ask` is bridge.js's; `start` a request type (LIST_OPEN, SEARCH, SIZES)
 * with its `fields`. `onStart(startRecord)` and `onStep(record)` are
 * called as they come. Returns {done: Promise<last record | null if
 * cancelled>, cancel()}.
 */
export function runSteps(ask, start, fields, budget, { onStart = () => {}, onStep = () => {} } = {}) {
  let cancelled = false;
  let job = null;
  const done = (async () => {
    const started = await ask(start, fields);
    job = started.job;
    if (cancelled) {
      ask(P.END, { job }).catch(() => {});
      return null;
    }
    onStart(started);
    for (;;) {
      const record = await ask(P.STEP, { job, budget: typeof budget === 'function' ? budget() : budget });
      if (cancelled) {
        if (!record.done) ask(P.END, { job }).catch(() => {});
        return null;
      }
      onStep(record);
      if (record.done) return record;
    }
  })();
  return {
    done,
    cancel() { cancelled = true; },
    get cancelled() { return cancelled; },
  };
}
