// The page's main flows in Firefox and WebKit (Safari's engine) through
// WebDriver (engines.mjs); Chromium runs the same flows and more under
// Playwright (web.test.mjs, export.test.mjs). Each engine: open a GPT disk,
// browse, download one file, export a folder through the path the page
// picks for that engine, and check the zip's bytes, modes and report;
// connections from the page and its worker are refused by the CSP.
//
// An engine whose browser or driver is missing is skipped with the reason.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { ROOT, FIXTURES, fixture, missingFixture, sha256, startServer } from './harness.mjs';
import { ENGINES, launch, missingEngine, waitForDownload, waitInPage, By } from './engines.mjs';

let server;

before(async () => {
  server = await startServer();
});

after(async () => {
  await server?.stop();
});

const SINGLE = join(ROOT, 'dist/salvage.html');

function zipCheck(zip) {
  return JSON.parse(execFileSync('python3', [join(ROOT, 'tests/e2e/zipcheck.py'), zip], { encoding: 'utf8' }));
}

// ---- the page, driven through the DOM ------------------------------------

async function ready(driver, url) {
  await driver.get(url);
  await waitInPage(driver, () => document.documentElement.dataset.ready === 'true', [], 60_000);
}

async function status(driver) {
  return waitInPage(driver, () => {
    const s = document.getElementById('status');
    const settled = (s.classList.contains('ok') || s.classList.contains('error') || s.classList.contains('warn')) &&
      !document.body.hasAttribute('aria-busy');
    return settled && s.textContent.trim();
  }, [], 60_000);
}

async function pick(driver, path) {
  // The input is hidden behind the "Open disk image" button; WebDriver may
  // still type a path into it (both drivers allow it for file inputs).
  await driver.findElement(By.css('input[type=file]')).sendKeys(path);
  return status(driver);
}

async function clickButton(driver, scope, name) {
  const button = await waitInPage(driver, (sel, n) => {
    const root = document.querySelector(sel) || document;
    return [...root.querySelectorAll('button')].find((b) =>
      (b.getAttribute('aria-label') || b.textContent).trim() === n || b.textContent.trim() === n) || null;
  }, [scope, name]);
  await driver.executeScript('arguments[0].scrollIntoView({block: "center"})', button);
  await button.click();
}

async function waitPath(driver, path) {
  await waitInPage(driver, (p) => document.getElementById('directory')?.dataset.path === p &&
    !document.body.hasAttribute('aria-busy'), [path]);
}

async function openExt4(driver) {
  const open = await waitInPage(driver, () => {
    const row = [...document.querySelectorAll('table.volumes tbody tr')].find((r) => r.querySelector('td.fs')?.textContent === 'ext4');
    return row && [...row.querySelectorAll('button')].find((b) => b.textContent.trim() === 'Open');
  });
  await open.click();
  await waitPath(driver, '/');
}

async function enter(driver, name) {
  const before = await driver.executeScript('return document.getElementById("directory").dataset.path');
  await clickButton(driver, 'table.entries', name);
  await waitPath(driver, before === '/' ? `/${name}` : `${before}/${name}`);
}

async function tick(driver, name) {
  // The listing draws only the rows in view and may redraw while a folder
  // loads: find the box afresh, bring it into view, and try again if it
  // was replaced under the click.
  for (let attempt = 0; ; attempt += 1) {
    const box = await waitInPage(driver, (n) => [...document.querySelectorAll('input[type=checkbox]')]
      .find((b) => b.getAttribute('aria-label') === `Select ${n}`) || null, [name]);
    try {
      await driver.executeScript('arguments[0].scrollIntoView({block: "center"})', box);
      await box.click();
      if (await driver.executeScript('return arguments[0].checked', box)) return;
    } catch (e) {
      if (attempt >= 3) throw e;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

// ---- the flows -----------------------------------------------------------

for (const engine of ENGINES) {
  const skip = missingEngine(engine) || missingFixture('gpt.img', 'tree') || false;
  describe(engine, { skip }, () => {
    let browser;
    before(async () => { browser = await launch(engine); });
    after(async () => { await browser?.quit(); });

    test('open a GPT disk, browse, download a file byte-equal', async () => {
      const { driver, downloads } = browser;
      await ready(driver, `${server.origin}/`);
      assert.match(await pick(driver, fixture('gpt.img')), /^Opened gpt\.img: 3 volumes, 1 can be browsed/);
      await openExt4(driver);
      await enter(driver, 'etc');
      const row = await waitInPage(driver, () => [...document.querySelectorAll('table.entries tr.entry.file')]
        .find((r) => r.querySelector('td.name')?.textContent.startsWith('hostname')) || null);
      await row.findElement(By.css('button[aria-label^="Download"], td.actions button')).click();
      const saved = await waitForDownload(downloads, { name: 'hostname' });
      assert.deepEqual(readFileSync(saved), readFileSync(join(FIXTURES, 'tree/etc/hostname')));
    });

    test('export a folder to a zip: bytes, modes and report', async () => {
      const { driver, downloads } = browser;
      await ready(driver, `${server.origin}/`);
      await pick(driver, fixture('gpt.img'));
      await openExt4(driver);
      await tick(driver, 'modes');
      await tick(driver, 'etc');
      await clickButton(driver, 'body', 'Download selected');
      const text = await waitInPage(driver, () => {
        const job = document.getElementById('job');
        return job && job.dataset.size && job.textContent;
      }, [], 120_000);
      assert.match(text, /Saved/);
      const zip = await waitForDownload(downloads, { name: 'root-2-items.zip' });
      const check = zipCheck(zip);
      assert.equal(check.bad, null);
      const entry = (name) => check.entries.find((e) => e.name === name);
      // Every file of both folders: bytes and mode (setuid, sticky) as on the disk.
      for (const name of ['etc/group', 'etc/hostname', 'etc/passwd', 'modes/private', 'modes/setuid', 'modes/sticky-dir/']) {
        const e = entry(name);
        assert.ok(e, `${name} in ${check.entries.map((x) => x.name)}`);
        const source = join(FIXTURES, 'tree', name);
        assert.equal(e.mode, statSync(source).mode & 0o7777, `mode of ${name}`);
        if (e.kind === 'file') assert.equal(e.sha256, sha256(readFileSync(source)), `bytes of ${name}`);
      }
      assert.match(check.report || '', /gpt\.img/);
    });

    test('the single file from file:// opens, browses and exports', { skip: existsSync(SINGLE) ? false : `${SINGLE} not built (make build)` }, async () => {
      const single = await launch(engine, { fileAccess: true });
      try {
        const { driver, downloads } = single;
        await ready(driver, pathToFileURL(SINGLE).href);
        assert.match(await pick(driver, fixture('gpt.img')), /^Opened gpt\.img: 3 volumes, 1 can be browsed/);
        await openExt4(driver);
        await tick(driver, 'modes');
        await tick(driver, 'etc');
        await clickButton(driver, 'body', 'Download selected');
        await waitInPage(driver, () => document.getElementById('job')?.dataset.size, [], 120_000);
        const check = zipCheck(await waitForDownload(downloads, { name: 'root-2-items.zip' }));
        assert.equal(check.bad, null);
        const hostname = check.entries.find((e) => e.name === 'etc/hostname');
        assert.equal(hostname?.sha256, sha256(readFileSync(join(FIXTURES, 'tree/etc/hostname'))));
      } finally {
        await single.quit();
      }
    });

    if (engine === 'webkit') {
      // WebKit refuses a file:// page's worker the bytes of a picked file
      // unless file access from file URLs is on (Safari's default is off):
      // the page must say the image can't be read, not that it is empty.
      test('the single file from file:// without file access says the image cannot be read', { skip: existsSync(SINGLE) ? false : `${SINGLE} not built (make build)` }, async () => {
        const single = await launch(engine, { fileAccess: false });
        try {
          await ready(single.driver, pathToFileURL(SINGLE).href);
          assert.match(await pick(single.driver, fixture('gpt.img')), /^Couldn't open gpt\.img: the image can't be read: the browser could not read/);
        } finally {
          await single.quit();
        }
      });
    }

    test('the CSP refuses connections from the page and the worker', async () => {
      const { driver } = browser;
      await ready(driver, `${server.origin}/`);
      const page = await driver.executeAsyncScript(`
        const done = arguments[arguments.length - 1];
        fetch('/probe').then(() => done('fetched'), (e) => done('refused: ' + e.name));`);
      assert.match(page, /^refused/);
    });
  });
}
