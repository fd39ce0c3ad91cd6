// Black-box tests of the RFC 9111 cache core in the real runtime: the built worker in
// workerd (Miniflare) in front of the demo origin. Every test counts origin hits to prove
// what was, and was not, served from the cache.
//
//   make build origin && node --test --test-concurrency=1 tests/integration/cache.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import { startStack, client, ns, sleep } from '../support/stack.mjs';

let stack;
let c;

before(async () => {
  stack = await startStack();
  c = client(stack);
});

after(async () => {
  if (stack) await stack.stop();
});

/** Builds `/t/...?query` from a path and an object (arrays repeat a parameter). */
function url(path, params = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    for (const one of Array.isArray(v) ? v : [v]) q.append(k, String(one));
  }
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

/** Fetches through the worker and reads the whole body. */
async function get(p, init = {}) {
  const r = await c(p, init);
  const body = Buffer.from(await r.arrayBuffer());
  return { status: r.status, headers: r.headers, body, text: body.toString('utf8'), cs: r.headers.get('cache-status') ?? '' };
}

/**
 * Sends a request through the worker with node:http, headers exactly as given. (fetch adds
 * `Cache-Control: no-cache` and `Pragma: no-cache` to a request carrying a conditional
 * header, and drops `Connection`.)
 */
function raw(p, { method = 'GET', headers = {}, body } = {}) {
  const u = new URL(`${stack.workerUrl}${p}`);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path: `${u.pathname}${u.search}`, method, headers, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('error', reject);
      res.on('end', () => {
        const b = Buffer.concat(chunks);
        const h = new Headers();
        for (const [k, v] of Object.entries(res.headers)) for (const one of Array.isArray(v) ? v : [v]) h.append(k, one);
        resolve({ status: res.statusCode, headers: h, body: b, text: b.toString('utf8'), cs: h.get('cache-status') ?? '' });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Parses one `Cache-Status` member of ours into { hit, fwd, fwdStatus, stored, ttl, detail }. */
function status(cs) {
  const member = cs.split(/,(?=\s*rulecache)/).map((s) => s.trim()).find((s) => s.startsWith('rulecache')) ?? '';
  const params = {};
  for (const part of member.split(';').slice(1)) {
    const [k, ...rest] = part.trim().split('=');
    params[k] = rest.length ? rest.join('=').replace(/^"|"$/g, '') : true;
  }
  return {
    hit: params.hit === true,
    fwd: params.fwd,
    fwdStatus: params['fwd-status'] ? Number(params['fwd-status']) : undefined,
    stored: params.stored === true,
    ttl: params.ttl !== undefined ? Number(params.ttl) : undefined,
    detail: params.detail,
  };
}

/**
 * Repeats `fn` until `ok(result)` or the time runs out; returns the last result. Used only
 * where the worker finishes work after answering (background stores and revalidations).
 */
async function until(fn, ok, { timeoutMs = 5000, everyMs = 50 } = {}) {
  const end = Date.now() + timeoutMs;
  let last = await fn();
  while (!ok(last) && Date.now() < end) {
    await sleep(everyMs);
    last = await fn();
  }
  return last;
}

/**
 * Repeats a GET until it is a hit (bounded); returns { r, misses }. The variant index of a
 * Vary response is written after the answer, so its first hit may come a moment later.
 */
async function untilHit(p, init) {
  let misses = 0;
  const r = await until(() => get(p, init), (x) => status(x.cs).hit || ((misses += 1), false));
  return { r, misses };
}

/** Stores `p` (a miss that says `stored`) and returns the first response. */
async function prime(p, init) {
  const first = await get(p, init);
  assert.equal(status(first.cs).stored, true, `expected the first response to be stored: ${first.cs}`);
  return first;
}

// ---------------------------------------------------------------------------------------
// Storing and serving fresh responses
// ---------------------------------------------------------------------------------------

test('a response with max-age is stored and the next request is a hit with Age', async () => {
  const path = ns('maxage');
  const p = url(path, { cc: 'max-age=60' });
  const first = await get(p);
  assert.equal(first.status, 200);
  const s1 = status(first.cs);
  assert.equal(s1.hit, false);
  assert.equal(s1.fwd, 'uri-miss');
  assert.equal(s1.fwdStatus, 200);
  assert.equal(s1.stored, true);
  assert.equal(first.headers.get('age'), null, 'a response from the origin has no Age');
  const second = await get(p);
  assert.equal(second.status, 200);
  const s2 = status(second.cs);
  assert.equal(s2.hit, true, second.cs);
  assert.ok(s2.ttl > 0 && s2.ttl <= 60, second.cs);
  assert.match(second.headers.get('age') ?? '', /^\d+$/);
  assert.ok(Number(second.headers.get('age')) <= 2);
  assert.equal(second.text, first.text, 'the stored body is served');
  assert.equal(await stack.originHits(path), 1);
});

test('s-maxage beats max-age: max-age=0, s-maxage=60 is fresh in the shared cache', async () => {
  const path = ns('smaxage');
  const p = url(path, { cc: 'max-age=0, s-maxage=60' });
  await prime(p);
  const second = await get(p);
  assert.equal(status(second.cs).hit, true, second.cs);
  assert.ok(status(second.cs).ttl > 1, second.cs);
  assert.equal(await stack.originHits(path), 1);
});

test('s-maxage beats max-age: max-age=60, s-maxage=0 is stale in the shared cache', async () => {
  const path = ns('smaxage0');
  const p = url(path, { cc: 'max-age=60, s-maxage=0' });
  await get(p);
  const second = await get(p);
  assert.equal(status(second.cs).hit, false, second.cs);
  assert.match(second.text, /hit=2/);
  assert.equal(await stack.originHits(path), 2);
});

test('CDN-Cache-Control beats Cache-Control: stored although Cache-Control says no-store', async () => {
  const path = ns('cdncc');
  const p = url(path, { cc: 'no-store', cdn: 'max-age=60' });
  await prime(p);
  const second = await get(p);
  assert.equal(status(second.cs).hit, true, second.cs);
  assert.equal(await stack.originHits(path), 1);
});

test('CDN-Cache-Control beats Cache-Control: no-store there keeps a max-age response out', async () => {
  const path = ns('cdnnostore');
  const p = url(path, { cc: 'public, max-age=60', cdn: 'no-store' });
  const first = await get(p);
  assert.equal(status(first.cs).stored, false, first.cs);
  assert.equal(status(first.cs).detail, 'no-store');
  const second = await get(p);
  assert.equal(status(second.cs).hit, false, second.cs);
  assert.equal(await stack.originHits(path), 2);
});

test('Expires in the future makes a response fresh', async () => {
  const path = ns('expires-future');
  const p = url(path, { expires: '+120' });
  await prime(p);
  const second = await get(p);
  assert.equal(status(second.cs).hit, true, second.cs);
  assert.equal(await stack.originHits(path), 1);
});

test('Expires in the past is not fresh: the next request goes to the origin', async () => {
  const path = ns('expires-past');
  const p = url(path, { expires: '-60' });
  await get(p);
  const second = await get(p);
  assert.equal(status(second.cs).hit, false, second.cs);
  assert.match(second.text, /hit=2/);
  assert.equal(await stack.originHits(path), 2);
});

test('heuristic freshness from Last-Modified: an old document is served from cache', async () => {
  const path = ns('heuristic');
  // Ten days old: 10% of that is a day of heuristic freshness.
  const p = url(path, { lm: '-864000' });
  await prime(p);
  const second = await get(p);
  const s = status(second.cs);
  assert.equal(s.hit, true, second.cs);
  assert.ok(s.ttl > 3600, `heuristic lifetime too short: ${second.cs}`);
  assert.equal(await stack.originHits(path), 1);
});

// ---------------------------------------------------------------------------------------
// Not stored
// ---------------------------------------------------------------------------------------

for (const [name, params, reason] of [
  ['no-store', { cc: 'public, max-age=60, no-store' }, 'no-store'],
  ['private', { cc: 'private, max-age=60' }, 'private'],
  ['set-cookie', { cc: 'public, max-age=60', h: 'Set-Cookie:session=abc' }, 'set-cookie'],
  ['no-freshness', {}, 'no-freshness'],
]) {
  test(`not stored: ${name} (origin hit twice, Cache-Status detail=${reason})`, async () => {
    const path = ns(`nostore-${name}`);
    const p = url(path, params);
    const first = await get(p);
    assert.equal(first.status, 200);
    const s1 = status(first.cs);
    assert.equal(s1.stored, false, first.cs);
    assert.equal(s1.detail, reason, first.cs);
    const second = await get(p);
    const s2 = status(second.cs);
    assert.equal(s2.hit, false, second.cs);
    assert.equal(s2.detail, reason, second.cs);
    assert.match(second.text, /hit=2/);
    assert.equal(await stack.originHits(path), 2);
  });
}

test('Set-Cookie from the origin still reaches the client of an uncached response', async () => {
  const path = ns('set-cookie-passes');
  const r = await get(url(path, { cc: 'public, max-age=60', h: 'Set-Cookie:session=abc' }));
  assert.equal(r.headers.get('set-cookie'), 'session=abc');
});

test('two Set-Cookie fields from the origin reach the client as two fields, and nothing is stored', async () => {
  // The origin's head crosses into wasm as lines and back as edits: the two fields may not be
  // joined into one (a comma inside a cookie's Expires makes a joined list unreadable).
  const path = ns('two-set-cookies');
  const cookies = ['a=1; Path=/; Expires=Wed, 21 Oct 2037 07:28:00 GMT', 'b=2; Path=/'];
  const p = url(path, { cc: 'public, max-age=60', h: cookies.map((c) => `Set-Cookie:${c}`) });
  for (let i = 0; i < 2; i += 1) {
    const r = await get(p);
    assert.equal(r.status, 200);
    assert.deepEqual(r.headers.getSetCookie(), cookies);
    assert.equal(status(r.cs).hit, false, r.cs);
  }
  assert.equal(await stack.originHits(path), 2);
});

test('each request is answered for its own URL: 300 URLs (more than the isolate keeps parsed), a 2 kB one, and the first again', async () => {
  // The isolate keeps recent request URLs parsed (256 at most, up to 1 KiB each): a URL found
  // there must be the request's own, after the memo was filled and emptied, and past its size.
  const base = ns('own-url');
  const paths = Array.from({ length: 300 }, (_, i) => `${base}/${i}`);
  paths.push(`${base}/long-${'x'.repeat(2000)}`);
  for (const p of paths) {
    const r = await get(url(p, { cc: 'max-age=60' }));
    assert.equal(r.status, 200, p.slice(0, 80));
    assert.match(r.text, new RegExp(`GET ${p.replace(/[/+]/g, '\\$&')} `), p.slice(0, 80));
  }
  for (const p of [paths[0], paths[299], paths[300]]) {
    const again = await get(url(p, { cc: 'max-age=60' }));
    assert.equal(status(again.cs).hit, true, again.cs);
    assert.match(again.text, new RegExp(`GET ${p.replace(/[/+]/g, '\\$&')} hit=1`), p.slice(0, 80));
  }
});

// ---------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------

test('a stale entry with an ETag is revalidated with a conditional request; a 304 serves the stored body', async () => {
  const path = ns('reval');
  const p = url(path, { cc: 'max-age=0', etag: '"v1"' });
  const first = await prime(p);
  assert.match(first.text, /hit=1/);
  const second = await get(p);
  assert.equal(second.status, 200);
  assert.equal(second.text, first.text, 'the stored body (hit=1), not a new one');
  assert.equal(second.headers.get('etag'), '"v1"');
  const s = status(second.cs);
  assert.equal(s.fwd, 'stale', second.cs);
  assert.equal(s.fwdStatus, 304, second.cs);
  assert.deepEqual(
    { ...(await stack.originStats(path)), path: undefined },
    { path: undefined, hits: 2, conditional: 1, not_modified: 1 },
  );
});

test('a stale entry with Last-Modified is revalidated with If-Modified-Since', async () => {
  const path = ns('reval-lm');
  const p = url(path, { cc: 'max-age=0', lm: 'Wed, 01 Jan 2025 00:00:00 GMT' });
  const first = await prime(p);
  const second = await get(p);
  assert.equal(second.status, 200);
  assert.equal(second.text, first.text);
  const stats = await stack.originStats(path);
  assert.equal(stats.conditional, 1);
  assert.equal(stats.not_modified, 1);
});

test('a client If-None-Match matching a stored entry gets 304 from the edge without reaching the origin', async () => {
  const path = ns('client-inm');
  const p = url(path, { cc: 'max-age=60', etag: '"abc"' });
  await prime(p);
  const r = await raw(p, { headers: { 'If-None-Match': '"abc"' } });
  assert.equal(r.status, 304);
  assert.equal(r.body.length, 0);
  assert.equal(r.headers.get('etag'), '"abc"');
  assert.equal(status(r.cs).hit, true, r.cs);
  assert.deepEqual(
    { ...(await stack.originStats(path)), path: undefined },
    { path: undefined, hits: 1, conditional: 0, not_modified: 0 },
  );
});

test('a client If-None-Match that does not match gets the stored 200 from the edge', async () => {
  const path = ns('client-inm-nomatch');
  const p = url(path, { cc: 'max-age=60', etag: '"abc"' });
  const first = await prime(p);
  const r = await raw(p, { headers: { 'If-None-Match': '"other"' } });
  assert.equal(r.status, 200);
  assert.equal(r.text, first.text);
  assert.equal(await stack.originHits(path), 1);
});

test('request Cache-Control: no-cache forces revalidation of a fresh entry', async () => {
  const path = ns('req-nocache');
  const p = url(path, { cc: 'max-age=60', etag: '"nc"' });
  const first = await prime(p);
  const r = await get(p, { headers: { 'Cache-Control': 'no-cache' } });
  assert.equal(r.status, 200);
  assert.equal(r.text, first.text);
  assert.equal(status(r.cs).hit, false, r.cs);
  assert.equal(status(r.cs).fwd, 'request', `RFC 9211: a fresh entry the request refused: ${r.cs}`);
  const stats = await stack.originStats(path);
  assert.equal(stats.hits, 2);
  assert.equal(stats.conditional, 1);
  assert.equal(stats.not_modified, 1);
});

test('request Cache-Control: max-age=0 forces revalidation of a fresh entry with an Age', async () => {
  const path = ns('req-maxage0');
  // Five seconds old when stored: fresh, but older than the client accepts. (An entry of
  // age 0 satisfies max-age=0: RFC 9111 §5.2.1.1 says "less than or equal to".)
  const p = url(path, { cc: 'max-age=60', etag: '"m0"', date: '-5' });
  await prime(p);
  const r = await get(p, { headers: { 'Cache-Control': 'max-age=0' } });
  assert.equal(r.status, 200);
  assert.equal(status(r.cs).hit, false, r.cs);
  assert.equal(status(r.cs).fwd, 'request', r.cs);
  assert.equal((await stack.originStats(path)).conditional, 1);
});

test('only-if-cached on a miss answers 504 without reaching the origin', async () => {
  const path = ns('oic-miss');
  const r = await get(url(path, { cc: 'max-age=60' }), { headers: { 'Cache-Control': 'only-if-cached' } });
  assert.equal(r.status, 504);
  assert.equal(await stack.originHits(path), 0);
});

test('only-if-cached on a fresh entry is served from cache', async () => {
  const path = ns('oic-hit');
  const p = url(path, { cc: 'max-age=60' });
  await prime(p);
  const r = await get(p, { headers: { 'Cache-Control': 'only-if-cached' } });
  assert.equal(r.status, 200);
  assert.equal(status(r.cs).hit, true, r.cs);
  assert.equal(await stack.originHits(path), 1);
});

// ---------------------------------------------------------------------------------------
// Serving stale
// ---------------------------------------------------------------------------------------
// `date=-30` makes the origin's Date half a minute old, so a max-age=1 response is already
// stale when stored: no sleeping.

test('stale-while-revalidate serves the stale entry and revalidates in the background', async () => {
  const path = ns('swr');
  const p = url(path, { cc: 'max-age=1, stale-while-revalidate=600', etag: '"swr"', date: '-30' });
  const first = await prime(p);
  const second = await get(p);
  assert.equal(second.status, 200);
  assert.equal(second.text, first.text);
  const s = status(second.cs);
  assert.equal(s.hit, true, second.cs);
  assert.equal(s.detail, 'stale-while-revalidate', second.cs);
  assert.ok(s.ttl < 0, second.cs);
  const stats = await until(() => stack.originStats(path), (st) => st.conditional >= 1);
  assert.equal(stats.hits, 2, 'one background revalidation');
  assert.equal(stats.conditional, 1);
  assert.equal(stats.not_modified, 1);
  // The entry refreshed by the background 304 keeps its body.
  for (let i = 0; i < 5; i += 1) {
    await sleep(100);
    const later = await get(p);
    assert.equal(later.text, first.text, `request ${i + 3} after the background 304`);
  }
});

test('stale-if-error serves the stale entry when the origin answers 503', async () => {
  const path = ns('sie-503');
  const p = url(path, { cc: 'max-age=1, stale-if-error=600', date: '-30' });
  const first = await prime(p);
  await stack.override(path, { status: 503 });
  const r = await get(p);
  assert.equal(r.status, 200);
  assert.equal(r.text, first.text);
  const s = status(r.cs);
  assert.equal(s.hit, true, r.cs);
  assert.equal(s.detail, 'stale-if-error', r.cs);
  assert.equal(s.fwdStatus, 503, r.cs);
  assert.equal(await stack.originHits(path), 2);
});

test('stale-if-error serves the stale entry when the origin closes the connection', async () => {
  const path = ns('sie-drop');
  const p = url(path, { cc: 'max-age=1, stale-if-error=600', date: '-30' });
  const first = await prime(p);
  await stack.override(path, { drop: 1 });
  const r = await get(p);
  assert.equal(r.status, 200);
  assert.equal(r.text, first.text);
  assert.equal(status(r.cs).detail, 'stale-if-error', r.cs);
});

test('without stale-if-error a stale entry is not served on a 503', async () => {
  const path = ns('no-sie');
  const p = url(path, { cc: 'max-age=1', etag: '"x"', date: '-30' });
  await prime(p);
  await stack.override(path, { status: 503 });
  const r = await get(p);
  assert.equal(r.status, 503);
});

test('must-revalidate forbids stale-if-error: the client gets the origin 503', async () => {
  const path = ns('mr-503');
  const p = url(path, { cc: 'max-age=1, must-revalidate, stale-if-error=600', date: '-30' });
  await prime(p);
  await stack.override(path, { status: 503 });
  const r = await get(p);
  assert.equal(r.status, 503);
  assert.notEqual(status(r.cs).detail, 'stale-if-error', r.cs);
});

test('must-revalidate forbids stale-if-error: an unreachable origin gives 502', async () => {
  const path = ns('mr-drop');
  const p = url(path, { cc: 'max-age=1, must-revalidate, stale-if-error=600', date: '-30' });
  await prime(p);
  await stack.override(path, { drop: 1 });
  const r = await get(p);
  assert.equal(r.status, 502);
});

test('an unreachable origin on a miss gives 502', async () => {
  const path = ns('drop-miss');
  await stack.override(path, { drop: 1 });
  const r = await get(url(path, { cc: 'max-age=60' }));
  assert.equal(r.status, 502);
});

// ---------------------------------------------------------------------------------------
// Vary
// ---------------------------------------------------------------------------------------

test('Vary: Accept-Language variants are stored separately and each served to its requester', async () => {
  const path = ns('vary-lang');
  const p = url(path, { cc: 'max-age=60', vary: 'Accept-Language' });
  const en = { headers: { 'Accept-Language': 'en' } };
  const de = { headers: { 'Accept-Language': 'de' } };
  const en1 = await prime(p, en);
  assert.match(en1.text, /hit=1/);
  // (A miss while the index is being written stores the English variant anew.)
  const { r: en2, misses: m1 } = await untilHit(p, en);
  if (m1 === 0) assert.equal(en2.text, en1.text);
  const de1 = await get(p, de);
  assert.equal(status(de1.cs).hit, false, de1.cs);
  assert.equal(status(de1.cs).stored, true, de1.cs);
  assert.match(de1.text, /data-audience/);
  assert.notEqual(de1.text, en2.text);
  const { r: de2, misses: m2 } = await untilHit(p, de);
  if (m2 === 0) assert.equal(de2.text, de1.text, 'the German requester gets the German variant');
  assert.notEqual(de2.text, en2.text, 'the German requester never gets the English variant');
  const en3 = await get(p, en);
  assert.equal(status(en3.cs).hit, true, en3.cs);
  assert.equal(en3.text, en2.text, 'the English requester still gets the English variant');
  assert.match((en3.headers.get('vary') ?? '').toLowerCase(), /accept-language/);
  assert.equal(await stack.originHits(path), 2 + m1 + m2);
});

test('Vary: Accept-Language with a third language is a miss, not another variant', async () => {
  const path = ns('vary-lang-3');
  const p = url(path, { cc: 'max-age=60', vary: 'Accept-Language' });
  await prime(p, { headers: { 'Accept-Language': 'en' } });
  const { misses } = await untilHit(p, { headers: { 'Accept-Language': 'en' } });
  const fr = await get(p, { headers: { 'Accept-Language': 'fr' } });
  assert.equal(status(fr.cs).hit, false, fr.cs);
  assert.match(fr.text, new RegExp(`hit=${2 + misses}\\n`));
});

test('Vary: * is never served from cache', async () => {
  const path = ns('vary-star');
  const p = url(path, { cc: 'max-age=60', vary: '*' });
  const first = await get(p);
  assert.equal(status(first.cs).stored, false, first.cs);
  assert.equal(status(first.cs).detail, 'vary-star', first.cs);
  const second = await get(p);
  assert.equal(status(second.cs).hit, false, second.cs);
  assert.equal(await stack.originHits(path), 2);
});

// ---------------------------------------------------------------------------------------
// Invalidation (RFC 9111 §4.4)
// ---------------------------------------------------------------------------------------

test('a POST to a URL invalidates its stored entry', async () => {
  const path = ns('inval-post');
  const p = url(path, { cc: 'max-age=60' });
  await prime(p);
  assert.equal(status((await get(p)).cs).hit, true);
  const post = await get(p, { method: 'POST', body: 'x=1' });
  assert.equal(post.status, 200);
  assert.equal(status(post.cs).fwd, 'method', post.cs);
  const after = await get(p);
  assert.equal(status(after.cs).hit, false, after.cs);
  assert.match(after.text, /demo-origin GET .* hit=3/);
  assert.equal(await stack.originHits(path), 3);
});

test('a DELETE to a URL invalidates its stored entry', async () => {
  const path = ns('inval-delete');
  const p = url(path, { cc: 'max-age=60' });
  await prime(p);
  await get(p, { method: 'DELETE' });
  const after = await get(p);
  assert.equal(status(after.cs).hit, false, after.cs);
  assert.equal(await stack.originHits(path), 3);
});

test('an error response to a POST does not invalidate', async () => {
  const path = ns('inval-post-error');
  const p = url(path, { cc: 'max-age=60' });
  await prime(p);
  await stack.override(path, { status: 500 });
  const post = await get(p, { method: 'POST', body: 'x' });
  assert.equal(post.status, 500);
  await stack.override(path, { clear: 1 });
  const after = await get(p);
  assert.equal(status(after.cs).hit, true, after.cs);
});

test('a POST invalidates the same-origin URL in its Location', async () => {
  const target = ns('inval-loc-target');
  const tp = url(target, { cc: 'max-age=60' });
  await prime(tp);
  assert.equal(status((await get(tp)).cs).hit, true);
  const poster = ns('inval-loc-post');
  const post = await get(url(poster, { status: 201, location: tp }), { method: 'POST', body: 'new' });
  assert.equal(post.status, 201);
  assert.equal(post.headers.get('location'), tp);
  const after = await get(tp);
  assert.equal(status(after.cs).hit, false, after.cs);
  assert.equal(await stack.originHits(target), 2);
});

test('a POST invalidates every Vary variant of its URL', async () => {
  const path = ns('inval-vary');
  const p = url(path, { cc: 'max-age=60', vary: 'Accept-Language' });
  const en = { headers: { 'Accept-Language': 'en' } };
  await prime(p, en);
  assert.equal(status((await untilHit(p, en)).r.cs).hit, true);
  await get(p, { method: 'POST', body: 'x' });
  const after = await get(p, en);
  assert.equal(status(after.cs).hit, false, after.cs);
});

// ---------------------------------------------------------------------------------------
// HEAD, Range, hop-by-hop
// ---------------------------------------------------------------------------------------

test('HEAD is served from a stored GET, without a body', async () => {
  const path = ns('head-from-get');
  const p = url(path, { cc: 'max-age=60' });
  const first = await prime(p);
  const head = await get(p, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(status(head.cs).hit, true, head.cs);
  assert.equal(head.body.length, 0);
  assert.equal(head.headers.get('content-type'), first.headers.get('content-type'));
  assert.equal(await stack.originHits(path), 1);
});

test('a HEAD miss does not store an empty body for the next GET', async () => {
  const path = ns('head-miss');
  const p = url(path, { cc: 'max-age=60' });
  const head = await get(p, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.body.length, 0);
  const g = await get(p);
  assert.equal(g.status, 200);
  assert.match(g.text, /^demo-origin GET /, 'a GET after a HEAD gets a full body');
});

test('a Range request is forwarded and its 206 passes through, not stored', async () => {
  const path = ns('range');
  const p = url(path, { status: 206, h: 'Content-Range:bytes 0-3/100', cc: 'max-age=60', body: 'abcd' });
  const r1 = await get(p, { headers: { Range: 'bytes=0-3' } });
  assert.equal(r1.status, 206);
  assert.equal(r1.text, 'abcd');
  assert.equal(r1.headers.get('content-range'), 'bytes 0-3/100');
  assert.equal(status(r1.cs).stored, false, r1.cs);
  const r2 = await get(p, { headers: { Range: 'bytes=0-3' } });
  assert.equal(r2.status, 206);
  assert.equal(status(r2.cs).hit, false, r2.cs);
  assert.equal(await stack.originHits(path), 2);
});

test('a Range request reaches the origin with its Range header', async () => {
  const path = ns('range-echo');
  const r = await get(url(path, { echo: 1 }), { headers: { Range: 'bytes=5-9' } });
  assert.equal(JSON.parse(r.text).headers.range, 'bytes=5-9');
});

test('a 206 from the origin to a plain GET is not stored', async () => {
  const path = ns('range-206-get');
  const p = url(path, { status: 206, h: 'Content-Range:bytes 0-3/100', cc: 'max-age=60', body: 'abcd' });
  const r1 = await get(p);
  assert.equal(r1.status, 206);
  assert.equal(status(r1.cs).stored, false, r1.cs);
  await get(p);
  assert.equal(await stack.originHits(path), 2);
});

test('hop-by-hop response headers are not forwarded to the client', async () => {
  const path = ns('hop');
  const p = url(path, {
    cc: 'max-age=60',
    h: ['Keep-Alive:timeout=5', 'Connection:X-Hop-Secret', 'X-Hop-Secret:1', 'Proxy-Connection:keep-alive', 'X-End-To-End:kept'],
  });
  for (const r of [await get(p), await get(p)]) {
    assert.equal(r.headers.get('keep-alive'), null, `Keep-Alive leaked (${r.cs})`);
    assert.equal(r.headers.get('x-hop-secret'), null, `a header named in Connection leaked (${r.cs})`);
    assert.equal(r.headers.get('proxy-connection'), null);
    assert.equal(r.headers.get('x-end-to-end'), 'kept');
  }
  assert.equal(await stack.originHits(path), 1);
});

test('hop-by-hop request headers are not forwarded to the origin', async () => {
  const path = ns('hop-req');
  // A POST bypasses the cache, so every end-to-end field goes as sent.
  const r = await raw(url(path, { echo: 1 }), {
    method: 'POST',
    headers: { 'X-Hop-Req': '1', Connection: 'X-Hop-Req', 'Keep-Alive': 'timeout=5', 'X-Keep-Req': 'yes' },
  });
  const echo = JSON.parse(r.text);
  assert.equal(echo.headers['x-hop-req'], undefined, 'a field named in Connection was forwarded');
  assert.equal(echo.headers['keep-alive'], undefined, 'Keep-Alive was forwarded');
  assert.equal(echo.headers['x-keep-req'], 'yes');
});

// ---------------------------------------------------------------------------------------
// Pass-through basics
// ---------------------------------------------------------------------------------------

test('GET reaches the origin with its path and query string intact', async () => {
  const path = ns('echo-get');
  const r = await get(`${path}?zeta=1&alpha=two%20words&alpha=3&echo=1`);
  assert.equal(r.status, 200);
  const echo = JSON.parse(r.text);
  assert.equal(echo.method, 'GET');
  assert.equal(echo.path, path);
  assert.equal(echo.target, `${path}?zeta=1&alpha=two%20words&alpha=3&echo=1`);
});

for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
  test(`${method} with a body reaches the origin intact`, async () => {
    const path = ns(`echo-${method.toLowerCase()}`);
    const body = JSON.stringify({ method, n: [1, 2, 3], text: 'héllo wörld' });
    const r = await get(url(path, { echo: 1 }), { method, body, headers: { 'Content-Type': 'application/json' } });
    assert.equal(r.status, 200);
    const echo = JSON.parse(r.text);
    assert.equal(echo.method, method);
    assert.equal(echo.body, body);
    assert.equal(echo.body_length, Buffer.byteLength(body));
    assert.equal(echo.headers['content-type'], 'application/json');
    assert.equal(await stack.originHits(path), 1);
  });
}

test('a large POST body reaches the origin intact', async () => {
  const path = ns('post-large');
  const body = Buffer.alloc(1_000_000, 'abcdefghij');
  const r = await get(path, { method: 'POST', body });
  assert.equal(r.status, 200);
  assert.match(r.text, /request-body-length=1000000\n/);
});

test('HEAD passes through without a body', async () => {
  const path = ns('head-pass');
  const r = await get(path, { method: 'HEAD' });
  assert.equal(r.status, 200);
  assert.equal(r.body.length, 0);
  assert.equal(await stack.originHits(path), 1);
});

for (const code of [200, 204, 301, 304, 404, 500]) {
  test(`status ${code} from the origin reaches the client`, async () => {
    const path = ns(`status-${code}`);
    const params = { status: code };
    if (code === 301) params.location = '/elsewhere';
    const r = await get(url(path, params));
    assert.equal(r.status, code);
    if (code === 301) assert.equal(r.headers.get('location'), '/elsewhere');
    if ([204, 304].includes(code)) assert.equal(r.body.length, 0);
    if ([404, 500].includes(code)) assert.match(r.text, /demo-origin GET/);
    assert.equal(await stack.originHits(path), 1);
  });
}

test('a cacheable 404 is stored and served from cache', async () => {
  const path = ns('404-cached');
  const p = url(path, { status: 404, cc: 'max-age=60' });
  await prime(p);
  const r = await get(p);
  assert.equal(r.status, 404);
  assert.equal(status(r.cs).hit, true, r.cs);
  assert.equal(await stack.originHits(path), 1);
});

test('a cacheable 301 is stored and served from cache with its Location', async () => {
  const path = ns('301-cached');
  const p = url(path, { status: 301, location: '/moved', cc: 'max-age=60' });
  await prime(p);
  const r = await get(p);
  assert.equal(r.status, 301);
  assert.equal(r.headers.get('location'), '/moved');
  assert.equal(status(r.cs).hit, true, r.cs);
  assert.equal(await stack.originHits(path), 1);
});

test('unknown request headers reach the origin intact when the answer is never stored, and not when it may be', async () => {
  const path = ns('req-headers');
  const fields = { 'X-Custom-Thing': 'a b; c=d, "e"', 'X-Other': '42', 'Accept-Language': 'fr' };
  const posted = await raw(url(path, { echo: 1 }), { method: 'POST', headers: fields });
  const echo = JSON.parse(posted.text);
  assert.equal(echo.headers['x-custom-thing'], 'a b; c=d, "e"');
  assert.equal(echo.headers['x-other'], '42');
  // A GET's answer may be stored: only what is keyed or on the unkeyed-safe list is sent.
  const r = await get(url(path, { echo: 1, n: 2 }), { headers: fields });
  const seen = JSON.parse(r.text);
  assert.equal(seen.headers['x-custom-thing'], undefined);
  assert.equal(seen.headers['x-other'], undefined);
  assert.equal(seen.headers['accept-language'], 'fr');
});

test('unknown response headers reach the client intact, from the origin and from cache', async () => {
  const path = ns('resp-headers');
  const p = url(path, { cc: 'max-age=60', h: ['X-Custom-Resp:a b; c=d', 'X-Another:1'] });
  for (const r of [await get(p), await get(p)]) {
    assert.equal(r.headers.get('x-custom-resp'), 'a b; c=d');
    assert.equal(r.headers.get('x-another'), '1');
  }
  assert.equal(await stack.originHits(path), 1);
});

test('a large body (5 MB) is streamed to the client intact', async () => {
  const path = ns('large');
  const p = url(path, { bytes: 5_000_000 });
  const direct = Buffer.from(await (await fetch(`${stack.originUrl}${p}`)).arrayBuffer());
  assert.equal(direct.length, 5_000_000);
  const r = await get(p);
  assert.equal(r.status, 200);
  assert.equal(r.body.length, 5_000_000);
  const sha = (b) => createHash('sha256').update(b).digest('hex');
  assert.equal(sha(r.body), sha(direct));
});

test('a large cacheable body (5 MB) is stored and served from cache intact', async () => {
  const path = ns('large-cached');
  const p = url(path, { bytes: 5_000_000, cc: 'max-age=60' });
  const first = await prime(p);
  assert.equal(first.body.length, 5_000_000);
  // Large bodies are stored after the response: wait for the hit (each miss meanwhile is
  // one more origin hit, counted).
  let misses = 0;
  const second = await until(
    () => get(p),
    (r) => status(r.cs).hit || ((misses += 1), false),
  );
  assert.equal(status(second.cs).hit, true, second.cs);
  assert.equal(second.body.length, 5_000_000);
  assert.ok(second.body.equals(first.body), 'the cached body differs from the origin body');
  assert.equal(await stack.originHits(path), 1 + misses);
});

test('concurrent misses for one URL are collapsed into a single origin request', async () => {
  const base = ns('collapse');
  const p = `${base}?cc=max-age%3D60&delay_ms=400`;
  const answers = await Promise.all(Array.from({ length: 8 }, async () => {
    const r = await c(p);
    return { status: r.headers.get('cache-status') ?? '', body: await r.text() };
  }));
  assert.equal(await stack.originHits(base), 1, 'one request reached the origin');
  assert.ok(answers.every((a) => /hit=1/.test(a.body)), 'everybody got the one response');
  assert.ok(answers.filter((a) => /collapsed/.test(a.status)).length >= 1, answers.map((a) => a.status).join('\n'));
});

test('a Range request is cut from a stored complete response, in memory and in the Cache API', async () => {
  for (const [name, params] of [['range-mem', { cc: 'max-age=600', body: '0123456789A' }], ['range-big', { cc: 'max-age=600', bytes: 300000 }]]) {
    const path = ns(name);
    const p = url(path, params);
    const whole = await prime(p);
    assert.equal(whole.status, 200);
    // The Cache API write of a large body finishes after the answer: wait for the first hit.
    const { misses } = await untilHit(p);
    const len = whole.body.length;
    for (const [range, start, end] of [['bytes=0-1', 0, 1], ['bytes=5-', 5, len - 1], ['bytes=-3', len - 3, len - 1]]) {
      const r = await get(p, { headers: { Range: range } });
      assert.equal(r.status, 206, `${name} ${range}: ${r.cs}`);
      assert.equal(status(r.cs).hit, true, r.cs);
      assert.equal(r.headers.get('content-range'), `bytes ${start}-${end}/${len}`);
      assert.deepEqual(r.body, whole.body.subarray(start, end + 1), `${name} ${range}`);
    }
    const bad = await get(p, { headers: { Range: `bytes=${len}-` } });
    assert.equal(bad.status, 416);
    assert.equal(bad.headers.get('content-range'), `bytes */${len}`);
    // Over node:http: fetch() would add Cache-Control: no-cache to a request with If-Range.
    const ifRange = await raw(p, { headers: { Range: 'bytes=0-1', 'If-Range': '"not-this-one"' } });
    assert.equal(ifRange.status, 200, `a failed If-Range gets the whole response: ${ifRange.cs}`);
    assert.equal(status(ifRange.cs).hit, true, ifRange.cs);
    assert.equal(status(bad.cs).hit, true, bad.cs);
    assert.equal(ifRange.body.length, len);
    assert.equal(await stack.originHits(path), 1 + misses, `${name}: every range came from storage`);
  }
});
