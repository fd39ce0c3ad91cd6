// Purge: authenticated PURGE and purge API, variants, expansion, tags, prefixes, soft and
// hard, and the global ledger — against the real worker in workerd, counting origin hits.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { startStack, client, ns, sleep } from '../support/stack.mjs';

const SECRET = 'purge-test-secret-0123456789';
let stack, get;
before(async () => { stack = await startStack({ secret: SECRET }); get = client(stack); });
after(async () => { await stack?.stop(); });

const bearer = { authorization: `Bearer ${SECRET}` };
const status = (r) => r.headers.get('cache-status') ?? '';

async function cached(path, init) {
  const a = await get(path, init); await a.arrayBuffer();
  const b = await get(path, init); await b.arrayBuffer();
  assert.match(status(b), /hit/, `${path} should be served from cache before the purge`);
}

async function purgeApi(body, headers = bearer) {
  const r = await get('/_rulecache/api/purge', { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: r.status, body: await r.json() };
}

function signed(method, pathAndQuery, body, ts = Math.floor(Date.now() / 1000)) {
  const bodyHash = createHash('sha256').update(body).digest('hex');
  const sig = createHmac('sha256', SECRET).update(`v1\n${method}\n${pathAndQuery}\n${ts}\n${bodyHash}`).digest('hex');
  return { 'x-rulecache-timestamp': String(ts), 'x-rulecache-signature': `v1=${sig}` };
}

test('PURGE <url> with the bearer secret makes the URL a miss', async () => {
  const p = `${ns('purge-url')}?cc=max-age%3D600`;
  await cached(p);
  const r = await get(p, { method: 'PURGE', headers: bearer });
  assert.equal(r.status, 200);
  const answer = await r.json();
  assert.match(answer.id, /^p-/);
  assert.ok(answer.removedLocal >= 1, 'the local copy was removed');
  assert.ok(answer.honouredEverywhereBy > Date.now() - 1000);
  const before = await stack.originHits(p.split('?')[0]);
  const again = await get(p); await again.text();
  assert.match(status(again), /fwd=/);
  assert.equal(await stack.originHits(p.split('?')[0]), before + 1);
});

test('PURGE without or with a wrong credential changes nothing and never reaches the origin', async () => {
  const p = `${ns('purge-denied')}?cc=max-age%3D600`;
  await cached(p);
  const hits = await stack.originHits(p.split('?')[0]);
  for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: `Bearer ${SECRET}x` }, { authorization: `Basic ${Buffer.from(`purge:${SECRET}x`).toString('base64')}` }, { authorization: `Basic ${Buffer.from(SECRET).toString('base64')}` }]) {
    const r = await get(p, { method: 'PURGE', headers });
    assert.equal(r.status, 401);
    const text = await r.text();
    assert.ok(!text.includes(SECRET), 'the secret never appears in a response');
  }
  assert.equal(await stack.originHits(p.split('?')[0]), hits, 'PURGE was not forwarded');
  const still = await get(p); await still.text();
  assert.match(status(still), /hit/);
});

test('the purge API refuses bad credentials (401) and bad bodies (400) without purging', async () => {
  const p = `${ns('purge-api-denied')}?cc=max-age%3D600`;
  await cached(p);
  assert.equal((await purgeApi({ urls: [p] }, { authorization: 'Bearer nope' })).status, 401);
  const bad = await purgeApi({ urls: 'not-a-list', colour: 'red' });
  assert.equal(bad.status, 400);
  assert.deepEqual(bad.body.errors.map((e) => e.path).sort(), ['/', '/colour', '/urls'], JSON.stringify(bad.body));
  // Every problem of the items, each at its place; the good URL among them is not purged either.
  const items = await purgeApi({ urls: [p, 'news', 7], tags: ['a b'], soft: 'yes' });
  assert.equal(items.status, 400);
  assert.deepEqual(
    items.body.errors.map((e) => e.path).sort(),
    ['/soft', '/tags/0', '/urls/1', '/urls/2'],
    JSON.stringify(items.body),
  );
  for (const e of items.body.errors) assert.ok(typeof e.message === 'string' && e.message.length > 0, JSON.stringify(e));
  assert.match(items.body.errors.find((e) => e.path === '/urls/1').message, /neither a path starting with \/ nor an absolute http\(s\) URL/);
  const still = await get(p); await still.text();
  assert.match(status(still), /hit/);
});

test('purging a URL removes every variant of it (Vary and audience)', async () => {
  const base = ns('purge-variants');
  const p = `${base}?cc=max-age%3D600&vary=Accept-Language`;
  await cached(p, { headers: { 'accept-language': 'en' } });
  await cached(p, { headers: { 'accept-language': 'de' } });
  const r = await purgeApi({ urls: [`${stack.workerUrl}${p}`] });
  assert.equal(r.status, 200);
  const hits = await stack.originHits(base);
  for (const lang of ['en', 'de']) {
    const x = await get(p, { headers: { 'accept-language': lang } }); await x.text();
    assert.match(status(x), /fwd=/, `the ${lang} variant is gone`);
  }
  assert.equal(await stack.originHits(base), hits + 2);
});

test('purge-path expansion: purging /news/view also purges /news', async () => {
  await cached('/news');
  const r = await get('/news/view', { method: 'PURGE', headers: bearer });
  const answer = await r.json();
  assert.ok(answer.expanded.some((u) => u.endsWith('/news')), JSON.stringify(answer.expanded));
  const x = await get('/news'); await x.text();
  assert.match(status(x), /fwd=/);
});

test('purge by tag (Cache-Tag and Surrogate-Key) and by prefix', async () => {
  const dir = ns('purge-tags');
  const red = `${dir}/a?cc=max-age%3D600&h=Cache-Tag:red,blue`;
  const key = `${dir}/b?cc=max-age%3D600&h=Surrogate-Key:alpha%20beta`;
  const other = `${dir}/c?cc=max-age%3D600&h=Cache-Tag:green`;
  for (const p of [red, key, other]) await cached(p);
  assert.equal((await purgeApi({ tags: ['Blue', 'beta'] })).status, 200);
  for (const p of [red, key]) { const x = await get(p); await x.text(); assert.match(status(x), /fwd=/, p); }
  const g = await get(other); await g.text();
  assert.match(status(g), /hit/, 'an entry without the tag stays');

  const pdir = ns('purge-prefix');
  const inside = [`${pdir}/one?cc=max-age%3D600`, `${pdir}/two/deeper?cc=max-age%3D600`];
  const outside = `${pdir}-sibling?cc=max-age%3D600`;
  for (const p of [...inside, outside]) await cached(p);
  assert.equal((await purgeApi({ prefixes: [`${pdir}/`] })).status, 200);
  for (const p of inside) { const x = await get(p); await x.text(); assert.match(status(x), /fwd=/, p); }
  const o = await get(outside); await o.text();
  assert.match(status(o), /hit/);
});

test('soft purge: the next request revalidates conditionally and gets a 304-based refresh', async () => {
  const base = ns('purge-soft');
  const p = `${base}?cc=max-age%3D600&etag=%22s1%22`;
  await cached(p);
  const before = await stack.originStats(base);
  const r = await purgeApi({ urls: [p], soft: true });
  assert.equal(r.status, 200);
  const x = await get(p);
  const body = await x.text();
  assert.equal(x.status, 200);
  assert.match(body, /hit=1/, 'the stored body is served after the 304');
  assert.match(status(x), /fwd=stale; fwd-status=304/);
  const afterStats = await stack.originStats(base);
  assert.equal(afterStats.conditional, before.conditional + 1);
  assert.equal(afterStats.not_modified, before.not_modified + 1);
  const y = await get(p); await y.text();
  assert.match(status(y), /hit/, 'refreshed: fresh again');
});

test('an entry whose local copy was not deleted is still treated as purged through the ledger', async () => {
  const base = ns('purge-ledger');
  const p = `${base}?cc=max-age%3D600`;
  await cached(p);
  const x = await get(p, { headers: { authorization: `Bearer ${stack.secret}` } }); await x.text();
  const key = /key="([^"]+)"/.exec(status(x))?.[1];
  assert.ok(key, 'debug Cache-Status names the key (with the admin secret)');
  // As if another location had purged: the ledger knows, this location's cache does not.
  await stack.ledgerAppend([{ url: key }], false);
  const deadline = Date.now() + 15_000; // the documented bound is 10 s plus one ledger fetch
  let purged = false;
  while (Date.now() < deadline) {
    const y = await get(p); await y.text();
    if (/fwd=/.test(status(y))) { purged = true; break; }
    await sleep(500);
  }
  assert.ok(purged, 'the ledger purge was honoured within the propagation bound');
});

test('HMAC-signed purges work once; replayed and expired signatures change nothing', async () => {
  const p = `${ns('purge-signed')}?cc=max-age%3D600`;
  await cached(p);
  const body = JSON.stringify({ urls: [p] });
  const headers = { 'content-type': 'application/json', ...signed('POST', '/_rulecache/api/purge', body) };
  const first = await get('/_rulecache/api/purge', { method: 'POST', headers, body });
  assert.equal(first.status, 200, await first.text());
  const replay = await get('/_rulecache/api/purge', { method: 'POST', headers, body });
  assert.equal(replay.status, 401);

  const q = `${ns('purge-expired')}?cc=max-age%3D600`;
  await cached(q);
  const body2 = JSON.stringify({ urls: [q] });
  const old = signed('POST', '/_rulecache/api/purge', body2, Math.floor(Date.now() / 1000) - 3600);
  const expired = await get('/_rulecache/api/purge', { method: 'POST', headers: { 'content-type': 'application/json', ...old }, body: body2 });
  assert.equal(expired.status, 401);
  const tampered = signed('POST', '/_rulecache/api/purge', body2);
  const t = await get('/_rulecache/api/purge', { method: 'POST', headers: { 'content-type': 'application/json', ...tampered }, body: JSON.stringify({ urls: [q, '/other'] }) });
  assert.equal(t.status, 401);
  const still = await get(q); await still.text();
  assert.match(status(still), /hit/);
});

test('with no secret configured, purge and admin are disabled (403) and nothing is forwarded', async () => {
  const open = await startStack({ secret: null });
  try {
    const g = client(open);
    const p = `${ns('purge-nosecret')}?cc=max-age%3D600`;
    const a = await g(p); await a.text();
    const hits = await open.originHits(p.split('?')[0]);
    const r = await g(p, { method: 'PURGE', headers: { authorization: 'Bearer anything' } });
    assert.equal(r.status, 403);
    assert.match((await r.json()).error, /disabled/);
    const api = await g('/_rulecache/api/policy', { headers: { authorization: 'Bearer ' } });
    assert.equal(api.status, 403);
    await api.text();
    assert.equal(await open.originHits(p.split('?')[0]), hits);
  } finally {
    await open.stop();
  }
});

test('a purge URL spelled as the runtime would not write it purges the entry the runtime keyed', async () => {
  // The entry's key comes from the URL as the runtime serialised the request's; the purge
  // API's URLs are parsed by the core's own URL parser. Both must normalise alike: escapes,
  // dot segments, backslashes, the scheme's case, the default port, a fragment.
  const base = ns('purge-spelling');
  const worker = new URL(stack.workerUrl);
  const cases = [
    // [what the client asks for, how the purge names it]
    [`${base}/a b/"q"/{x}/é?k='v' w&cc=max-age%3D600`, `${base}/z/../a b/./"q"/{x}/é?k='v' w&cc=max-age%3D600#part`],
    [`${base}/c%7e/d?cc=max-age%3D600`, `HTTP://${worker.hostname}:${worker.port}${base}\\c%7e\\x\\..\\d?cc=max-age%3D600`],
    // `^` is escaped in a path by the runtime (the current URL Standard); the others are not.
    [`${base}/^|[]!$&'()*+,;=:@~?cc=max-age%3D600&q=%22`, `http://${worker.hostname}:${worker.port}/./${base.slice(1)}/^|[]!$&'()*+,;=:@~?cc=max-age%3D600&q="`],
  ];
  for (const [asked, spelled] of cases) {
    await cached(asked);
    const purged = await purgeApi({ urls: [spelled] });
    assert.equal(purged.status, 200, JSON.stringify(purged.body));
    const again = await get(asked); await again.text();
    assert.match(status(again), /fwd=/, `${spelled} should have purged ${asked} (${JSON.stringify(purged.body.expanded)})`);
    const after = await get(asked); await after.text();
    assert.match(status(after), /hit/, `${asked} is stored again after the purge`);
  }
});

test('a URL purge reaches the page under every query string; exactQuery purges one spelling', async () => {
  const p = ns('purge-query');
  const spellings = [`${p}?cc=max-age%3D600`, `${p}?cc=max-age%3D600&ref=newsletter`, `${p}?cc=max-age%3D600&zz=1`];
  for (const s of spellings) await cached(s);
  const r = await get(spellings[0], { method: 'PURGE', headers: bearer });
  assert.equal(r.status, 200, await r.text());
  for (const s of spellings) { const x = await get(s); await x.text(); assert.match(status(x), /fwd=/, `${s} after PURGE`); }

  for (const s of spellings) await cached(s);
  assert.equal((await purgeApi({ urls: [spellings[1]] })).status, 200);
  for (const s of spellings) { const x = await get(s); await x.text(); assert.match(status(x), /fwd=/, `${s} after an API purge`); }

  for (const s of spellings) await cached(s);
  assert.equal((await purgeApi({ urls: [spellings[1]], exactQuery: true })).status, 200);
  const gone = await get(spellings[1]); await gone.text();
  assert.match(status(gone), /fwd=/);
  for (const s of [spellings[0], spellings[2]]) { const x = await get(s); await x.text(); assert.match(status(x), /hit/, `${s} stays after an exact purge`); }
});

test('a local hard purge of a prefix removes whole path segments only, in the memory tier too', async () => {
  const dir = ns('purge-segments');
  const news = `${dir}/news?cc=max-age%3D600`;
  const letter = `${dir}/newsletter?cc=max-age%3D600`;
  for (const p of [news, letter]) await cached(p);
  const entries = async () => (await (await get('/_rulecache/api/stats', { headers: bearer })).json()).memory.entries;
  const before = await entries();
  const r = await purgeApi({ prefixes: [`${dir}/news`] });
  assert.equal(r.status, 200);
  assert.equal(r.body.removedLocal, 1, JSON.stringify(r.body));
  assert.equal(await entries(), before - 1, 'only /news left the memory tier');
  const kept = await get(letter); await kept.text();
  assert.match(status(kept), /hit/);
});

test("a Basic PURGE (plone.cachepurging's, batched into a burst) reaches every query string at the location that took it at once", async () => {
  const p = ns('purge-burst-query');
  const spellings = [`${p}?cc=max-age%3D600`, `${p}?cc=max-age%3D600&ref=newsletter`, `${p}?cc=max-age%3D600&zz=1`];
  for (const s of spellings) await cached(s);
  const basic = { authorization: `Basic ${Buffer.from(`purge:${SECRET}`).toString('base64')}` };
  const r = await get(spellings[0], { method: 'PURGE', headers: basic });
  const answer = await r.json();
  assert.equal(r.status, 200, JSON.stringify(answer));
  assert.equal(answer.batched, true, 'taken into a burst window, written to the ledger later');
  for (const s of spellings) { const x = await get(s); await x.text(); assert.match(status(x), /fwd=/, `${s} right after the PURGE`); }
});
