#!/usr/bin/env node
// Builds dist/salvage.html: the page of www/ in one file — HTML, CSS, the
// page's scripts, every worker and the wasm — that works opened from
// file:// with no server, under a Content-Security-Policy that forbids
// every connection.
//
//   node scripts/build-single.mjs [--www www] [--out dist/salvage.html]
//
// How:
// - Each `<script type="module" src>` of index.html is bundled by esbuild
//   (from npm, pinned in package.json) with everything it imports, dynamic
//   imports included, and inlined; each `<link rel="stylesheet">` is
//   inlined. Anything else the HTML loads from a file fails the build.
// - A worker is recognised by the pattern every module here uses to start
//   one: `new URL('./some.js', import.meta.url)`. That script is bundled on
//   its own (recursively: workers its code starts are inlined into it) and
//   the expression becomes a blob: URL made from the inlined code. A blob:
//   worker inherits the page's policy, so it can't connect either.
//   Chromium can't start a *module* worker from a file:// page's blob:
//   (its origin is opaque), so workers are bundled as classic scripts, and
//   every bundle starts with CLASSIC_BLOB_WORKERS, which starts blob:
//   workers asked for as modules as classic ones.
// - A dynamic import of a missing file under OPTIONAL (the sample disk,
//   www/sample/) becomes a module that throws, as the missing file does on
//   a server; any other missing file fails the build.
// - The policy allows the inline <script> and <style> by their sha256, never
//   'unsafe-inline'; 'self' (a file:// page's own folder) is dropped, and
//   workers come from blob: only.

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

const WWW = resolve(ROOT, arg('--www', 'www'));
const OUT = resolve(ROOT, arg('--out', 'dist/salvage.html'));

// Folders of www/ whose modules the page probes for and works without.
const OPTIONAL = ['sample/'];

// new URL('./x.js', import.meta.url): a worker script (see above).
const WORKER_URL = /new\s+URL\(\s*(['"`])(\.{1,2}\/[^'"`]+\.m?js)\1\s*,\s*import\.meta\.url\s*\)/g;

// Prepended to every bundle (page and workers): see above.
const CLASSIC_BLOB_WORKERS = `(() => {
  const Native = globalThis.Worker;
  if (typeof Native !== 'function' || Native.salvageClassicBlobs) return;
  class ClassicBlobWorker extends Native {
    constructor(url, options) {
      const blob = /^blob:/.test(String(url)) && options && options.type === 'module';
      super(url, blob ? { ...options, type: 'classic' } : options);
    }
  }
  ClassicBlobWorker.salvageClassicBlobs = true;
  globalThis.Worker = ClassicBlobWorker;
})();`;

const fail = (message) => {
  console.error(`build-single: ${message}`);
  process.exit(1);
};

const rel = (p) => relative(ROOT, p);

/** Bundles `entry` and all it imports into one ES module's code. */
async function bundle(entry, chain = [], format = 'esm') {
  if (chain.includes(entry)) fail(`workers start each other in a cycle: ${[...chain, entry].map(rel).join(' → ')}`);
  const workers = new Map(); // absolute path → its bundled code
  const result = await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    format,
    banner: { js: CLASSIC_BLOB_WORKERS },
    write: false,
    outdir: 'out',
    metafile: true,
    charset: 'utf8',
    legalComments: 'none',
    logLevel: 'silent',
    plugins: [{
      name: 'salvage-single-file',
      setup(build) {
        // Worker URLs → imports of virtual modules holding their code.
        build.onLoad({ filter: /\.m?js$/, namespace: 'file' }, async (args) => {
          const source = readFileSync(args.path, 'utf8');
          const found = [];
          const contents = source.replace(WORKER_URL, (match, quote, spec) => {
            const path = resolve(dirname(args.path), spec);
            if (!existsSync(path)) fail(`${rel(args.path)} starts a worker from ${spec}, which does not exist`);
            found.push(path);
            return `__salvageWorkerUrl${found.length - 1}()`;
          });
          if (found.length === 0) return { contents: source, loader: 'js' };
          for (const path of found) {
            if (!workers.has(path)) workers.set(path, await bundle(path, [...chain, entry], 'iife'));
          }
          const imports = found.map((path, i) => `import __salvageWorkerUrl${i} from ${JSON.stringify(`salvage-worker:${path}`)};`);
          return { contents: `${imports.join(' ')}\n${contents}`, loader: 'js' };
        });
        build.onResolve({ filter: /^salvage-worker:/ }, (args) => ({ path: args.path.slice('salvage-worker:'.length), namespace: 'salvage-worker' }));
        build.onLoad({ filter: /.*/, namespace: 'salvage-worker' }, (args) => ({
          loader: 'js',
          contents: `// The worker ${rel(args.path)}, inlined by scripts/build-single.mjs.
const code = ${JSON.stringify(workers.get(args.path))};
let url = null;
export default function workerUrl() {
  if (!url) url = URL.createObjectURL(new Blob([code], { type: 'text/javascript' }));
  return url;
}
`,
        }));
        // Optional modules (the sample disk) that aren't built: a dynamic
        // import of them fails, as it would on a server.
        build.onResolve({ filter: /^\.{1,2}\// }, (args) => {
          if (args.kind !== 'dynamic-import') return undefined;
          const path = resolve(args.resolveDir, args.path);
          if (existsSync(path)) return undefined;
          if (!OPTIONAL.some((dir) => relative(WWW, path).startsWith(dir))) {
            fail(`${rel(args.importer)} imports ${args.path}, which does not exist (is the wasm built? run scripts/build-wasm.py)`);
          }
          return { path, namespace: 'salvage-missing' };
        });
        build.onLoad({ filter: /.*/, namespace: 'salvage-missing' }, (args) => ({
          loader: 'js',
          contents: `throw new Error(${JSON.stringify(`${rel(args.path)} was not built into this page`)});\n`,
        }));
      },
    }],
  }).catch((e) => fail(`bundling ${rel(entry)} failed:\n${e.message}`));
  const code = result.outputFiles[0].text;
  for (const out of Object.values(result.metafile.outputs)) {
    const left = [...out.imports.map((i) => i.path), ...out.exports];
    if (left.length) fail(`the bundle of ${rel(entry)} still imports or exports ${left.join(', ')}: it can't run on its own`);
  }
  return code;
}

const sha256 = (text) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

async function main() {
  let html = readFileSync(join(WWW, 'index.html'), 'utf8');
  const scriptHashes = [];
  const styleHashes = [];

  const attr = (tag, name) => new RegExp(`\\s${name}="([^"]*)"`, 'i').exec(tag)?.[1] ?? null;
  const styles = [...html.matchAll(/<link\b[^>]*>/gi)].map(([tag]) => [tag, attr(tag, 'href')])
    .filter(([tag]) => /^stylesheet$/i.test(attr(tag, 'rel') || ''));
  for (const [tag, href] of styles) {
    const css = `\n${readFileSync(resolve(WWW, href), 'utf8')}`;
    if (/<\/style/i.test(css)) fail(`${href} contains "</style"`);
    if (/url\(\s*['"]?(?!data:|#)|@import/i.test(css)) fail(`${href} loads another file (url() or @import); inline it first`);
    styleHashes.push(sha256(css));
    html = html.replace(tag, () => `<style>${css}</style>`);
  }

  const scripts = [...html.matchAll(/<script\b[^>]*>\s*<\/script>/gi)].map(([tag]) => [tag, attr(tag, 'src')])
    .filter(([tag, src]) => src && attr(tag, 'type') === 'module');
  for (const [tag, src] of scripts) {
    const code = `\n${await bundle(resolve(WWW, src))}`;
    if (/<\/script|<!--/i.test(code)) fail(`the bundle of ${src} contains "</script" or "<!--", which would end the inline script`);
    scriptHashes.push(sha256(code));
    html = html.replace(tag, () => `<script type="module">${code}</script>`);
  }
  if (scripts.length === 0) fail('index.html has no <script type="module" src>');

  // Whatever else the page would load from its folder can't come along.
  const outside = /<(?:script|link|img|iframe|source|audio|video)\b[^>]*\s(?:src|href)="(?!data:|#)([^"]*)"/gi;
  const left = [...html.matchAll(outside)].map((m) => m[1]);
  if (left.length) fail(`index.html loads ${left.join(', ')}; only module scripts and stylesheets are inlined`);

  const meta = /(<meta\s+http-equiv="Content-Security-Policy"\s+content=")([^"]+)(")/;
  const m = meta.exec(html);
  if (!m) fail('index.html has no Content-Security-Policy <meta>');
  const policy = m[2].split(';').map((d) => d.trim()).filter(Boolean).map((directive) => {
    const [name, ...values] = directive.split(/\s+/);
    let kept = values.filter((v) => v !== "'self'");
    if (name === 'script-src') kept = [...scriptHashes, ...kept];
    if (name === 'style-src') kept = [...styleHashes, ...kept];
    if (name === 'worker-src') kept = ['blob:'];
    if (name === 'connect-src' && kept.join(' ') !== "'none'") fail(`the policy's connect-src is "${values.join(' ')}", not 'none'`);
    return `${name} ${kept.length ? kept.join(' ') : "'none'"}`;
  });
  if (!policy.some((d) => d.startsWith('connect-src '))) fail("the policy has no connect-src 'none'");
  html = html.replace(meta, (all, a, b, c) => `${a}${policy.join('; ')}${c}`);
  html = html.replace(/<meta charset="utf-8">/i, (tag) => `${tag}\n<!-- Salvage in one file, built by scripts/build-single.mjs from www/. Opened from disk it works with no server; its policy forbids every network request. -->`);

  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(OUT, html);
  const sample = existsSync(join(WWW, 'sample/sample-img-gz.js')) ? 'with the sample disk' : 'without the sample disk (run make sample)';
  console.log(`built ${rel(OUT)}: ${Buffer.byteLength(html).toLocaleString('en-US')} bytes, ${sample}`);
}

await main();
