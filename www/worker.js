// The worker owns all image state: the wasm module, the open Session and
// the picked File objects. The page only holds plain records.
// Requests are handled one at a time, in arrival order; downloads and
// exports in a queue of their own, between whose steps the others run;
// CANCEL at once: a running download or export checks for it after
// every step, when it returns to the event loop.

import './worker-guard.js'; // first: crash handling, workers under the page's policy
import * as P from './protocol.js';
import { cleanStale, probeStorage } from './sink.js';
import { save, cancel, Cancelled } from './jobs.js';
import { loadEngine } from './engine.js';

let session = null;

let storageProbe = null;

function storage() {
  if (!storageProbe) storageProbe = probeStorage();
  return storageProbe;
}

function needSession() {
  if (!session) throw new Error('No disk image is open.');
  return session;
}

// Browsing jobs (DirListing, SearchJob, SizeJob, InventoryJob) by id, stepped by STEP.
const browseJobs = new Map();
let nextBrowseJob = 1;

function keepJob(job) {
  const id = nextBrowseJob++;
  browseJobs.set(id, job);
  return id;
}

function endJob(id) {
  const job = browseJobs.get(id);
  if (job) {
    browseJobs.delete(id);
    job.free();
  }
}

function baseName(path) {
  const parts = path.split('/').filter((p) => p !== '');
  return parts.length ? parts[parts.length - 1] : 'file';
}

const handlers = {
  async [P.OPEN](msg) {
    const wasm = await loadEngine();
    const files = Array.from(msg.files || []);
    if (files.length === 0) throw new Error('No file was chosen.');
    const next = wasm.Session.open(files);
    for (const id of [...browseJobs.keys()]) endJob(id);
    if (session && typeof session.free === 'function') session.free();
    session = next;
    return session.info();
  },

  async [P.INFO]() {
    return needSession().info();
  },

  async [P.LIST_OPEN](msg) {
    const listing = needSession().list_open(msg.volume, msg.path);
    return { job: keepJob(listing), total: listing.total() };
  },

  async [P.SEARCH](msg) {
    return { job: keepJob(needSession().search(msg.volume, msg.path || '/', String(msg.pattern || ''), msg.max_hits || 10000)) };
  },

  async [P.SIZES](msg) {
    return { job: keepJob(needSession().sizes(msg.volume, Array.from(msg.paths || []))) };
  },

  async [P.STAT](msg) {
    return needSession().stat(msg.volume, msg.path);
  },

  async [P.INVENTORY](msg) {
    const s = needSession();
    const volume = msg.volume ?? s.linux_root();
    if (volume === undefined || volume === null) return { job: null };
    return { job: keepJob(s.inventory(volume)), volume };
  },

  async [P.STEP](msg) {
    const job = browseJobs.get(msg.job);
    if (!job) throw new Error('This listing or search has already ended.');
    let record;
    try {
      record = job.step(msg.budget || 1000);
    } catch (e) {
      endJob(msg.job);
      throw e;
    }
    if (record.done) endJob(msg.job);
    return record;
  },

  async [P.END](msg) {
    endJob(msg.job);
    return true;
  },

  async [P.READ](msg) {
    return needSession().read(msg.volume, msg.path, msg.offset || 0, msg.length);
  },

  async [P.VERSION]() {
    return (await loadEngine()).version();
  },

  async [P.STATS]() {
    return needSession().io_stats();
  },

  async [P.STORAGE]() {
    return storage();
  },

  async [P.DOWNLOAD](msg, post) {
    const s = needSession();
    const entry = s.stat(msg.volume, msg.path);
    if (entry.type !== 'file') {
      throw new Error(`“${entry.name}” is not a regular file, so it can't be downloaded.`);
    }
    const name = entry.name || baseName(msg.path);
    return save(msg, post, () => s.export_file(msg.volume, msg.path), name);
  },

  async [P.EXPORT](msg, post) {
    const s = needSession();
    const paths = Array.from(msg.paths || []);
    if (paths.length === 0) throw new Error('Nothing is selected.');
    return save(msg, post, () => s.export(msg.volume, paths, msg.options || {}), msg.name || 'salvage-export.zip');
  },
};

function messageOf(e) {
  if (e instanceof Error) return e.message || String(e);
  if (typeof e === 'string') return e;
  return String(e);
}

let queue = Promise.resolve();
let jobs = Promise.resolve();

self.onmessage = (event) => {
  const msg = event.data;
  const post = (m) => self.postMessage(m);
  if (!msg || typeof msg !== 'object') return;
  if (msg.v !== P.PROTOCOL_VERSION) {
    post(P.error(msg.id, `The page and its worker don't match (protocol ${msg.v} vs ${P.PROTOCOL_VERSION}); reload the page.`));
    return;
  }
  const handler = handlers[msg.type];
  if (msg.type === P.CANCEL) {
    cancel(msg.target);
    post(P.result(msg.id, true));
    return;
  }
  if (!handler) {
    post(P.error(msg.id, `Unknown request “${msg.type}”.`));
    return;
  }
  const run = async () => {
    try {
      post(P.result(msg.id, await handler(msg, post)));
    } catch (e) {
      post(P.error(msg.id, messageOf(e), e instanceof Cancelled));
    }
  };
  // Downloads and exports take turns on their own queue, so listing and
  // opening go on between their steps.
  if (msg.type === P.DOWNLOAD || msg.type === P.EXPORT) jobs = jobs.then(run);
  else queue = queue.then(run);
};

// Exports left from an earlier visit: the page has downloaded them by now.
queue = queue.then(() => cleanStale());
