// qcow2, VHDX and VDI through the page: each is converted at test time from
// the fixture gpt.img with qemu-img (skipped without it or the fixture),
// picked with the file input, browsed to the ext4 volume, and a file is
// downloaded byte-equal to the source tree. One test picks an overlay and
// its backing file together (in either order: the page sorts by name).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  FIXTURES, fixture, missingFixture, startServer, launchBrowser, openApp, pickImage,
  statusText, openVolume, enter, entryNames, download,
} from './harness.mjs';

let server;
let browser;
let dir;

function qemuMissing() {
  try {
    execFileSync('qemu-img', ['--version'], { stdio: 'ignore' });
    return false;
  } catch {
    return 'qemu-img is not installed';
  }
}

const skip = missingFixture('gpt.img', 'tree') || qemuMissing() || false;

function qemuImg(...args) {
  execFileSync('qemu-img', args, { stdio: ['ignore', 'ignore', 'inherit'] });
}

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  dir = mkdtempSync(join(tmpdir(), 'salvage-e2e-qvv-'));
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Picks `paths`, checks the summary and reads /etc/hostname from the ext4 volume. */
async function openAndRead(paths, { status, container }) {
  const { context, page, errors } = await openApp(browser, server.origin);
  try {
    await pickImage(page, paths);
    assert.match(await statusText(page), status);
    const summary = await page.textContent('#summary');
    assert.match(summary, container);
    assert.deepEqual(await page.locator('table.volumes td.fs').allTextContents(), ['fat32', 'ext4', 'swap']);
    await openVolume(page, 'ext4');
    await enter(page, 'etc');
    assert.ok((await entryNames(page)).includes('hostname'));
    const hostname = await download(page, 'hostname');
    assert.deepEqual(hostname.bytes, readFileSync(join(FIXTURES, 'tree/etc/hostname')));
    assert.deepEqual(errors, []);
    return summary;
  } finally {
    await context.close();
  }
}

test('a zstd-compressed qcow2 opens and reads a file', { skip }, async () => {
  const img = join(dir, 'disk.qcow2');
  qemuImg('convert', '-c', '-O', 'qcow2', '-o', 'compression_type=zstd', fixture('gpt.img'), img);
  await openAndRead([img], { status: /^Opened disk\.qcow2/, container: /qcow2 v3, 64 KiB clusters, zstd/ });
});

test('a dynamic VHDX opens and reads a file', { skip }, async () => {
  const img = join(dir, 'disk.vhdx');
  qemuImg('convert', '-O', 'vhdx', '-o', 'subformat=dynamic', fixture('gpt.img'), img);
  await openAndRead([img], { status: /^Opened disk\.vhdx/, container: /VHDX dynamic/ });
});

test('a dynamic VDI opens and reads a file', { skip }, async () => {
  const img = join(dir, 'disk.vdi');
  qemuImg('convert', '-O', 'vdi', fixture('gpt.img'), img);
  await openAndRead([img], { status: /^Opened disk\.vdi/, container: /VDI 1\.1, dynamic/ });
});

test('an overlay picked with its backing file reads through the chain', { skip }, async () => {
  const base = join(dir, 'base.qcow2');
  const top = join(dir, 'top.qcow2');
  qemuImg('convert', '-O', 'qcow2', fixture('gpt.img'), base);
  qemuImg('create', '-q', '-f', 'qcow2', '-b', 'base.qcow2', '-F', 'qcow2', top);
  // Sorted by name the base comes first; the core opens the top anyway.
  const summary = await openAndRead([top, base], {
    status: /^Opened base\.qcow2, top\.qcow2/, container: /backing base\.qcow2 \(qcow2\)/,
  });
  assert.match(summary, /top\.qcow2 was opened as the top of the chain/);

  // The overlay alone opens, and says which file is missing.
  const { context, page } = await openApp(browser, server.origin);
  try {
    await pickImage(page, [top]);
    assert.match(await page.textContent('#summary'), /backing file base\.qcow2 .*which was not selected/);
  } finally {
    await context.close();
  }
});
