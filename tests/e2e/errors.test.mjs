// When the engine fails: a Rust panic in the wasm core (a trap, made by a
// test hook: a real abort in the real instance) or an uncaught error in
// the worker restarts the worker, reopens the image and tells the user in
// plain words, and the page works again. Files that are not disk images
// but wrap one (gzip, zip, xz, tar) are named with what to do. See
// harness.mjs for how to run.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  fixture, missingFixture, startServer, pickImage, openVolume, enter, statusText, launchPage, TEST_HOOKS,
} from './harness.mjs';

let server;
before(async () => { server = await startServer(); });
after(async () => { await server?.stop(); });

const told = (page, re) => page.waitForFunction((source) => new RegExp(source).test(document.getElementById('status').textContent),
  re.source, { timeout: 30_000 });

/** The number of workers the test can see settles to `n`. */
async function workersSettle(page, n) {
  for (let i = 0; i < 50 && page.workers().length !== n; i++) await page.waitForTimeout(100);
  return page.workers().length;
}

test('errors: a panic while listing restarts the engine, reopens the image and says so', { skip: missingFixture('gpt.img') || false }, async () => {
  const app = await launchPage(`${server.origin}/`, { initScripts: [TEST_HOOKS] });
  const { page, errors } = app;
  try {
    await pickImage(page, [fixture('gpt.img')]);
    await openVolume(page, 'ext4');
    const before = await page.evaluate(() => window.salvageTestHooks.generation());
    // The next call of the core's Session.list traps, as a Rust panic does.
    await page.evaluate(() => window.salvageTestHooks.crash('panic', { on: 'session_list' }));
    await page.locator('table.entries td.name > button', { hasText: /^etc$/ }).click();
    await told(page, /was opened again/);
    const text = await statusText(page);
    console.log('after a panic:', text);
    assert.match(text, /^The engine stopped \(a bug: RuntimeError: unreachable\)\. It was restarted and gpt\.img was opened again; try again\.$/);
    assert.ok(await page.evaluate(() => window.salvageTestHooks.generation()) > before, 'a new worker');
    assert.equal(await workersSettle(page, 1), 1, 'the old worker is gone');
    // The same click works now, on the reopened image.
    await enter(page, 'etc');
    assert.ok((await page.locator('table.entries').textContent()).includes('hostname'));
    assert.deepEqual(errors, []);
  } finally {
    await app.close();
  }
});

test('errors: a panic while opening a file names it, and the image that was open stays open', { skip: missingFixture('gpt.img', 'split.000') || false }, async () => {
  const app = await launchPage(`${server.origin}/`, { initScripts: [TEST_HOOKS] });
  const { page } = app;
  try {
    await pickImage(page, [fixture('gpt.img')]);
    await page.evaluate(() => window.salvageTestHooks.crash('panic', { on: 'session_open' }));
    await page.setInputFiles('#file-input', [fixture('split.000')]);
    await told(page, /was opened again/);
    console.log('after a panic while opening:', await statusText(page));
    assert.match(await statusText(page), /^The engine stopped \(a bug: RuntimeError: unreachable\) while opening split\.000\. It was restarted and gpt\.img was opened again\.$/);
    await openVolume(page, 'ext4');
    await enter(page, 'etc');
  } finally {
    await app.close();
  }
});

test('errors: a panic with nothing open, and an uncaught error in the worker, restart it too', { skip: missingFixture('gpt.img') || false }, async () => {
  const app = await launchPage(`${server.origin}/`, { initScripts: [TEST_HOOKS] });
  const { page } = app;
  try {
    // The core prints its panic message first (as a panic hook does), then traps.
    const failed = await page.evaluate(() => window.salvageTestHooks.crash('panic', { message: 'panicked at src/fs/ext4/inode.rs:10:5:\nindex out of bounds' })
      .then(() => 'answered', (e) => e.message));
    assert.equal(failed, 'The engine stopped (a bug: panicked at src/fs/ext4/inode.rs:10:5: index out of bounds); it is being restarted.');
    await told(page, /restarted; open the image again/);
    console.log('with nothing open:', await statusText(page));
    assert.equal(await statusText(page), 'The engine stopped (a bug: panicked at src/fs/ext4/inode.rs:10:5: index out of bounds). It was restarted; open the image again.');

    await pickImage(page, [fixture('gpt.img')]);
    assert.match(await statusText(page), /^Opened gpt\.img/);
    await page.evaluate(() => window.salvageTestHooks.crash('throw'));
    await told(page, /was opened again/);
    console.log('after an uncaught error:', await statusText(page));
    assert.match(await statusText(page), /^The engine stopped \(an error: .*the worker threw\)\. It was restarted and gpt\.img was opened again; try again\.$/);
    await openVolume(page, 'ext4');
    await enter(page, 'etc');
  } finally {
    await app.close();
  }
});

test('errors: a wrapped disk image opens in place if Salvage reads the wrapper, else says what it is and what to do', { skip: missingFixture('gpt.img') || false }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'salvage-e2e-wrapped-'));
  const app = await launchPage(`${server.origin}/`);
  const { page, errors } = app;
  try {
    const disk = readFileSync(fixture('gpt.img')).subarray(0, 2 << 20);
    writeFileSync(join(dir, 'disk.img'), disk);
    writeFileSync(join(dir, 'disk.img.gz'), gzipSync(disk, { level: 1 }));
    execFileSync('python3', ['-c', 'import sys, zipfile\nwith zipfile.ZipFile(sys.argv[1], "w") as z: z.write(sys.argv[2], "disk.img")',
      join(dir, 'disk.zip'), join(dir, 'disk.img')]);
    execFileSync('python3', ['-c', 'import sys, bz2\nopen(sys.argv[1], "wb").write(bz2.compress(open(sys.argv[2], "rb").read()))',
      join(dir, 'disk.img.bz2'), join(dir, 'disk.img')]);
    execFileSync('tar', ['-cf', join(dir, 'disk.tar'), '-C', dir, 'disk.img']);
    // gzip and tar are read in place (issue 9): the GPT inside is found.
    for (const name of ['disk.img.gz', 'disk.tar']) {
      await page.evaluate(() => { document.getElementById('status').className = 'status'; });
      await pickImage(page, [join(dir, name)]);
      const text = await statusText(page);
      console.log(`${name}:`, text);
      assert.ok(text.startsWith(`Opened ${name}: 3 volumes`), text);
    }
    const cases = [
      ['disk.zip', 'a zip archive'],
      ['disk.img.bz2', 'a bzip2-compressed file'],
    ];
    for (const [name, what] of cases) {
      await page.evaluate(() => { document.getElementById('status').className = 'status'; });
      await pickImage(page, [join(dir, name)]);
      const text = await statusText(page);
      console.log(`${name}:`, text);
      assert.match(await page.getAttribute('#status', 'class'), /error/);
      assert.ok(text.includes(`this is ${what} — extract it first, then open the disk image inside.`), text);
    }
    assert.deepEqual(errors, []);
  } finally {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
