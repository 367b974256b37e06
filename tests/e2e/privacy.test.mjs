// "Private by construction": the page, its worker and the workers that
// worker starts can't make network requests. While an image is opened,
// browsed, previewed and exported, Chromium requests nothing but the
// page's own files; fetch, XMLHttpRequest, WebSocket, sendBeacon and an
// image load aimed at a local "canary" server from the page, the worker
// and a nested worker are blocked by the Content-Security-Policy (each
// raises a securitypolicyviolation) and the canary hears nothing. The
// same holds when a static host sends no headers at all. See harness.mjs
// for how to run.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { extname, join, normalize } from 'node:path';
import {
  ROOT, FIXTURES, fixture, missingFixture, startServer, pickImage, openVolume, enter, up, select, jobOutcome,
  exportSelected, checkZip, sha256, statusText, launchPage, startCanary, TEST_HOOKS, LEAK_PROBE,
} from './harness.mjs';

let served;     // scripts/serve.py: the CSP header on every file
let bare;       // a static host that sends no CSP header
let canary;

// The page's files with a Content-Type and nothing else, as a plain
// static host would serve them.
function startBareServer(dir = join(ROOT, 'www')) {
  const types = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css' };
  const server = createServer((req, res) => {
    const path = normalize(join(dir, decodeURIComponent(new URL(req.url, 'http://x').pathname)));
    const file = path.endsWith('/') ? join(path, 'index.html') : path;
    if (!file.startsWith(dir) || !existsSync(file) || !statSync(file).isFile()) {
      res.statusCode = 404;
      res.end();
      return;
    }
    res.setHeader('Content-Type', types[extname(file)] || 'application/octet-stream');
    res.end(readFileSync(file));
  });
  return new Promise((done) => server.listen(0, '127.0.0.1', () => done({
    origin: `http://127.0.0.1:${server.address().port}`,
    stop: () => new Promise((ok) => { server.closeAllConnections(); server.close(() => ok()); }),
  })));
}

before(async () => {
  served = await startServer();
  bare = await startBareServer();
  canary = await startCanary();
});

after(async () => {
  await served?.stop();
  await bare?.stop();
  await canary?.stop();
});

const ownRequest = (origin) => (u) => u.startsWith(`${origin}/`) || u.startsWith(`blob:${origin}/`) || u.startsWith('data:');

/** The first bytes of a file through the worker's read (the preview's path). */
async function previewBytes(page, volume, path, length) {
  return page.evaluate(async ([v, p, n]) =>
    Array.from(await window.salvageTestHooks.ask('read', { volume: v, path: p, offset: 0, length: n })), [volume, path, length]);
}

/** The engine's worker (the page's only top-level worker). */
async function engineWorker(page) {
  for (let i = 0; i < 50 && page.workers().length === 0; i++) await page.waitForTimeout(100);
  const workers = page.workers();
  assert.ok(workers.length >= 1, 'the engine worker is visible to the test');
  return workers[0];
}

function assertBlocked(where, { outcomes, violations }) {
  console.log(`${where}:`, JSON.stringify(outcomes));
  for (const how of ['fetch', 'XMLHttpRequest', 'WebSocket']) {
    assert.match(outcomes[how] || 'not tried', /^blocked: /, `${where}: ${how} is blocked`);
  }
  if ('sendBeacon' in outcomes) assert.doesNotMatch(outcomes.sendBeacon, /^SENT$/, `${where}: sendBeacon`);
  if ('image' in outcomes) assert.match(outcomes.image, /^blocked: /, `${where}: an image from elsewhere`);
  const connects = violations.filter((v) => v.directive === 'connect-src');
  assert.ok(connects.length >= 3, `${where}: connect-src violations reported: ${JSON.stringify(violations)}`);
  assert.deepEqual(canary.hits, [], `${where}: the canary server heard nothing`);
}

async function probePageAndWorkers(page, origin) {
  const target = canary.origin;
  assertBlocked('page', await page.evaluate(`(${LEAK_PROBE})(${JSON.stringify(target)})`));
  const worker = await engineWorker(page);
  assertBlocked('worker', await worker.evaluate(`(${LEAK_PROBE})(${JSON.stringify(target)})`));
  // A worker started inside the worker the way sink.js starts opfs-writer.js.
  const nested = page.waitForEvent('worker', { timeout: 10_000 });
  await worker.evaluate(`self.__nested = new Worker(new URL('/opfs-writer.js', ${JSON.stringify(origin)}), { type: 'module' }); true`);
  const inner = await nested;
  console.log('nested worker:', inner.url());
  assertBlocked('nested worker', await inner.evaluate(`(${LEAK_PROBE})(${JSON.stringify(target)})`));
}

test('privacy: opening, browsing, previewing and exporting request only the page\'s own files', { skip: missingFixture('gpt.img', 'tree') || false }, async () => {
  const app = await launchPage(`${served.origin}/`, { persistent: true, initScripts: [TEST_HOOKS] });
  const { page, requests, errors } = app;
  try {
    assert.equal(await page.getByText('Nothing leaves this computer: this page cannot make network requests.').count(), 1);
    await pickImage(page, [fixture('gpt.img')]);
    assert.match(await statusText(page), /^Opened gpt\.img/);
    await openVolume(page, 'ext4');
    await enter(page, 'etc');
    const head = await previewBytes(page, 2, '/etc/hostname', 8);
    assert.equal(Buffer.from(head).toString(), 'salvage-');
    await up(page);
    await select(page, 'etc');
    await select(page, 'home');
    const dl = await exportSelected(page);
    console.log('export:', await jobOutcome(page));
    const zip = checkZip(await dl.path());
    assert.equal(zip.bad, null);
    const hostname = zip.entries.find((e) => e.name === 'etc/hostname');
    assert.equal(hostname.sha256, sha256(readFileSync(join(FIXTURES, 'tree/etc/hostname'))));
    if (await page.isVisible('#sample-button')) {
      await page.click('#sample-button');
      await page.waitForFunction(() => /^Opened sample\.img/.test(document.getElementById('status').textContent));
    }
    const foreign = requests.filter((u) => !ownRequest(served.origin)(u));
    console.log(`${requests.length} requests, ${foreign.length} elsewhere`);
    assert.deepEqual(foreign, []);
    assert.deepEqual(await page.evaluate(() => window.__violations), [], 'the page itself never tried to connect');
    assert.deepEqual(errors, []);
    assert.deepEqual(canary.hits, []);
  } finally {
    await app.close();
  }
});

for (const [name, server] of [['serve.py', () => served], ['a host that sends no CSP header', () => bare]]) {
  test(`privacy (${name}): fetch, XMLHttpRequest, WebSocket and sendBeacon are blocked in the page, its worker and a nested worker`, async () => {
    const { origin } = server();
    const app = await launchPage(`${origin}/`, { initScripts: [TEST_HOOKS] });
    try {
      if (name !== 'serve.py') {
        const res = await fetch(`${origin}/worker.js`);
        assert.equal(res.headers.get('content-security-policy'), null, 'this host sends no policy');
        await res.arrayBuffer();
      }
      await probePageAndWorkers(app.page, origin);
      // The engine still works after all that.
      if (!missingFixture('gpt.img')) {
        await pickImage(app.page, [fixture('gpt.img')]);
        assert.match(await statusText(app.page), /^Opened gpt\.img/);
      }
    } finally {
      await app.close();
    }
  });
}
