// RFC 9875 (HTTP Cache Groups) and RFC 9111 §4.4 against the real worker in workerd: two
// instances sharing one purge ledger in front of a scripted origin on loopback. The origin's
// response to an unsafe request invalidates its groups (Cache-Group-Invalidation) and its
// target URI, Location and Content-Location, on its own origin only, at this instance at once
// and at the other within the propagation bound; safe methods and client-sent fields do
// nothing; soft or hard as the policy says; every invalidation is in the ledger and in the
// statistics.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { Miniflare } from 'miniflare';
import { workerOptions, sleep, cacheStatus, isHit } from '../support/stack.mjs';

const SECRET = 'groups-test-secret-0123456789';
const bearer = { authorization: `Bearer ${SECRET}` };
let origin, mf, a, b;

/** A real HTTP origin whose answers the tests script per path; it keeps what reached it. */
function startScriptedOrigin() {
  const routes = new Map();
  const seen = new Map();
  const server = http.createServer((req, res) => {
    const path = req.url.split('?')[0];
    const list = seen.get(path) ?? [];
    list.push({ method: req.method, headers: req.headers });
    seen.set(path, list);
    const route = routes.get(path);
    if (!route) { res.writeHead(404, { 'content-type': 'text/plain' }); res.end('no route\n'); return; }
    req.resume();
    req.on('end', () => {
      const { status, headers, body } = route(req, list.length);
      const payload = Buffer.from(body ?? '');
      const h = { ...headers };
      if (status !== 304) h['content-length'] = String(payload.length);
      res.writeHead(status, h);
      res.end(req.method === 'HEAD' || status === 304 ? undefined : payload);
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    const { port } = server.address();
    resolve({
      url: `http://127.0.0.1:${port}`,
      route: (p, fn) => routes.set(p, fn),
      seen: (p) => seen.get(p) ?? [],
      stop: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }),
    });
  }));
}

/** A page stored for ten minutes with ETag "v1" (304 to it) and the given Cache-Groups. */
const page = (groups) => (req, n) => {
  const base = { etag: '"v1"', 'cache-control': 'max-age=600', ...(groups ? { 'cache-groups': groups } : {}) };
  return req.headers['if-none-match'] === '"v1"'
    ? { status: 304, headers: base }
    : { status: 200, headers: { ...base, 'content-type': 'text/html' }, body: `${req.url} #${n}` };
};

/** An edit: `status` with the given response fields, for any method. */
const edit = (status, headers = {}) => () => ({ status, headers: { 'content-type': 'text/plain', ...headers }, body: 'done' });

before(async () => {
  origin = await startScriptedOrigin();
  const base = workerOptions({ originUrl: origin.url, secret: SECRET });
  const { host, port, ...shared } = base;
  mf = new Miniflare({
    host,
    port,
    workers: [
      { ...shared, name: 'a' },
      { ...shared, name: 'b', durableObjects: { PURGE_LEDGER: { className: 'PurgeLedger', scriptName: 'a', useSQLite: true } } },
    ],
  });
  await mf.ready;
  const bw = await mf.getWorker('b');
  a = (url, init = {}) => mf.dispatchFetch(url, { redirect: 'manual', ...init });
  b = (url, init = {}) => bw.fetch(url, { redirect: 'manual', ...init });
});
after(async () => { await mf?.dispose(); await origin?.stop(); });

/** GETs `url` through `via` until it is a hit (stored), or fails. */
async function stored(via, url) {
  for (let i = 0; i < 50; i += 1) {
    const r = await via(url); await r.arrayBuffer();
    if (isHit(r)) return;
    await sleep(20);
  }
  throw new Error(`${url} was never served from cache`);
}

async function status(via, url, init) {
  const r = await via(url, init); await r.arrayBuffer();
  return cacheStatus(r);
}

/** Polls `url` through `via` until it is not a hit; the milliseconds it took, or null. */
async function untilNotHit(via, url, limit = 15_000) {
  const t0 = Date.now();
  while (Date.now() - t0 < limit) {
    const r = await via(url); await r.arrayBuffer();
    if (!isHit(r)) return Date.now() - t0;
    await sleep(200);
  }
  return null;
}

async function ledgerRecords() {
  const namespace = await mf.getDurableObjectNamespace('PURGE_LEDGER', 'a');
  const stub = namespace.get(namespace.idFromName('global'));
  return (await (await stub.fetch('https://ledger/since?seq=0')).json()).records;
}

test("a POST's Cache-Group-Invalidation purges its groups on its own origin, here at once and at the other instance within the bound", async () => {
  origin.route('/g1/a', page('"news"'));
  origin.route('/g1/b', page('"sport", "news";x=1'));
  origin.route('/g1/c', page('"sport"'));
  origin.route('/g1/edit', edit(200, { 'cache-group-invalidation': '"news"' }));
  for (const url of ['https://a.example/g1/a', 'https://a.example/g1/b', 'https://a.example/g1/c', 'https://b.example/g1/a']) {
    await stored(a, url);
  }
  await stored(b, 'https://a.example/g1/b');
  const posted = await a('https://a.example/g1/edit', { method: 'POST', body: 'x=1' });
  assert.equal(posted.status, 200);
  await posted.arrayBuffer();
  assert.doesNotMatch(await status(a, 'https://a.example/g1/a'), /^rulecache; hit/, 'in the group: purged here at once');
  assert.doesNotMatch(await status(a, 'https://a.example/g1/b'), /^rulecache; hit/, 'in the group among others');
  assert.match(await status(a, 'https://a.example/g1/c'), /^rulecache; hit/, 'another group is kept');
  assert.match(await status(a, 'https://b.example/g1/a'), /^rulecache; hit/, 'the same group of another origin is kept');
  const ms = await untilNotHit(b, 'https://a.example/g1/b');
  assert.ok(ms !== null, 'the other instance honours it through the ledger');
  assert.match(await status(b, 'https://b.example/g1/a'), /^rulecache; hit|fwd=uri-miss/, 'not purged on the other origin there either');
  const records = await ledgerRecords();
  const group = records.find((r) => r.target.group === 'https://a.example/ news');
  assert.ok(group, JSON.stringify(records.map((r) => r.target)));
  assert.ok(!group.soft, 'hard by default');
  assert.ok(records.some((r) => r.target.url === 'https://a.example/g1/edit'), 'the target URI too (RFC 9111 §4.4)');
  const stats = await (await a('https://a.example/_rulecache/api/stats', { headers: bearer })).json();
  assert.ok(stats.invalidations.groups >= 1 && stats.invalidations.responses >= 1, JSON.stringify(stats.invalidations));
});

test('the field on the response to a safe method invalidates nothing', async () => {
  origin.route('/g2/a', page('"listing"'));
  origin.route('/g2/read', edit(200, { 'cache-group-invalidation': '"listing"', 'cache-control': 'no-store' }));
  await stored(a, 'https://a.example/g2/a');
  for (const method of ['GET', 'HEAD', 'OPTIONS']) {
    const r = await a('https://a.example/g2/read', { method }); await r.arrayBuffer();
  }
  assert.match(await status(a, 'https://a.example/g2/a'), /^rulecache; hit/);
  const records = await ledgerRecords();
  assert.ok(!records.some((r) => r.target.group?.endsWith(' listing')), 'nothing recorded');
});

test("a client's Cache-Group-Invalidation and Cache-Groups are not forwarded and do nothing", async () => {
  origin.route('/g3/a', page('"front"'));
  origin.route('/g3/plain', edit(200));
  await stored(a, 'https://a.example/g3/a');
  const sent = { 'cache-group-invalidation': '"front"', 'cache-groups': '"front"' };
  const r = await a('https://a.example/g3/plain', { method: 'POST', headers: sent, body: 'x' }); await r.arrayBuffer();
  const seen = origin.seen('/g3/plain').at(-1);
  assert.equal(seen.method, 'POST');
  assert.equal(seen.headers['cache-group-invalidation'], undefined, 'not forwarded');
  assert.equal(seen.headers['cache-groups'], undefined, 'not forwarded');
  const g = await a('https://a.example/g3/a', { headers: sent }); await g.arrayBuffer();
  assert.match(await status(a, 'https://a.example/g3/a'), /^rulecache; hit/, 'no effect');
  const records = await ledgerRecords();
  assert.ok(!records.some((rec) => rec.target.group?.endsWith(' front')));
});

test('RFC 9111 §4.4: a successful unsafe request invalidates its target URI and a same-origin Location everywhere, never another origin', async () => {
  origin.route('/g4/item', page());
  origin.route('/g4/new', page());
  origin.route('/g4/other', page());
  await stored(a, 'https://a.example/g4/item');
  await stored(b, 'https://a.example/g4/new?ref=mail');
  await stored(b, 'https://b.example/g4/other');
  origin.route('/g4/item', (req, n) => (req.method === 'PUT'
    ? { status: 201, headers: { location: '/g4/new', 'content-location': 'https://b.example/g4/other' }, body: 'created' }
    : page()(req, n)));
  const put = await a('https://a.example/g4/item', { method: 'PUT', body: 'x' }); await put.arrayBuffer();
  assert.equal(put.status, 201);
  assert.doesNotMatch(await status(a, 'https://a.example/g4/item'), /^rulecache; hit/);
  assert.ok((await untilNotHit(b, 'https://a.example/g4/new?ref=mail')) !== null, 'the Location, under every query string, at the other instance');
  assert.match(await status(b, 'https://b.example/g4/other'), /^rulecache; hit/, 'a Content-Location on another origin is not invalidated');
  const failed = await a('https://a.example/g4/missing', { method: 'POST', body: 'x' }); await failed.arrayBuffer();
  const records = await ledgerRecords();
  assert.ok(records.some((r) => r.target.url === 'https://a.example/g4/new'));
  assert.ok(!records.some((r) => r.target.url?.startsWith('https://b.example/')));
  assert.ok(!records.some((r) => r.target.url === 'https://a.example/g4/missing'), 'an error invalidates no URI');
});

test('the policy makes invalidations soft: the purged entry is revalidated, not fetched again', async () => {
  const profiles = await (await a('https://a.example/_rulecache/api/profiles', { headers: bearer })).json();
  const bundle = profiles.find((p) => p.id === 'with-caching-proxy-splitviews').bundle;
  const soft = { ...bundle, version: 2, purge: { ...bundle.purge, invalidation: 'soft' } };
  const push = await a('https://a.example/_rulecache/api/policy', { method: 'POST', headers: bearer, body: JSON.stringify(soft) });
  assert.equal(push.status, 200, await push.text());
  try {
    origin.route('/g5/a', page('"soft-group"'));
    origin.route('/g5/edit', edit(204, { 'cache-group-invalidation': '"soft-group"' }));
    await stored(a, 'https://a.example/g5/a');
    const r = await a('https://a.example/g5/edit', { method: 'DELETE' }); await r.arrayBuffer();
    const after = await status(a, 'https://a.example/g5/a');
    assert.match(after, /fwd=stale; fwd-status=304/, after);
    const records = await ledgerRecords();
    assert.ok(records.find((rec) => rec.target.group === 'https://a.example/ soft-group')?.soft, 'recorded soft');
  } finally {
    const back = { ...bundle, version: 3 };
    await a('https://a.example/_rulecache/api/policy', { method: 'POST', headers: bearer, body: JSON.stringify(back) });
  }
});

test('a bad policy setting is refused with every problem at its place', async () => {
  const bad = { version: 9, name: 'bad', purge: { tagSources: ['Cache-Groups', 'Etag'], invalidation: 'later' } };
  const r = await a('https://a.example/_rulecache/api/policy', { method: 'POST', headers: bearer, body: JSON.stringify(bad) });
  assert.equal(r.status, 422);
  const text = await r.text();
  assert.match(text, /\/purge\/tagSources\/1/);
  assert.match(text, /\/purge\/invalidation/);
});

test('a flood of invalidations beyond the origin budget makes the site revalidate, never miss', async () => {
  // An origin budget of one target, never refilled: the second edit is beyond it.
  const { host, port, ...options } = workerOptions({ originUrl: origin.url, secret: SECRET, bindings: { PURGE_BUDGETS: '1,0,1000,0' } });
  const small = new Miniflare({ ...options, host, port });
  try {
    await small.ready;
    const s = (url, init = {}) => small.dispatchFetch(url, { redirect: 'manual', ...init });
    origin.route('/g6/a', page('"kept"'));
    origin.route('/g6/edit', edit(200, { 'cache-group-invalidation': '"flooded"' }));
    await stored(s, 'https://a.example/g6/a');
    for (let i = 0; i < 3; i += 1) {
      const r = await s('https://a.example/g6/edit', { method: 'POST', body: `${i}` }); await r.arrayBuffer();
    }
    const namespace = await small.getDurableObjectNamespace('PURGE_LEDGER');
    const stub = namespace.get(namespace.idFromName('global'));
    let records = [];
    for (let i = 0; i < 50 && !records.some((r) => r.target.prefix); i += 1) {
      await sleep(50);
      records = (await (await stub.fetch('https://ledger/since?seq=0')).json()).records;
    }
    const site = records.filter((r) => r.target.prefix === 'https://a.example/');
    assert.ok(site.length >= 1, JSON.stringify(records));
    assert.ok(site.every((r) => r.soft), 'collapsed into a soft record of the site');
    // The page of another group is revalidated with the origin (304), not fetched again.
    await sleep(2_500); // the copy refreshes from the ledger in the background after 2 s
    let status = '';
    for (let i = 0; i < 20 && !/fwd=stale/.test(status); i += 1) {
      status = await (async () => { const r = await s('https://a.example/g6/a'); await r.arrayBuffer(); return cacheStatus(r); })();
      if (!/fwd=stale/.test(status)) await sleep(200);
    }
    assert.match(status, /fwd=stale; fwd-status=304/, status);
  } finally {
    await small.dispose();
  }
});
