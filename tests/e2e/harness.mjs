// Shared setup for the browser tests: a local server (scripts/serve.py) and
// the system Chromium driven by playwright-core. No browser is downloaded.
//
// Run: npm install (playwright-core only), build www/pkg (scripts/build-wasm.py),
// build fixtures (bash tests/fixtures/make.sh DIR), then
//   SALVAGE_FIXTURES=DIR npm test        (default DIR: tests/fixtures/out)
// SALVAGE_CHROMIUM overrides /usr/bin/chromium. Screenshots go to test-results/.
// export.test.mjs runs each test in a persistent profile (OPFS needs one),
// builds its images with mke2fs -d, compares with the native CLI when one
// is built (SALVAGE_CLI, or target/ or $CARGO_TARGET_DIR release/debug),
// and its 5 GiB test needs 7 GiB free in the temp folder (else skipped).
// To work on the page without the wasm build: cp tests/e2e/mock-pkg/* www/pkg/.

import { spawn, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const FIXTURES = resolve(ROOT, process.env.SALVAGE_FIXTURES || 'tests/fixtures/out');
export const RESULTS = join(ROOT, 'test-results');
export const CHROMIUM = process.env.SALVAGE_CHROMIUM || '/usr/bin/chromium';

export function fixture(name) {
  return join(FIXTURES, name);
}

/** Why the fixture can't be used, or null if it is there. */
export function missingFixture(...names) {
  const gone = names.filter((n) => !existsSync(fixture(n)));
  return gone.length ? `fixture(s) ${gone.join(', ')} not in ${FIXTURES} (run tests/fixtures/make.sh, or set SALVAGE_FIXTURES)` : null;
}

export function sha256(bytes) {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Starts scripts/serve.py for `dir` on a free port; resolves to {origin, stop}. */
export function startServer(dir = join(ROOT, 'www')) {
  const child = spawn('python3', [join(ROOT, 'scripts/serve.py'), '--port', '0', '--dir', dir], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolvePromise, reject) => {
    let out = '';
    const timer = setTimeout(() => { child.kill(); reject(new Error('serve.py did not start')); }, 10_000);
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`serve.py exited with ${code}`)); });
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const m = /serving (http:\/\/127\.0\.0\.1:\d+)\//.exec(out);
      if (m) {
        clearTimeout(timer);
        child.removeAllListeners('exit');
        resolvePromise({
          origin: m[1],
          stop: () => new Promise((done) => {
            if (child.exitCode !== null) return done();
            child.once('exit', done);
            child.kill();
          }),
        });
      }
    });
  });
}

export async function launchBrowser() {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: BROWSER_ARGS });
}

/**
 * A fresh context and page on the served app, with every request and page
 * error recorded. Waits until the wasm engine has reported its version.
 */
export async function openApp(browser, origin, { colorScheme = 'light' } = {}) {
  const context = await browser.newContext({ acceptDownloads: true, colorScheme, viewport: { width: 1200, height: 800 } });
  const requests = [];
  const errors = [];
  context.on('request', (r) => requests.push(r.url()));
  const page = await context.newPage();
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    // The sample disk module is optional: the page probes for it and hides its button on a 404.
    if (/\/sample\/sample-img-gz\.js$/.test(m.location().url)) return;
    errors.push(`console: ${m.text()} (${m.location().url})`);
  });
  await page.goto(`${origin}/`);
  await page.waitForSelector('html[data-ready="true"]', { timeout: 20_000 }).catch(async (e) => {
    throw new Error(`page not ready; status: ${await page.textContent('#status')}; errors: ${errors.join(' | ')}; ${e.message}`);
  });
  return { context, page, requests, errors };
}

/** Picks files with the page's file input and waits for the outcome. */
export async function pickImage(page, paths) {
  await page.setInputFiles('#file-input', paths);
  await page.waitForFunction(() => {
    const s = document.getElementById('status');
    return s.classList.contains('ok') || s.classList.contains('error');
  }, null, { timeout: 60_000 });
}

export async function statusText(page) {
  return (await page.textContent('#status')).trim();
}

/** Opens the volume whose file system column says `fs`. */
export async function openVolume(page, fs) {
  const row = page.locator('table.volumes tbody tr').filter({ has: page.locator('td.fs', { hasText: new RegExp(`^${fs}$`) }) });
  if (await row.count() !== 1) throw new Error(`expected one ${fs} volume, found ${await row.count()}`);
  const open = row.getByRole('button', { name: 'Open' });
  if (await open.count() === 0) {
    throw new Error(`the ${fs} volume can't be opened by this build of the core: ${await row.locator('td.status').textContent()}`);
  }
  await open.click();
  await waitPath(page, '/');
}

/** Clicks the folder `name` in the current listing and waits for the new one. */
export async function enter(page, name) {
  const before = await page.getAttribute('#directory', 'data-path');
  const want = before === '/' ? `/${name}` : `${before}/${name}`;
  await page.locator('table.entries tr.entry.dir').filter({ has: page.locator(`td.name > button`, { hasText: name }) })
    .locator('td.name > button').filter({ hasText: new RegExp(`^${escapeRe(name)}$`) }).click();
  await waitPath(page, want);
}

export async function up(page) {
  const before = await page.getAttribute('#directory', 'data-path');
  const want = before.slice(0, before.lastIndexOf('/')) || '/';
  await page.getByRole('button', { name: 'Up to the parent folder' }).click();
  await waitPath(page, want);
}

/** Waits until the directory view shows `path` and the page is idle. */
export async function waitPath(page, path) {
  await page.waitForFunction((p) => document.getElementById('directory').dataset.path === p &&
    !document.body.hasAttribute('aria-busy'), path, { timeout: 30_000 });
}

export async function entryNames(page) {
  return page.locator('table.entries tr.entry td.name > :first-child').allTextContents();
}

/** Clicks Download on the entry whose shown name is `name`; returns {bytes, suggested}. */
export async function download(page, name) {
  const row = page.locator('table.entries tr.entry.file').filter({ has: page.locator('td.name > span:first-child', { hasText: new RegExp(`^${escapeRe(name)}$`) }) });
  const [dl] = await Promise.all([
    page.waitForEvent('download', { timeout: 60_000 }),
    row.getByRole('button', { name: /^Download/ }).click(),
  ]);
  const path = await dl.path();
  return { bytes: readFileSync(path), suggested: dl.suggestedFilename() };
}

export function escapeRe(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export async function screenshot(page, name) {
  mkdirSync(RESULTS, { recursive: true });
  const path = join(RESULTS, name);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/**
 * Sum of VmRSS (bytes) of every Chromium process started by this test
 * process (descendants of `pid` whose name starts with "chrom"), from /proc.
 */
export function chromiumRssBytes(pid = process.pid) {
  const children = new Map();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(d));
    } catch { /* process went away */ }
  }
  let total = 0;
  let pssTotal = 0;
  let counted = 0;
  const stack = [...(children.get(pid) || [])];
  const seen = new Set();
  while (stack.length) {
    const p = stack.pop();
    if (seen.has(p)) continue;
    seen.add(p);
    try {
      const status = readFileSync(`/proc/${p}/status`, 'utf8');
      const name = /^Name:\s+(.*)$/m.exec(status)?.[1] || '';
      const m = /VmRSS:\s+(\d+) kB/.exec(status);
      if (/^chrom/i.test(name) && m) {
        total += Number(m[1]) * 1024;
        counted += 1;
        // PSS splits shared pages among the processes that map them.
        try {
          const pss = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${p}/smaps_rollup`, 'utf8'));
          if (pss) pssTotal += Number(pss[1]) * 1024;
        } catch { /* gone, or no smaps_rollup */ }
      }
    } catch { /* gone */ }
    stack.push(...(children.get(p) || []));
  }
  return { bytes: total, pss: pssTotal, processes: counted };
}

// ---- exports (OPFS needs a persistent context) ----------------------------

const BROWSER_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run'];

/**
 * A persistent Chromium context (OPFS works there) in a fresh profile
 * directory, on the served app, with errors recorded like openApp.
 * `initScript` runs in the page before its own scripts. close() removes
 * the profile.
 */
export async function openPersistentApp(origin, { initScript = null } = {}) {
  const profile = mkdtempSync(join(tmpdir(), 'salvage-e2e-profile-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, args: BROWSER_ARGS, acceptDownloads: true,
    viewport: { width: 1200, height: 800 },
  });
  const errors = [];
  const page = context.pages()[0] || await context.newPage();
  if (initScript) await page.addInitScript(initScript);
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    if (/\/sample\/sample-img-gz\.js$/.test(m.location().url)) return;
    errors.push(`console: ${m.text()} (${m.location().url})`);
  });
  await page.goto(`${origin}/`);
  await page.waitForSelector('html[data-ready="true"]', { timeout: 20_000 });
  return {
    context, page, errors, profile,
    close: async () => { await context.close(); rmSync(profile, { recursive: true, force: true }); },
  };
}

/** Names in the page's origin private file system (top level). */
export function opfsNames(page) {
  return page.evaluate(async () => {
    const dir = await navigator.storage.getDirectory();
    const names = [];
    for await (const name of dir.keys()) names.push(name);
    return names.sort();
  });
}

/** Ticks the checkbox "Select NAME" in the listing. */
export async function select(page, name) {
  await page.getByRole('checkbox', { name: `Select ${name}`, exact: true }).check();
}

/** Waits until the job panel shows an outcome; returns its text. */
export async function jobOutcome(page, timeout = 120_000) {
  await page.waitForSelector('#job:not([aria-busy]) .job-outcome:not(:empty)', { timeout });
  return (await page.textContent('#job .job-outcome')).trim();
}

/** Clicks "Download selected"; resolves to the Download once saved. */
export async function exportSelected(page, timeout = 120_000) {
  const [dl] = await Promise.all([
    page.waitForEvent('download', { timeout }),
    page.getByRole('button', { name: 'Download selected' }).click(),
  ]);
  await dl.path();
  return dl;
}

/** Runs tests/e2e/zipcheck.py on a zip; its JSON. */
export function checkZip(path, { quick = false } = {}) {
  const out = execFileSync('python3', [join(ROOT, 'tests/e2e/zipcheck.py'), path, ...(quick ? ['--quick'] : [])],
    { maxBuffer: 64 << 20 });
  return JSON.parse(out);
}

/**
 * The native CLI, to compare the page's bytes with `salvage cat`:
 * $SALVAGE_CLI, or a built target/{release,debug}/salvage (also under
 * $CARGO_TARGET_DIR); null if none is built.
 */
export function salvageCli() {
  const dirs = [process.env.CARGO_TARGET_DIR, join(ROOT, 'target')].filter(Boolean);
  const candidates = [process.env.SALVAGE_CLI, ...dirs.flatMap((d) => [join(d, 'release/salvage'), join(d, 'debug/salvage')])];
  return candidates.find((p) => p && existsSync(p)) || null;
}

/**
 * Samples chromiumRssBytes() every `ms` until stop(); stop() →
 * {peak, peakPss, samples} (sums over the Chromium processes, bytes).
 */
export function sampleRss(ms = 500) {
  let peak = 0;
  let peakPss = 0;
  let samples = 0;
  const take = () => {
    const { bytes, pss } = chromiumRssBytes();
    peak = Math.max(peak, bytes);
    peakPss = Math.max(peakPss, pss);
    samples += 1;
  };
  take();
  const timer = setInterval(take, ms);
  return { stop: () => { clearInterval(timer); take(); return { peak, peakPss, samples }; } };
}

// ---- privacy, the single file and crashes (privacy, single-file, errors tests)

/** The single-file build (scripts/build-single.mjs). */
export const SINGLE_FILE = join(ROOT, 'dist/salvage.html');

// Set before the page's scripts run: enables bridge.js's test hooks
// (window.salvageTestHooks) and records CSP violations in the page.
export const TEST_HOOKS = `globalThis.__SALVAGE_TEST_HOOKS__ = true;
window.__violations = [];
addEventListener('securitypolicyviolation', (e) => window.__violations.push({ directive: e.effectiveDirective, blocked: e.blockedURI }));`;

// A save dialog that hands the worker a stand-in file handle (worker-guard.js
// keeps its bytes for salvageTestHooks.saved()): the only writable file a
// file:// page can get in a headless browser, where OPFS is refused.
export const FAKE_HANDLE_PICKER = `window.showSaveFilePicker = async (options) => {
  window.__pickerOptions = options;
  return { salvageFakeHandle: 'picked-by-user.zip' };
};`;

/**
 * Opens the page at `url` (http:// or file://) in a fresh context,
 * persistent when `persistent` (OPFS needs it), with `initScripts` run
 * before the page's own, every request and page error recorded; waits
 * until the engine has reported its version. close() ends it all.
 */
export async function launchPage(url, { persistent = false, initScripts = [], colorScheme = 'light' } = {}) {
  const options = { acceptDownloads: true, colorScheme, viewport: { width: 1200, height: 800 } };
  let context;
  let browser = null;
  let profile = null;
  if (persistent) {
    profile = mkdtempSync(join(tmpdir(), 'salvage-e2e-profile-'));
    context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: BROWSER_ARGS, ...options });
  } else {
    browser = await launchBrowser();
    context = await browser.newContext(options);
  }
  const requests = [];
  const errors = [];
  context.on('request', (r) => requests.push(r.url()));
  const page = context.pages()[0] || await context.newPage();
  for (const script of initScripts) await page.addInitScript(script);
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    if (/\/sample\/sample-img-gz\.js$/.test(m.location().url)) return;
    errors.push(`console: ${m.text()} (${m.location().url})`);
  });
  await page.goto(url);
  await page.waitForSelector('html[data-ready="true"]', { timeout: 30_000 }).catch(async (e) => {
    throw new Error(`page not ready; status: ${await page.textContent('#status')}; errors: ${errors.join(' | ')}; ${e.message}`);
  });
  return {
    context, page, requests, errors,
    close: async () => {
      await context.close();
      await browser?.close();
      if (profile) rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * A local HTTP server standing for "anywhere on the network": it counts
 * every request and connection it gets (WebSocket upgrades too). Resolves
 * to {origin, hits, stop}.
 */
export async function startCanary() {
  const { createServer } = await import('node:http');
  const hits = [];
  const server = createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.end('leaked');
  });
  server.on('upgrade', (req, socket) => { hits.push(`UPGRADE ${req.url}`); socket.destroy(); });
  server.on('connection', () => hits.push('connection'));
  await new Promise((done) => server.listen(0, '127.0.0.1', done));
  return {
    origin: `http://127.0.0.1:${server.address().port}`,
    hits,
    stop: () => new Promise((done) => { server.closeAllConnections?.(); server.close(() => done()); }),
  };
}

/**
 * Source of a function, run in a page or worker, that tries every way to
 * send something to `target` (fetch, XMLHttpRequest, WebSocket, and
 * sendBeacon and an image where they exist) and resolves to
 * {outcomes: {how: 'blocked: …' | 'SENT'}, violations: [{directive, blocked}]}.
 */
export const LEAK_PROBE = `async (target) => {
  const violations = [];
  const seen = (e) => violations.push({ directive: e.effectiveDirective, blocked: e.blockedURI });
  self.addEventListener('securitypolicyviolation', seen);
  const outcomes = {};
  const attempt = async (how, run) => {
    try {
      const r = await run();
      outcomes[how] = typeof r === 'string' ? r : r ? 'SENT' : 'blocked: refused';
    } catch (e) {
      outcomes[how] = 'blocked: ' + (e && e.name ? e.name + ': ' + e.message : String(e));
    }
  };
  await attempt('fetch', async () => { await fetch(target + '/fetch?secret=1', { method: 'POST', body: 'secret', mode: 'no-cors' }); return true; });
  await attempt('XMLHttpRequest', () => new Promise((resolve, reject) => {
    const x = new XMLHttpRequest();
    x.open('POST', target + '/xhr');
    x.onload = () => resolve(true);
    x.onerror = () => reject(new Error('error event, status ' + x.status));
    x.send('secret');
  }));
  await attempt('WebSocket', () => new Promise((resolve, reject) => {
    const ws = new WebSocket(target.replace(/^http/, 'ws') + '/ws');
    ws.onopen = () => resolve(true);
    ws.onerror = () => reject(new Error('error event'));
  }));
  if (typeof navigator.sendBeacon === 'function') {
    await attempt('sendBeacon', async () => navigator.sendBeacon(target + '/beacon', 'secret') ? 'queued (sendBeacon does not say more)' : false);
  }
  if (typeof Image === 'function') {
    await attempt('image', () => new Promise((resolve, reject) => {
      const img = new Image();
      img.onload = () => resolve(true);
      img.onerror = () => reject(new Error('error event'));
      img.src = target + '/image.png';
    }));
  }
  await new Promise((r) => setTimeout(r, 300)); // violation events are queued
  self.removeEventListener('securitypolicyviolation', seen);
  return { outcomes, violations };
}`;
