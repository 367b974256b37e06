// Browser tests of "At a glance": the inventory of a Linux root shown first
// when an image holds one, checked against `salvage inventory --json` on the
// same image; "Select the essentials" then "Download selected" gives a zip
// with those paths and their owners; images without a Linux root show no
// panel. Builds the fixture with tests/fixtures/inventory.sh (needs root)
// unless $SALVAGE_FIXTURES/inventory/disk.img exists. See harness.mjs.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ROOT, FIXTURES, fixture, missingFixture, startServer, pickImage, statusText, screenshot,
  openPersistentApp, exportSelected, jobOutcome, checkZip, salvageCli, waitPath,
} from './harness.mjs';

let server;
let built = null; // temp dir of a fixture built here

// The inventory fixtures (disk.img: ESP, Debian-like root, data partition;
// data.ext4: that data partition alone), or why they can't be had.
function inventoryFixtures() {
  const shared = join(FIXTURES, 'inventory');
  if (existsSync(join(shared, 'disk.img'))) return { dir: shared };
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return { skip: 'tests/fixtures/inventory.sh needs root' };
  built = mkdtempSync(join(tmpdir(), 'salvage-e2e-inventory-'));
  try {
    execFileSync('bash', [join(ROOT, 'tests/fixtures/inventory.sh'), built], { stdio: ['ignore', 'ignore', 'inherit'] });
  } catch (e) {
    return { skip: `tests/fixtures/inventory.sh failed: ${e.message}` };
  }
  return { dir: built };
}

const fx = inventoryFixtures();
const cli = salvageCli();

before(async () => { server = await startServer(); });
after(async () => {
  await server?.stop();
  if (built) rmSync(built, { recursive: true, force: true });
});

async function waitGlance(page, states = ['done'], timeout = 60_000) {
  await page.waitForFunction((s) => s.includes(document.getElementById('glance').dataset.state), states, { timeout });
  return page.evaluate(() => ({ ...document.getElementById('glance').dataset }));
}

const ownerText = (o) => `${o.user ?? o.uid}:${o.group ?? o.gid}`;

test('glance: the Debian-like root at a glance, matching the CLI; the essentials exported with owners', { skip: fx.skip || (cli ? false : 'no salvage CLI built (cargo build, or SALVAGE_CLI)') }, async () => {
  const img = join(fx.dir, 'disk.img');
  const expected = JSON.parse(execFileSync(cli, ['inventory', img, '--json'], { maxBuffer: 64 << 20 }));
  const app = await openPersistentApp(server.origin);
  const { page, errors } = app;
  try {
    await page.setViewportSize({ width: 1280, height: 800 });
    await pickImage(page, [img]);
    assert.match(await statusText(page), /^Opened disk\.img: 3 volumes/);
    const times = await waitGlance(page);
    console.log(`glance: quick stages in ${times.quickMs} ms, everything (file scan, sizes) in ${times.totalMs} ms`);
    assert.ok(Number(times.quickMs) < 2000, `quick stages took ${times.quickMs} ms`);

    // The panel comes first, the volumes stay below it.
    const order = await page.evaluate(() => [...document.querySelectorAll('main > section:not([hidden])')].map((s) => s.id));
    assert.deepEqual(order, ['glance', 'summary', 'volumes']);
    const glance = page.locator('#glance');
    assert.match(await glance.locator('h2').textContent(), /^At a glance: volume 2/);

    // System.
    const fact = async (name) => (await glance.locator(`dd[data-fact="${name}"]`).textContent()).trim();
    assert.match(await fact('Operating system'), /^Debian GNU\/Linux 12/);
    assert.equal(await fact('Host name'), expected.system.hostname);
    assert.equal(await fact('Kernels'), expected.system.kernels.join(', '));
    assert.equal(await fact('Time zone'), 'Europe/Berlin');
    assert.match(await fact('Last mounted'), /^2024-05-01 12:00:00 UTC on \/$/);
    assert.equal(await fact('Journal'), expected.system.journal);

    // Users: people and service accounts apart.
    const people = await glance.locator('.accounts .people').textContent();
    const services = await glance.locator('.accounts .services').textContent();
    for (const u of expected.users) {
      const shown = u.human ? people : services;
      assert.ok(shown.includes(u.name), `${u.name} in ${shown}`);
    }
    assert.match(people, /^People \(3\): root .*alice .*bob/);
    assert.ok(!services.includes('alice'));

    // Every item as the CLI has it: section, path, size, owner, a Select button.
    const rows = await page.evaluate(() => [...document.querySelectorAll('#glance tr.item')].map((tr) => ({
      section: tr.closest('.glance-section').dataset.section,
      path: tr.dataset.path,
      title: tr.querySelector('.title').textContent,
      size: tr.querySelector('td.size').textContent,
      sizeTitle: tr.querySelector('td.size').title,
      owner: tr.querySelector('td.owner').textContent,
      button: tr.querySelector('button.select').getAttribute('aria-label'),
    })));
    assert.equal(rows.length, expected.items.length);
    const labels = new Set(rows.map((r) => r.button));
    assert.equal(labels.size, rows.length, 'Select buttons have unique names');
    for (const it of expected.items) {
      const row = rows.find((r) => r.path === it.path && r.title === it.title);
      assert.ok(row, `${it.title} (${it.path}) shown`);
      assert.equal(row.section, it.section);
      assert.equal(row.owner, it.owner ? ownerText(it.owner) : '');
      if (it.size) {
        assert.ok(row.sizeTitle.startsWith(`${it.size.bytes.toLocaleString('en-US')} bytes in `), `${it.path}: ${row.sizeTitle}`);
        assert.equal(row.size.startsWith('at least'), !it.size.complete);
      } else {
        assert.equal(row.size, '—');
      }
      assert.ok(row.button.startsWith(`Select ${it.title}`), row.button);
    }
    const titles = rows.map((r) => r.title);
    for (const t of ['database shop', 'database wiki-db', 'nginx site blog.example', 'nginx site shop.example', 'mailboxes (mbox)', 'Maildir of alice', 'ISPConfig']) {
      assert.ok(titles.includes(t), `${t} in ${titles}`);
    }
    assert.equal(rows.filter((r) => r.section === 'web' && r.title.startsWith('nginx site')).length, 2);
    const shop = rows.find((r) => r.title === 'database shop');
    assert.equal(shop.owner, 'mysql:mysql');
    assert.equal(shop.path, '/srv/mysql/shop');

    // Notes sit collapsed (this root has none); Stop is gone once done.
    assert.equal(await glance.getByRole('button', { name: 'Stop counting sizes' }).isVisible(), false);

    // At 1280×800: no sideways scrolling, and the essentials button is in the first screen.
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 1280), 'no horizontal scroll');
    const box = await glance.getByRole('button', { name: /^Select the essentials/ }).boundingBox();
    assert.ok(box && box.y + box.height < 800, `essentials button at ${JSON.stringify(box)}`);
    await page.screenshot({ path: join(ROOT, 'test-results', 'glance-light-1280x800.png') });
    await screenshot(page, 'glance-light.png');
    await page.emulateMedia({ colorScheme: 'dark' });
    await screenshot(page, 'glance-dark.png');
    await page.screenshot({ path: join(ROOT, 'test-results', 'glance-dark-1280x800.png') });
    await page.emulateMedia({ colorScheme: 'light' });

    // One Select from the keyboard: Tab to it, Space; again to untick.
    const one = glance.getByRole('button', { name: 'Select database shop', exact: true });
    await one.focus();
    await page.keyboard.press('Space');
    await page.waitForFunction(() => document.querySelector('#glance button[aria-label="Select database shop"]').getAttribute('aria-pressed') === 'true');
    assert.match(await page.textContent('.selection-bar .count'), /^1 selected: 1 folder$/);
    assert.equal(await page.evaluate(() => document.activeElement.getAttribute('aria-label')), 'Select database shop', 'focus stays');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.querySelector('#glance button[aria-label="Select database shop"]').getAttribute('aria-pressed') === 'false');

    // The essentials, then Download selected.
    await glance.getByRole('button', { name: /^Select the essentials/ }).click();
    await page.waitForFunction((n) => new RegExp(`^${n} selected`).test(document.querySelector('.selection-bar .count').textContent), expected.essentials.length);
    const dl = await exportSelected(page);
    const outcome = await jobOutcome(page);
    console.log('outcome:', outcome);
    const zip = checkZip(await dl.path());
    assert.equal(zip.bad, null);
    const names = new Map(zip.entries.map((e) => [e.name.replace(/\/$/, ''), e]));
    for (const p of expected.essentials) {
      const entry = names.get(p.slice(1));
      assert.ok(entry, `${p} in the zip`);
      const item = expected.items.find((it) => it.path === p && it.owner);
      if (item) assert.deepEqual(entry.owner, [item.owner.uid, item.owner.gid], `owner of ${p}`);
    }
    // Inside: the MySQL tables keep mysql's uid/gid, the mailboxes their users'.
    const mysqlFiles = zip.entries.filter((e) => e.name.startsWith('srv/mysql/shop/') && e.kind === 'file');
    assert.ok(mysqlFiles.length > 0);
    for (const e of mysqlFiles) assert.deepEqual(e.owner, [106, 110], e.name);
    assert.deepEqual(names.get('var/mail/alice').owner.slice(0, 1), [1000]);
    assert.ok(names.has('etc/passwd'));

    // The volumes are still reachable, and the panel's Browse opens the root.
    await glance.getByRole('button', { name: 'Browse all files of volume 2' }).click();
    await waitPath(page, '/');
    assert.equal(await page.isVisible('#glance'), false);
    assert.match(await page.textContent('.selection-bar .count'), new RegExp(`^${expected.essentials.length} selected`), 'the selection carries over');
    await page.getByRole('button', { name: 'Back to volumes' }).click();
    assert.equal(await page.isVisible('#glance'), true);
    assert.equal(await page.locator('#glance .selection-bar').count(), 1, 'the selection bar comes back with the panel');
    assert.deepEqual(errors, []);
  } finally {
    await app.close();
  }
});

test('glance: the slow part can be stopped, and browsing goes on meanwhile', { skip: fx.skip || false }, async () => {
  const app = await openPersistentApp(server.origin);
  const { page, errors } = app;
  try {
    // Small steps with pauses: the scan takes long enough to be stopped.
    await page.evaluate(() => window.salvageDebug.glanceSlow({ budget: 20, pauseMs: 100 }));
    await pickImage(page, [join(fx.dir, 'disk.img')]);
    const stop = page.getByRole('button', { name: 'Stop counting sizes' });
    await stop.waitFor({ state: 'visible', timeout: 30_000 });
    assert.match(await page.textContent('#glance .glance-progress'), /^(Scanning files|Counting sizes).*found so far\./);
    // The quick part is there already.
    assert.match(await page.textContent('#glance dd[data-fact="Operating system"]'), /^Debian GNU\/Linux 12/);
    // Browsing goes on between the scan's steps.
    await page.getByRole('button', { name: 'Browse all files of volume 2' }).click();
    await waitPath(page, '/');
    assert.ok((await page.locator('table.entries tr.entry').count()) > 5);
    await page.getByRole('button', { name: 'Back to volumes' }).click();
    assert.equal(await page.getAttribute('#glance', 'data-state'), 'running');
    await stop.click();
    const state = await waitGlance(page, ['stopped']);
    assert.equal(state.state, 'stopped');
    assert.match(await page.textContent('#glance .glance-progress'), /^Stopped/);
    assert.equal(await stop.isVisible(), false);
    // What was found so far stays, selectable, sizes not counted said as such.
    assert.ok(await page.locator('#glance tr.item').count() > 10);
    await page.getByRole('button', { name: 'Select system configuration', exact: true }).click();
    await page.waitForFunction(() => /^1 selected: 1 folder/.test(document.querySelector('.selection-bar .count').textContent));
    assert.deepEqual(errors, []);
  } finally {
    await app.close();
  }
});

test('glance: a root with garbled configs: what could be read, and the notes in plain words, folded', { skip: fx.skip || (cli ? false : 'no salvage CLI built (cargo build, or SALVAGE_CLI)') }, async () => {
  const img = join(fx.dir, 'damaged.img');
  const expected = JSON.parse(execFileSync(cli, ['inventory', img, '--json'], { maxBuffer: 64 << 20 }));
  const app = await openPersistentApp(server.origin);
  const { page, errors } = app;
  try {
    await pickImage(page, [img]);
    await waitGlance(page);
    const glance = page.locator('#glance');
    assert.equal(await glance.locator('dd[data-fact="Host name"]').textContent(), 'bad-host');
    assert.equal(await glance.locator('dd[data-fact="Operating system"]').textContent(), 'Linux (release not recorded)');
    assert.equal(await glance.locator('tr.item').count(), expected.items.length);
    assert.ok(expected.notes.length > 0);
    const notes = glance.locator('details.glance-notes');
    assert.equal(await notes.locator('summary').textContent(), `Notes (${expected.notes.length})`);
    assert.equal(await notes.evaluate((d) => d.open), false, 'folded');
    await notes.locator('summary').focus();
    await page.keyboard.press('Enter');
    assert.deepEqual(await notes.locator('li').allTextContents(), expected.notes);
    assert.equal(await notes.locator('li').first().isVisible(), true);
    assert.deepEqual(errors, []);
  } finally {
    await app.close();
  }
});

test('glance: images without a Linux root show no panel', { skip: fx.skip || missingFixture('sample.img') || false }, async () => {
  const app = await openPersistentApp(server.origin);
  const { page, errors } = app;
  try {
    for (const img of [fixture('sample.img'), join(fx.dir, 'data.ext4'), join(fx.dir, 'esp.fat')]) {
      await pickImage(page, [img]);
      await waitGlance(page, ['none']);
      assert.equal(await page.isVisible('#glance'), false, img);
      assert.equal(await page.locator('#glance *').count(), 0);
      assert.equal(await page.isVisible('#volumes'), true);
    }
    // And back to a root: the panel comes again.
    await pickImage(page, [join(fx.dir, 'disk.img')]);
    await waitGlance(page, ['running', 'done']);
    assert.equal(await page.isVisible('#glance'), true);
    assert.deepEqual(errors, []);
  } finally {
    await app.close();
  }
});
