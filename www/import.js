// The import tab: a shipped profile compared with the active bundle (operations per ruleset and
// a line diff), and activated.
import { $, clear, el, show } from './dom.js';
import { canonical, paramList, text } from './format.js';
import { announce } from './status.js';
import { api, ApiError, busy, failed } from './api.js';
import { state } from './state.js';
import { reloadPolicy } from './settings.js';
import { diffLines, renderDiff } from './diff.js';

export async function loadProfiles() {
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

export function setupImport() {
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
