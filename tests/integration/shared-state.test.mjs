// Shared state changes only by the response and the policy: what one client's request can do
// to an entry everybody is served from. Each case is an attack that worked before (see the
// threat model): the real worker in workerd in front of a scripted origin on loopback.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startStack, client, cacheStatus, sleep } from '../support/stack.mjs';

const SECRET = 'shared-state-secret';
let stack, get, origin;

/** A real HTTP origin whose answers the tests script per path; it counts what reached it. */
function startScriptedOrigin() {
  const routes = new Map();
  const hits = new Map();
  const server = http.createServer((req, res) => {
    const path = req.url.split('?')[0];
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const route = routes.get(path);
    if (!route) { res.writeHead(404, { 'content-type': 'text/plain' }); res.end('no route\n'); return; }
    const { status, headers, body, delayMs = 0 } = route(req, hits.get(path));
    const payload = Buffer.from(body ?? '');
    const h = { ...headers };
    if (status !== 304) h['content-length'] = String(payload.length);
    setTimeout(() => {
      res.writeHead(status, h);
      res.end(req.method === 'HEAD' || status === 304 ? undefined : payload);
    }, delayMs);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    const { port } = server.address();
    resolve({
      url: `http://127.0.0.1:${port}`,
      route: (p, fn) => routes.set(p, fn),
      hits: (p) => hits.get(p) ?? 0,
      stop: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }),
    });
  }));
}

/** 200 with ETag "v1" and `cc`, or 304 to a matching If-None-Match. */
const validating = (cc, extra = {}) => (req, n) =>
  req.headers['if-none-match'] === '"v1"'
    ? { status: 304, headers: { etag: '"v1"', 'cache-control': cc, ...extra } }
    : { status: 200, headers: { etag: '"v1"', 'cache-control': cc, 'content-type': 'text/html', ...extra }, body: `v1 #${n}` };

before(async () => {
  origin = await startScriptedOrigin();
  stack = await startStack({ secret: SECRET, originUrl: origin.url });
  get = client(stack);
});
after(async () => { await stack?.stop(); await origin?.stop(); });

async function text(p, headers = {}, method = 'GET') {
  const r = await get(p, { method, headers });
  return { r, body: await r.text(), status: cacheStatus(r) };
}

test("a client's no-cache, no-store revalidation leaves the shared entry in place", async () => {
  origin.route('/nostore', validating('max-age=60'));
  await text('/nostore');
  const own = await text('/nostore', { 'cache-control': 'no-cache, no-store' });
  assert.equal(own.body, 'v1 #1');
  assert.equal(origin.hits('/nostore'), 2, 'revalidated');
  const next = await text('/nostore');
  assert.match(next.status, /^rulecache; hit/, next.status);
  assert.equal(origin.hits('/nostore'), 2);
});

test('a HEAD with no-cache does not delete a GET entry without validators', async () => {
  origin.route('/plain', (req, n) => ({ status: 200, headers: { 'cache-control': 'max-age=60', 'content-type': 'text/html', ...(req.method === 'HEAD' ? { etag: '"h"' } : {}) }, body: `page #${n}` }));
  await text('/plain');
  const head = await text('/plain', { 'cache-control': 'no-cache' }, 'HEAD');
  assert.equal(head.r.status, 200);
  const next = await text('/plain');
  assert.match(next.status, /^rulecache; hit/, next.status);
  assert.equal(next.body, 'page #1');
});

test('a junk cookie naming the login cookie inside another does not delete the anonymous copy', async () => {
  const policy = {
    version: 1, name: 'shared-state',
    rulesets: { page: { title: 'page' } },
    rules: [{ id: 'p', ruleset: 'page', match: { pathPrefix: '/p' } }],
    splitView: { enabled: true, header: 'X-Anonymous', authCookies: ['__ac'], authCookiePrefixes: ['__ac_'], authorizationHeader: true },
    operations: { page: { operation: 'moderateCaching', parameters: { smaxage: 1, anonOnly: true, storeAnonymousPrivate: true } } },
  };
  const push = await get('/_rulecache/api/policy', { method: 'POST', headers: { authorization: `Bearer ${SECRET}` }, body: JSON.stringify(policy) });
  assert.equal(push.status, 200, await push.text());
  origin.route('/p/doc', validating('private, max-age=0'));
  assert.equal((await text('/p/doc')).body, 'v1 #1');
  await sleep(2100); // stale (s-maxage 1)
  const junk = await text('/p/doc', { cookie: 'x__ac=1' });
  assert.equal(junk.body, 'v1 #1');
  assert.equal(origin.hits('/p/doc'), 2);
  const clean = await text('/p/doc');
  assert.equal(clean.body, 'v1 #1', clean.status);
  assert.match(clean.status, /fwd=stale; fwd-status=304/, 'the clean request revalidates the kept entry, not a miss');
  // The bundled profile again, for the other tests.
  const profiles = await (await get('/_rulecache/api/profiles', { headers: { authorization: `Bearer ${SECRET}` } })).json();
  const bundle = profiles.find((p) => p.id === 'with-caching-proxy-splitviews').bundle;
  await get('/_rulecache/api/policy', { method: 'POST', headers: { authorization: `Bearer ${SECRET}` }, body: JSON.stringify({ ...bundle, version: 3 }) });
});

test('a 304 that brings a new Vary drops the entry: the copy for en is never served to fr', async () => {
  let varies = false;
  origin.route('/lang', (req) => {
    const lang = req.headers['accept-language'] ?? 'en';
    const vary = varies ? { vary: 'Accept-Language' } : {};
    if (req.headers['if-none-match'] === `"${lang}"`) return { status: 304, headers: { etag: `"${lang}"`, 'cache-control': 'max-age=1', ...vary } };
    return { status: 200, headers: { etag: `"${lang}"`, 'cache-control': 'max-age=1', 'content-type': 'text/html', ...vary }, body: lang };
  });
  assert.equal((await text('/lang', { 'accept-language': 'en' })).body, 'en');
  varies = true;
  await sleep(2100);
  const en = await text('/lang', { 'accept-language': 'en' });
  assert.equal(en.body, 'en');
  assert.match(en.status, /vary-changed/, en.status);
  const fr = await text('/lang', { 'accept-language': 'fr' });
  assert.equal(fr.body, 'fr', fr.status);
});

test('after a soft purge, a client sending max-stale is not served the purged copy', async () => {
  origin.route('/soft', validating('max-age=600'));
  await text('/soft');
  for (const cc of ['max-stale', 'max-stale=3600']) {
    // Each round purges again: the revalidation of the round before refreshed the entry.
    const purge = await get('/_rulecache/api/purge', { method: 'POST', headers: { authorization: `Bearer ${SECRET}` }, body: JSON.stringify({ urls: ['/soft'], soft: true }) });
    assert.equal(purge.status, 200, await purge.text());
    const before = origin.hits('/soft');
    const r = await text('/soft', { 'cache-control': cc });
    assert.equal(origin.hits('/soft'), before + 1, `${cc}: revalidated at the origin (${r.status})`);
    assert.match(r.status, /fwd=stale/, r.status);
  }
});

// ---- The key is what is forwarded ----

const FAMILY = {
  'x-forwarded-port': '6666evil', 'x-forwarded-prefix': '/evil', 'x-forwarded-scheme': 'evil', 'x-forwarded-ssl': 'evil',
  'x-forwarded-proto': 'evil', 'x-forwarded-protocol': 'evil', 'x-forwarded-uri': '/evil', 'x-forwarded-path': '/evil',
  'front-end-https': 'evil', 'x-url-scheme': 'evil', 'x-original-host': 'evil.example', 'x-original-uri': '/evil',
  'x-script-name': '/evil', 'x-forwarded-host': 'evil.example', forwarded: 'host=evil.example;proto=evil',
  'x-real-ip': '10.6.6.6', 'x-requested-with': 'evil', 'x-evil-unkeyed': 'evil',
};

test('no forwarding field a client sends reaches the origin, and no unkeyed field shapes a stored page', async () => {
  // The origin echoes every request field it got into the page, as servers that honour them
  // do into absolute URLs, canonical links and redirects.
  origin.route('/echo', (req) => ({ status: 200, headers: { 'cache-control': 'max-age=60', 'content-type': 'text/plain' }, body: JSON.stringify(req.headers) }));
  const poisoned = await text('/echo', FAMILY);
  assert.ok(!poisoned.body.includes('evil') && !poisoned.body.includes('10.6.6.6'), poisoned.body);
  const seen = JSON.parse(poisoned.body);
  assert.match(seen['x-forwarded-host'] ?? '', /^127\.0\.0\.1:\d+$/, 'the edge sets the host asked for');
  assert.equal(seen['x-forwarded-proto'], 'http', 'and the scheme asked for');
  const clean = await text('/echo');
  assert.match(clean.status, /^rulecache; hit/);
  assert.ok(!clean.body.includes('evil') && !clean.body.includes('10.6.6.6'), clean.body);
  // Also the underscore spelling a WSGI server reads as the same variable (`SCRIPT_NAME`).
  const r = await new Promise((resolve, reject) => {
    const u = new URL(`${stack.workerUrl}/echo?u=1`);
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname + u.search, headers: { SCRIPT_NAME: '/evil', X_Forwarded_Host: 'evil.example' } }, (res) => {
      let body = ''; res.on('data', (d) => (body += d)); res.on('end', () => resolve(body));
    });
    req.on('error', reject); req.end();
  });
  assert.ok(!r.includes('evil'), r);
});

test('the path is forwarded as keyed: an escaped spelling never stores another route under the page', async () => {
  // A router that matches the raw path, as many do.
  origin.route('/a/news', () => ({ status: 200, headers: { 'cache-control': 'max-age=60', 'content-type': 'text/html' }, body: 'the news' }));
  origin.route('/a/%6Eews', () => ({ status: 200, headers: { 'cache-control': 'max-age=60', 'content-type': 'text/html' }, body: 'another route' }));
  const escaped = await text('/a/%6Eews');
  assert.equal(escaped.body, 'the news', 'the origin is asked for the key\'s spelling');
  const plain = await text('/a/news');
  assert.equal(plain.body, 'the news');
  assert.equal(origin.hits('/a/%6Eews'), 0);
});

test('credentials in the query string make the request authenticated: never stored, never sent as anonymous', async () => {
  const policy = {
    version: 1, name: 'query-credentials',
    rulesets: { page: { title: 'page' } },
    rules: [{ id: 'm', ruleset: 'page', match: { pathPrefix: '/m' } }],
    splitView: { enabled: true, header: 'X-Anonymous', authCookies: ['__ac'], authorizationHeader: true, authQueryParams: ['__ac', '__ac_name', '__ac_password'] },
    operations: { page: { operation: 'moderateCaching', parameters: { smaxage: 60, anonOnly: true, storeAnonymousPrivate: true } } },
  };
  const push = await get('/_rulecache/api/policy', { method: 'POST', headers: { authorization: `Bearer ${SECRET}` }, body: JSON.stringify(policy) });
  assert.equal(push.status, 200, await push.text());
  // Plone: PAS logs the request in from __ac_name/__ac_password in the form; every view is `private`.
  origin.route('/m/doc', (req) => {
    const q = decodeURIComponent(req.url.split('?')[1] ?? '');
    const who = /(^|[&;])__ac/i.test(q) ? 'alice' : 'anonymous';
    return { status: 200, headers: { 'cache-control': 'private', 'content-type': 'text/html', 'x-saw-anonymous': req.headers['x-anonymous'] ?? '' }, body: `${who}'s page` };
  });
  for (const q of ['__ac_name=alice&__ac_password=secret', '__ac=dGlja2V0', '__ac_name:string=alice&__ac_password:string=secret']) {
    const p = `/m/doc?${q}`;
    const first = await text(p);
    assert.equal(first.body, "alice's page");
    assert.equal(first.r.headers.get('x-saw-anonymous'), '', `${q}: the origin was told the request is anonymous`);
    const before = origin.hits('/m/doc');
    const again = await text(p);
    assert.equal(origin.hits('/m/doc'), before + 1, `${q}: served from the edge (${again.status})`);
  }
  const anon = await text('/m/doc');
  assert.equal(anon.body, "anonymous's page");
});

test('twenty concurrent client-forced revalidations of one fresh entry make one conditional request', async () => {
  let conditional = 0;
  origin.route('/forced', (req, n) => {
    if (req.headers['if-none-match'] === '"f1"') {
      conditional += 1;
      return { status: 304, headers: { etag: '"f1"', 'cache-control': 'max-age=600' }, delayMs: 400 };
    }
    return { status: 200, headers: { etag: '"f1"', 'cache-control': 'max-age=600', 'content-type': 'text/html' }, body: `forced #${n}` };
  });
  await text('/forced');
  const all = await Promise.all(Array.from({ length: 20 }, () => text('/forced', { 'cache-control': 'no-cache' })));
  for (const r of all) assert.equal(r.body, 'forced #1');
  assert.equal(conditional, 1, all.map((r) => r.status).join('\n'));
});

test('made-up Accept-Language values never evict the variants that serve hits', async () => {
  origin.route('/langs', (req) => {
    const lang = req.headers['accept-language'] ?? 'none';
    return { status: 200, headers: { 'cache-control': 'max-age=600', vary: 'Accept-Language', 'content-type': 'text/html' }, body: lang };
  });
  for (const lang of ['en', 'de']) await text('/langs', { 'accept-language': lang });
  for (let i = 0; i < 80; i += 1) await text('/langs', { 'accept-language': `x-${i}` });
  for (const lang of ['en', 'de']) {
    const r = await text('/langs', { 'accept-language': lang });
    assert.equal(r.body, lang);
    assert.match(r.status, /^rulecache; hit/, `${lang}: ${r.status}`);
  }
  const refused = await text('/langs', { 'accept-language': 'x-1000' });
  assert.match(refused.status, /variant-budget/, refused.status);
});
