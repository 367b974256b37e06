// dist/salvage.html (scripts/build-single.mjs) opened from file://, as after
// a download and a double-click: no server. It opens an image, browses,
// reads a file, exports a zip through the save dialog (file:// has no
// OPFS; the dialog is a stand-in, see harness.mjs FAKE_HANDLE_PICKER), opens
// the sample disk when built in, survives an engine crash, and can't make
// network requests from the page, its worker or a worker inside it.
// Skipped when dist/salvage.html isn't built (make build).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  FIXTURES, fixture, missingFixture, sha256, pickImage, openVolume, enter, up, select, jobOutcome, checkZip, exportSelected,
  statusText, screenshot, launchPage, startCanary, SINGLE_FILE, TEST_HOOKS, FAKE_HANDLE_PICKER, LEAK_PROBE,
} from './harness.mjs';

const URL_OF_PAGE = pathToFileURL(SINGLE_FILE).href;
const notBuilt = existsSync(SINGLE_FILE) ? false : `${SINGLE_FILE} is not built (make build)`;

let canary;
before(async () => { canary = await startCanary(); });
after(async () => { await canary?.stop(); });

/** Files the stand-in save dialog received, as Buffers by name (latest last). */
async function savedFiles(page) {
  const saved = await page.evaluate(() => window.salvageTestHooks.saved());
  return saved.map((f) => ({ name: f.name, bytes: Buffer.from(f.base64, 'base64') }));
}

test('single file: its policy allows inline code by hash only and no connection', { skip: notBuilt }, () => {
  const html = readFileSync(SINGLE_FILE, 'utf8');
  const csp = /http-equiv="Content-Security-Policy" content="([^"]+)"/.exec(html)[1];
  console.log(`dist/salvage.html: ${html.length.toLocaleString('en-US')} bytes; policy: ${csp.replace(/'sha256-[^']+'/g, "'sha256-…'")}`);
  assert.match(csp, /(^|; )connect-src 'none'(;|$)/);
  assert.match(csp, /(^|; )default-src 'none'(;|$)/);
  assert.match(csp, /(^|; )script-src 'sha256-[A-Za-z0-9+/=]+' 'wasm-unsafe-eval'(;|$)/);
  assert.match(csp, /(^|; )worker-src blob:(;|$)/);
  assert.doesNotMatch(csp, /unsafe-inline|'self'|\*/);
  assert.doesNotMatch(html, /<script[^>]+src=|<link[^>]+stylesheet/, 'nothing is loaded from beside the file');
});

test('single file from file://: open, browse, read, export through the save dialog, sample disk', { skip: notBuilt || missingFixture('gpt.img', 'tree') || false }, async () => {
  const app = await launchPage(URL_OF_PAGE, { initScripts: [TEST_HOOKS, FAKE_HANDLE_PICKER] });
  const { page, requests, errors } = app;
  const out = mkdtempSync(join(tmpdir(), 'salvage-e2e-single-'));
  try {
    assert.equal(await page.getByText('Nothing leaves this computer: this page cannot make network requests.').count(), 1);
    assert.match(await page.textContent('#version'), /^v\d/);
    await pickImage(page, [fixture('gpt.img')]);
    assert.match(await statusText(page), /^Opened gpt\.img/);
    await openVolume(page, 'ext4');
    await enter(page, 'etc');

    // Reading a file: its first bytes through the worker's read (the
    // preview's path), and the whole file saved.
    const head = await page.evaluate(async () =>
      Array.from(await window.salvageTestHooks.ask('read', { volume: 2, path: '/etc/hostname', offset: 0, length: 8 })));
    assert.equal(Buffer.from(head).toString(), 'salvage-');
    await page.getByRole('button', { name: 'Download hostname' }).click();
    await page.waitForFunction(() => /^Saved hostname/.test(document.getElementById('status').textContent), null, { timeout: 30_000 });
    const [hostname] = await savedFiles(page);
    assert.equal(hostname.bytes.toString(), 'salvage-test\n');

    // Export: no OPFS on file://, so "Download selected" asks for a file.
    await up(page);
    for (const name of ['etc', 'home', 'modes']) await select(page, name);
    await page.getByRole('button', { name: 'Download selected' }).click();
    const outcome = await jobOutcome(page);
    console.log('export:', outcome);
    assert.match(outcome, /^Saved 3 items to picked-by-user\.zip .*Everything selected was saved intact/);
    const zipFile = (await savedFiles(page)).pop();
    assert.equal(zipFile.name, 'picked-by-user.zip');
    const zipPath = join(out, 'export.zip');
    writeFileSync(zipPath, zipFile.bytes);
    const zip = checkZip(zipPath);
    assert.equal(zip.bad, null, 'every CRC checks');
    const byName = new Map(zip.entries.map((e) => [e.name, e]));
    for (const f of ['etc/hostname', 'etc/passwd', 'home/alice/.ssh/authorized_keys', 'modes/setuid']) {
      assert.equal(byName.get(f)?.sha256, sha256(readFileSync(join(FIXTURES, 'tree', f))), f);
    }
    assert.equal(byName.get('modes/setuid').mode, 0o4755);
    assert.ok(zip.report && byName.has('manifest.csv'));
    console.log('single file:', await screenshot(page, 'single-file.png'));

    if (await page.isVisible('#sample-button')) {
      await page.click('#sample-button');
      await page.waitForFunction(() => /^Opened sample\.img/.test(document.getElementById('status').textContent), null, { timeout: 30_000 });
      console.log('sample disk:', await statusText(page));
    } else {
      console.log('sample disk: not built into this file');
    }

    const own = (u) => u === URL_OF_PAGE || u.startsWith('blob:null/') || u.startsWith('data:');
    assert.deepEqual(requests.filter((u) => !own(u)), [], 'nothing but the file itself and its blob: workers');
    assert.deepEqual(await page.evaluate(() => window.__violations), []);
    assert.deepEqual(errors, []);
  } finally {
    await app.close();
    rmSync(out, { recursive: true, force: true });
  }
});

test('single file from file://: without a save dialog, an export is kept in memory and downloaded', { skip: notBuilt || missingFixture('gpt.img', 'tree') || false }, async () => {
  const noPicker = 'delete Window.prototype.showSaveFilePicker; delete window.showSaveFilePicker;';
  const app = await launchPage(URL_OF_PAGE, { initScripts: [noPicker] });
  const { page, errors } = app;
  try {
    assert.equal(await page.evaluate(() => typeof window.showSaveFilePicker), 'undefined');
    await pickImage(page, [fixture('gpt.img')]);
    await openVolume(page, 'ext4');
    await select(page, 'etc');
    const dl = await exportSelected(page);
    console.log('export:', await jobOutcome(page));
    assert.equal(dl.suggestedFilename(), 'etc.zip');
    const zip = checkZip(await dl.path());
    assert.equal(zip.bad, null);
    assert.equal(zip.entries.find((e) => e.name === 'etc/hostname')?.sha256, sha256(readFileSync(join(FIXTURES, 'tree/etc/hostname'))));
    assert.deepEqual(errors, []);
  } finally {
    await app.close();
  }
});

test('single file from file://: the engine restarts after a panic and reopens the image', { skip: notBuilt || missingFixture('gpt.img') || false }, async () => {
  const app = await launchPage(URL_OF_PAGE, { initScripts: [TEST_HOOKS] });
  const { page } = app;
  try {
    await pickImage(page, [fixture('gpt.img')]);
    await openVolume(page, 'ext4');
    await page.evaluate(() => window.salvageTestHooks.crash('panic', { on: 'session_list' }));
    await page.locator('table.entries td.name > button', { hasText: /^etc$/ }).click();
    await page.waitForFunction(() => /was opened again/.test(document.getElementById('status').textContent), null, { timeout: 30_000 });
    const told = await statusText(page);
    console.log('after the panic:', told);
    assert.match(told, /^The engine stopped \(a bug: .+\)\. It was restarted and gpt\.img was opened again; try again\.$/);
    await enter(page, 'etc');
    assert.ok((await page.locator('table.entries').textContent()).includes('hostname'));
  } finally {
    await app.close();
  }
});

test('single file from file://: fetch, XMLHttpRequest, WebSocket and sendBeacon are blocked in the page and its workers', { skip: notBuilt }, async () => {
  const app = await launchPage(URL_OF_PAGE, { initScripts: [TEST_HOOKS] });
  const { page } = app;
  const target = JSON.stringify(canary.origin);
  try {
    const check = (where, { outcomes, violations }) => {
      console.log(`${where}:`, JSON.stringify(outcomes));
      for (const how of ['fetch', 'XMLHttpRequest', 'WebSocket']) assert.match(outcomes[how], /^blocked: /, `${where}: ${how}`);
      if (outcomes.sendBeacon) assert.notEqual(outcomes.sendBeacon, 'SENT');
      assert.ok(violations.filter((v) => v.directive === 'connect-src').length >= 3, `${where}: ${JSON.stringify(violations)}`);
    };
    check('page', await page.evaluate(`(${LEAK_PROBE})(${target})`));
    // fetch() of the page's own file is a connection too.
    assert.match(await page.evaluate(() => fetch(location.href).then(() => 'read', (e) => `blocked: ${e.message}`)), /^blocked/);
    const worker = page.workers()[0];
    check('worker', await worker.evaluate(`(${LEAK_PROBE})(${target})`));
    // A worker started inside the worker, from a blob: as the single file
    // starts opfs-writer.js.
    const nested = page.waitForEvent('worker', { timeout: 10_000 });
    await worker.evaluate(`self.__nested = new Worker(URL.createObjectURL(new Blob(['1'], { type: 'text/javascript' }))); true`);
    check('nested worker', await (await nested).evaluate(`(${LEAK_PROBE})(${target})`));
    assert.deepEqual(canary.hits, [], 'the canary server heard nothing');
  } finally {
    await app.close();
  }
});
