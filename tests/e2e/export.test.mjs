// Browser tests of "Download selected": the zip export streamed to OPFS (or
// to a file from the save dialog), its contents checked against the native
// CLI and the fixture tree, cancel, and a > 5 GiB export with the browser's
// memory measured. Each test has its own persistent Chromium profile (OPFS
// needs one). See harness.mjs for how to run.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statfsSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  FIXTURES, fixture, missingFixture, sha256, startServer, pickImage, openVolume, enter, statusText,
  openPersistentApp, opfsNames, select, jobOutcome, exportSelected, checkZip, salvageCli, sampleRss, chromiumRssBytes,
} from './harness.mjs';

let server;

before(async () => { server = await startServer(); });
after(async () => { await server?.stop(); });

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const exportFiles = (names) => names.filter((n) => n.startsWith('salvage-export-'));

function hasMke2fs() {
  try {
    execFileSync('mke2fs', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

// The bytes of `path` on volume 2 of gpt.img as `salvage cat` gives them,
// or as the fixture tree holds them when no CLI is built.
function sourceBytes(cli, path) {
  if (cli) return execFileSync(cli, ['cat', fixture('gpt.img'), '--volume', '2', path], { maxBuffer: 64 << 20 });
  return readFileSync(join(FIXTURES, 'tree', path));
}

test('export: folders of gpt.img as one zip with bytes, modes, owners, symlinks and the report', { skip: missingFixture('gpt.img', 'tree') || false }, async () => {
  const app = await openPersistentApp(server.origin);
  const { page, errors } = app;
  try {
    await pickImage(page, [fixture('gpt.img')]);
    await openVolume(page, 'ext4');
    for (const name of ['etc', 'home', 'bin', 'modes', 'empty-dir', 'var']) await select(page, name);
    // Ticks survive moving between folders; a file inside a ticked folder
    // is in the zip once.
    await enter(page, 'var');
    await enter(page, 'www');
    await enter(page, 'html');
    await select(page, 'index.html');
    assert.match(await page.textContent('.selection-bar .count'), /^7 selected: 6 folders, 1 file \(62 B\)$/);

    const dl = await exportSelected(page);
    const outcome = await jobOutcome(page);
    console.log('outcome:', outcome);
    assert.match(dl.suggestedFilename(), /^root-6-items\.zip$/);
    assert.match(outcome, /^Saved root-6-items\.zip .* Everything selected was saved intact; SALVAGE-REPORT\.txt and manifest\.csv inside the zip/);

    const zip = checkZip(await dl.path());
    assert.equal(zip.bad, null, 'every CRC checks');
    const byName = new Map(zip.entries.map((e) => [e.name, e]));
    console.log(`${zip.entries.length} entries:`, [...byName.keys()].join(' '));

    // Paths are relative to the selection's common folder (/): var/www stays var/www.
    const cli = salvageCli();
    console.log(cli ? `comparing with ${cli} cat` : 'no CLI built: comparing with the fixture tree');
    const files = ['etc/hostname', 'etc/passwd', 'etc/group', 'home/alice/.ssh/authorized_keys', 'var/www/html/index.html',
      'modes/setuid', 'modes/private'];
    for (const f of files) {
      const e = byName.get(f);
      assert.ok(e, `${f} is in the zip`);
      assert.equal(e.kind, 'file', f);
      assert.equal(e.sha256, sha256(sourceBytes(cli, `/${f}`)), `${f} bytes`);
      const st = lstatSync(join(FIXTURES, 'tree', f));
      assert.equal(e.mode, st.mode & 0o7777, `${f} mode`);
      assert.deepEqual(e.owner, [st.uid, st.gid], `${f} owner`);
    }
    assert.equal(byName.get('modes/setuid').mode, 0o4755);
    assert.equal(byName.get('modes/sticky-dir/').mode, 0o1777);
    assert.deepEqual(byName.get('home/alice/.ssh/authorized_keys').owner, [1001, 1002]);
    const link = byName.get('bin/sh-link');
    assert.equal(link.kind, 'symlink');
    assert.equal(link.target, readlinkSync(join(FIXTURES, 'tree/bin/sh-link')));
    assert.equal(byName.get('empty-dir/').kind, 'dir', 'empty folders are kept');
    assert.ok(!byName.has('sizes/4096'), 'unselected folders stay out');

    assert.ok(zip.report, 'SALVAGE-REPORT.txt is at the root');
    assert.match(zip.report, /gpt\.img/);
    assert.match(zip.report, /Selected: +\/bin, \/empty-dir, \/etc, \/home, \/modes, \/var\r?\n/);
    assert.ok(byName.has('manifest.csv'));
    // The manifest's sha256 column (hashed in the hashing worker, or by
    // WebCrypto) equals the hash of the bytes in the zip, for every file.
    const manifest = execFileSync('python3', ['-c', 'import sys, zipfile; sys.stdout.write(zipfile.ZipFile(sys.argv[1]).read("manifest.csv").decode())', await dl.path()], { encoding: 'utf8' });
    let hashed = 0;
    for (const line of manifest.split(/\r?\n/).slice(1)) {
      const cols = line.split(',');
      if (cols[1] !== 'file' || line.includes('"')) continue;
      assert.equal(cols[9], byName.get(cols[0]).sha256, `manifest sha256 of ${cols[0]}`);
      hashed += 1;
    }
    assert.ok(hashed >= 7, `${hashed} manifest rows checked`);

    // The OPFS copy stays until the next export or start; then it goes.
    assert.equal(exportFiles(await opfsNames(page)).length, 1);
    await page.reload();
    await page.waitForSelector('html[data-ready="true"]');
    await page.waitForFunction(async () => {
      const dir = await navigator.storage.getDirectory();
      for await (const name of dir.keys()) if (name.startsWith('salvage-export-')) return false;
      return true;
    }, null, { timeout: 10_000 });
    assert.deepEqual(errors, []);
  } finally {
    await app.close();
  }
});

// An image with a 40 MiB random file and a sparse 401 MiB one (over the
// old 400 MiB download limit), built with mke2fs -d.
function bigFilesImage() {
  const dir = mkdtempSync(join(tmpdir(), 'salvage-e2e-export-'));
  mkdirSync(join(dir, 'tree/data'), { recursive: true });
  const forty = Buffer.alloc(40 * MiB);
  for (let i = 0; i < forty.length; i += 4) forty.writeUInt32LE((i * 2654435761) >>> 0, i);
  writeFileSync(join(dir, 'tree/data/forty.bin'), forty);
  writeFileSync(join(dir, 'tree/data/huge.bin'), '');
  truncateSync(join(dir, 'tree/data/huge.bin'), 401 * MiB);
  const img = join(dir, 'big.img');
  execFileSync('mke2fs', ['-q', '-F', '-t', 'ext4', '-L', 'big', '-d', join(dir, 'tree'), img, '96M'], { stdio: 'ignore' });
  return { dir, img, forty: sha256(forty) };
}

test('export: cancel stops within a second and leaves no file in OPFS', { skip: hasMke2fs() ? false : 'mke2fs is not installed' }, async () => {
  const big = bigFilesImage();
  const app = await openPersistentApp(server.origin);
  const { page, errors } = app;
  let downloads = 0;
  page.on('download', () => { downloads += 1; });
  try {
    await pickImage(page, [big.img]);
    await openVolume(page, 'ext4');
    await select(page, 'data');
    await page.getByRole('button', { name: 'Download selected' }).click();
    // Wait until bytes are being written, then cancel.
    await page.waitForFunction(() => /MiB of 441 MiB/.test(document.querySelector('#job .job-line')?.textContent || ''), null, { timeout: 30_000 });
    assert.equal(exportFiles(await opfsNames(page)).length, 1, 'the export is being written to OPFS');
    const line = await page.textContent('#job .job-line');
    const t0 = Date.now();
    await page.getByRole('button', { name: 'Cancel' }).click();
    const outcome = await jobOutcome(page);
    const ms = Date.now() - t0;
    console.log(`cancelled at "${line}" after ${ms} ms: ${outcome}`);
    assert.match(outcome, /^Cancelled; nothing was saved\.$/);
    assert.ok(ms < 1000, `cancel took ${ms} ms`);
    assert.deepEqual(exportFiles(await opfsNames(page)), [], 'no partial file left in OPFS');
    assert.equal(downloads, 0);

    // The page is still usable: the single-file download of the sparse
    // 401 MiB file goes through the same streamed path, with progress.
    await enter(page, 'data');
    const seen = [];
    await page.exposeFunction('__statusSeen', (text) => seen.push(text));
    await page.evaluate(() => new MutationObserver(() => window.__statusSeen(document.getElementById('status').textContent))
      .observe(document.getElementById('status'), { childList: true, characterData: true, subtree: true }));
    const [dl] = await Promise.all([
      page.waitForEvent('download', { timeout: 120_000 }),
      page.getByRole('button', { name: 'Download huge.bin' }).click(),
    ]);
    const path = await dl.path();
    assert.equal(dl.suggestedFilename(), 'huge.bin');
    assert.equal(lstatSync(path).size, 401 * MiB);
    const zeros = execFileSync('python3', ['-c', 'import sys\nf=open(sys.argv[1],"rb")\nprint(all(not any(b) for b in iter(lambda: f.read(1<<24), b"")))', path]).toString().trim();
    assert.equal(zeros, 'True', 'huge.bin is all zeros');
    assert.ok(seen.some((x) => /^Reading huge\.bin: .* of 401 MiB \(\d+%\)$/.test(x)), `progress shown: ${seen.slice(0, 3)}`);
    assert.match(await statusText(page), /^Saved huge\.bin \(401 MiB\)\.$/);
    await dl.delete();
    assert.deepEqual(errors, []);
  } finally {
    await app.close();
    rmSync(big.dir, { recursive: true, force: true });
  }
});

test('export: files hashed across chunks get the right sha256 in the manifest', { skip: hasMke2fs() ? false : 'mke2fs is not installed' }, async () => {
  // forty.bin (40 MiB) spans three 16 MiB steps and is hashed by WebCrypto
  // from one gathered buffer; huge.bin (401 MiB, sparse) is over that
  // path's bound and streams through the wasm SHA-256.
  const big = bigFilesImage();
  const app = await openPersistentApp(server.origin);
  const { page, errors } = app;
  try {
    await pickImage(page, [big.img]);
    await openVolume(page, 'ext4');
    await select(page, 'data');
    const dl = await exportSelected(page);
    assert.match(await jobOutcome(page), /Everything selected was saved intact/);
    const manifest = execFileSync('python3', ['-c', 'import sys, zipfile; sys.stdout.write(zipfile.ZipFile(sys.argv[1]).read("manifest.csv").decode())', await dl.path()], { encoding: 'utf8' });
    const sha = new Map(manifest.split(/\r?\n/).slice(1).filter(Boolean).map((line) => { const c = line.split(','); return [c[0], c[9]]; }));
    assert.equal(sha.get('data/forty.bin'), big.forty, 'forty.bin');
    assert.equal(sha.get('data/huge.bin'), sha256(Buffer.alloc(401 * MiB)), 'huge.bin');
    await dl.delete();
    assert.deepEqual(errors, []);
  } finally {
    await app.close();
    rmSync(big.dir, { recursive: true, force: true });
  }
});

// A stand-in for the browser's save dialog: hands out an OPFS file, which
// the worker then writes through createWritable() like a real picked file.
const FAKE_PICKER = `window.showSaveFilePicker = async (options) => {
  window.__pickerOptions = options;
  const dir = await navigator.storage.getDirectory();
  return dir.getFileHandle('picked-by-user.zip', { create: true });
};`;

test('export: "Save to a file…" writes the zip straight to the chosen file', { skip: missingFixture('gpt.img', 'tree') || (hasMke2fs() ? false : 'mke2fs is not installed') }, async () => {
  const app = await openPersistentApp(server.origin, { initScript: FAKE_PICKER });
  const { page, errors } = app;
  let downloads = 0;
  page.on('download', () => { downloads += 1; });
  try {
    await pickImage(page, [fixture('gpt.img')]);
    await openVolume(page, 'ext4');
    await enter(page, 'var');
    await enter(page, 'lib');
    await select(page, 'mysql');
    await page.getByRole('button', { name: 'Save to a file…' }).click();
    const outcome = await jobOutcome(page);
    console.log('outcome:', outcome);
    assert.match(outcome, /^Saved \/var\/lib\/mysql to picked-by-user\.zip /);
    assert.equal((await page.evaluate(() => window.__pickerOptions)).suggestedName, 'mysql.zip');
    const base64 = await page.evaluate(async () => {
      const dir = await navigator.storage.getDirectory();
      const file = await (await dir.getFileHandle('picked-by-user.zip')).getFile();
      const bytes = new Uint8Array(await file.arrayBuffer());
      let text = '';
      for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      return btoa(text);
    });
    const dir = mkdtempSync(join(tmpdir(), 'salvage-e2e-picked-'));
    try {
      writeFileSync(join(dir, 'picked.zip'), Buffer.from(base64, 'base64'));
      const zip = checkZip(join(dir, 'picked.zip'));
      assert.equal(zip.bad, null);
      const ibdata = zip.entries.find((e) => e.name === 'mysql/ibdata1');
      assert.ok(ibdata, `mysql/ibdata1 in ${zip.entries.map((e) => e.name)}`);
      assert.equal(ibdata.sha256, sha256(readFileSync(join(FIXTURES, 'tree/var/lib/mysql/ibdata1'))));
      assert.match(zip.report, /gpt\.img/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    assert.equal(downloads, 0, 'nothing goes through the downloads');
    assert.deepEqual(exportFiles(await opfsNames(page)), [], 'and nothing through OPFS exports');

    // Cancelling a save to a chosen file leaves no half file there.
    const big = bigFilesImage();
    try {
      await pickImage(page, [big.img]);
      await openVolume(page, 'ext4');
      await select(page, 'data');
      await page.getByRole('button', { name: 'Save to a file…' }).click();
      await page.waitForFunction(() => /MiB of 441 MiB/.test(document.querySelector('#job .job-line')?.textContent || ''), null, { timeout: 30_000 });
      await page.getByRole('button', { name: 'Cancel' }).click();
      assert.match(await jobOutcome(page), /^Cancelled/);
      const left = await page.evaluate(async () => {
        const dir = await navigator.storage.getDirectory();
        try {
          return (await (await dir.getFileHandle('picked-by-user.zip')).getFile()).size;
        } catch {
          return null; // removed
        }
      });
      console.log('chosen file after cancel:', left === null ? 'removed' : `${left} bytes`);
      assert.ok(left === null || left === 0, `no half file: ${left}`);
    } finally {
      rmSync(big.dir, { recursive: true, force: true });
    }
    assert.deepEqual(errors, []);
  } finally {
    await app.close();
  }
});

// The largest file under `dir` (the OPFS data in a Chromium profile).
function largestFile(dir) {
  let best = null;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    const path = join(e.parentPath ?? e.path, e.name);
    const size = lstatSync(path).size;
    if (!best || size > best.size) best = { path, size };
  }
  return best;
}

test('export: a 5 GiB sparse file exports with bounded browser memory', { skip: hasMke2fs() ? false : 'mke2fs is not installed' }, async (t) => {
  // The zip (5 GiB) is checked where OPFS keeps it in the profile; the
  // download is cancelled so it isn't copied a second time.
  const fs = statfsSync(tmpdir());
  const free = fs.bavail * fs.bsize;
  if (free < 7 * GiB) return t.skip(`needs 7 GiB free in ${tmpdir()}, has ${(free / GiB).toFixed(1)}`);
  const dir = mkdtempSync(join(tmpdir(), 'salvage-e2e-5g-'));
  const app = await openPersistentApp(server.origin);
  const { page, errors } = app;
  try {
    mkdirSync(join(dir, 'tree/big'), { recursive: true });
    const size = 5 * GiB + 12345;
    writeFileSync(join(dir, 'tree/big/sparse.bin'), '');
    truncateSync(join(dir, 'tree/big/sparse.bin'), size);
    writeFileSync(join(dir, 'tree/big/note.txt'), 'next to 5 GiB of holes\n');
    const img = join(dir, 'sparse.img');
    execFileSync('mke2fs', ['-q', '-F', '-t', 'ext4', '-L', 'five', '-d', join(dir, 'tree'), img, '6G'], { stdio: 'ignore' });
    console.log(`image: ${(lstatSync(img).size / GiB).toFixed(1)} GiB, ${(lstatSync(img).blocks * 512 / MiB).toFixed(1)} MiB on disk`);

    await pickImage(page, [img]);
    await openVolume(page, 'ext4');
    await select(page, 'big');
    const before = chromiumRssBytes().bytes;
    const rss = sampleRss(500);
    const t0 = Date.now();
    let dl;
    let mid;
    let memory;
    try {
      const download = page.waitForEvent('download', { timeout: 1_800_000 });
      await page.getByRole('button', { name: 'Download selected' }).click();
      // Mid-way the panel shows files, bytes, rate, time left and the file.
      await page.waitForFunction(() => /MB\/s · about .+ left$/.test(document.querySelector('#job .job-line')?.textContent || ''),
        null, { timeout: 120_000 });
      mid = [await page.textContent('#job .job-line'), await page.textContent('#job .job-current')];
      dl = await download;
    } finally {
      memory = rss.stop(); // also when the export fails, or the sampling never ends
    }
    const { peak, peakPss, samples } = memory;
    const secs = (Date.now() - t0) / 1000;
    console.log(`mid-way: "${mid[0]}" / "${mid[1]}"`);
    assert.match(mid[0], /^\d+ of 2 files · [\d.]+ [MG]iB of 5\.00 GiB · [\d.]+ MB\/s · about .+ left$/);
    assert.equal(mid[1], 'Now: big/sparse.bin');
    await dl.cancel();
    const outcome = await jobOutcome(page);
    console.log(outcome);
    console.log(`5 GiB export: ${secs.toFixed(1)} s, ${(size / 1e6 / secs).toFixed(0)} MB/s; Chromium RSS (sum over ` +
      `processes) ${(before / MiB).toFixed(0)} MiB before, peak ${(peak / MiB).toFixed(0)} MiB (PSS peak ` +
      `${(peakPss / MiB).toFixed(0)} MiB) over ${samples} samples`);
    assert.ok(peak < 1.5 * GiB, `peak RSS ${(peak / MiB).toFixed(0)} MiB`);
    assert.ok(peak - before < 512 * MiB, `RSS grew by ${((peak - before) / MiB).toFixed(0)} MiB`);

    const opfs = largestFile(app.profile);
    assert.ok(opfs.size > size, `the zip in OPFS: ${opfs.path}, ${opfs.size} bytes`);
    const zip = checkZip(opfs.path, { quick: true });
    assert.equal(zip.bad, null, 'CRCs check');
    const entry = zip.entries.find((e) => e.name === 'big/sparse.bin');
    assert.equal(entry.size, size);
    assert.ok(zip.entries.some((e) => e.name === 'big/note.txt'));
    assert.match(zip.report, /sparse\.img/);
    assert.deepEqual(errors, []);
  } finally {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('export: an export bigger than the browser lets the page store is refused at once', { skip: hasMke2fs() ? false : 'mke2fs is not installed' }, async (t) => {
  const app = await openPersistentApp(server.origin);
  const { page, errors } = app;
  const dir = mkdtempSync(join(tmpdir(), 'salvage-e2e-quota-'));
  try {
    const { quota } = await page.evaluate(() => navigator.storage.estimate());
    if (!(quota < 64 * GiB)) return t.skip(`the browser's quota here is ${(quota / GiB).toFixed(0)} GiB`);
    // A sparse file 1 GiB over the quota: nothing big is written anywhere.
    mkdirSync(join(dir, 'tree/big'), { recursive: true });
    writeFileSync(join(dir, 'tree/big/too-big.bin'), '');
    truncateSync(join(dir, 'tree/big/too-big.bin'), quota + GiB);
    const img = join(dir, 'quota.img');
    execFileSync('mke2fs', ['-q', '-F', '-t', 'ext4', '-d', join(dir, 'tree'), img, `${Math.ceil((quota + 2 * GiB) / MiB)}M`], { stdio: 'ignore' });
    await pickImage(page, [img]);
    await openVolume(page, 'ext4');
    await select(page, 'big');
    const t0 = Date.now();
    await page.getByRole('button', { name: 'Download selected' }).click();
    const outcome = await jobOutcome(page);
    console.log(`after ${Date.now() - t0} ms: ${outcome}`);
    assert.match(outcome, /failed: This needs about [\d,]+ MB of the browser's storage, but it lets this page use only [\d,]+ MB more\. Use “Save to a file…”/);
    assert.ok(Date.now() - t0 < 10_000, 'refused before writing much');
    assert.deepEqual(exportFiles(await opfsNames(page)), []);
    assert.deepEqual(errors, []);
  } finally {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
