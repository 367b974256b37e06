// End-to-end tests of the page in the system Chromium (see harness.mjs).
// Fixture images come from $SALVAGE_FIXTURES (default tests/fixtures/out),
// built by tests/fixtures/make.sh; tests whose fixture is missing are skipped.
//
// Names that aren't valid UTF-8 are shown in the core's lossless escaped
// form (`caf\xe9.txt`); the saved file gets U+FFFD in their place.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ROOT, FIXTURES, fixture, missingFixture, sha256, startServer, launchBrowser, openApp, pickImage,
  statusText, openVolume, enter, up, entryNames, download, screenshot, chromiumRssBytes,
} from './harness.mjs';

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const MiB = 1024 * 1024;

test('gpt.img: volumes, browse ext4, download files byte-equal', { skip: missingFixture('gpt.img', 'tree') || false }, async () => {
  const { context, page, errors } = await openApp(browser, server.origin);
  try {
    await pickImage(page, [fixture('gpt.img')]);
    assert.match(await statusText(page), /^Opened gpt\.img/);

    const rows = page.locator('table.volumes tbody tr');
    assert.equal(await rows.count(), 3);
    assert.deepEqual(await page.locator('table.volumes td.fs').allTextContents(), ['fat32', 'ext4', 'swap']);
    assert.match(await page.textContent('#summary'), /GPT/);
    console.log('volumes view:', await screenshot(page, 'volumes.png'));

    await openVolume(page, 'ext4');
    const root = await entryNames(page);
    for (const n of ['etc', 'home', 'var']) assert.ok(root.includes(n), `root lists ${n}: ${root}`);

    await enter(page, 'etc');
    assert.ok((await entryNames(page)).includes('hostname'));
    const hostname = await download(page, 'hostname');
    assert.equal(hostname.suggested, 'hostname');
    assert.deepEqual(hostname.bytes, readFileSync(join(FIXTURES, 'tree/etc/hostname')));
    assert.equal(hostname.bytes.toString(), 'salvage-test\n');
    await up(page);

    await enter(page, 'var');
    await enter(page, 'lib');
    await enter(page, 'mysql');
    assert.match(await page.textContent('.breadcrumb'), /var.*lib.*mysql/s);
    const ibdata = await download(page, 'ibdata1');
    assert.equal(ibdata.bytes.length, 3 * MiB);
    assert.equal(sha256(ibdata.bytes), sha256(readFileSync(join(FIXTURES, 'tree/var/lib/mysql/ibdata1'))));

    await up(page); await up(page); await up(page);
    await enter(page, 'home');
    await enter(page, 'alice');
    await page.getByRole('button', { name: 'Up to the parent folder' }).focus();
    console.log('directory view:', await screenshot(page, 'directory.png'));
    await enter(page, '.ssh');
    assert.ok((await entryNames(page)).includes('authorized_keys'));
    assert.match(await page.textContent('table.entries'), /-rw-------/);
    await up(page); await up(page); await up(page);

    // Permission strings with the special bits, and a symlink's target.
    await enter(page, 'modes');
    const modeOf = (name) => page.locator('table.entries tr.entry').filter({ has: page.locator('td.name > :first-child', { hasText: new RegExp(`^${name}$`) }) }).locator('td.mode').textContent();
    assert.equal(await modeOf('setuid'), '-rwsr-xr-x');
    assert.equal(await modeOf('sticky-dir'), 'drwxrwxrwt');
    assert.equal(await modeOf('private'), '-rw-------');
    await up(page);
    await enter(page, 'bin');
    assert.match(await page.textContent('table.entries tr.entry.symlink'), /sh-link → \/usr\/bin\/dash/);

    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('gpt.img: a name that is not UTF-8 shows escaped and downloads byte-equal', { skip: missingFixture('gpt.img', 'tree') || false }, async () => {
  const { context, page, errors } = await openApp(browser, server.origin, { colorScheme: 'dark' });
  try {
    await pickImage(page, [fixture('gpt.img')]);
    await openVolume(page, 'ext4');
    const names = await entryNames(page);
    assert.ok(names.includes('caf\\xe9.txt'), `root lists caf\\xe9.txt: ${names}`);
    console.log('dark directory view:', await screenshot(page, 'directory-dark.png'));
    const got = await download(page, 'caf\\xe9.txt');
    assert.equal(got.suggested, 'caf\uFFFD.txt');
    const onDisk = readFileSync(Buffer.concat([Buffer.from(join(FIXTURES, 'tree/caf')), Buffer.from([0xe9]), Buffer.from('.txt')]));
    assert.deepEqual(got.bytes, onDisk);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('gpt.img: files of edge sizes (0, 1, 4095, 4096, 4097 bytes) download byte-equal', { skip: missingFixture('gpt.img', 'tree') || false }, async () => {
  const { context, page, errors } = await openApp(browser, server.origin);
  try {
    await pickImage(page, [fixture('gpt.img')]);
    await openVolume(page, 'ext4');
    await enter(page, 'sizes');
    for (const n of ['0', '1', '4095', '4096', '4097']) {
      const got = await download(page, n);
      assert.equal(got.bytes.length, Number(n));
      assert.deepEqual(got.bytes, readFileSync(join(FIXTURES, 'tree/sizes', n)), `sizes/${n}`);
    }
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('sparse-8g.img: opens lazily with little memory and few reads', { skip: missingFixture('sparse-8g.img') || false }, async () => {
  const { context, page, errors } = await openApp(browser, server.origin);
  try {
    const rssBefore = chromiumRssBytes();
    assert.ok(rssBefore.processes > 0, 'found the Chromium processes');

    await pickImage(page, [fixture('sparse-8g.img')]);
    assert.match(await page.textContent('#summary'), /8\.00 GiB/);
    const rssOpened = chromiumRssBytes();
    console.log(`after opening: chromium RSS ${(rssOpened.bytes / MiB).toFixed(0)} MiB; io_stats`,
      JSON.stringify(await page.evaluate(() => window.salvageDebug.stats())));
    await openVolume(page, 'ext4');
    const root = await entryNames(page);
    assert.ok(root.includes('hello.txt') && root.includes('data'), `root: ${root}`);
    await enter(page, 'data');
    assert.ok((await entryNames(page)).length >= 1);
    const rssAfter = chromiumRssBytes();
    await up(page);
    const hello = await download(page, 'hello.txt');
    assert.equal(hello.bytes.toString(), 'hello from 8 GiB\n');

    const stats = await page.evaluate(() => window.salvageDebug.stats());
    const growth = rssAfter.bytes - rssBefore.bytes;
    console.log(`chromium RSS: before ${(rssBefore.bytes / MiB).toFixed(0)} MiB (${rssBefore.processes} processes), ` +
      `after listing ${(rssAfter.bytes / MiB).toFixed(0)} MiB (${rssAfter.processes} processes), growth ${(growth / MiB).toFixed(0)} MiB`);
    console.log('io_stats:', JSON.stringify(stats));
    assert.ok(growth < 400 * MiB, `memory grew by ${(growth / MiB).toFixed(0)} MiB`);
    assert.ok(stats.source_reads < 200, `source_reads = ${stats.source_reads}`);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('the page makes no requests beyond its own origin', { skip: missingFixture('gpt.img') || false }, async () => {
  const { context, page, requests } = await openApp(browser, server.origin);
  try {
    await pickImage(page, [fixture('gpt.img')]);
    // Browse and download too when this build of the core can read ext4
    // (the gpt.img test fails on its own if it can't).
    if (await page.locator('table.volumes button.open').count() > 0) {
      await openVolume(page, 'ext4');
      await enter(page, 'etc');
      await download(page, 'hostname');
    }
    // The sample disk, if built, is a module of the page too.
    if (await page.isVisible('#sample-button')) {
      await page.click('#sample-button');
      await page.waitForFunction(() => /^Opened sample\.img/.test(document.getElementById('status').textContent));
      console.log('sample disk:', await statusText(page));
    }
    const own = (u) => u.startsWith(`${server.origin}/`) || u.startsWith(`blob:${server.origin}/`) || u.startsWith('data:');
    const foreign = requests.filter((u) => !own(u));
    console.log(`${requests.length} requests, all to ${server.origin}`);
    assert.ok(requests.some((u) => u.endsWith('/worker.js')), 'worker.js was requested');
    assert.deepEqual(foreign, []);
  } finally {
    await context.close();
  }
});

test('a file that is not a disk image gives a sentence, not a crash', async () => {
  const { context, page, errors } = await openApp(browser, server.origin);
  try {
    await pickImage(page, [join(ROOT, 'package.json')]);
    const text = await statusText(page);
    console.log('status for package.json:', text);
    assert.ok(text.length > 10 && /[.!]$/.test(text), `a sentence: ${text}`);
    const failed = await page.getAttribute('#status', 'class');
    if (!failed.includes('error')) assert.match(text, /no partitions or file systems/i);
    assert.deepEqual(errors, []);
    // An empty file: the core refuses it; the page shows its sentence.
    await page.evaluate(() => { document.getElementById('status').className = 'status'; });
    const emptyDir = mkdtempSync(join(tmpdir(), 'salvage-e2e-'));
    const empty = join(emptyDir, 'empty.img');
    writeFileSync(empty, '');
    await pickImage(page, [empty]);
    rmSync(emptyDir, { recursive: true, force: true });
    const refused = await statusText(page);
    console.log('status for an empty file:', refused);
    assert.match(await page.getAttribute('#status', 'class'), /error/);
    assert.match(refused, /^Couldn't open empty\.img: .+\.$/);

    // Dropping a file anywhere on the page opens it too.
    await page.evaluate(() => {
      document.getElementById('status').className = 'status';
      const dt = new DataTransfer();
      dt.items.add(new File([new Uint8Array(1000).fill(0x41)], 'dropped.bin'));
      for (const type of ['dragenter', 'dragover', 'drop']) {
        document.querySelector('main').dispatchEvent(new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true }));
      }
    });
    await page.waitForFunction(() => /dropped\.bin/.test(document.getElementById('status').textContent) &&
      !document.body.hasAttribute('aria-busy'));
    console.log('status for a dropped non-image:', await statusText(page));
    assert.equal(await page.isHidden('#drop-overlay'), true);
    // Still usable afterwards.
    if (!missingFixture('gpt.img')) {
      await pickImage(page, [fixture('gpt.img')]);
      assert.match(await statusText(page), /^Opened gpt\.img/);
    }
  } finally {
    await context.close();
  }
});

test('split raw pieces picked together open as one disk', { skip: missingFixture('split.000', 'split.001', 'split.002') || false }, async () => {
  const { context, page, errors } = await openApp(browser, server.origin);
  try {
    // Picked out of order on purpose: the page sorts pieces by name.
    await pickImage(page, ['split.002', 'split.000', 'split.001'].map(fixture));
    assert.match(await statusText(page), /^Opened split\.000, split\.001, split\.002/);
    const summary = await page.textContent('#summary');
    assert.match(summary, /split raw/);
    assert.match(summary, /64\.0 MiB/);
    assert.deepEqual(await page.locator('table.volumes td.fs').allTextContents(), ['fat32', 'ext4', 'swap']);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('serve.py sends the CSP and safe headers on every response', async () => {
  const html = await (await fetch(`${server.origin}/`)).text();
  const meta = /http-equiv="Content-Security-Policy" content="([^"]+)"/.exec(html)[1];
  for (const [path, type] of [['/', 'text/html'], ['/worker.js', 'text/javascript'], ['/protocol.js', 'text/javascript'],
    ['/style.css', 'text/css'], ['/no-such-file.js', null]]) {
    const res = await fetch(`${server.origin}${path}`);
    assert.equal(res.headers.get('content-security-policy'), meta, `CSP on ${path}`);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(res.headers.get('cache-control'), 'no-store');
    if (type) assert.match(res.headers.get('content-type'), new RegExp(`^${type}`), path);
    else assert.equal(res.status, 404);
    await res.arrayBuffer();
  }
});

test('the page can be used from the keyboard', async () => {
  const { context, page } = await openApp(browser, server.origin);
  try {
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'open-button');
    if (!missingFixture('gpt.img')) {
      await pickImage(page, [fixture('gpt.img')]);
      // Every action in the volumes table is a real button.
      const buttons = await page.locator('table.volumes button').count();
      assert.equal(buttons, await page.locator('table.volumes tr.supported').count());
    }
  } finally {
    await context.close();
  }
});

// A 40 MiB file needs its own image (it spans several export steps);
// built here with mke2fs -d (skipped without it). The 401 MiB file over the
// old 400 MiB limit is in export.test.mjs, which has OPFS.
function bigFilesImage() {
  try {
    execFileSync('mke2fs', ['-V'], { stdio: 'ignore' });
  } catch {
    return null;
  }
  const dir = mkdtempSync(join(tmpdir(), 'salvage-e2e-big-'));
  mkdirSync(join(dir, 'tree'));
  writeFileSync(join(dir, 'tree', 'forty.bin'), randomBytes(40 * MiB));
  const img = join(dir, 'big.img');
  execFileSync('mke2fs', ['-q', '-F', '-t', 'ext4', '-L', 'big', '-d', join(dir, 'tree'), img, '64M'], { stdio: 'ignore' });
  return { dir, img, forty: join(dir, 'tree', 'forty.bin') };
}

test('a 40 MiB file downloads in steps with progress', async (t) => {
  const big = bigFilesImage();
  if (!big) return t.skip('mke2fs is not installed');
  const { context, page, errors } = await openApp(browser, server.origin);
  try {
    await pickImage(page, [big.img]);
    await openVolume(page, 'ext4');
    const seen = [];
    await page.exposeFunction('__statusSeen', (text) => seen.push(text));
    await page.evaluate(() => new MutationObserver(() => window.__statusSeen(document.getElementById('status').textContent))
      .observe(document.getElementById('status'), { childList: true, characterData: true, subtree: true }));
    const got = await download(page, 'forty.bin');
    assert.equal(sha256(got.bytes), sha256(readFileSync(big.forty)));
    const progress = seen.filter((x) => /^Reading forty\.bin: .* of 40\.0 MiB \(\d+%\)$/.test(x));
    console.log('progress lines:', progress.join(' | '));
    assert.ok(progress.length >= 2, 'progress shown while reading');
    assert.match(await page.textContent('#job'), /Saved forty\.bin \(40\.0 MiB\)\./);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
    rmSync(big.dir, { recursive: true, force: true });
  }
});
