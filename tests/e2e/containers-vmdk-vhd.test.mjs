// VMDK and VHD images opened through the page: a streamOptimized VMDK, a
// dynamic VHD, and a twoGbMaxExtentSparse descriptor picked together with
// its extents. Each image is converted at test time by qemu-img from an
// ext4 file system built with mke2fs -d (skipped when either is missing),
// and a file downloaded through the worker must equal its source.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  sha256, startServer, launchBrowser, openApp, pickImage, statusText, openVolume, enter, download, screenshot,
} from './harness.mjs';

let server;
let browser;
let work;

function haveTools() {
  try {
    execFileSync('mke2fs', ['-V'], { stdio: 'ignore' });
    execFileSync('qemu-img', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** An ext4 file system (no partition table) with a few known files. */
function makeFs() {
  const dir = mkdtempSync(join(tmpdir(), 'salvage-e2e-vmdkvhd-'));
  const tree = join(dir, 'tree');
  mkdirSync(join(tree, 'docs'), { recursive: true });
  writeFileSync(join(tree, 'docs', 'report.bin'), randomBytes(300 * 1024 + 7));
  writeFileSync(join(tree, 'hello.txt'), 'hello from a virtual disk\n');
  const raw = join(dir, 'fs.raw');
  execFileSync('mke2fs', ['-q', '-F', '-t', 'ext4', '-L', 'vdisk', '-d', tree, raw, '16M'], { stdio: 'ignore' });
  return { dir, tree, raw };
}

function convert(raw, format, options, out) {
  execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', format, '-o', options, raw, out], { stdio: 'ignore' });
  return out;
}

before(async () => {
  if (!haveTools()) return;
  work = makeFs();
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (work) rmSync(work.dir, { recursive: true, force: true });
});

/** Opens `paths`, checks the summary, and downloads docs/report.bin. */
async function openAndDownload(paths, { format, opened }, shot) {
  const { context, page, errors } = await openApp(browser, server.origin);
  try {
    await pickImage(page, paths);
    const status = await statusText(page);
    assert.match(status, opened, status);
    const summary = await page.textContent('#summary');
    assert.ok(summary.includes(format), `summary names ${format}: ${summary}`);
    if (shot) console.log('screenshot:', await screenshot(page, shot));
    await openVolume(page, 'ext4');
    await enter(page, 'docs');
    const got = await download(page, 'report.bin');
    assert.equal(sha256(got.bytes), sha256(readFileSync(join(work.tree, 'docs', 'report.bin'))));
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
}

test('a streamOptimized VMDK opens and a file downloads byte-equal', { skip: !haveTools() && 'mke2fs or qemu-img missing' }, async () => {
  const vmdk = convert(work.raw, 'vmdk', 'subformat=streamOptimized', join(work.dir, 'server.vmdk'));
  await openAndDownload([vmdk], { format: 'VMDK streamOptimized', opened: /^Opened server\.vmdk/ }, 'vmdk-stream.png');
});

test('a dynamic VHD opens and a file downloads byte-equal', { skip: !haveTools() && 'mke2fs or qemu-img missing' }, async () => {
  const vhd = convert(work.raw, 'vpc', 'subformat=dynamic,force_size=on', join(work.dir, 'server.vhd'));
  await openAndDownload([vhd], { format: 'VHD dynamic', opened: /^Opened server\.vhd/ }, null);
});

test('a split VMDK picked as descriptor + extents opens as one disk', { skip: !haveTools() && 'mke2fs or qemu-img missing' }, async () => {
  const dir = join(work.dir, 'split');
  mkdirSync(dir);
  convert(work.raw, 'vmdk', 'subformat=twoGbMaxExtentSparse', join(dir, 'split.vmdk'));
  const files = readdirSync(dir).map((n) => join(dir, n));
  assert.ok(files.length >= 2, `descriptor and extent: ${files}`);
  // The page sorts by name, so the extent (split-s001.vmdk) comes before the descriptor.
  await openAndDownload(files, { format: 'VMDK twoGbMaxExtentSparse', opened: /^Opened split-s001\.vmdk, split\.vmdk/ }, 'vmdk-split.png');

  // The descriptor alone names the missing extent.
  const { context, page } = await openApp(browser, server.origin);
  try {
    await pickImage(page, [join(dir, 'split.vmdk')]);
    assert.match(await statusText(page), /split-s001\.vmdk/);
    assert.match(await statusText(page), /not selected/);
  } finally {
    await context.close();
  }
});
