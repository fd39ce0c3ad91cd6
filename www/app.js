// rulecache control panel. Plain ES module, no build step, no framework.
// DOM is built with createElement/textContent only, so a strict CSP
// (script-src 'self'; style-src 'self') is enough.

const SECRET_KEY = 'rulecache.secret';
const SVG_NS = 'http://www.w3.org/2000/svg';

const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------- helpers

/** Create an element: el('td', {className: 'x'}, 'text', child, ...). */
function el(tag, props, ...children) {
  const node = document.createElement(tag);
  if (props) {
    for (const [k, v] of Object.entries(props)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'className' || k === 'textContent' || k === 'type' || k === 'value' || k === 'id' || k === 'disabled') {
        node[k] = v;
      } else {
        node.setAttribute(k, v === true ? '' : String(v));
      }
    }
  }
  append(node, children);
  return node;
}

function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  append(node, children);
  return node;
}

function append(node, children) {
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : String(c));
  }
}

function clear(node) {
  node.replaceChildren();
  return node;
}

function show(node, visible = true) {
  node.hidden = !visible;
}

/** A readable value for a field that may be null or missing. */
function text(v) {
  if (v === null || v === undefined || v === '') return '—';
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (Array.isArray(v)) return v.length ? v.map((x) => (typeof x === 'object' ? JSON.stringify(x) : String(x))).join(', ') : '—';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

function time(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return document.createTextNode('—');
  const d = new Date(ms);
  return el('time', { datetime: d.toISOString() }, d.toLocaleString());
}

function bytes(n) {
  if (typeof n !== 'number' || !Number.isFinite(n)) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

function num(n) {
  return typeof n === 'number' && Number.isFinite(n) ? n.toLocaleString() : '—';
}

/** A <dl> from [term, value] pairs; value may be a Node. */
function facts(pairs, className = 'facts') {
  const dl = el('dl', { className });
  for (const [term, value] of pairs) {
    dl.append(el('dt', null, term), el('dd', null, value instanceof Node ? value : text(value)));
  }
  return dl;
}

let statusTimer = 0;
/** Announce a message in the aria-live region. kind: 'ok' | 'error' | 'info'. */
function announce(message, kind = 'info') {
  const box = $('status');
  clearTimeout(statusTimer);
  box.className = `status is-${kind}`;
  // Clear first so that repeating the same message is announced again.
  box.textContent = '';
  requestAnimationFrame(() => {
    box.textContent = message;
  });
  if (kind !== 'error') {
    statusTimer = setTimeout(() => {
      box.textContent = '';
      box.className = 'status';
    }, 8000);
  }
}

/** Sorted-key, pretty-printed JSON (stable for diffs). */
function canonical(value) {
  const sort = (v) => {
    if (Array.isArray(v)) return v.map(sort);
    if (v && typeof v === 'object') {
      const out = {};
      for (const k of Object.keys(v).sort()) out[k] = sort(v[k]);
      return out;
    }
    return v;
  };
  return JSON.stringify(sort(value), null, 2);
}

// ---------------------------------------------------------------- API

class ApiError extends Error {
  constructor(status, body) {
    super((body && typeof body.error === 'string' && body.error) || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

function secret() {
  return sessionStorage.getItem(SECRET_KEY);
}

/**
 * Call the admin API. Resolves with the parsed JSON body of a 2xx answer.
 * Rejects with ApiError for other statuses (body parsed when it is JSON).
 */
async function api(path, { method = 'GET', body, token = secret() } = {}) {
  const headers = { Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  let payload;
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = typeof body === 'string' ? body : JSON.stringify(body);
  }
  const res = await fetch(`api/${path}`, {
    method,
    headers,
    body: payload,
    cache: 'no-store',
    credentials: 'omit',
    redirect: 'error',
  });
  let data = null;
  const type = res.headers.get('content-type') || '';
  if (type.includes('json')) {
    try {
      data = await res.json();
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const err = new ApiError(res.status, data);
    if ((res.status === 401 || res.status === 403) && token === secret()) {
      lock(`The secret was not accepted (${err.message}). Unlock again.`);
    }
    throw err;
  }
  return data;
}

/** Report an error from an API call. */
function failed(what, err) {
  if (err instanceof ApiError && (err.status === 401 || err.status === 403)) return;
  const detail = err instanceof ApiError ? err.message : 'the worker could not be reached';
  announce(`${what} failed: ${detail}.`, 'error');
}

/** Disable a button while an async action runs. */
async function busy(button, fn) {
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  try {
    return await fn();
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
  }
}

// ---------------------------------------------------------------- state

const state = {
  policy: null, // GET api/policy answer
  profiles: null,
  loaded: new Set(),
};

// ---------------------------------------------------------------- lock / unlock

function lock(message) {
  sessionStorage.removeItem(SECRET_KEY);
  state.policy = null;
  state.profiles = null;
  state.loaded.clear();
  show($('app'), false);
  show($('lock'), false);
  show($('unlock'), true);
  $('secret').value = '';
  $('unlock-error').textContent = message || '';
  $('secret').setAttribute('aria-invalid', message ? 'true' : 'false');
  $('secret').focus();
}

async function unlockWith(token) {
  const data = await api('policy', { token });
  sessionStorage.setItem(SECRET_KEY, token);
  state.policy = data;
  show($('unlock'), false);
  show($('app'), true);
  show($('lock'), true);
  $('unlock-error').textContent = '';
  renderPolicy();
  selectTab(currentTab() || $('tab-settings'), false);
}

function setupUnlock() {
  $('unlock-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const input = $('secret');
    const token = input.value;
    if (!token) {
      $('unlock-error').textContent = 'Enter the secret.';
      input.setAttribute('aria-invalid', 'true');
      input.focus();
      return;
    }
    $('unlock-error').textContent = '';
    await busy($('unlock-button'), async () => {
      try {
        await unlockWith(token);
        input.value = '';
        announce('Unlocked.', 'ok');
        $('tab-settings').focus();
      } catch (err) {
        sessionStorage.removeItem(SECRET_KEY);
        const msg = err instanceof ApiError
          ? (err.status === 401 || err.status === 403 ? `Wrong secret: ${err.message}` : `Could not unlock: ${err.message}`)
          : 'Could not reach the worker.';
        $('unlock-error').textContent = msg;
        input.setAttribute('aria-invalid', 'true');
        input.select();
        input.focus();
      }
    });
  });

  $('lock').addEventListener('click', () => {
    lock('');
    announce('Locked. The secret has been forgotten.', 'info');
  });
}

// ---------------------------------------------------------------- tabs

const TABS = ['settings', 'import', 'purge', 'stats', 'explain'];

function tabs() {
  return TABS.map((t) => $(`tab-${t}`));
}

function currentTab() {
  return tabs().find((t) => t.getAttribute('aria-selected') === 'true');
}

function selectTab(tab, focus = true) {
  for (const t of tabs()) {
    const on = t === tab;
    t.setAttribute('aria-selected', on ? 'true' : 'false');
    t.tabIndex = on ? 0 : -1;
    show($(t.getAttribute('aria-controls')), on);
  }
  if (focus) tab.focus();
  const name = tab.id.slice(4);
  onTabShown(name);
}

function setupTabs() {
  const list = $('tabs');
  list.addEventListener('click', (ev) => {
    const tab = ev.target.closest('[role="tab"]');
    if (tab) selectTab(tab);
  });
  list.addEventListener('keydown', (ev) => {
    const all = tabs();
    const i = all.indexOf(document.activeElement);
    if (i < 0) return;
    let next = null;
    if (ev.key === 'ArrowRight') next = all[(i + 1) % all.length];
    else if (ev.key === 'ArrowLeft') next = all[(i - 1 + all.length) % all.length];
    else if (ev.key === 'Home') next = all[0];
    else if (ev.key === 'End') next = all[all.length - 1];
    if (next) {
      ev.preventDefault();
      selectTab(next);
    }
  });
}

function onTabShown(name) {
  if (name === 'import' && !state.loaded.has('import')) {
    state.loaded.add('import');
    loadProfiles();
  } else if (name === 'stats' && !state.loaded.has('stats')) {
    state.loaded.add('stats');
    loadStats();
  } else if (name === 'explain' && !$('explain-url').value) {
    $('explain-url').value = `${location.origin}/`;
  }
}

// ---------------------------------------------------------------- settings

async function reloadPolicy() {
  state.policy = await api('policy');
  renderPolicy();
}

function renderPolicy() {
  const data = state.policy || {};
  const active = data.active || {};
  const summary = active.summary || {};
  const caching = summary.caching || {};

  $('policy-summary').replaceChildren(
    ...Array.from(facts([
      ['Version', el('span', { id: 'active-version' }, text(active.version))],
      ['Name', active.name],
      ['Source', active.source === 'bundled' ? 'bundled default (no policy pushed yet)' : active.source === 'kv' ? 'pushed (KV)' : active.source],
      ['Caching', caching.enabled === undefined ? '—' : caching.enabled ? 'enabled' : 'disabled'],
      ['Debug headers', caching.debugHeaders === undefined ? '—' : caching.debugHeaders ? 'sent' : 'not sent'],
      ['Unclassified requests', summary.default],
    ]).childNodes),
  );

  const body = clear($('ruleset-table').tBodies[0]);
  const rulesets = Array.isArray(summary.rulesets) ? summary.rulesets : [];
  if (!rulesets.length) {
    body.append(el('tr', null, el('td', { colspan: 3, className: 'empty' }, 'No rulesets declared.')));
  }
  for (const rs of rulesets) {
    body.append(
      el('tr', null,
        el('th', { scope: 'row' }, el('code', null, text(rs.name)), rs.title ? el('div', { className: 'muted' }, rs.title) : null),
        el('td', null, el('span', { className: 'op' }, text(rs.operation))),
        el('td', null, paramList(rs.parameters)),
      ),
    );
  }

  const editor = $('bundle');
  if (!editor.dataset.dirty) {
    editor.value = active.bundle ? pretty(active.bundle) : '';
  }

  const hist = clear($('history-table').tBodies[0]);
  const history = Array.isArray(data.history) ? data.history : [];
  if (!history.length) {
    hist.append(el('tr', null, el('td', { colspan: 4, className: 'empty' }, 'Nothing pushed yet; the bundled default is active.')));
  }
  for (const h of history) {
    const action = h.active
      ? el('span', { className: 'badge' }, 'active')
      : el('button', { type: 'button', className: 'secondary small', 'data-version': h.version }, `Roll back to ${h.version}`);
    hist.append(
      el('tr', { className: h.active ? 'current' : null },
        el('td', null, text(h.version)),
        el('td', null, text(h.name)),
        el('td', null, time(h.pushedAt)),
        el('td', null, action),
      ),
    );
  }
}

/** Keep the bundle's own key order for the editor (it is what the operator wrote). */
function pretty(bundle) {
  return JSON.stringify(bundle, null, 2);
}

function paramList(params) {
  if (!params || typeof params !== 'object' || !Object.keys(params).length) {
    return el('span', { className: 'muted' }, 'none');
  }
  const dl = el('dl', { className: 'params' });
  for (const [k, v] of Object.entries(params)) {
    dl.append(el('dt', null, k), el('dd', null, text(v)));
  }
  return dl;
}

function setupSettings() {
  const editor = $('bundle');
  editor.addEventListener('input', () => {
    editor.dataset.dirty = '1';
  });

  $('format').addEventListener('click', () => {
    try {
      editor.value = JSON.stringify(JSON.parse(editor.value), null, 2);
      showEditorErrors([]);
    } catch (e) {
      showEditorErrors([syntaxError(editor.value, e)]);
    }
  });

  $('revert').addEventListener('click', () => {
    delete editor.dataset.dirty;
    showEditorErrors([]);
    renderPolicy();
    announce('Editor reset to the active bundle.', 'info');
  });

  $('editor-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const source = editor.value;
    try {
      JSON.parse(source);
    } catch (e) {
      showEditorErrors([syntaxError(source, e)]);
      announce('The bundle is not valid JSON; nothing was saved.', 'error');
      return;
    }
    await busy($('save'), async () => {
      try {
        const res = await api('policy', { method: 'POST', body: source });
        showEditorErrors([]);
        delete editor.dataset.dirty;
        await reloadPolicy();
        announce(`Saved. Version ${text(res && res.version)} is now active.`, 'ok');
      } catch (err) {
        if (err instanceof ApiError && err.status === 422 && err.body && Array.isArray(err.body.errors)) {
          showEditorErrors(err.body.errors);
          announce(`The bundle was rejected with ${err.body.errors.length} problem${err.body.errors.length === 1 ? '' : 's'}; nothing was saved.`, 'error');
        } else {
          failed('Saving', err);
        }
      }
    });
  });

  $('history-table').addEventListener('click', async (ev) => {
    const button = ev.target.closest('button[data-version]');
    if (!button) return;
    const version = Number(button.dataset.version);
    await busy(button, async () => {
      try {
        const res = await api('policy/rollback', { method: 'POST', body: { version } });
        delete editor.dataset.dirty;
        await reloadPolicy();
        announce(`Rolled back. Version ${text(res && res.version)} is now active.`, 'ok');
      } catch (err) {
        failed('Rollback', err);
      }
    });
  });
}

/** Turn a JSON.parse exception into an error entry with an offset when possible. */
function syntaxError(source, e) {
  const m = /position (\d+)/.exec(e.message);
  return { path: '', message: e.message, offset: m ? Number(m[1]) : undefined };
}

function showEditorErrors(errors) {
  const list = clear($('editor-errors'));
  show($('editor-errors-box'), errors.length > 0);
  $('bundle').setAttribute('aria-invalid', errors.length ? 'true' : 'false');
  if (!errors.length) return;
  let positions = null;
  try {
    positions = locate($('bundle').value);
  } catch {
    positions = null;
  }
  for (const err of errors) {
    const path = typeof err.path === 'string' ? err.path : '';
    const offset = typeof err.offset === 'number' ? err.offset : findPath(positions, path, $('bundle').value);
    const button = el('button', { type: 'button', className: 'link' },
      el('code', null, path || '(bundle)'), ' ', el('span', null, text(err.message)));
    if (offset !== undefined) {
      button.addEventListener('click', () => selectLineAt($('bundle'), offset));
    } else {
      button.disabled = true;
    }
    list.append(el('li', null, button));
  }
}

/** Select the whole line containing `offset` in a textarea and scroll it into view. */
function selectLineAt(area, offset) {
  const v = area.value;
  const start = v.lastIndexOf('\n', Math.max(0, offset - 1)) + 1;
  let end = v.indexOf('\n', offset);
  if (end < 0) end = v.length;
  area.focus();
  area.setSelectionRange(start, end);
  const line = v.slice(0, start).split('\n').length - 1;
  const lh = parseFloat(getComputedStyle(area).lineHeight) || 18;
  area.scrollTop = Math.max(0, line * lh - area.clientHeight / 3);
}

/**
 * Parse JSON text and record where each JSON Pointer starts: for object
 * members the offset of the key, for array items the offset of the value.
 */
function locate(src) {
  const map = new Map();
  let i = 0;
  const ws = () => {
    while (i < src.length && ' \t\n\r'.includes(src[i])) i += 1;
  };
  const esc = (s) => s.replace(/~/g, '~0').replace(/\//g, '~1');
  const str = () => {
    const start = i;
    i += 1;
    while (i < src.length && src[i] !== '"') i += src[i] === '\\' ? 2 : 1;
    i += 1;
    return JSON.parse(src.slice(start, i));
  };
  const value = (ptr) => {
    ws();
    const c = src[i];
    if (c === '{') {
      i += 1;
      ws();
      if (src[i] === '}') { i += 1; return; }
      for (;;) {
        ws();
        const at = i;
        const key = str();
        const p = `${ptr}/${esc(key)}`;
        map.set(p, at);
        ws();
        i += 1; // ':'
        value(p);
        ws();
        if (src[i] === ',') { i += 1; continue; }
        if (src[i] === '}') { i += 1; return; }
        throw new Error('bad object');
      }
    } else if (c === '[') {
      i += 1;
      ws();
      if (src[i] === ']') { i += 1; return; }
      for (let n = 0; ; n += 1) {
        ws();
        map.set(`${ptr}/${n}`, i);
        value(`${ptr}/${n}`);
        ws();
        if (src[i] === ',') { i += 1; continue; }
        if (src[i] === ']') { i += 1; return; }
        throw new Error('bad array');
      }
    } else if (c === '"') {
      str();
    } else {
      const m = /^-?[\w.+-]+/.exec(src.slice(i, i + 64));
      if (!m) throw new Error('bad value');
      i += m[0].length;
    }
  };
  map.set('', 0);
  value('');
  return map;
}

/** Offset for a JSON Pointer: exact, else its nearest existing ancestor, else a text search for the last key. */
function findPath(positions, path, source) {
  if (positions) {
    let p = path;
    for (;;) {
      if (positions.has(p)) return positions.get(p);
      if (!p) break;
      p = p.slice(0, p.lastIndexOf('/'));
    }
  }
  const last = path.split('/').pop();
  if (last && !/^\d+$/.test(last)) {
    const key = last.replace(/~1/g, '/').replace(/~0/g, '~');
    const at = source.indexOf(JSON.stringify(key));
    if (at >= 0) return at;
  }
  return undefined;
}

// ---------------------------------------------------------------- import

async function loadProfiles() {
  const select = $('profile');
  clear(select).append(el('option', { value: '' }, 'Loading…'));
  try {
    const list = await api('profiles');
    state.profiles = Array.isArray(list) ? list : [];
    clear(select).append(el('option', { value: '' }, 'Choose a profile…'));
    for (const p of state.profiles) {
      select.append(el('option', { value: p.id }, p.name ? `${p.name} (${p.id})` : p.id));
    }
  } catch (err) {
    state.loaded.delete('import');
    clear(select).append(el('option', { value: '' }, 'Profiles could not be loaded'));
    failed('Loading profiles', err);
  }
}

function chosenProfile() {
  const id = $('profile').value;
  return (state.profiles || []).find((p) => p.id === id) || null;
}

function renderImport() {
  const profile = chosenProfile();
  show($('import-result'), !!profile);
  clear($('import-errors'));
  show($('import-errors'), false);
  if (!profile) return;
  const active = (state.policy && state.policy.active && state.policy.active.bundle) || {};

  // Ruleset -> operation comparison.
  const a = operationsOf(active);
  const b = operationsOf(profile.bundle || {});
  const names = [...new Set([...a.keys(), ...b.keys()])].sort();
  const tbody = clear($('compare-table').tBodies[0]);
  if (!names.length) {
    tbody.append(el('tr', null, el('td', { colspan: 3, className: 'empty' }, 'No ruleset operations found.')));
  }
  for (const name of names) {
    const x = a.get(name);
    const y = b.get(name);
    const changed = canonical(x || null) !== canonical(y || null);
    tbody.append(
      el('tr', { className: changed ? 'changed' : null },
        el('th', { scope: 'row' }, el('code', null, name), changed ? el('span', { className: 'visually-hidden' }, ' (changed)') : null),
        el('td', { 'data-label': 'Active' }, opCell(x)),
        el('td', { 'data-label': 'Profile' }, opCell(y)),
      ),
    );
  }

  // Line diff of canonical JSON.
  const left = canonical(active).split('\n');
  const right = canonical(profile.bundle || {}).split('\n');
  const ops = diffLines(left, right);
  const added = ops.filter((o) => o.t === '+').length;
  const removed = ops.filter((o) => o.t === '-').length;
  $('diff-summary').textContent = added || removed
    ? `${added} line${added === 1 ? '' : 's'} added, ${removed} removed. Lines marked − are in the active bundle, + in the profile (JSON with sorted keys).`
    : 'The profile is identical to the active bundle.';
  renderDiff($('diff'), ops);
}

function opCell(entry) {
  if (!entry) return el('span', { className: 'muted' }, 'not set');
  const params = entry.parameters && typeof entry.parameters === 'object' ? entry.parameters : null;
  return el('div', null,
    el('span', { className: 'op' }, text(entry.operation)),
    params && Object.keys(params).length ? paramList(params) : null,
  );
}

/**
 * Ruleset -> {operation, parameters} from a bundle. Finds every object with a
 * string `operation`, named by its `ruleset` or `name` field or by the key it
 * sits under, and name -> operation string maps under an `operations`,
 * `operationMapping` or `mapping` key.
 */
function operationsOf(bundle) {
  const out = new Map();
  const walk = (v, key, depth) => {
    if (!v || typeof v !== 'object' || depth > 8) return;
    if (Array.isArray(v)) {
      for (const item of v) walk(item, null, depth + 1);
      return;
    }
    if (typeof v.operation === 'string') {
      const name = typeof v.ruleset === 'string' ? v.ruleset : typeof v.name === 'string' ? v.name : key;
      if (name && !out.has(name)) out.set(name, { operation: v.operation, parameters: v.parameters || v.params });
      return;
    }
    const isMap = key === 'operations' || key === 'operationMapping' || key === 'mapping';
    for (const [k, item] of Object.entries(v)) {
      if (isMap && typeof item === 'string') {
        if (!out.has(k)) out.set(k, { operation: item });
      } else {
        walk(item, k, depth + 1);
      }
    }
  };
  walk(bundle, null, 0);
  return out;
}

/** LCS line diff. Returns [{t: ' '|'+'|'-', s: line}]. */
function diffLines(a, b) {
  let pre = 0;
  while (pre < a.length && pre < b.length && a[pre] === b[pre]) pre += 1;
  let suf = 0;
  while (suf < a.length - pre && suf < b.length - pre && a[a.length - 1 - suf] === b[b.length - 1 - suf]) suf += 1;
  const x = a.slice(pre, a.length - suf);
  const y = b.slice(pre, b.length - suf);
  const n = x.length;
  const m = y.length;
  // lcs[i][j] = LCS length of x[i..] and y[j..], stored flat.
  const w = m + 1;
  const lcs = new Uint32Array((n + 1) * w);
  for (let i = n - 1; i >= 0; i -= 1) {
    for (let j = m - 1; j >= 0; j -= 1) {
      lcs[i * w + j] = x[i] === y[j] ? lcs[(i + 1) * w + j + 1] + 1 : Math.max(lcs[(i + 1) * w + j], lcs[i * w + j + 1]);
    }
  }
  const ops = a.slice(0, pre).map((s) => ({ t: ' ', s }));
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (x[i] === y[j]) {
      ops.push({ t: ' ', s: x[i] });
      i += 1;
      j += 1;
    } else if (lcs[(i + 1) * w + j] >= lcs[i * w + j + 1]) {
      ops.push({ t: '-', s: x[i] });
      i += 1;
    } else {
      ops.push({ t: '+', s: y[j] });
      j += 1;
    }
  }
  while (i < n) ops.push({ t: '-', s: x[i++] });
  while (j < m) ops.push({ t: '+', s: y[j++] });
  for (const s of a.slice(a.length - suf)) ops.push({ t: ' ', s });
  return ops;
}

/** Render diff ops, folding long unchanged runs to 3 lines of context. */
function renderDiff(box, ops) {
  clear(box);
  const CONTEXT = 3;
  const keep = new Uint8Array(ops.length);
  ops.forEach((o, k) => {
    if (o.t !== ' ') {
      for (let d = Math.max(0, k - CONTEXT); d <= Math.min(ops.length - 1, k + CONTEXT); d += 1) keep[d] = 1;
    }
  });
  const list = el('ol', { className: 'diff-lines' });
  let skipped = 0;
  const flush = () => {
    if (skipped) {
      list.append(el('li', { className: 'fold' }, `… ${skipped} unchanged line${skipped === 1 ? '' : 's'}`));
      skipped = 0;
    }
  };
  ops.forEach((o, k) => {
    if (!keep[k]) {
      skipped += 1;
      return;
    }
    flush();
    const cls = o.t === '+' ? 'add' : o.t === '-' ? 'del' : 'same';
    const label = o.t === '+' ? 'added: ' : o.t === '-' ? 'removed: ' : '';
    list.append(el('li', { className: cls },
      el('span', { className: 'sign', 'aria-hidden': 'true' }, o.t),
      label ? el('span', { className: 'visually-hidden' }, label) : null,
      el('code', null, o.s)));
  });
  flush();
  box.append(list);
}

function setupImport() {
  $('profile').addEventListener('change', renderImport);
  $('activate').addEventListener('click', async () => {
    const profile = chosenProfile();
    if (!profile) return;
    await busy($('activate'), async () => {
      try {
        const res = await api('policy', { method: 'POST', body: JSON.stringify(profile.bundle, null, 2) });
        delete $('bundle').dataset.dirty;
        await reloadPolicy();
        renderImport();
        announce(`Activated “${profile.name || profile.id}” as version ${text(res && res.version)}.`, 'ok');
      } catch (err) {
        if (err instanceof ApiError && err.status === 422 && err.body && Array.isArray(err.body.errors)) {
          const list = clear($('import-errors'));
          for (const e of err.body.errors) list.append(el('li', null, el('code', null, text(e.path)), ' ', text(e.message)));
          show(list, true);
          announce('The profile was rejected by validation; nothing was activated.', 'error');
        } else {
          failed('Activating the profile', err);
        }
      }
    });
  });
}

// ---------------------------------------------------------------- purge

function lines(area) {
  return area.value.split('\n').map((s) => s.trim()).filter(Boolean);
}

/** A path such as /news is taken relative to this site. */
function absolute(entry) {
  if (entry.startsWith('/') && !entry.startsWith('//')) return new URL(entry, location.origin).href;
  return entry;
}

function setupPurge() {
  $('purge-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = {
      urls: lines($('purge-urls')).map(absolute),
      prefixes: lines($('purge-prefixes')).map(absolute),
      tags: lines($('purge-tags')),
      soft: document.querySelector('input[name="purge-kind"]:checked').value === 'soft',
    };
    const box = $('purge-result');
    if (!body.urls.length && !body.prefixes.length && !body.tags.length) {
      announce('Give at least one URL, prefix or tag to purge.', 'error');
      $('purge-urls').focus();
      return;
    }
    await busy($('purge'), async () => {
      try {
        const res = (await api('purge', { method: 'POST', body })) || {};
        const expanded = Array.isArray(res.expanded) ? res.expanded : [];
        clear(box).append(
          el('h3', null, body.soft ? 'Soft purge recorded' : 'Purge recorded'),
          facts([
            ['Purge id', el('code', { id: 'purge-id' }, text(res.id))],
            ['Kind', body.soft ? 'soft (stale, revalidated on next use)' : 'hard (removed)'],
            ['Removed here', `${num(res.removedLocal)} entr${res.removedLocal === 1 ? 'y' : 'ies'} in this location`],
            ['Honoured everywhere by', time(res.honouredEverywhereBy)],
          ]),
          expanded.length ? el('h4', null, 'Expanded URLs') : null,
          expanded.length ? el('ul', { className: 'plain mono' }, expanded.map((u) => el('li', null, u))) : null,
        );
        box.classList.remove('bad');
        show(box, true);
        announce(`Purge ${text(res.id)} recorded.`, 'ok');
      } catch (err) {
        if (err instanceof ApiError && err.status === 400 && err.body && Array.isArray(err.body.errors)) {
          clear(box).append(
            el('h3', null, 'Purge refused'),
            el('ul', { className: 'errors' }, err.body.errors.map((e) => el('li', null,
              typeof e === 'string' ? e : [e.path ? el('code', null, e.path) : null, ' ', text(e.message)])))
          );
          box.classList.add('bad');
          show(box, true);
          announce('The purge was refused.', 'error');
        } else {
          failed('Purge', err);
        }
      }
    });
  });
}

// ---------------------------------------------------------------- stats

const SERIES = [
  ['hits', 'Hits'],
  ['stale', 'Stale'],
  ['misses', 'Misses'],
  ['bypass', 'Bypass'],
];

async function loadStats() {
  const body = $('stats-body');
  body.setAttribute('aria-busy', 'true');
  try {
    const data = await api('stats');
    renderStats(data || {});
  } catch (err) {
    state.loaded.delete('stats');
    failed('Loading stats', err);
  } finally {
    body.removeAttribute('aria-busy');
  }
}

function renderStats(data) {
  const scope = $('stats-scope');
  clear(scope).append(
    'Counted by this isolate since ', time(data.since),
    '; other isolates and locations keep their own counts, and a new isolate starts from zero.',
  );
  const rows = Object.entries(data.rulesets || {}).sort(([a], [b]) => a.localeCompare(b));
  const box = clear($('stats-body'));

  const mem = data.memory || {};
  const cap = Number(mem.capacityBytes) || 0;
  const used = Number(mem.bytes) || 0;
  const meter = el('meter', { id: 'memory-meter', min: 0, max: cap || 1, value: used, low: cap * 0.7, high: cap * 0.9, optimum: 0 });
  box.append(
    el('h3', null, 'Memory tier'),
    el('div', { className: 'meter-row' },
      el('label', { for: 'memory-meter' }, 'In-isolate memory'),
      meter,
      el('span', null, `${num(mem.entries)} entr${mem.entries === 1 ? 'y' : 'ies'}, ${bytes(used)} of ${bytes(cap)}${cap ? ` (${((used / cap) * 100).toFixed(1)} %)` : ''}`),
    ),
  );

  box.append(el('h3', null, 'Outcomes per ruleset'));
  if (!rows.length) {
    box.append(el('p', { className: 'muted' }, 'No requests counted yet.'));
    return;
  }
  box.append(chart(rows));

  const table = el('table', { id: 'stats-table' },
    el('caption', { className: 'visually-hidden' }, 'Cache outcomes per ruleset'),
    el('thead', null, el('tr', null,
      el('th', { scope: 'col' }, 'Ruleset'),
      ...['Hits', 'Stale', 'Misses', 'Revalidated 304', 'Revalidated 200', 'Bypass', 'Hit ratio', 'Bytes served'].map((h) => el('th', { scope: 'col', className: 'num' }, h)))),
  );
  const tbody = el('tbody');
  for (const [name, s] of rows) {
    const served = (s.hits || 0) + (s.stale || 0) + (s.revalidated304 || 0);
    const total = served + (s.misses || 0) + (s.revalidated200 || 0);
    tbody.append(el('tr', null,
      el('th', { scope: 'row' }, el('code', null, name)),
      ...[s.hits, s.stale, s.misses, s.revalidated304, s.revalidated200, s.bypass].map((v) => el('td', { className: 'num' }, num(v))),
      el('td', { className: 'num' }, total ? `${Math.round((served / total) * 100)} %` : '—'),
      el('td', { className: 'num' }, bytes(s.bytes)),
    ));
  }
  table.append(tbody);
  box.append(el('div', { className: 'scroll' }, table));
}

/**
 * Horizontal stacked bars per ruleset, scaled to the busiest ruleset. Labels
 * are HTML (they stay readable at any width); each bar is a small inline SVG.
 */
function chart(rows) {
  const W = 1000;
  const totals = rows.map(([, s]) => SERIES.reduce((t, [k]) => t + (Number(s[k]) || 0), 0));
  const max = Math.max(1, ...totals);
  const figure = el('figure', { className: 'chart-box' },
    el('figcaption', { className: 'visually-hidden' }, 'Hits, stale, misses and bypass per ruleset; the numbers are in the table below.'));
  rows.forEach(([name, s], r) => {
    const bar = svg('svg', { viewBox: `0 0 ${W} 10`, preserveAspectRatio: 'none', class: 'chart-bar', 'aria-hidden': 'true', focusable: 'false' });
    let x = 0;
    for (const [k, label] of SERIES) {
      const v = Number(s[k]) || 0;
      if (!v) continue;
      const w = (v / max) * W;
      bar.append(svg('rect', { x: x.toFixed(2), y: 0, width: Math.max(2, w).toFixed(2), height: 10, class: `seg seg-${k}` },
        svg('title', null, `${v} ${label.toLowerCase()}`)));
      x += w;
    }
    if (!totals[r]) bar.append(svg('rect', { x: 0, y: 0, width: W, height: 10, class: 'seg seg-none' }));
    figure.append(el('div', { className: 'chart-row' },
      el('div', { className: 'chart-label' }, el('code', null, name), ` ${num(totals[r])}`),
      bar));
  });
  figure.append(el('ul', { className: 'legend', 'aria-hidden': 'true' },
    SERIES.map(([k, label]) => el('li', null, el('span', { className: `swatch seg-${k}` }), label))));
  return figure;
}

function setupStats() {
  $('stats-refresh').addEventListener('click', async () => {
    await busy($('stats-refresh'), async () => {
      await loadStats();
      announce('Stats refreshed.', 'info');
    });
  });
}

// ---------------------------------------------------------------- explain

function parseHeaders(src) {
  const out = {};
  const bad = [];
  for (const raw of src.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    const at = line.indexOf(':');
    if (at <= 0) {
      bad.push(line);
      continue;
    }
    out[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return { headers: out, bad };
}

function headerTable(caption, headers) {
  const entries = headers && typeof headers === 'object' ? Object.entries(headers) : [];
  if (!entries.length) return el('p', { className: 'muted' }, `${caption}: none`);
  return el('div', { className: 'scroll' },
    el('table', { className: 'headers' },
      el('caption', null, caption),
      el('thead', null, el('tr', null, el('th', { scope: 'col' }, 'Header'), el('th', { scope: 'col' }, 'Value'))),
      el('tbody', null, entries.map(([k, v]) => el('tr', null, el('th', { scope: 'row' }, el('code', null, k)), el('td', null, el('code', null, text(v)))))),
    ));
}

function setupExplain() {
  $('explain-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const urlInput = $('explain-url');
    let url;
    try {
      url = new URL(urlInput.value.trim(), location.origin).href;
    } catch {
      urlInput.setAttribute('aria-invalid', 'true');
      announce('Enter a valid URL.', 'error');
      urlInput.focus();
      return;
    }
    urlInput.setAttribute('aria-invalid', 'false');
    const { headers, bad } = parseHeaders($('explain-headers').value);
    if (bad.length) {
      $('explain-headers').setAttribute('aria-invalid', 'true');
      announce(`Header lines need “Name: value”: ${bad.join(', ')}`, 'error');
      $('explain-headers').focus();
      return;
    }
    $('explain-headers').setAttribute('aria-invalid', 'false');
    const body = { method: $('explain-method').value, url, cookies: $('explain-cookies').value.trim(), headers };
    const box = $('explain-result');
    await busy($('explain'), async () => {
      try {
        const r = (await api('explain', { method: 'POST', body })) || {};
        const c = r.cached || null;
        clear(box).append(
          el('h3', null, 'Decision'),
          facts([
            ['Ruleset', el('code', { id: 'explain-ruleset' }, text(r.ruleset))],
            ['Matched rule', r.rule],
            ['Operation', r.operation],
            ['Chained operations', r.chain],
            ['Bypass', r.bypass === null || r.bypass === undefined ? 'no' : r.bypass],
            ['Audience', r.audience],
            ['Cache key', r.key ? el('code', null, r.key) : '—'],
            ['Variant', r.variant],
          ]),
          el('h3', null, 'In the cache now'),
          c ? facts([
            ['Present', c.present],
            ['Fresh', c.fresh],
            ['Age', c.age === null || c.age === undefined ? '—' : `${c.age} s`],
            ['Time to live', c.ttl === null || c.ttl === undefined ? '—' : `${c.ttl} s`],
            ['Would be', c.status],
          ]) : el('p', { className: 'muted' }, 'Nothing stored for this key.'),
          el('h3', null, 'Headers'),
          headerTable('Request headers sent to the origin', r.requestHeadersToOrigin),
          headerTable('Response headers sent downstream', r.responseHeaders),
        );
        box.classList.remove('bad');
        show(box, true);
        announce(`Explained: ruleset ${text(r.ruleset)}, operation ${text(r.operation)}.`, 'ok');
      } catch (err) {
        if (err instanceof ApiError && err.body && Array.isArray(err.body.errors)) {
          clear(box).append(el('h3', null, 'Could not explain'),
            el('ul', { className: 'errors' }, err.body.errors.map((e) => el('li', null, typeof e === 'string' ? e : `${e.path || ''} ${text(e.message)}`))));
          box.classList.add('bad');
          show(box, true);
        }
        failed('Explain', err);
      }
    });
  });
}

// ---------------------------------------------------------------- start

async function start() {
  setupUnlock();
  setupTabs();
  setupSettings();
  setupImport();
  setupPurge();
  setupStats();
  setupExplain();

  const token = secret();
  if (token) {
    try {
      await unlockWith(token);
    } catch (err) {
      // A rejected secret has already locked the panel with a message.
      if (!(err instanceof ApiError && (err.status === 401 || err.status === 403))) {
        lock('The worker could not be reached. Try again.');
      }
    }
    return;
  }
  lock('');
}

start();
