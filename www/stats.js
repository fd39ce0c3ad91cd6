// The stats tab: the fleet's figures (every isolate and location summed), then this isolate's
// memory tier and its outcomes per ruleset, as a chart and a table.
import { $, clear, el, svg } from './dom.js';
import { bytes, facts, num, time } from './format.js';
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
  const fleet = $('fleet-body');
  fleet.setAttribute('aria-busy', 'true');
  try {
    renderFleet((await api('stats/fleet')) || {});
  } catch (err) {
    clear(fleet).append(el('p', { className: 'muted' }, `The fleet's figures could not be read: ${err.message}`));
  } finally {
    fleet.removeAttribute('aria-busy');
  }
}

/** The share of requests answered from storage. */
function ratio(fromCache, requests) {
  return requests ? `${Math.round((fromCache / requests) * 100)} %` : '—';
}

/** The fleet's figures: every location's isolates summed (see docs: Observability). */
function renderFleet(data) {
  const box = clear($('fleet-body'));
  const t = data.totals || {};
  const fromCache = (t.hits || 0) + (t.stale || 0) + (t.revalidated304 || 0);
  const lat = data.originLatencyMs || {};
  const ms = (v) => (typeof v === 'number' ? `${Math.round(v)} ms` : '—');
  box.append(
    el('h3', null, 'The fleet'),
    el('p', { className: 'hint', id: 'fleet-scope' },
      'Every location\'s isolates summed, since ', time(data.since),
      `; each isolate reports every ${num((data.flushIntervalMs || 0) / 1000)} s or more, on the back of a request.`),
    facts([
      ['Requests', num(data.requests)],
      ['Hit ratio', ratio(fromCache, data.requests || 0)],
      ['From cache / origin', `${bytes(t.bytesFromCache)} / ${bytes(t.bytesFromOrigin)}`],
      ['Origin latency p50 / p95 / p99', `${ms(lat.p50)} / ${ms(lat.p95)} / ${ms(lat.p99)}`],
      ['Purges taken', num(data.purges)],
    ]),
  );

  // Hit ratio per minute, the last hour.
  const minutes = (data.minutes || []).slice(-60);
  if (minutes.length) {
    const W = 600;
    const H = 60;
    const w = W / 60;
    const chart = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart-minutes', id: 'fleet-minutes', role: 'img', 'aria-label': 'Hit ratio per minute, the last hour' });
    const last = minutes[minutes.length - 1].at;
    for (const m of minutes) {
      const r = m.requests ? (m.fromCache || 0) / m.requests : 0;
      const x = W - w * (1 + (last - m.at) / 60000);
      const h = Math.max(1, r * H);
      chart.append(svg('rect', { x: x.toFixed(1), y: (H - h).toFixed(1), width: (w - 1).toFixed(1), height: h.toFixed(1), class: 'seg-hits' },
        svg('title', null, `${new Date(m.at).toLocaleTimeString()}: ${ratio(m.fromCache || 0, m.requests)} of ${m.requests}`)));
    }
    box.append(el('figure', { className: 'chart-box' }, el('figcaption', null, 'Hit ratio per minute (the last hour)'), chart));
  }

  const rulesets = Object.entries(data.rulesets || {}).sort(([a], [b]) => a.localeCompare(b));
  const reasons = (m) => Object.entries(m || {}).map(([k, v]) => `${k} ${num(v)}`).join(', ') || '—';
  const table = el('table', { id: 'fleet-table' },
    el('caption', { className: 'visually-hidden' }, 'The fleet per ruleset'),
    el('thead', null, el('tr', null,
      el('th', { scope: 'col' }, 'Ruleset'),
      ...['Requests', 'Hit ratio', 'Bypass', 'Errors'].map((h) => el('th', { scope: 'col', className: 'num' }, h)),
      el('th', { scope: 'col' }, 'Why bypassed'),
      el('th', { scope: 'col' }, 'Why not stored'))));
  const tbody = el('tbody');
  for (const [name, s] of rulesets) {
    const requests = ['hits', 'stale', 'misses', 'revalidated304', 'revalidated200', 'bypass', 'errors', 'synthetic'].reduce((n, k) => n + (s[k] || 0), 0);
    tbody.append(el('tr', null,
      el('th', { scope: 'row' }, el('code', null, name)),
      el('td', { className: 'num' }, num(requests)),
      el('td', { className: 'num' }, ratio((s.hits || 0) + (s.stale || 0) + (s.revalidated304 || 0), requests)),
      el('td', { className: 'num' }, num(s.bypass || 0)),
      el('td', { className: 'num' }, num(s.errors || 0)),
      el('td', null, reasons(s.bypassReasons)),
      el('td', null, reasons(s.notStored))));
  }
  table.append(tbody);
  box.append(el('h4', null, 'Per ruleset'), el('div', { className: 'scroll' }, table));

  const locations = Object.entries(data.locations || {}).sort(([a], [b]) => a.localeCompare(b));
  const loc = el('table', { id: 'fleet-locations' },
    el('caption', { className: 'visually-hidden' }, 'Locations'),
    el('thead', null, el('tr', null,
      el('th', { scope: 'col' }, 'Location'),
      ...['Requests', 'Isolates'].map((h) => el('th', { scope: 'col', className: 'num' }, h)),
      el('th', { scope: 'col' }, 'Last report'))));
  const lbody = el('tbody');
  for (const [name, s] of locations) {
    lbody.append(el('tr', null, el('th', { scope: 'row' }, name), el('td', { className: 'num' }, num(s.requests)),
      el('td', { className: 'num' }, num(s.isolates)), el('td', null, time(s.lastReport))));
  }
  loc.append(lbody);
  box.append(el('h4', null, 'Locations'), el('div', { className: 'scroll' }, loc));
}

function renderStats(data) {
  const scope = $('stats-scope');
  clear(scope).append(
    'Below, counted by this isolate alone since ', time(data.since),
    '; the fleet\'s figures above sum every isolate and location.',
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
