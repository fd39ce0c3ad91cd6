// Split-view caching, black box: anonymous pages come from the edge, logged-in pages always
// come fresh from the origin and are never stored, and no request is ever answered with
// another audience's (or another user's) page — also under concurrent load with content
// changing underneath.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startStack, client, ns, cacheStatus, isHit, fetchText as readText } from '../support/stack.mjs';

const USERS = ['alice', 'bob', 'carol', 'dave', 'erin'];
const acCookie = (user) => `__ac=${Buffer.from(`${user}:${user}`).toString('base64')}`;
const basic = (user) => `Basic ${Buffer.from(`${user}:${user}`).toString('base64')}`;
const MARKER = /<body data-audience="([^"]*)" data-user="([^"]*)">/g;

/** The audience markers in a body: [{ audience, user }]. */
function markers(body) {
  return [...body.matchAll(MARKER)].map((m) => ({ audience: m[1], user: m[2] }));
}

/** Asserts the body names exactly one audience marker, the expected one. */
function assertAudience(body, user, context = '') {
  const found = markers(body);
  const want = user ? { audience: 'authenticated', user } : { audience: 'anonymous', user: '' };
  assert.deepEqual(found, [want], `${context}: expected exactly ${JSON.stringify(want)}, got ${JSON.stringify(found)}`);
}

const varyList = (r) => (r.headers.get('vary') ?? '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);

let stack;
let get;

before(async () => {
  stack = await startStack({ secret: 'splitview-secret' });
  get = client(stack);
});

after(async () => {
  await stack?.stop();
});

const fetchText = (p, headers = {}) => readText(get, p, headers);

/** A GET over plain node:http, sending exactly `headers`. */
function rawGet(p, headers = {}) {
  const u = new URL(stack.workerUrl + p);
  return new Promise((resolve, reject) => {
    const req = http.get({ host: u.hostname, port: u.port, path: u.pathname + u.search, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on('error', reject);
  });
}

async function purge(urls, soft = true) {
  const r = await get('/_rulecache/api/purge', {
    method: 'POST',
    headers: { authorization: `Bearer ${stack.secret}`, 'content-type': 'application/json' },
    body: JSON.stringify({ urls, soft }),
  });
  const text = await r.text();
  assert.equal(r.status, 200, `purge ${urls}: ${text}`);
}

test('anonymous pages are served from the edge', async () => {
  for (const p of ['/', '/front-page', '/news', '/news/item-1']) {
    const before = await stack.originHits(p);
    const responses = [];
    for (let i = 0; i < 5; i++) responses.push(await fetchText(p));
    const after = await stack.originHits(p);
    assert.ok(after - before <= 1, `${p}: origin hit ${after - before} times for 5 anonymous requests`);
    for (const [i, { r, body }] of responses.entries()) {
      assert.equal(r.status, 200, p);
      assertAudience(body, null, `${p} #${i}`);
      assert.ok(varyList(r).includes('x-anonymous'), `${p}: Vary ${r.headers.get('vary')}`);
      assert.equal(r.headers.get('x-origin-saw-anonymous'), '1', `${p}: the origin saw X-Anonymous: 1`);
      if (i > 0) assert.ok(isHit(r), `${p} #${i}: Cache-Status ${cacheStatus(r)}`);
    }
    // Moderate caching downstream: browsers revalidate, the edge keeps it for an hour.
    assert.equal(responses[0].r.headers.get('cache-control'), 'max-age=0, s-maxage=3600, must-revalidate');
  }
});

test('logged-in pages always come from the origin, are private and never stored', async () => {
  const p = '/front-page';
  await fetchText(p); // the anonymous copy is in the edge cache
  for (const user of ['alice', 'bob']) {
    const before = await stack.originHits(p);
    for (let i = 0; i < 3; i++) {
      const { r, body } = await fetchText(p, { cookie: acCookie(user) });
      assert.equal(r.status, 200);
      assertAudience(body, user, `${user} #${i}`);
      assert.ok(!isHit(r), `${user} #${i} was a hit: ${cacheStatus(r)}`);
      assert.match(cacheStatus(r), /fwd=bypass/);
      assert.match(cacheStatus(r), /detail=anon-only/);
      assert.doesNotMatch(cacheStatus(r), /stored/);
      assert.equal(r.headers.get('x-origin-saw-anonymous'), 'absent');
      assert.equal(r.headers.get('cache-control'), 'max-age=0, must-revalidate, private');
      assert.ok(varyList(r).includes('x-anonymous'), `Vary ${r.headers.get('vary')}`);
    }
    assert.equal((await stack.originHits(p)) - before, 3, `${user}: every logged-in request reaches the origin`);
  }
  // The anonymous copy was not replaced by a logged-in page.
  const { r, body } = await fetchText(p);
  assert.ok(isHit(r), cacheStatus(r));
  assertAudience(body, null, 'anonymous after logged-in');
});

test('Vary names X-Anonymous once for split-view rulesets; a response left to the origin keeps its own Vary', async () => {
  const base = ns('vary');
  const cases = [
    // Unclassified: honourOrigin passes the origin's Vary on as it is (the audience is only in
    // the edge's key).
    { q: 'vary=Accept-Language&cc=public,+max-age%3D60', want: ['accept-language'] },
    { q: 'vary=Accept-Language,+X-Anonymous&cc=public,+max-age%3D60', want: ['accept-language', 'x-anonymous'] },
    { q: 'vary=x-anonymous&cc=public,+max-age%3D60', want: ['x-anonymous'] },
    // An item view by the origin's hint: the operation's vary and the split view together.
    { q: 'vary=Accept-Language&h=X-Cache-Ruleset:plone.content.itemView', want: ['accept-language', 'x-anonymous'] },
  ];
  for (const [i, { q, want }] of cases.entries()) {
    // Anonymous twice (miss, then hit from the edge), then logged in.
    for (const headers of [{}, {}, { cookie: acCookie('carol') }]) {
      const { r } = await fetchText(`${base}-${i}?${q}`, headers);
      assert.equal(r.status, 200);
      assert.deepEqual(varyList(r), want, `${q} ${JSON.stringify(headers)}: Vary ${r.headers.get('vary')}`);
    }
  }
  // A real page: exactly one X-Anonymous.
  const { r } = await fetchText('/news/item-1');
  assert.deepEqual(varyList(r).filter((v) => v === 'x-anonymous'), ['x-anonymous']);
});

test('the origin gets X-Anonymous: 1 for anonymous requests and never for logged-in ones', async () => {
  const base = ns('echo');
  const cases = [
    { headers: {}, want: '1' },
    { headers: { 'x-anonymous': '0' }, want: '1' },
    { headers: { cookie: 'x__ac=abc; visited=1' }, want: '1' },
    { headers: { cookie: '__ac=""' }, want: '1' },
    { headers: { cookie: acCookie('dave') }, want: undefined },
    { headers: { cookie: acCookie('dave'), 'x-anonymous': '1' }, want: undefined },
    { headers: { cookie: '__ac_other=zzz', 'x-anonymous': '1' }, want: undefined },
    { headers: { authorization: basic('erin'), 'x-anonymous': '1' }, want: undefined },
  ];
  for (const [i, { headers, want }] of cases.entries()) {
    const { r, body } = await fetchText(`${base}-${i}?echo=1`, headers);
    assert.equal(r.status, 200);
    const seen = JSON.parse(body);
    const values = seen.header_list.filter(([n]) => n.toLowerCase() === 'x-anonymous').map(([, v]) => v);
    assert.deepEqual(values, want === undefined ? [] : [want], `${JSON.stringify(headers)}: origin saw ${JSON.stringify(values)}`);
  }
});

test('a logged-in request claiming X-Anonymous: 1 still gets its own page', async () => {
  for (const p of ['/front-page', '/news', '/news/item-1']) {
    const warm = await fetchText(p);
    assertAudience(warm.body, null, `${p} warm`);
    const before = await stack.originHits(p);
    const { r, body } = await fetchText(p, { cookie: acCookie('alice'), 'x-anonymous': '1' });
    assertAudience(body, 'alice', `${p} spoofed`);
    assert.ok(!isHit(r), `${p}: ${cacheStatus(r)}`);
    assert.equal(r.headers.get('x-origin-saw-anonymous'), 'absent');
    assert.equal((await stack.originHits(p)) - before, 1);
  }
});

test('conditional requests: anonymous ones are answered at the edge, a logged-in one never matches the anonymous copy', async () => {
  const p = '/news/item-1';
  await fetchText(p);
  // The composed ETag names the request's language, so take it from a request like the next.
  const etag = (await rawGet(p)).headers.etag;
  assert.ok(etag, 'the anonymous page has an ETag');
  let before = await stack.originHits(p);
  // Raw HTTP: fetch() adds `Cache-Control: no-cache` to conditional requests (Fetch standard),
  // which rightly makes the edge revalidate; a browser's revalidation does not.
  const anon = await rawGet(p, { 'if-none-match': etag });
  assert.equal(anon.status, 304);
  assert.match(anon.headers['cache-status'] ?? '', /^rulecache; hit/);
  assert.equal((await stack.originHits(p)) - before, 0);
  before = await stack.originHits(p);
  for (const headers of [
    { cookie: acCookie('carol'), 'if-none-match': etag },
    { cookie: acCookie('carol'), 'if-none-match': etag, 'x-anonymous': '1' },
    { cookie: acCookie('carol'), 'if-none-match': '"v1-anon"' },
  ]) {
    const r = await rawGet(p, headers);
    assert.equal(r.status, 200, JSON.stringify(headers));
    assertAudience(r.body, 'carol', JSON.stringify(headers));
  }
  assert.equal((await stack.originHits(p)) - before, 3);
});

test('a public response to a logged-in request is never served to an anonymous one, nor the other way round', async () => {
  // Unclassified (honourOrigin): even with the origin's own `public`, a logged-in response is
  // not shared, and the anonymous copy never reaches a logged-in user.
  const p = `${ns('public')}?cc=public,+max-age%3D300`;
  let r = await rawGet(p, { cookie: acCookie('alice') });
  assertAudience(r.body, 'alice', 'alice first');
  for (const headers of [{}, { 'x-anonymous': '0' }, { cookie: 'x__ac=1' }]) {
    r = await rawGet(p, headers);
    assertAudience(r.body, null, `anonymous after alice ${JSON.stringify(headers)}`);
  }
  r = await rawGet(p);
  assert.match(r.headers['cache-status'], /^rulecache; hit/, 'the anonymous copy is cached');
  const q = `${ns('public')}?cc=public,+max-age%3D300`;
  r = await rawGet(q);
  assertAudience(r.body, null, 'anonymous first');
  for (const headers of [{ cookie: acCookie('bob') }, { cookie: acCookie('bob'), 'x-anonymous': '1' }, { authorization: basic('bob') }]) {
    r = await rawGet(q, headers);
    assertAudience(r.body, 'bob', `bob after anonymous ${JSON.stringify(headers)}`);
  }
});

test('one logged-in user is never served another user\'s page, even when the origin marks it public', async () => {
  const p = `${ns('peruser')}?cc=public,+max-age%3D300`;
  const first = await rawGet(p, { cookie: acCookie('alice') });
  assertAudience(first.body, 'alice', 'alice');
  assert.match(first.headers['cache-status'], /detail=authenticated/, 'an authenticated response is not shared');
  const second = await rawGet(p, { cookie: acCookie('bob') });
  assertAudience(second.body, 'bob', 'bob after alice');
});

test('auth cookies: exact name or the __ac_ prefix authenticates; a name merely containing __ac does not', async () => {
  const p = '/news/item-1';
  await fetchText(p);
  // Anonymous: served the cached anonymous page.
  for (const cookie of ['x__ac=YWxpY2U6YWxpY2U=', 'my__ac=1; other=2', '__ac=', '__ac=""', '__acx=1', 'statusmessage=1']) {
    const before = await stack.originHits(p);
    const { r, body } = await fetchText(p, { cookie });
    assertAudience(body, null, cookie);
    assert.ok(isHit(r), `${cookie}: ${cacheStatus(r)}`);
    assert.equal((await stack.originHits(p)) - before, 0, `${cookie}: served from the edge`);
  }
  // Authenticated by the policy's prefix (__ac_): the edge bypasses, even though this origin
  // only knows __ac and renders its anonymous view.
  for (const cookie of ['__ac_other=zzz', '__ac_name=alice', `${acCookie('bob')}; x__ac=1`]) {
    const before = await stack.originHits(p);
    const { r } = await fetchText(p, { cookie });
    assert.match(cacheStatus(r), /fwd=bypass; .*detail=anon-only/, cookie);
    assert.equal(r.headers.get('x-origin-saw-anonymous'), 'absent', cookie);
    assert.equal((await stack.originHits(p)) - before, 1, `${cookie}: went to the origin`);
  }
});

test('an Authorization header makes an anonymous-looking request authenticated', async () => {
  const p = '/front-page';
  await fetchText(p);
  for (const [authorization, user] of [[basic('erin'), 'erin'], ['Bearer opaque-token', null]]) {
    const before = await stack.originHits(p);
    const { r, body } = await fetchText(p, { authorization });
    if (user) assertAudience(body, user, authorization);
    assert.ok(!isHit(r), `${authorization}: ${cacheStatus(r)}`);
    assert.match(cacheStatus(r), /fwd=bypass/);
    assert.equal(r.headers.get('x-origin-saw-anonymous'), 'absent');
    assert.equal(r.headers.get('cache-control'), 'max-age=0, must-revalidate, private');
    assert.equal((await stack.originHits(p)) - before, 1);
  }
  // And the anonymous copy is untouched.
  const { r, body } = await fetchText(p);
  assert.ok(isHit(r));
  assertAudience(body, null, 'anonymous after Authorization');
});

test('cache-stop request variables bypass the cache', async () => {
  const p = '/news';
  await fetchText(p);
  const cases = [
    { path: p, headers: { cookie: 'statusmessages=Q2hhbmdlcyBzYXZlZA==' } },
    { path: p, headers: { cookie: 'visited=1; statusmessages=x' } },
    { path: `${p}?SearchableText=edge`, headers: {} },
  ];
  for (const { path, headers } of cases) {
    const before = await stack.originHits(p);
    const { r, body } = await fetchText(path, headers);
    assertAudience(body, null, path);
    assert.match(cacheStatus(r), /fwd=bypass/, `${path} ${JSON.stringify(headers)}`);
    assert.match(cacheStatus(r), /detail=cache-stop/);
    assert.doesNotMatch(cacheStatus(r), /stored/);
    assert.equal((await stack.originHits(p)) - before, 1);
  }
  // A cookie that only resembles a cache-stop variable does not stop caching.
  const { r } = await fetchText(p, { cookie: 'xstatusmessages=1' });
  assert.ok(isHit(r), cacheStatus(r));
});

test('/set-cookie is never stored', async () => {
  const p = '/set-cookie';
  const before = await stack.originHits(p);
  for (let i = 0; i < 4; i++) {
    const { r } = await fetchText(p);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('set-cookie') ?? '', /visited=1/);
    assert.ok(!isHit(r), cacheStatus(r));
    assert.doesNotMatch(cacheStatus(r), /stored/);
  }
  assert.equal((await stack.originHits(p)) - before, 4);
});

test('load: 2,400 interleaved anonymous and logged-in requests, content changing, nobody sees another audience', async (t) => {
  const PATHS = ['/', '/front-page', '/news', '/news/item-1', '/news/item-2'];
  const TOTAL = 2400;
  const IN_FLIGHT = 16;
  // A deterministic mix: about 70 % anonymous (some with harmless cookies), 30 % logged in.
  let seed = 20260101;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  const anonCookies = [null, 'visited=1', 'x__ac=YWxpY2U6YWxpY2U=', '__ac=""', '_ga=GA1.2.3'];
  const plan = Array.from({ length: TOTAL }, (_, i) => {
    const path = PATHS[Math.floor(rand() * PATHS.length)];
    if (rand() < 0.3) {
      const user = USERS[Math.floor(rand() * USERS.length)];
      return { i, path, user, headers: { cookie: acCookie(user), ...(rand() < 0.2 ? { 'x-anonymous': '1' } : {}) } };
    }
    const cookie = anonCookies[Math.floor(rand() * anonCookies.length)];
    return { i, path, user: null, headers: cookie ? { cookie } : {} };
  });
  // Content changes during the run: bump a page at the origin and soft-purge it, so its
  // stored anonymous copy is revalidated and replaced while requests keep coming.
  const bumps = new Map([
    [400, '/front-page'],
    [900, '/news/item-1'],
    [1300, '/news'],
    [1700, '/news/item-2'],
    [2000, '/front-page'],
  ]);

  const hitsBefore = {};
  for (const p of PATHS) hitsBefore[p] = await stack.originHits(p);
  const anonStatus = { hit: 0, other: 0 };
  const problems = [];
  let anonRequests = 0;
  let authRequests = 0;
  let next = 0;
  let bumpsDone = 0;

  async function one(item) {
    const { r, body } = await fetchText(item.path, item.headers);
    const found = markers(body);
    const want = item.user ? { audience: 'authenticated', user: item.user } : { audience: 'anonymous', user: '' };
    if (r.status !== 200 || found.length !== 1 || found[0].audience !== want.audience || found[0].user !== want.user) {
      problems.push(`#${item.i} ${item.path} as ${item.user ?? 'anonymous'}: status ${r.status}, markers ${JSON.stringify(found)}, Cache-Status ${cacheStatus(r)}`);
    }
    if (item.user) {
      authRequests += 1;
      if (isHit(r) || /stored/.test(cacheStatus(r))) problems.push(`#${item.i} ${item.user}: logged-in response used the cache: ${cacheStatus(r)}`);
    } else {
      anonRequests += 1;
      if (isHit(r)) anonStatus.hit += 1;
      else anonStatus.other += 1;
    }
  }

  async function worker() {
    while (next < plan.length) {
      const item = plan[next++];
      const bump = bumps.get(item.i);
      if (bump) {
        await stack.bump(bump);
        await purge([bump], true);
        bumpsDone += 1;
      }
      await one(item);
    }
  }
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));

  assert.deepEqual(problems.slice(0, 20), [], `${problems.length} wrong responses`);
  assert.equal(bumpsDone, bumps.size);
  assert.equal(anonRequests + authRequests, TOTAL);

  let originDelta = 0;
  for (const p of PATHS) originDelta += (await stack.originHits(p)) - hitsBefore[p];
  // Every logged-in request reaches the origin exactly once; the rest of the origin's hits
  // are anonymous misses and revalidations.
  const anonOrigin = originDelta - authRequests;
  t.diagnostic(`anonymous ${anonRequests} (hits ${anonStatus.hit}, origin ${anonOrigin}), logged-in ${authRequests}, origin total ${originDelta}`);
  assert.ok(anonOrigin >= 0, `origin hits ${originDelta} < logged-in requests ${authRequests}`);
  assert.ok(
    anonOrigin * 10 < anonRequests,
    `anonymous traffic reached the origin ${anonOrigin} times for ${anonRequests} requests`,
  );
  assert.ok(anonStatus.hit >= anonRequests * 0.8, `only ${anonStatus.hit} of ${anonRequests} anonymous requests were hits`);

  // The bumped pages were replaced: an anonymous visitor now gets the newest version.
  for (const p of new Set(bumps.values())) {
    const { r, body } = await fetchText(p);
    assertAudience(body, null, `${p} after the run`);
    const version = Number(r.headers.get('x-origin-version'));
    const expected = p === '/front-page' ? 3 : 2;
    assert.equal(version, expected, `${p}: served version ${version}, Cache-Status ${cacheStatus(r)}`);
  }
});
