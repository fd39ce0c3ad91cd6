// The stats tab: this isolate's memory tier and its outcomes per ruleset, as a chart and a table.
import { $, clear, el, svg } from './dom.js';
import { bytes, num, time } from './format.js';
import { announce } from './status.js';
import { api, busy, failed } from './api.js';
import { state } from './state.js';

const SERIES = [
  ['hits', 'Hits'],
  ['stale', 'Stale'],
  ['misses', 'Misses'],
  ['bypass', 'Bypass'],
];

export async function loadStats() {
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
      el('td', { className: 'num' }, bytes(s.bytesFromCache)),
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

export function setupStats() {
  $('stats-refresh').addEventListener('click', async () => {
    await busy($('stats-refresh'), async () => {
      await loadStats();
      announce('Stats refreshed.', 'info');
    });
  });
}
