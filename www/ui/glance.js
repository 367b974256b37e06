// Draws "At a glance": what a Linux root held (system, users, services,
// data, web roots, mail, TLS, control panels), each item with its path,
// size and owner and a Select button, plus "Select the essentials", the
// progress of the slow part (file scan, sizes) with Stop, and the
// inventory's notes. The record comes from the worker's inventory job
// (src/web/inventory.rs); strings from the image go in as text only.

import { el, clear } from './dom.js';
import { humanSize, exactBytes } from './format.js';

const SECTIONS = [
  ['users', 'Users'],
  ['services', 'Services'],
  ['data', 'Data'],
  ['web', 'Web roots'],
  ['mail', 'Mail'],
  ['tls', 'TLS certificates'],
  ['panels', 'Control panels'],
];

const STAGE_WORDS = {
  system: 'Reading the system’s configuration…',
  users: 'Reading the accounts…',
  services: 'Reading the services…',
  data: 'Looking for databases…',
  web: 'Reading the web server’s sites…',
  mail: 'Looking for mail…',
  tls: 'Looking for certificates and control panels…',
  files: 'Scanning files for SQLite databases and compose files',
  sizes: 'Counting sizes',
};

const count = (n, one, many) => `${Number(n).toLocaleString('en-US')} ${Number(n) === 1 ? one : many}`;

function sizeText(size, running) {
  if (!size) return { text: running ? 'counting…' : '—', title: running ? 'Not counted yet' : 'Not counted' };
  const what = `${humanSize(size.bytes)}`;
  const title = `${exactBytes(size.bytes)} in ${count(size.files, 'file', 'files')} and ${count(size.dirs, 'folder', 'folders')}`;
  return size.complete ? { text: what, title } : { text: `at least ${what}`, title: `${title} (not all of it could be read or counted)` };
}

function ownerText(owner) {
  if (!owner) return '';
  const user = owner.user ?? String(owner.uid);
  const group = owner.group ?? String(owner.gid);
  return `${user}:${group}`;
}

function ownerTitle(owner) {
  return owner ? `uid ${owner.uid}, gid ${owner.gid}` : '';
}

function detailsText(details) {
  return (details || []).filter(Array.isArray).map(([k, v]) => `${k}: ${v}`).join(' · ');
}

/**
 * The panel, drawn into `root`. `select(paths, on)` adds (or removes)
 * paths to the selection of this volume; `isSelected(path)` tells the
 * state; `stop()` ends the slow part; `browse()` opens the volume, `toVolumes()`
 * moves to the volumes below. Returns
 * {update(record, {running, stopped, failed}), refresh(), barSlot}.
 */
export function createGlance(root, volume, { select, isSelected, stop, browse, toVolumes }) {
  const title = `At a glance: volume ${volume.index}${volume.label ? ` (“${volume.label}”)` : ''}`;
  const progressText = el('span', { class: 'glance-progress-text', role: 'status', 'aria-live': 'polite' });
  const stopButton = el('button', { type: 'button', class: 'secondary', onclick: stop, text: 'Stop', 'aria-label': 'Stop counting sizes', hidden: true });
  const progress = el('div', { class: 'glance-progress' }, progressText, stopButton);
  const essentials = el('button', { type: 'button', class: 'primary', text: 'Select the essentials', disabled: true, dataset: { key: 'essentials' } });
  const essentialsHint = el('span', { class: 'hint' });
  const barSlot = el('div', { class: 'glance-bar' });
  const browseButton = el('button', { type: 'button', class: 'secondary', onclick: browse, text: 'Browse all files', 'aria-label': `Browse all files of volume ${volume.index}` });
  const volumesButton = el('button', { type: 'button', class: 'link', onclick: toVolumes, text: 'Volumes ↓', 'aria-label': 'Go to the list of volumes' });
  const body = el('div', { class: 'glance-body' });
  clear(root).append(
    el('h2', { id: 'glance-title', text: title }),
    el('p', { class: 'glance-intro', text: 'What this server held, read from its own files. Select what you need, then Download selected; owners and permissions are kept in the zip. The volumes are listed below.' }),
    progress,
    el('div', { class: 'glance-actions' }, essentials, essentialsHint, browseButton, volumesButton),
    barSlot,
    body,
  );
  root.setAttribute('aria-labelledby', 'glance-title');
  root.hidden = false;

  let inv = null;
  let running = true;
  const closed = new Set(); // sections the user folded
  let essentialPaths = [];
  essentials.addEventListener('click', () => select(essentialPaths, true));

  function selectButton(label, path) {
    const on = isSelected(path);
    return el('button', {
      type: 'button', class: 'select', 'aria-label': label, 'aria-pressed': on ? 'true' : 'false',
      text: on ? 'Selected' : 'Select', dataset: { key: `select:${path}`, path },
      onclick: () => select([path], !isSelected(path)),
    });
  }

  function itemsTable(items, labels) {
    const head = el('tr', {}, ['What', 'Path', 'Size', 'Owner', ''].map((h) => el('th', { scope: 'col', text: h })));
    const rows = items.map((it) => {
      const size = sizeText(it.size, running);
      const details = detailsText(it.details);
      return el('tr', { class: it.essential ? 'item essential' : 'item', dataset: { kind: it.kind, path: it.path } },
        el('td', { class: 'what' }, el('span', { class: 'title', text: it.title }),
          details ? el('span', { class: 'details', text: details }) : null),
        el('td', { class: 'path', text: it.path }),
        el('td', { class: size.text.startsWith('at least') ? 'num size partial' : 'num size', title: size.title, text: size.text }),
        el('td', { class: 'owner', title: ownerTitle(it.owner), text: ownerText(it.owner) }),
        el('td', {}, selectButton(labels.get(it), it.path)));
    });
    return el('div', { class: 'scroll' }, el('table', { class: 'glance-items' }, el('thead', {}, head), el('tbody', {}, rows)));
  }

  function systemList(sys) {
    const rows = [
      ['Operating system', sys.os ? `${sys.os}${sys.os_source ? ` (from ${sys.os_source})` : ''}` : (running ? null : 'Linux (release not recorded)')],
      ['Host name', sys.hostname],
      ['Kernels', sys.kernels && sys.kernels.length ? sys.kernels.join(', ') : null],
      ['Time zone', sys.timezone],
      ['Last mounted', sys.last_mount_time ? `${sys.last_mount_time.replace('T', ' ').replace(/Z$/, ' UTC')}${sys.last_mounted_on ? ` on ${sys.last_mounted_on}` : ''}` : (sys.last_mounted_on ? `on ${sys.last_mounted_on}` : null)],
      ['Journal', sys.journal],
    ].filter(([, v]) => v);
    if (rows.length === 0) return el('p', { class: 'empty', text: 'Nothing found yet.' });
    return el('dl', { class: 'summary glance-system' }, rows.flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { text: v, dataset: { fact: k } })]));
  }

  function accounts(users) {
    const people = users.filter((u) => u.human);
    const services = users.filter((u) => !u.human);
    const person = (u) => `${u.name} (uid ${u.uid}${u.gecos ? `, ${u.gecos.split(',')[0]}` : ''}, home ${u.home}${u.home_exists ? '' : ' (missing)'}${u.authorized_keys.length ? ', SSH keys' : ''})`;
    return el('div', { class: 'accounts' },
      el('p', { class: 'people' }, el('strong', { text: `People (${people.length}): ` }), people.length ? people.map(person).join('; ') : 'none'),
      el('p', { class: 'services' }, el('strong', { text: `Service accounts (${services.length}): ` }), services.map((u) => u.name).join(', ') || 'none'));
  }

  // "Select " + title, with the path added where two items share a title.
  function labelsFor(items) {
    const seen = new Map();
    for (const it of items) seen.set(it.title, (seen.get(it.title) || 0) + 1);
    const labels = new Map();
    for (const it of items) labels.set(it, seen.get(it.title) > 1 ? `Select ${it.title} (${it.path})` : `Select ${it.title}`);
    return labels;
  }

  // A section the user can fold (its heading is the disclosure's summary).
  function section(key, name, ...content) {
    const d = el('details', { class: 'glance-section', dataset: { section: key }, open: !closed.has(key) },
      el('summary', {}, el('h3', { text: name })), ...content);
    d.addEventListener('toggle', () => { if (d.open) closed.delete(key); else closed.add(key); });
    return d;
  }

  let drawn = ''; // what the body shows: redrawn only when that changes
  function draw() {
    if (!inv) return;
    const signature = `${running}\n${JSON.stringify(inv)}`;
    if (signature === drawn) return;
    drawn = signature;
    const focusKey = body.contains(document.activeElement) ? document.activeElement.dataset?.key : null;
    const labels = labelsFor(inv.items);
    const parts = [section('system', 'System', systemList(inv.system))];
    for (const [key, name] of SECTIONS) {
      const items = inv.items.filter((it) => it.section === key);
      if (key === 'users' && inv.users.length === 0 && items.length === 0) continue;
      if (key !== 'users' && items.length === 0) continue;
      parts.push(section(key, `${name}${items.length ? ` (${items.length})` : ''}`,
        key === 'users' ? accounts(inv.users) : null,
        items.length ? itemsTable(items, labels) : null));
    }
    const other = inv.items.filter((it) => !SECTIONS.some(([k]) => k === it.section) && it.section !== 'system');
    const systemItems = inv.items.filter((it) => it.section === 'system');
    if (systemItems.length) parts[0].append(itemsTable(systemItems, labels));
    if (other.length) parts.push(section('other', 'Other', itemsTable(other, labels)));
    if (inv.notes.length) {
      parts.push(el('details', { class: 'more glance-notes' },
        el('summary', { text: `Notes (${inv.notes.length})` }),
        el('ul', { class: 'notes' }, inv.notes.map((n) => el('li', { text: n })))));
    }
    clear(body).append(...parts);
    essentialPaths = inv.essentials.slice();
    essentials.disabled = essentialPaths.length === 0;
    essentialsHint.textContent = essentialPaths.length
      ? `${count(essentialPaths.length, 'path', 'paths')}: ${essentialPaths.slice(0, 4).join(', ')}${essentialPaths.length > 4 ? ', …' : ''}`
      : '';
    essentials.setAttribute('aria-label', `Select the essentials (${count(essentialPaths.length, 'path', 'paths')})`);
    if (focusKey) {
      const again = [...root.querySelectorAll('[data-key]')].find((n) => n.dataset.key === focusKey);
      again?.focus();
    }
  }

  return {
    barSlot,
    /** A step's record; `state` says whether more is coming. */
    update(record, { done = false, stopped = false, failed = null } = {}) {
      if (record) inv = record.inventory;
      running = !done && !stopped && !failed;
      const stage = record ? record.stage : 'system';
      if (failed) progressText.textContent = `The inventory stopped: ${failed}`;
      else if (stopped) progressText.textContent = 'Stopped: sizes and the file scan are not complete.';
      else if (done) progressText.textContent = `Done: ${count(inv ? inv.items.length : 0, 'item', 'items')} found.`;
      else if (stage === 'files' || stage === 'sizes') progressText.textContent = `${STAGE_WORDS[stage]}… ${count(record.items, 'item', 'items')} found so far.`;
      else progressText.textContent = STAGE_WORDS[stage] || 'Reading…';
      progress.dataset.state = failed ? 'failed' : stopped ? 'stopped' : done ? 'done' : 'running';
      const slow = running && (stage === 'files' || stage === 'sizes');
      if (!slow && root.contains(document.activeElement) && document.activeElement === stopButton) essentials.focus();
      stopButton.hidden = !slow;
      draw();
    },
    /** The selection changed: redraws the Select buttons' state. */
    refresh() {
      for (const b of root.querySelectorAll('button.select')) {
        const on = isSelected(b.dataset.path);
        b.setAttribute('aria-pressed', on ? 'true' : 'false');
        b.textContent = on ? 'Selected' : 'Select';
      }
    },
  };
}
