// Heads and bodies across the wasm boundary in one crossing each (see convert.rs): header
// fields travel as "name\nvalue\n" lines.
function put(h, lines) {
  const a = lines.split('\n');
  for (let i = 0; i + 1 < a.length; i += 2) {
    // A field the runtime refuses (e.g. a stray control byte) is dropped.
    try { h.append(a[i], a[i + 1]); } catch (_) {}
  }
  return h;
}
export function headLines(h) {
  let s = '';
  for (const [n, v] of h) s += n + '\n' + v + '\n';
  return s;
}
export function requestLines(r) { return r.method + '\n' + r.url + '\n' + headLines(r.headers); }
export function responseLines(r) { return r.status + '\n' + headLines(r.headers); }
export function headersFromLines(lines) { return put(new Headers(), lines); }
export function editedHeaders(h, removed, added) {
  const c = new Headers(h);
  for (const n of removed.split('\n')) {
    try { if (n) c.delete(n); } catch (_) {}
  }
  return put(c, added);
}
export function respond(status, h, bytes, stream) {
  const headers = typeof h === 'string' ? put(new Headers(), h) : h;
  return new Response(stream ?? bytes ?? null, { status, headers });
}
export function forward(url, method, headers, body) {
  // 'no-store': the zone's own URL-keyed cache must not answer (or keep) what this cache
  // splits by audience and purges through its ledger.
  return fetch(url, { method, headers, body, redirect: 'manual', cache: 'no-store' });
}
export async function readCapped(r, cap) {
  const len = r.headers.get('content-length');
  if (len !== null && Number(len) > cap) return null;
  if (!r.body) return new Uint8Array(0);
  const reader = r.body.getReader();
  const chunks = [];
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    n += value.byteLength;
    if (n > cap) { reader.cancel().catch(() => {}); return null; }
    chunks.push(value);
  }
  const out = new Uint8Array(n);
  let o = 0;
  for (const c of chunks) { out.set(c, o); o += c.byteLength; }
  return out;
}
export function sliceStream(stream, start, end) {
  const reader = stream.getReader();
  let pos = 0;
  return new ReadableStream({
    async pull(ctrl) {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) { ctrl.close(); return; }
        const s = pos;
        pos += value.byteLength;
        if (pos <= start) continue;
        const from = Math.max(start - s, 0), to = Math.min(end + 1 - s, value.byteLength);
        if (from < to) ctrl.enqueue(value.subarray(from, to));
        if (pos > end) { ctrl.close(); reader.cancel().catch(() => {}); }
        return;
      }
    },
    cancel(reason) { return reader.cancel(reason); },
  });
}
