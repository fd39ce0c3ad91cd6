// The settings tab: the active policy, its rulesets and history (roll back), and the bundle's
// editor (format, revert, save) with its errors pointing at the lines they are about.
import { $, clear, el, show } from './dom.js';
import { facts, paramList, text, time } from './format.js';
import { announce } from './status.js';
import { api, ApiError, busy, failed } from './api.js';
import { state } from './state.js';
import { findPath, locate } from './json-pointer.js';

export async function reloadPolicy() {
  state.policy = await api('policy');
  renderPolicy();
}

export function renderPolicy() {
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

export function setupSettings() {
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
