// Draws the image summary and the table of volumes.

import { el, clear } from './dom.js';
import { humanSize, exactBytes } from './format.js';

function notesList(notes, className = 'notes') {
  if (!notes || notes.length === 0) return null;
  return el('ul', { class: className }, notes.map((n) => el('li', { text: n })));
}

/** Image summary: format, size, parts and notes, partition table kind. */
export function drawSummary(root, info) {
  const { image, table } = info;
  const tableName = { gpt: 'GPT', mbr: 'MBR', none: 'none found' }[table.kind] || table.kind;
  const rows = [
    ['Format', image.format],
    // Container facts from the core, e.g. ['container', 'qcow2 v3, 64 KiB clusters, …'].
    ...(Array.isArray(image.details) ? image.details : []).filter(Array.isArray)
      .map(([k, v]) => [String(k).charAt(0).toUpperCase() + String(k).slice(1), String(v)]),
    ['Size', `${humanSize(image.size)} (${exactBytes(image.size)})`],
    ['Files', image.parts.join(', ')],
    ['Partition table', tableName],
  ];
  clear(root).append(...[
    el('h2', { text: 'Disk image' }),
    el('dl', { class: 'summary' },
      rows.flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { text: v })])),
    notesList(image.notes),
    notesList(table.notes),
  ].filter(Boolean));
}

// Facts the core found in the file system ([[name, value], …]) and the
// volume's problems, in a disclosure that works from the keyboard.
function moreAbout(v) {
  const facts = Array.isArray(v.details) ? v.details.filter(Array.isArray) : [];
  const problems = v.problems || [];
  if (facts.length === 0 && problems.length === 0) return null;
  return el('details', { class: 'more' },
    el('summary', { text: 'Details' }),
    facts.length ? el('dl', {}, facts.flatMap(([k, val]) => [el('dt', { text: k }), el('dd', { text: val })])) : null,
    problems.length ? el('ul', { class: 'notes' }, problems.map((p) => el('li', { text: p }))) : null);
}

// The file system's state in a few words: clean or not, and what the
// journal replay did ("needs recovery; journal replayed: 2 transactions, 42 blocks").
function stateWords(v) {
  const facts = new Map((Array.isArray(v.details) ? v.details : []).filter(Array.isArray));
  const parts = [];
  if (facts.has('state')) parts.push(facts.get('state'));
  if (facts.has('journal')) parts.push(`journal ${facts.get('journal')}`);
  if (!v.supported && !v.fs) return 'unknown';
  return parts.join('; ') || (v.supported ? 'readable' : '—');
}

/** Volumes table; `onOpen(volume)` is called for the Open buttons. */
export function drawVolumes(root, info, onOpen) {
  clear(root).append(el('h2', { text: 'Volumes' }));
  if (info.volumes.length === 0) {
    root.append(el('p', { class: 'empty', text: 'No partitions or file systems were found in this image.' }));
    return;
  }
  const head = el('tr', {}, ['#', 'Offset', 'Size', 'Type', 'Name', 'File system', 'Label', 'State', 'Status', '']
    .map((h) => el('th', { scope: 'col', text: h })));
  const body = info.volumes.map((v) => {
    const problems = v.problems && v.problems.length
      ? el('span', { class: 'warn', title: v.problems.join('\n'), 'aria-label': 'Problems: ' + v.problems.join(' '), text: ' ⚠' })
      : null;
    const what = [v.fs, v.label ? `“${v.label}”` : null, humanSize(v.length)].filter(Boolean).join(', ');
    const action = v.supported
      ? el('button', { type: 'button', class: 'open', onclick: () => onOpen(v), text: 'Open', 'aria-label': `Volume ${v.index} (${what}): open` })
      : null;
    return el('tr', { class: v.supported ? 'supported' : 'unsupported', dataset: { volume: v.index } },
      el('td', { class: 'num', text: v.index }),
      el('td', { class: 'num', title: exactBytes(v.offset), text: humanSize(v.offset) }),
      el('td', { class: 'num', title: exactBytes(v.length), text: humanSize(v.length) }),
      el('td', { title: v.type_id || '', text: v.type_name || v.type_id || '' }),
      el('td', { text: v.name || '' }),
      el('td', { class: 'fs', text: v.fs || '' }),
      el('td', { text: v.label || '' }),
      el('td', { class: 'state', text: stateWords(v) }),
      el('td', { class: 'status' }, el('span', { text: v.status }), problems, moreAbout(v)),
      el('td', {}, action),
    );
  });
  root.append(el('div', { class: 'scroll' },
    el('table', { class: 'volumes' }, el('thead', {}, head), el('tbody', {}, body))));
}
