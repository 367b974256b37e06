// The preview pane: what the entry under the cursor holds. Text (UTF-8,
// or Windows-1252/Latin-1 when it isn't, saying which), pictures (through
// a blob: URL, which the page's CSP allows for images) and hex for the
// rest. Only the first PREVIEW_BYTES of a file are read, except pictures
// up to IMAGE_MAX_BYTES, which are read whole to be drawn.

import { el, clear } from './dom.js';
import { humanSize, exactBytes, utcTime, permString } from './format.js';
import { ownerName, groupName } from './entries.js';

export const PREVIEW_BYTES = 256 * 1024;
const IMAGE_MAX_BYTES = 8 * 1024 * 1024;
const HEX_BYTES = 4096;

// Magic numbers of the picture formats browsers draw.
const PICTURES = [
  ['image/png', [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]],
  ['image/jpeg', [0xff, 0xd8, 0xff]],
  ['image/gif', [0x47, 0x49, 0x46, 0x38]],
  ['image/bmp', [0x42, 0x4d]],
  ['image/x-icon', [0x00, 0x00, 0x01, 0x00]],
];

function pictureType(bytes) {
  for (const [type, magic] of PICTURES) {
    if (magic.every((b, i) => bytes[i] === b)) return type;
  }
  // RIFF....WEBP
  if (bytes.length >= 12 && String.fromCharCode(...bytes.subarray(0, 4)) === 'RIFF' &&
    String.fromCharCode(...bytes.subarray(8, 12)) === 'WEBP') return 'image/webp';
  return null;
}

/** Whether bytes look like text: no NUL, few control characters. */
function looksLikeText(bytes) {
  const n = Math.min(bytes.length, 8192);
  let control = 0;
  for (let i = 0; i < n; i += 1) {
    const b = bytes[i];
    if (b === 0) return false;
    if (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d && b !== 0x0c && b !== 0x1b) control += 1;
  }
  return control <= n / 50;
}

/**
 * Decodes text: {text, encoding} where encoding says how. `partial`: the
 * bytes stop inside the file (a character cut at the end is not an error).
 */
export function decodeText(bytes, partial) {
  try {
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(bytes, { stream: partial }), encoding: 'UTF-8' };
  } catch {
    const lossy = new TextDecoder('utf-8').decode(bytes, { stream: partial });
    let bad = 0;
    for (const c of lossy) if (c === '\uFFFD') bad += 1;
    if (bad * 200 < lossy.length) {
      return { text: lossy, encoding: `UTF-8, with ${bad.toLocaleString('en-US')} invalid ${bad === 1 ? 'sequence' : 'sequences'} shown as �` };
    }
    return { text: new TextDecoder('windows-1252').decode(bytes), encoding: 'Latin-1 (Windows-1252): not valid UTF-8' };
  }
}

/** Classic hex dump: offset, 16 bytes, their ASCII. */
export function hexDump(bytes, limit = HEX_BYTES) {
  const lines = [];
  const n = Math.min(bytes.length, limit);
  for (let off = 0; off < n; off += 16) {
    const row = bytes.subarray(off, Math.min(off + 16, n));
    const hex = Array.from(row, (b) => b.toString(16).padStart(2, '0')).join(' ');
    const ascii = Array.from(row, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    lines.push(`${off.toString(16).padStart(8, '0')}  ${hex.padEnd(47)}  ${ascii}`);
  }
  return lines.join('\n');
}

/**
 * `read(entry, length)` resolves to the first `length` bytes of a file;
 * `download(entry)` saves it. `owners` as in entries.js.
 */
export function createPreview({ read, download, owners }) {
  const title = el('h2', { id: 'preview-title', text: 'Preview' });
  const facts = el('dl', { class: 'facts' });
  const note = el('p', { class: 'preview-note' });
  const body = el('div', { class: 'preview-body' });
  const actions = el('div', { class: 'preview-actions' });
  const node = el('section', { class: 'preview-pane', 'aria-labelledby': 'preview-title' }, title, note, body, actions, facts);
  let url = null;
  let shown = null;
  let token = 0;

  function reset() {
    if (url) URL.revokeObjectURL(url);
    url = null;
    clear(facts);
    clear(body);
    clear(actions);
    note.textContent = '';
    delete node.dataset.kind;
    delete node.dataset.encoding;
  }

  function showFacts(e) {
    const rows = [
      ['Path', e.path],
      ['Size', e.type === 'dir' ? '' : `${humanSize(e.size)} (${exactBytes(e.size)})`],
      ['Modified', utcTime(e.mtime)],
      ['Permissions', permString(e.file_kind, e.mode)],
      ['Owner', `${ownerName(owners, e)} (${e.uid}) : ${groupName(owners, e)} (${e.gid})`],
      ['Inode', String(e.inode)],
    ];
    if (e.target !== null) rows.push(['Link to', e.target]);
    facts.append(...rows.filter(([, v]) => v !== '').flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { text: v })]));
    if (e.problems.length) {
      facts.append(el('dt', { class: 'warn', text: 'Problems' }), el('dd', {}, el('ul', { class: 'notes' }, e.problems.map((p) => el('li', { text: p })))));
    }
  }

  async function show(e) {
    if (!e) {
      shown = null;
      reset();
      title.textContent = 'Preview';
      note.textContent = 'Choose a file to see what it holds.';
      return;
    }
    if (shown === e) return;
    shown = e;
    const mine = ++token;
    reset();
    title.textContent = e.name || '(part of this folder)';
    showFacts(e);
    if (e.type === 'dir') {
      note.textContent = 'A folder: Enter or double-click opens it.';
      return;
    }
    if (e.type === 'symlink') {
      note.textContent = 'A symbolic link: it points to the path above, which may be on another volume.';
      return;
    }
    if (e.type !== 'file') {
      note.textContent = e.name === '' ? 'This part of the folder could not be read.' : 'A special file (device, pipe or socket): it holds no data to show.';
      return;
    }
    actions.append(el('button', { type: 'button', class: 'secondary', text: 'Download', 'aria-label': `Download ${e.name} (preview)`, onclick: () => download(e) }));
    if (e.size === 0) {
      note.textContent = 'An empty file.';
      node.dataset.kind = 'empty';
      return;
    }
    note.textContent = 'Reading…';
    let bytes;
    try {
      bytes = await read(e, PREVIEW_BYTES);
      if (mine !== token) return;
      const type = pictureType(bytes);
      if (type && e.size <= IMAGE_MAX_BYTES) {
        if (e.size > bytes.length) bytes = await read(e, e.size);
        if (mine !== token) return;
        url = URL.createObjectURL(new Blob([bytes], { type }));
        const img = el('img', { src: url, alt: `Picture ${e.name}` });
        body.append(img);
        node.dataset.kind = 'image';
        note.textContent = `A picture (${type.slice(6).toUpperCase()}).`;
        img.addEventListener('load', () => { if (mine === token) note.textContent = `A picture (${type.slice(6).toUpperCase()}, ${img.naturalWidth} × ${img.naturalHeight}).`; });
        img.addEventListener('error', () => { if (mine === token) note.textContent = 'This picture could not be drawn; it may be damaged.'; });
        return;
      }
    } catch (err) {
      if (mine !== token) return;
      note.textContent = `Could not read it: ${err.message || err}`;
      note.classList.add('error');
      return;
    }
    note.classList.remove('error');
    const partial = bytes.length < e.size;
    const part = partial ? `the first ${humanSize(bytes.length)} of ${humanSize(e.size)}` : null;
    if (looksLikeText(bytes)) {
      const { text, encoding } = decodeText(bytes, partial);
      body.append(el('pre', { class: 'text', tabindex: '0', 'aria-label': `Text of ${e.name}`, text }));
      node.dataset.kind = 'text';
      node.dataset.encoding = encoding;
      note.textContent = `Text, ${encoding}${part ? `; showing ${part}` : ''}.`;
    } else {
      body.append(el('pre', { class: 'hex', tabindex: '0', 'aria-label': `Bytes of ${e.name}`, text: hexDump(bytes) }));
      node.dataset.kind = 'hex';
      const showing = Math.min(bytes.length, HEX_BYTES);
      note.textContent = `Binary data; showing ${showing < e.size ? `the first ${humanSize(showing)} of ${humanSize(e.size)}` : 'all of it'} in hex.`;
    }
  }

  show(null);
  return { node, show, get entry() { return shown; } };
}
