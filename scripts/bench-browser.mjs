#!/usr/bin/env node
// Browser benchmark rows for issue 4, all measured in one run, printed as
// a markdown table:
//   - raw FileReaderSync read rate in a worker, in 1 MiB slices (the
//     reader's chunk size) and in 16 MiB slices;
//   - Salvage's in-browser export (the page itself: tick a folder,
//     "Download selected", zip streamed to OPFS) of a multi-GB file set of
//     incompressible data, with the peak RSS of all Chromium processes.
//
// The image is built here (mke2fs -d over files of pseudo-random bytes,
// so every byte of it must really be read) and removed at the end.
//
//   node scripts/bench-browser.mjs            # 2 GB of files
//   BENCH_GB=4 node scripts/bench-browser.mjs
//   BENCH_IMAGE=/tmp/salvage-bench/disk.img BENCH_FOLDER=/ node scripts/bench-browser.mjs
//       # the image of scripts/bench-export.sh (or your own), same files as its rows
//   BENCH_REPEAT=3 …   # each row's best of 3 (rows take turns), for a shared machine
//   BENCH_EXPORT_ONLY=1 …   # the export row alone, with its timing line
//
// Needs www/pkg (scripts/build-wasm.py), mke2fs, /usr/bin/chromium (or
// SALVAGE_CHROMIUM), playwright-core; about 2.2 × BENCH_GB of free disk.
// Nothing is downloaded from the network.

import { execFileSync } from 'node:child_process';
import { createCipheriv } from 'node:crypto';
import { closeSync, lstatSync, mkdirSync, mkdtempSync, openSync, rmSync, statfsSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  startServer, openPersistentApp, pickImage, openVolume, enter, select, jobOutcome, sampleRss, chromiumRssBytes, CHROMIUM,
} from '../tests/e2e/harness.mjs';
import { chromium } from 'playwright-core';

const MiB = 1024 * 1024;
const GB = 1e9;
const sizeBytes = Math.round(Number(process.env.BENCH_GB || 2) * GB);
const repeat = Math.max(1, Math.round(Number(process.env.BENCH_REPEAT || 1)));

/** Of rows [what, secs, …] measured again and again, the fastest per name. */
function best(rows) {
  const out = new Map();
  for (const r of rows) if (!out.has(r[0]) || r[1] < out.get(r[0])[1]) out.set(r[0], r);
  return [...out.values()];
}

function log(...args) {
  console.error('bench:', ...args);
}

/** Files of AES-CTR keystream (fast, incompressible) under dir/tree/data. */
function makeImage(dir) {
  const tree = join(dir, 'tree', 'data');
  mkdirSync(tree, { recursive: true });
  const cipher = createCipheriv('aes-128-ctr', Buffer.alloc(16, 7), Buffer.alloc(16, 0));
  const zeros = Buffer.alloc(16 * MiB);
  // A mix: a few big files and a folder of small ones.
  const sizes = [];
  let left = sizeBytes;
  for (const big of [0.4, 0.3, 0.2]) {
    const n = Math.floor((sizeBytes * big) / 4096) * 4096;
    sizes.push(n);
    left -= n;
  }
  const smallSize = 256 * 1024;
  const smallCount = Math.max(1, Math.floor(left / smallSize));
  const files = sizes.map((n, i) => [join(tree, `big-${i}.bin`), n]);
  mkdirSync(join(tree, 'small'));
  for (let i = 0; i < smallCount; i++) files.push([join(tree, 'small', `f${String(i).padStart(5, '0')}.bin`), smallSize]);
  let total = 0;
  for (const [path, n] of files) {
    const fd = openSync(path, 'w');
    for (let done = 0; done < n;) {
      const len = Math.min(zeros.length, n - done);
      writeSync(fd, cipher.update(zeros.subarray(0, len)));
      done += len;
    }
    closeSync(fd);
    total += n;
  }
  const img = join(dir, 'bench.img');
  const imgBytes = Math.ceil((total * 1.08 + 64 * MiB) / MiB);
  execFileSync('mke2fs', ['-q', '-F', '-t', 'ext4', '-L', 'bench', '-d', join(dir, 'tree'), img, `${imgBytes}M`], { stdio: 'ignore' });
  rmSync(join(dir, 'tree'), { recursive: true, force: true });
  return { img, folder: '/data', bytes: total, files: files.length };
}

// A page and worker of their own for the raw FileReaderSync rows, served
// by scripts/serve.py like the app (same CSP).
const READER_WORKER = `
onmessage = async (e) => {
  const { file, slice, limit } = e.data;
  const reader = new FileReaderSync();
  const end = Math.min(file.size, limit);
  const t0 = performance.now();
  let at = 0;
  let check = 0;
  while (at < end) {
    // Return to the event loop every 64 MiB so ArrayBuffers are freed.
    const stop = Math.min(end, at + 64 * 1024 * 1024);
    while (at < stop) {
      const buf = reader.readAsArrayBuffer(file.slice(at, Math.min(at + slice, stop)));
      check ^= new Uint8Array(buf)[0];
      at += buf.byteLength;
    }
    await new Promise((r) => setTimeout(r, 0));
  }
  postMessage({ bytes: at, ms: performance.now() - t0, check });
};
`;
const READER_PAGE = `<!doctype html><meta charset="utf-8"><title>reader bench</title>
<input type="file" id="f"><script type="module" src="bench.js"></script>`;
const READER_MAIN = `
const worker = new Worker('reader-worker.js');
window.readRate = (slice, limit) => new Promise((resolve) => {
  worker.onmessage = (e) => resolve(e.data);
  worker.postMessage({ file: document.getElementById('f').files[0], slice, limit });
});
document.documentElement.dataset.ready = 'true';
`;

async function rawReadRows(img, limitBytes) {
  const dir = mkdtempSync(join(tmpdir(), 'salvage-bench-page-'));
  writeFileSync(join(dir, 'index.html'), READER_PAGE);
  writeFileSync(join(dir, 'bench.js'), READER_MAIN);
  writeFileSync(join(dir, 'reader-worker.js'), READER_WORKER);
  const server = await startServer(dir);
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--headless', '--no-sandbox', '--disable-gpu'] });
  const rows = [];
  try {
    const page = await browser.newPage();
    await page.goto(`${server.origin}/index.html`);
    await page.waitForSelector('html[data-ready="true"]');
    await page.setInputFiles('#f', img);
    // Once unmeasured so both rows read from the page cache alike.
    await page.evaluate(([s, l]) => window.readRate(s, l), [16 * MiB, limitBytes]);
    for (const slice of [1 * MiB, 16 * MiB]) {
      const rss = sampleRss(500);
      const r = await page.evaluate(([s, l]) => window.readRate(s, l), [slice, limitBytes]);
      const { peak, peakPss } = rss.stop();
      const rate = r.bytes / 1e6 / (r.ms / 1000);
      log(`FileReaderSync ${slice / MiB} MiB slices: ${(r.bytes / GB).toFixed(2)} GB in ${(r.ms / 1000).toFixed(1)} s`);
      rows.push([`FileReaderSync ${slice / MiB} MiB reads`, r.ms / 1000, rate, peak, peakPss]);
    }
  } finally {
    await browser.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

async function exportRow(set) {
  const server = await startServer();
  const app = await openPersistentApp(server.origin);
  const { page } = app;
  // The worker's own split of the export time (www/worker.js).
  page.on('console', (m) => { if (m.text().startsWith('salvage timing')) log(m.text()); });
  try {
    await pickImage(page, [set.img]);
    await openVolume(page, 'ext4');
    const parts = set.folder.split('/').filter(Boolean);
    for (const p of parts.slice(0, -1)) await enter(page, p);
    if (parts.length === 0) await page.getByRole('checkbox', { name: 'Select all in this folder' }).check();
    else await select(page, parts[parts.length - 1]);
    const before = chromiumRssBytes().bytes;
    const rss = sampleRss(500);
    const t0 = Date.now();
    const [dl] = await Promise.all([
      page.waitForEvent('download', { timeout: 3_600_000 }),
      page.getByRole('button', { name: 'Download selected' }).click(),
    ]);
    const secs = (Date.now() - t0) / 1000;
    const { peak, peakPss } = rss.stop();
    await dl.cancel(); // the zip stays in OPFS; no second copy on disk
    const outcome = await jobOutcome(page);
    log(outcome);
    const bytes = Number(await page.getAttribute('#job', 'data-bytes'));
    const files = Number(await page.getAttribute('#job', 'data-files'));
    log(`export: ${(bytes / GB).toFixed(2)} GB in ${secs.toFixed(1)} s; RSS before ${(before / MiB).toFixed(0)} MiB, peak ${(peak / MiB).toFixed(0)} MiB`);
    log(`export: ${files} files`);
    return ['salvage export, browser', secs, bytes / 1e6 / secs, peak, peakPss];
  } finally {
    await app.close();
    await server.stop();
  }
}

async function main() {
  let dir = null;
  let set;
  if (process.env.BENCH_IMAGE) {
    set = { img: process.env.BENCH_IMAGE, folder: process.env.BENCH_FOLDER || '/', bytes: null, files: null };
  } else {
    const fs = statfsSync(tmpdir());
    const need = sizeBytes * 2.3;
    if (fs.bavail * fs.bsize < need) throw new Error(`needs ${(need / GB).toFixed(1)} GB free in ${tmpdir()}; set BENCH_GB lower`);
    dir = mkdtempSync(join(tmpdir(), 'salvage-bench-'));
    log(`building a ${(sizeBytes / GB).toFixed(1)} GB image in ${dir}…`);
    set = makeImage(dir);
    log(`image ${set.img}: ${(lstatSync(set.img).size / GB).toFixed(2)} GB, ${set.files} files, ${(set.bytes / GB).toFixed(2)} GB of data`);
  }
  try {
    // BENCH_EXPORT_ONLY=1: the export row alone (while working on it; the
    // table needs the read rows of the same run).
    if (process.env.BENCH_EXPORT_ONLY) {
      const [what, secs, rate] = await exportRow(set);
      console.log(`${what}: ${secs.toFixed(2)} s, ${rate.toFixed(0)} MB/s`);
      return;
    }
    const all = [];
    for (let i = 0; i < repeat; i++) {
      all.push(...await rawReadRows(set.img, Math.min(lstatSync(set.img).size, sizeBytes)));
      all.push(await exportRow(set));
    }
    const rows = best(all);
    if (repeat > 1) log(`best of ${repeat}; all: ${all.map((r) => `${r[0]} ${r[1].toFixed(2)} s`).join(', ')}`);
    const fsr = rows[0][2];
    const pad = (text, n) => String(text).padEnd(n);
    const num = (v, n, digits) => v.toFixed(digits).padStart(n);
    // The columns of scripts/bench-export.sh, so the two tables join.
    console.log(`browser: ${process.env.SALVAGE_CHROMIUM || '/usr/bin/chromium'}; ${(rows[0][2] * rows[0][1] / 1e3).toFixed(2)} GB read per row`);
    console.log('');
    console.log('| tool                       | seconds  | MB/s     | peak MiB  |');
    console.log('|----------------------------|----------|----------|-----------|');
    for (const [what, secs, rate, , pss] of rows) {
      console.log(`| ${pad(what, 26)} | ${num(secs, 8, 2)} | ${num(rate, 8, 0)} | ${num(pss / MiB, 9, 0)} |`);
    }
    console.log('');
    console.log(`Browser rows: peak MiB is the sum of PSS over Chromium's processes, ~500 MiB of it Chromium at rest (RSS sums: ${rows.map((r) => (r[3] / MiB).toFixed(0)).join(', ')} MiB); ` +
      'the export is stored (no Deflate) into OPFS, timed from the click to the download. ' +
      `In-browser export: ${((rows[2][2] / rows[1][2]) * 100).toFixed(0)} % of the 16 MiB FileReaderSync rate (the slice size it reads file data in), ` +
      `${((rows[2][2] / fsr) * 100).toFixed(0)} % of the 1 MiB rate.`);
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(`bench-browser: ${e.stack || e}`);
  process.exit(1);
});
