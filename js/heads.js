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
// `forEach` is one call into the runtime; `for...of` makes an iterator result and an entry
// array per field (a quarter to a third slower on a 4- to 10-field head).
export function headLines(h) {
  let s = '';
  h.forEach((v, n) => {
    s += n + '\n' + v + '\n';
  });
  return s;
}
export function requestLines(r) { return r.method + '\n' + r.url + '\n' + headLines(r.headers); }
export function responseLines(r) { return r.status + '\n' + headLines(r.headers); }
export function headersFromLines(lines) { return put(new Headers(), lines); }
// Removes the fields named in `removed` (one per line) and appends `added`'s lines, in place.
function edit(h, removed, added) {
  if (removed) {
    for (const n of removed.split('\n')) {
      try { if (n) h.delete(n); } catch (_) {}
    }
  }
  return added ? put(h, added) : h;
}
export function editedHeaders(h, removed, added) {
  return edit(new Headers(h), removed, added);
}
// A response with the fields of `h` (lines, or a Headers object then edited): the runtime
// copies a Headers object once, into the response, whose own fields are then edited.
export function respond(status, h, removed, added, bytes, stream) {
  const body = stream ?? bytes ?? null;
  if (typeof h === 'string') return new Response(body, { status, headers: headersFromLines(h) });
  const r = new Response(body, { status, headers: h });
  edit(r.headers, removed, added);
  return r;
}
// The client's request forwarded with the fields of `h` edited the same way, in the request
// built for it (one copy).
export function forward(url, method, h, removed, added, body) {
  // 'no-store': the zone's own URL-keyed cache must not answer (or keep) what this cache
  // splits by audience and purges through its ledger.
  const init = { method, headers: h, body, redirect: 'manual', cache: 'no-store' };
  if (!removed && !added) return fetch(url, init);
  const r = new Request(url, init);
  edit(r.headers, removed, added);
  return fetch(r);
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
