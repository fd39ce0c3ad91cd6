// A line diff of two texts (longest common subsequence) and its rendering, long unchanged runs
// folded.
import { clear, el } from './dom.js';

/** LCS line diff. Returns [{t: ' '|'+'|'-', s: line}]. */
export function diffLines(a, b) {
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
export function renderDiff(box, ops) {
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
