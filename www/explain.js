// The explain tab: what the cache would do with a request, and what it holds for it now.
import { $, clear, el, show } from './dom.js';
import { facts, text } from './format.js';
import { announce } from './status.js';
import { api, ApiError, busy, failed } from './api.js';

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

export function setupExplain() {
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
