// RFC 9111 conformance in the real runtime for what only the runtime shows: origin answers
// the runtime's `fetch` hands over oddly (interim 1xx, statuses outside 200–599, explicit or
// unknown Transfer-Encoding, conflicting Content-Length), extension methods, Content-Length
// on stored responses, HEAD. The origin is a raw-socket server in this file, so it can send
// what no HTTP library would; the worker runs its bundled default profile (the split-view
// profile), under which every path here is left to the origin (`honourOrigin`).
//
//   make build && node --test tests/integration/conformance.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { startStack, sleep } from '../support/stack.mjs';

/** path → function(request) returning the raw bytes of the answer (a latin1 string). */
const routes = new Map();
/** Every request the origin saw: { method, path, headers (lower-case names → raw values) }. */
const seen = [];
let server;
let stack;

function startRawOrigin() {
  server = net.createServer((sock) => {
    let buf = Buffer.alloc(0);
    sock.on('error', () => {});
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
      const [method, target] = lines[0].split(' ');
      const headers = {};
      for (const l of lines.slice(1)) {
        const i = l.indexOf(':');
        const name = l.slice(0, i).trim().toLowerCase();
        headers[name] = headers[name] === undefined ? l.slice(i + 1).trim() : `${headers[name]}, ${l.slice(i + 1).trim()}`;
      }
      const length = Number(headers['content-length'] ?? 0);
      if (buf.length < end + 4 + length && !headers['transfer-encoding']) return;
      const path = target.split('?')[0];
      const req = { method, path, headers, n: seen.filter((s) => s.path === path).length + 1 };
      seen.push(req);
      const route = routes.get(path);
      const answer = route ? route(req) : 'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n';
      buf = Buffer.alloc(0);
      sock.end(Buffer.from(answer, 'latin1'));
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${server.address().port}`)));
}

/** A complete HTTP/1.1 response: status line, fields, a body framed by Content-Length. */
function resp(status, fields = [], body = '', { length = true } = {}) {
  const head = [`HTTP/1.1 ${status} X`, ...fields.map(([n, v]) => `${n}: ${v}`)];
  if (length) head.push(`Content-Length: ${Buffer.byteLength(body, 'latin1')}`);
  return `${head.join('\r\n')}\r\n\r\n${body}`;
}

/** Requests through the worker with node:http (headers exactly as given, raw framing seen). */
function raw(p, { method = 'GET', headers = {}, body } = {}) {
  const u = new URL(`${stack.workerUrl}${p}`);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method, headers, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('error', reject);
      res.on('end', () => {
        const b = Buffer.concat(chunks);
        resolve({ status: res.statusCode, headers: res.headers, body: b, text: b.toString('latin1'), cs: String(res.headers['cache-status'] ?? '') });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

const hits = (path) => seen.filter((s) => s.path === path).length;
const last = (path) => seen.filter((s) => s.path === path).at(-1);
const detail = (cs) => /detail=("?)([^;,"]+)\1/.exec(cs)?.[2];
const isHit = (cs) => /^rulecache; hit\b/.test(cs);

/** Repeats `fn` until `ok(result)` (bounded): the Cache API is written after the answer. */
async function until(fn, ok, timeoutMs = 5000) {
  const end = Date.now() + timeoutMs;
  let r = await fn();
  while (!ok(r) && Date.now() < end) {
    await sleep(50);
    r = await fn();
  }
  return r;
}

before(async () => {
  const originUrl = await startRawOrigin();
  stack = await startStack({ originUrl });
});

after(async () => {
  if (stack) await stack.stop();
  if (server) server.close();
});

test('the origin\'s Vary reaches the client unchanged under the default profile, on a miss and a hit', async () => {
  routes.set('/vary', () => resp(200, [['Cache-Control', 'max-age=600'], ['Vary', 'Foo']], 'v'));
  const miss = await raw('/vary', { headers: { foo: '1' } });
  assert.equal(miss.headers.vary, 'Foo');
  const hit = await until(() => raw('/vary', { headers: { foo: '1' } }), (r) => isHit(r.cs));
  assert.ok(isHit(hit.cs), hit.cs);
  assert.equal(hit.headers.vary, 'Foo');
  // `Foo` is no field the cache path forwards until a stored Vary names it: the first answer
  // is keyed as the origin was asked (without it), the second request fetches Foo's variant.
  assert.equal(hits('/vary'), 2);
});

for (const [status, why] of [[999, 'origin-invalid-status'], [600, 'origin-invalid-status'], [199, 'origin-interim-response']]) {
  test(`an origin status of ${status} is a 502 saying why, and the stored entry stays`, async () => {
    const p = `/status-${status}`;
    routes.set(p, (req) => {
      if (req.n === 1) return resp(200, [['Cache-Control', 'max-age=600'], ['ETag', '"s1"']], 'stored');
      return resp(status, [['Cache-Control', 'max-age=600']], 'odd');
    });
    assert.equal((await raw(p)).text, 'stored');
    // The client's no-cache makes the edge revalidate; the origin's odd status comes back.
    const r = await raw(p, { headers: { 'cache-control': 'no-cache' } });
    assert.equal(r.status, 502, r.cs);
    assert.equal(detail(r.cs), why);
    assert.match(r.cs, new RegExp(`fwd-status=${status}`));
    const again = await raw(p);
    assert.ok(isHit(again.cs), again.cs);
    assert.equal(again.text, 'stored');
    // A miss that meets the odd status is a 502 too.
    routes.set(`${p}-miss`, () => resp(status, [], 'odd'));
    const miss = await raw(`${p}-miss`);
    assert.equal(miss.status, 502, miss.cs);
    assert.equal(detail(miss.cs), why);
  });
}

for (const interim of ['102 Processing', '103 Early Hints\r\nLink: </s.css>; rel=preload']) {
  test(`an interim ${interim.slice(0, 3)} before the final response is a 502 saying why, never a 500`, async () => {
    const p = `/interim-${interim.slice(0, 3)}`;
    routes.set(p, () => `HTTP/1.1 ${interim}\r\n\r\n${resp(200, [['Cache-Control', 'max-age=600']], 'final')}`);
    const r = await raw(p);
    assert.equal(r.status, 502, r.cs);
    assert.equal(detail(r.cs), 'origin-interim-response');
    assert.equal(r.text.includes('HTTP/1.1'), false, 'the final response is not passed on as content');
  });
}

test('an explicit Transfer-Encoding: chunked response passes through and is stored', async () => {
  routes.set('/te', () => 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nCache-Control: max-age=600\r\n\r\n2\r\nok\r\n0\r\n\r\n');
  const r = await raw('/te');
  assert.equal(r.status, 200, r.cs);
  assert.equal(r.text, 'ok');
  const hit = await until(() => raw('/te'), (x) => isHit(x.cs));
  assert.ok(isHit(hit.cs), hit.cs);
  assert.equal(hit.text, 'ok');
  assert.equal(hits('/te'), 1);
});

test('an unknown Transfer-Encoding or conflicting Content-Length is a 502 saying why', async () => {
  routes.set('/te-gzip', () => 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nCache-Control: max-age=600\r\n\r\n2\r\nok\r\n0\r\n\r\n');
  const r = await raw('/te-gzip');
  assert.equal(r.status, 502, r.cs);
  assert.equal(detail(r.cs), 'origin-invalid-response');
  routes.set('/cl-twice', () => 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok');
  const c = await raw('/cl-twice');
  assert.equal(c.status, 502, c.cs);
  assert.equal(detail(c.cs), 'origin-invalid-response');
});

test('an origin that closes the connection without answering is a 502 origin-unreachable, apart from one that answers garbage', async () => {
  routes.set('/drop', () => '');
  const r = await raw('/drop');
  assert.equal(r.status, 502, r.cs);
  assert.equal(detail(r.cs), 'origin-unreachable');
  routes.set('/garbage', () => 'NOT HTTP AT ALL\r\n\r\n');
  const g = await raw('/garbage');
  assert.equal(g.status, 502, g.cs);
  assert.equal(detail(g.cs), 'origin-invalid-response');
});

test('content that ends before its Content-Length is a 502, not stored, never a 500', async () => {
  routes.set('/short', () => 'HTTP/1.1 200 OK\r\nCache-Control: max-age=600\r\nContent-Length: 100\r\n\r\nonly ten b');
  const r = await raw('/short').catch((e) => ({ status: 'client saw the connection end', cs: String(e) }));
  assert.notEqual(r.status, 500, r.cs);
  if (r.status === 502) assert.equal(detail(r.cs), 'origin-invalid-content');
  const again = await raw('/short').catch(() => ({ cs: '' }));
  assert.equal(isHit(again.cs), false, 'nothing was stored');
});

test('content the runtime cannot decode (Content-Encoding: gzip over plain bytes) is a 502, never a 500', async () => {
  routes.set('/bad-gzip', () => resp(200, [['Cache-Control', 'max-age=600'], ['Content-Encoding', 'gzip']], 'not gzip at all'));
  const r = await raw('/bad-gzip');
  assert.equal(r.status, 502, r.cs);
  assert.equal(detail(r.cs), 'origin-invalid-content');
  const again = await raw('/bad-gzip');
  assert.equal(isHit(again.cs), false, 'nothing was stored');
});

test('a stale entry stands in for an odd origin status under stale-if-error', async () => {
  routes.set('/sie', (req) => (req.n === 1
    ? resp(200, [['Cache-Control', 'max-age=1, stale-if-error=600']], 'stored')
    : resp(999, [], 'odd')));
  await raw('/sie');
  await sleep(2100);
  const r = await raw('/sie');
  assert.equal(r.status, 200, r.cs);
  assert.equal(r.text, 'stored');
  assert.equal(detail(r.cs), 'stale-if-error');
});

for (const method of ['PROPFIND', 'REPORT', 'SEARCH', 'MKCOL', 'QUERY']) {
  test(`${method} is forwarded with its body and invalidates the stored GET`, async () => {
    const p = `/m-${method}`;
    routes.set(p, (req) => (req.method === 'GET'
      ? resp(200, [['Cache-Control', 'max-age=600']], `get-${req.n}`)
      : resp(207, [['Content-Type', 'application/xml']], '<multistatus/>')));
    await raw(p);
    assert.ok(isHit((await until(() => raw(p), (x) => isHit(x.cs))).cs));
    const r = await raw(p, { method, headers: { depth: '1', 'content-type': 'application/xml' }, body: '<propfind/>' });
    assert.equal(r.status, 207, r.cs);
    assert.equal(r.text, '<multistatus/>');
    assert.equal(last(p).method, method);
    assert.equal(last(p).headers.depth, '1');
    const after = await raw(p);
    assert.equal(isHit(after.cs), false, `the ${method} invalidated the entry: ${after.cs}`);
    assert.equal(last(p).method, 'GET');
  });
}

test('M-SEARCH and other methods the runtime cannot send get a 501 and never reach the origin', async () => {
  routes.set('/msearch', () => resp(200, [], 'never'));
  for (const method of ['M-SEARCH', 'BREW']) {
    const r = await raw('/msearch', { method });
    assert.equal(r.status, 501, method);
  }
  assert.equal(hits('/msearch'), 0);
});

test('a stored response keeps the origin\'s Content-Length, from memory, from the Cache API and after a 304', async () => {
  const big = 'x'.repeat(300 * 1024);
  for (const [p, body] of [['/cl-small', 'twelve bytes'], ['/cl-big', big]]) {
    routes.set(p, (req) => (req.headers['if-none-match'] === '"c1"'
      ? resp(304, [['Cache-Control', 'max-age=600'], ['ETag', '"c1"']], '', { length: false })
      : resp(200, [['Cache-Control', 'max-age=600'], ['ETag', '"c1"']], body)));
    const miss = await raw(p);
    assert.equal(miss.headers['content-length'], String(body.length), `${p} miss`);
    const hit = await until(() => raw(p), (x) => isHit(x.cs));
    assert.ok(isHit(hit.cs), hit.cs);
    assert.equal(hit.headers['content-length'], String(body.length), `${p} hit`);
    assert.equal(hit.headers['transfer-encoding'], undefined, `${p} hit is not chunked`);
    const revalidated = await raw(p, { headers: { 'cache-control': 'no-cache' } });
    assert.match(revalidated.cs, /fwd-status=304/);
    assert.equal(revalidated.headers['content-length'], String(body.length), `${p} after the 304`);
    assert.equal(revalidated.body.length, body.length);
    const later = await until(() => raw(p), (x) => isHit(x.cs));
    assert.equal(later.headers['content-length'], String(body.length), `${p} hit after the 304`);
  }
});

test('Content-Length is kept for a client that accepts gzip, unless the runtime compresses the type', async () => {
  // The runtime (like Cloudflare's edge) compresses compressible types such as text/html for
  // a client that accepts gzip, for any worker, and then sends them chunked; other types keep
  // the origin's Content-Length on hits as on misses.
  routes.set('/cl-gzip', () => resp(200, [['Cache-Control', 'max-age=600'], ['Content-Type', 'application/octet-stream']], 'binary bytes'));
  const ae = { 'accept-encoding': 'gzip, deflate, br' };
  assert.equal((await raw('/cl-gzip', { headers: ae })).headers['content-length'], '12');
  const hit = await until(() => raw('/cl-gzip', { headers: ae }), (x) => isHit(x.cs));
  assert.ok(isHit(hit.cs), hit.cs);
  assert.equal(hit.headers['content-length'], '12');
});

test('a list-valued Age counts by its first member: Age 7200, 0 with max-age 3600 is stale', async () => {
  routes.set('/age', () => 'HTTP/1.1 200 OK\r\nCache-Control: max-age=3600\r\nAge: 7200\r\nAge: 0\r\nContent-Length: 1\r\n\r\na');
  await raw('/age');
  const second = await raw('/age');
  assert.equal(isHit(second.cs), false, second.cs);
  assert.equal(hits('/age'), 2);
});

test('a HEAD miss is fetched as a GET and stored: the next GET is a hit', async () => {
  routes.set('/head-miss', () => resp(200, [['Cache-Control', 'max-age=600']], 'whole body'));
  const h = await raw('/head-miss', { method: 'HEAD' });
  assert.equal(h.status, 200);
  assert.equal(h.body.length, 0);
  assert.equal(last('/head-miss').method, 'GET');
  const g = await until(() => raw('/head-miss'), (x) => isHit(x.cs));
  assert.ok(isHit(g.cs), g.cs);
  assert.equal(g.text, 'whole body');
  assert.equal(hits('/head-miss'), 1);
});

test('a HEAD that revalidates is sent as a HEAD; its 200 updates the stored GET', async () => {
  routes.set('/head-update', (req) => (req.method === 'HEAD'
    ? resp(200, [['Cache-Control', 'max-age=600'], ['ETag', '"h1"'], ['Template-A', '2']], '', { length: false })
    : resp(200, [['Cache-Control', 'max-age=600'], ['ETag', '"h1"'], ['Template-A', '1']], 'body')));
  await raw('/head-update');
  const h = await raw('/head-update', { method: 'HEAD', headers: { 'cache-control': 'no-cache' } });
  assert.equal(h.status, 200, h.cs);
  assert.equal(last('/head-update').method, 'HEAD');
  assert.equal(last('/head-update').headers['if-none-match'], '"h1"');
  const g = await until(() => raw('/head-update'), (x) => x.headers['template-a'] === '2');
  assert.ok(isHit(g.cs), g.cs);
  assert.equal(g.headers['template-a'], '2');
  assert.equal(g.text, 'body');
  assert.equal(hits('/head-update'), 2);
});

test('a client If-None-Match is forwarded on a miss and the origin\'s 304 reaches the client', async () => {
  routes.set('/inm', (req) => (req.headers['if-none-match'] === '"abcdef"'
    ? resp(304, [['ETag', '"abcdef"'], ['Cache-Control', 'max-age=600']], '', { length: false })
    : resp(200, [['ETag', '"abcdef"'], ['Cache-Control', 'max-age=600']], 'body')));
  const r = await raw('/inm', { headers: { 'if-none-match': '"abcdef"' } });
  assert.equal(r.status, 304, r.cs);
  assert.equal(last('/inm').headers['if-none-match'], '"abcdef"');
});

test('an entity tag with obs-text: the runtime hands it over as U+FFFD, and revalidation stays correct', async () => {
  // workerd decodes response fields as UTF-8, so obs-text bytes reach the worker (and the
  // client) as U+FFFD; the bytes the origin sent are gone before the worker sees them. The
  // conditional request then carries a tag the origin does not know: it answers 200, which
  // is served and stored; never a 304 for the wrong representation, never an error.
  const tag = '"\x80abc\xff"';
  routes.set('/obs', (req) => (req.headers['if-none-match'] === tag
    ? resp(304, [['ETag', tag], ['Cache-Control', 'max-age=600']], '', { length: false })
    : resp(200, [['ETag', tag], ['Cache-Control', 'max-age=600']], `obs-${req.n}`)));
  const first = await raw('/obs');
  assert.equal(first.text, 'obs-1');
  assert.equal(Buffer.from(first.headers.etag, 'latin1').toString('utf8'), '"\ufffdabc\ufffd"');
  const r = await raw('/obs', { headers: { 'cache-control': 'no-cache' } });
  assert.ok(last('/obs').headers['if-none-match'], 'the stored tag was sent back');
  assert.equal(r.status, 200, r.cs);
  assert.equal(r.text, 'obs-2');
  assert.match(r.cs, /fwd-status=200/);
});

test('no origin answer in this file made the worker answer 500', async () => {
  for (const p of ['/status-999', '/interim-103', '/te-gzip', '/cl-twice']) {
    const r = await raw(p);
    assert.notEqual(r.status, 500, `${p}: ${r.cs}`);
  }
});
