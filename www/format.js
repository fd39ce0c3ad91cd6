// Values as the panel shows them: text for a field that may be missing, times, sizes, counts,
// lists of facts and parameters, and JSON with sorted keys.
import { el } from './dom.js';

/** A readable value for a field that may be null or missing. */
export function text(v) {
  if (v === null || v === undefined || v === '') return '—';
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (Array.isArray(v)) return v.length ? v.map((x) => (typeof x === 'object' ? JSON.stringify(x) : String(x))).join(', ') : '—';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

export function time(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return document.createTextNode('—');
  const d = new Date(ms);
  return el('time', { datetime: d.toISOString() }, d.toLocaleString());
}

export function bytes(n) {
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

export function num(n) {
  return typeof n === 'number' && Number.isFinite(n) ? n.toLocaleString() : '—';
}

/** A <dl> from [term, value] pairs; value may be a Node. */
export function facts(pairs, className = 'facts') {
  const dl = el('dl', { className });
  for (const [term, value] of pairs) {
    dl.append(el('dt', null, term), el('dd', null, value instanceof Node ? value : text(value)));
  }
  return dl;
}

export function paramList(params) {
  if (!params || typeof params !== 'object' || !Object.keys(params).length) {
    return el('span', { className: 'muted' }, 'none');
  }
  const dl = el('dl', { className: 'params' });
  for (const [k, v] of Object.entries(params)) {
    dl.append(el('dt', null, k), el('dd', null, text(v)));
  }
  return dl;
}

/** Sorted-key, pretty-printed JSON (stable for diffs). */
export function canonical(value) {
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
