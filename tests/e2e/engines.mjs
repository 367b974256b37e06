// Firefox and WebKit for the browser tests, through W3C WebDriver
// (selenium-webdriver with explicit driver paths, so nothing is ever
// downloaded). Chromium runs under Playwright (harness.mjs).
//
//   Firefox: /usr/bin/firefox-esr and geckodriver (cargo install geckodriver;
//            SALVAGE_GECKODRIVER or ~/.cargo/bin/geckodriver).
//   WebKit:  WebKitGTK's MiniBrowser through /usr/bin/WebKitWebDriver
//            (Debian: webkit2gtk-driver), on an Xvfb display this module
//            starts when DISPLAY is unset (Debian: xvfb).
// An engine whose driver is missing is reported by `missingEngine` so its
// tests skip with the reason; `make test` installs both (scripts/tools.sh).
//
// Downloads land in a fresh folder per session: Firefox through its
// download preferences, WebKit in XDG_DOWNLOAD_DIR (set through a private
// XDG_CONFIG_HOME).

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, readdirSync, writeFileSync, statSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { Builder, By, until } from 'selenium-webdriver';
import * as firefox from 'selenium-webdriver/firefox.js';

export { By, until };

export const FIREFOX = process.env.SALVAGE_FIREFOX || '/usr/bin/firefox-esr';
export const GECKODRIVER = process.env.SALVAGE_GECKODRIVER || join(homedir(), '.cargo/bin/geckodriver');
export const WEBKITDRIVER = process.env.SALVAGE_WEBKITDRIVER || '/usr/bin/WebKitWebDriver';
const MINIBROWSER = process.env.SALVAGE_MINIBROWSER || '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser';

export const ENGINES = ['firefox', 'webkit'];

/** Why `engine` can't run here, or null. */
export function missingEngine(engine) {
  const need = engine === 'firefox' ? [FIREFOX, GECKODRIVER] : [WEBKITDRIVER, MINIBROWSER];
  if (engine === 'webkit' && !process.env.DISPLAY) need.push('/usr/bin/Xvfb');
  const gone = need.filter((p) => !existsSync(p));
  return gone.length ? `${engine}: ${gone.join(', ')} not installed (run scripts/tools.sh test)` : null;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

// One Xvfb for the whole test process, started on first use.
let display = null;

async function ensureDisplay() {
  if (process.env.DISPLAY) return process.env.DISPLAY;
  if (display) return display;
  display = new Promise((resolve, reject) => {
    // -displayfd writes the display number it picked to fd 3 (here a pipe).
    const child = spawn('/usr/bin/Xvfb', ['-displayfd', '3', '-screen', '0', '1280x1024x24', '-nolisten', 'tcp'], {
      stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
    });
    child.unref();
    child.stdio[3].unref?.();
    let out = '';
    const timer = setTimeout(() => reject(new Error('Xvfb did not start')), 10_000);
    child.stdio[3].on('data', (d) => {
      out += d;
      const m = /^(\d+)\n/.exec(out);
      if (m) {
        clearTimeout(timer);
        process.on('exit', () => child.kill());
        resolve(`:${m[1]}`);
      }
    });
    child.on('exit', (code) => reject(new Error(`Xvfb exited with ${code}`)));
  });
  return display;
}

/**
 * Starts `engine` with a fresh profile and download folder; resolves to
 * {driver, downloads, quit}. `fileAccess` lets a file:// page read other
 * file:// URLs (WebKit needs it for the single-file build's own scripts).
 */
export async function launch(engine, { fileAccess = false } = {}) {
  const downloads = mkdtempSync(join(tmpdir(), `salvage-${engine}-dl-`));
  let driver;
  let stopService = async () => {};
  if (engine === 'firefox') {
    const options = new firefox.Options()
      .setBinary(FIREFOX)
      .addArguments('-headless')
      .windowSize({ width: 1280, height: 900 })
      .setPreference('browser.download.folderList', 2)
      .setPreference('browser.download.dir', downloads)
      .setPreference('browser.download.useDownloadDir', true)
      .setPreference('browser.download.always_ask_before_handling_new_types', false)
      .setPreference('browser.helperApps.neverAsk.saveToDisk', 'application/octet-stream,application/zip')
      .setPreference('browser.download.manager.showWhenStarting', false)
      .setPreference('pdfjs.disabled', true)
      // No update checks, telemetry or captive-portal probes: the tests
      // count on a quiet browser.
      .setPreference('app.update.enabled', false)
      .setPreference('network.captive-portal-service.enabled', false)
      .setPreference('toolkit.telemetry.enabled', false)
      .setPreference('datareporting.policy.dataSubmissionEnabled', false);
    const service = new firefox.ServiceBuilder(GECKODRIVER);
    driver = await new Builder().forBrowser('firefox').setFirefoxOptions(options).setFirefoxService(service).build();
  } else {
    const port = await freePort();
    const config = mkdtempSync(join(tmpdir(), 'salvage-webkit-xdg-'));
    mkdirSync(config, { recursive: true });
    writeFileSync(join(config, 'user-dirs.dirs'), `XDG_DOWNLOAD_DIR="${downloads}"\n`);
    const env = { ...process.env, DISPLAY: await ensureDisplay(), XDG_CONFIG_HOME: config, XDG_DOWNLOAD_DIR: downloads };
    const child = spawn(WEBKITDRIVER, [`--port=${port}`], { env, stdio: 'ignore' });
    stopService = () => new Promise((done) => {
      if (child.exitCode !== null) return done();
      child.once('exit', done);
      child.kill();
    }).then(() => rmSync(config, { recursive: true, force: true }));
    await waitForPort(port);
    const args = ['--automation'];
    if (fileAccess) args.push('--allow-file-access-from-file-urls=true');
    driver = await new Builder()
      .usingServer(`http://127.0.0.1:${port}`)
      .withCapabilities({ browserName: 'MiniBrowser', 'webkitgtk:browserOptions': { binary: MINIBROWSER, args } })
      .build();
  }
  return {
    driver,
    downloads,
    quit: async () => {
      try { await driver.quit(); } catch { /* already gone */ }
      await stopService();
      rmSync(downloads, { recursive: true, force: true });
    },
  };
}

async function waitForPort(port, ms = 10_000) {
  const { connect } = await import('node:net');
  const end = Date.now() + ms;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const s = connect(port, '127.0.0.1', () => { s.end(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`WebKitWebDriver did not listen on ${port}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Waits for a finished download in `dir` (no partial-file suffix); resolves to its path. */
export async function waitForDownload(dir, { name = null, timeout = 60_000 } = {}) {
  const end = Date.now() + timeout;
  let last = null;
  for (;;) {
    const files = readdirSync(dir).filter((f) => !/\.(part|download|crdownload)$/.test(f) && (!name || f === name));
    const partial = readdirSync(dir).some((f) => /\.(part|download|crdownload)$/.test(f));
    if (files.length > 0 && !partial) {
      const path = join(dir, files[0]);
      const size = statSync(path).size;
      // Done when the size holds still for a moment.
      if (last && last.path === path && last.size === size && size > 0) return path;
      last = { path, size };
    }
    if (Date.now() > end) throw new Error(`no finished download in ${dir} (${readdirSync(dir).join(', ') || 'empty'})`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * Waits until `fn` (run in the page, returning a value) is truthy; returns
 * it. On timeout the error names what was awaited and the page's status
 * line, so a failure in CI says where the page stood.
 */
export async function waitInPage(driver, fn, args = [], timeout = 60_000) {
  try {
    return await driver.wait(async () => driver.executeScript(`return (${fn})(...arguments)`, ...args), timeout);
  } catch (e) {
    const status = await driver.executeScript('return document.getElementById("status")?.textContent || ""').catch(() => '?');
    throw new Error(`waited ${timeout} ms for ${String(fn).slice(0, 160)} (${JSON.stringify(args)}); the page's status: "${status}"; ${e.message}`);
  }
}
