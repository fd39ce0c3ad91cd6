// Runtime policy, black box: pushes change behaviour on the next request with no redeploy,
// invalid pushes are refused with every problem and change nothing, rollback restores, the
// secret guards it all; the page map answers at the edge; each caching operation sends the
// headers the profile maps it to, and weakCaching revalidates at the edge.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startStack, client, cacheStatus, isHit, fetchText as readText } from '../support/stack.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const PROFILE = JSON.parse(fs.readFileSync(path.join(root, 'policy/with-caching-proxy-splitviews.json'), 'utf8'));
const MARKER = /<body data-audience="([^"]*)" data-user="([^"]*)">/g;
const acCookie = (user) => `__ac=${Buffer.from(`${user}:${user}`).toString('base64')}`;

/** A copy of the default profile with debug headers on, edited by `edit`. */
function bundle(edit = () => {}) {
  const b = structuredClone(PROFILE);
  b.caching.debugHeaders = true;
  edit(b);
  return b;
}


let stack;
let get;

before(async () => {
  stack = await startStack({ secret: 'policy-secret' });
  get = client(stack);
});

after(async () => {
  await stack?.stop();
});

const fetchText = (p, headers = {}) => readText(get, p, headers);

/** Calls the admin API; `secret` null sends no Authorization at all. */
async function api(method, p, body, secret = stack.secret) {
  const headers = { 'content-type': 'application/json' };
  if (secret !== null) headers.authorization = `Bearer ${secret}`;
  const r = await get(`/_rulecache/api/${p}`, {
    method,
    headers,
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await r.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: r.status, json, text };
}

async function push(b) {
  const res = await api('POST', 'policy', b);
  assert.equal(res.status, 200, `push refused: ${res.text}`);
  assert.equal(typeof res.json.version, 'number');
  return res.json.version;
}

async function activeVersion() {
  const res = await api('GET', 'policy');
  assert.equal(res.status, 200, res.text);
  return res.json.active.version;
}

/** Two anonymous requests for an item view: whether the second came from the edge. */
async function itemViewIsCached(p = '/news/item-1') {
  await fetchText(p);
  const before = await stack.originHits(p);
  const { r, body } = await fetchText(p);
  assert.deepEqual([...body.matchAll(MARKER)].map((m) => m[1]), ['anonymous']);
  const fromEdge = (await stack.originHits(p)) === before;
  assert.equal(isHit(r), fromEdge, `Cache-Status ${cacheStatus(r)} vs origin counter`);
  return { cached: fromEdge, r };
}

const noCachingItemViews = () =>
  bundle((b) => {
    b.name = 'item views uncached';
    b.operations['plone.content.itemView'] = { operation: 'noCaching' };
  });

test('the admin API needs the secret; a wrong or missing one changes nothing', async () => {
  const v0 = await activeVersion();
  assert.ok((await itemViewIsCached()).cached);
  for (const secret of [null, 'wrong-secret', '']) {
    const pushRes = await api('POST', 'policy', noCachingItemViews(), secret);
    assert.equal(pushRes.status, 401, `push with ${JSON.stringify(secret)}: ${pushRes.text}`);
    const getRes = await api('GET', 'policy', undefined, secret);
    assert.equal(getRes.status, 401, `GET with ${JSON.stringify(secret)}`);
    const rb = await api('POST', 'policy/rollback', { version: 1 }, secret);
    assert.equal(rb.status, 401, `rollback with ${JSON.stringify(secret)}`);
  }
  assert.equal(await activeVersion(), v0);
  assert.ok((await itemViewIsCached()).cached, 'behaviour unchanged after refused pushes');
});

test('the admin prefix alone is redirected (301) to the control panel page', async () => {
  const r = await get('/_rulecache');
  assert.equal(r.status, 301);
  assert.equal(new URL(r.headers.get('location')).pathname, '/_rulecache/');
  await r.arrayBuffer();
});

test('a pushed policy changes the very next request; rollback restores', async () => {
  const base = await push(bundle((b) => (b.name = 'baseline')));
  assert.equal(await activeVersion(), base);
  assert.ok((await itemViewIsCached()).cached);

  const uncached = await push(noCachingItemViews());
  assert.ok(uncached > base);
  const info = await api('GET', 'policy');
  assert.equal(info.json.active.version, uncached);
  assert.equal(info.json.active.name, 'item views uncached');
  assert.deepEqual(info.json.history.filter((h) => h.active).map((h) => h.version), [uncached]);
  const p = '/news/item-1';
  for (let i = 0; i < 3; i++) {
    const before = await stack.originHits(p);
    const { r } = await fetchText(p);
    assert.equal((await stack.originHits(p)) - before, 1, 'noCaching: every request reaches the origin');
    assert.match(cacheStatus(r), /fwd=bypass; .*detail=no-caching/);
    assert.equal(r.headers.get('x-rulecache-operation'), 'noCaching');
    assert.equal(r.headers.get('cache-control'), 'max-age=0, must-revalidate, private');
    assert.equal(r.headers.get('etag'), null, 'noCaching drops validators');
    assert.equal(r.headers.get('last-modified'), null);
  }
  // Other rulesets keep their operation.
  assert.ok((await itemViewIsCached('/news')).cached, 'folder views still cached');

  // Caching switched off altogether.
  const off = await push(bundle((b) => (b.caching.enabled = false)));
  for (const q of ['/news', '/++resource++demo/style.css']) {
    const before = await stack.originHits(q);
    const { r } = await fetchText(q);
    assert.match(cacheStatus(r), /fwd=bypass; .*detail=caching-disabled/, q);
    assert.equal((await stack.originHits(q)) - before, 1, q);
  }

  const rb = await api('POST', 'policy/rollback', { version: base });
  assert.equal(rb.status, 200, rb.text);
  assert.equal(await activeVersion(), base);
  assert.ok((await itemViewIsCached()).cached, 'caching restored by rollback');
  assert.ok((await itemViewIsCached('/news')).cached);

  const rb2 = await api('POST', 'policy/rollback', { version: uncached });
  assert.equal(rb2.status, 200, rb2.text);
  assert.equal((await itemViewIsCached()).cached, false, 'rolled forward to noCaching');

  const malformed = await api('POST', 'policy/rollback', { nope: 1 });
  assert.equal(malformed.status, 400, malformed.text);
  const missing = await api('POST', 'policy/rollback', { version: off + 1000 });
  assert.equal(missing.status, 404, missing.text);
  assert.equal(await activeVersion(), uncached, 'a rollback to an unknown version changes nothing');

  assert.equal((await api('POST', 'policy/rollback', { version: base })).status, 200);
});

test('an invalid push is refused with every error and its path; the active policy stays', async () => {
  const v0 = await activeVersion();
  const cachedBefore = (await itemViewIsCached()).cached;
  const bad = bundle((b) => {
    b.bogusKey = true;
    b.rules[0].ruleset = 'plone.undeclared';
    b.operations['plone.alsoUndeclared'] = { operation: 'strongCaching' };
    b.operations['plone.resource'] = { operation: 'strongCaching', parameters: { maxage: 60, frobnicate: 1 } };
    b.operations['plone.content.feed'] = { operation: 'mysteryCaching' };
    b.pageMap = [{ path: 'no-slash', action: 'gone410' }];
  });
  const res = await api('POST', 'policy', bad);
  assert.equal(res.status, 422, res.text);
  const errors = res.json.errors;
  assert.ok(Array.isArray(errors) && errors.length >= 6, `expected every problem listed: ${res.text}`);
  for (const e of errors) {
    assert.equal(typeof e.path, 'string');
    assert.ok(e.path.startsWith('/'), `JSON pointer: ${e.path}`);
    assert.ok(typeof e.message === 'string' && e.message.length > 0);
  }
  const paths = errors.map((e) => e.path);
  const expectPath = (want) =>
    assert.ok(paths.some((p) => p === want || p.startsWith(`${want}/`)), `no error at ${want}: ${JSON.stringify(errors)}`);
  expectPath('/bogusKey');
  expectPath('/rules/0/ruleset');
  expectPath('/operations/plone.alsoUndeclared');
  expectPath('/operations/plone.resource/parameters/frobnicate');
  expectPath('/operations/plone.content.feed');
  expectPath('/pageMap/0/path');

  // Not JSON at all.
  const junk = await api('POST', 'policy', '{"version": 1,');
  assert.equal(junk.status, 422, junk.text);
  assert.ok(junk.json.errors.length >= 1 && typeof junk.json.errors[0].path === 'string');

  assert.equal(await activeVersion(), v0, 'active version unchanged');
  assert.equal((await itemViewIsCached()).cached, cachedBefore, 'behaviour unchanged');
});

test('the page map answers redirects and gone pages at the edge, and rewrites before the lookup', async () => {
  await push(
    bundle((b) => {
      b.pageMap = [
        { path: '/old-news', action: 'redirect301', to: '/news' },
        { path: '/elsewhere', action: 'redirect302', to: 'https://example.org/x' },
        { path: '/front-page-retired', action: 'gone410' },
        { path: '/news/item-1', action: 'gone404' },
        { path: '/latest', action: 'rewrite', to: '/news/item-2' },
      ];
    }),
  );
  const originBefore = await Promise.all(['/old-news', '/elsewhere', '/front-page-retired', '/news/item-1'].map((p) => stack.originHits(p)));

  let { r } = await fetchText('/old-news');
  assert.equal(r.status, 301);
  assert.equal(r.headers.get('location'), '/news');
  assert.match(cacheStatus(r), /detail=page-map/);
  ({ r } = await fetchText('/elsewhere?keep=1'));
  assert.equal(r.status, 302);
  assert.equal(r.headers.get('location'), 'https://example.org/x');
  let body;
  ({ r, body } = await fetchText('/front-page-retired'));
  assert.equal(r.status, 410);
  assert.match(body, /Gone/);
  // A page map entry wins over a cached copy and a logged-in user alike.
  ({ r } = await fetchText('/news/item-1', { cookie: acCookie('alice') }));
  assert.equal(r.status, 404);
  ({ r } = await fetchText('/news/item-1'));
  assert.equal(r.status, 404);

  const originAfter = await Promise.all(['/old-news', '/elsewhere', '/front-page-retired', '/news/item-1'].map((p) => stack.originHits(p)));
  assert.deepEqual(originAfter, originBefore, 'redirects and gone pages never reach the origin');

  // Rewrite: /latest is fetched from /news/item-2 at the origin.
  const item2Before = await stack.originHits('/news/item-2');
  const latestBefore = await stack.originHits('/latest');
  ({ r, body } = await fetchText('/latest'));
  assert.equal(r.status, 200);
  assert.match(body, /Purge on publish/);
  assert.deepEqual([...body.matchAll(MARKER)].map((m) => m[1]), ['anonymous']);
  assert.equal((await stack.originHits('/news/item-2')) - item2Before, 1);
  assert.equal((await stack.originHits('/latest')) - latestBefore, 0);
  ({ r } = await fetchText('/latest'));
  assert.ok(isHit(r), `the rewritten page is cached under its own URL: ${cacheStatus(r)}`);
  assert.equal((await stack.originHits('/news/item-2')) - item2Before, 1);
});

test('debug headers follow the policy switch', async () => {
  await push(bundle());
  let { r } = await fetchText('/news/item-2');
  assert.equal(r.headers.get('x-rulecache-rule'), 'plone.content.itemView');
  assert.equal(r.headers.get('x-rulecache-operation'), 'moderateCaching');
  ({ r } = await fetchText('/++resource++demo/style.css'));
  assert.equal(r.headers.get('x-rulecache-rule'), 'plone.resource');
  assert.equal(r.headers.get('x-rulecache-operation'), 'strongCaching');
  ({ r } = await fetchText('/set-cookie'));
  assert.equal(r.headers.get('x-rulecache-rule'), '(default)');
  assert.equal(r.headers.get('x-rulecache-operation'), 'honourOrigin');

  await push(bundle((b) => (b.caching.debugHeaders = false)));
  for (const p of ['/news/item-2', '/++resource++demo/style.css', '/set-cookie']) {
    ({ r } = await fetchText(p));
    assert.equal(r.headers.get('x-rulecache-rule'), null, p);
    assert.equal(r.headers.get('x-rulecache-operation'), null, p);
    assert.ok(cacheStatus(r).startsWith('rulecache'), 'Cache-Status is always sent');
  }
  await push(bundle());
});

test('each operation sends the downstream headers the profile maps it to', async () => {
  await push(bundle());
  const year = 31536000;
  const expectations = [
    // plone.stableResource: strongCaching, maxage one year, Last-Modified kept.
    { p: '/++plone++static/++unique++2026-01-01/app.js', cc: `max-age=${year}, proxy-revalidate, public`, rule: 'plone.stableResource', ahead: year, lm: true },
    // plone.resource: strongCaching, maxage one day.
    { p: '/++resource++demo/style.css', cc: 'max-age=86400, proxy-revalidate, public', rule: 'plone.resource', ahead: 86400, lm: true },
    // Item and folder views: moderateCaching, an hour at the edge, browsers revalidate.
    { p: '/front-page', cc: 'max-age=0, s-maxage=3600, must-revalidate', rule: 'plone.content.itemView', ahead: -1, lm: false },
    { p: '/news', cc: 'max-age=0, s-maxage=3600, must-revalidate', rule: 'plone.content.folderView', ahead: -1, lm: false },
    // Feeds and content files: moderateCaching, a day at the edge.
    { p: '/RSS', cc: 'max-age=0, s-maxage=86400, must-revalidate', rule: 'plone.content.feed', ahead: -1, lm: false },
    { p: '/images/logo.png', cc: 'max-age=0, s-maxage=86400, must-revalidate', rule: 'plone.content.file', ahead: -1, lm: true },
  ];
  for (const { p, cc, rule, ahead, lm } of expectations) {
    for (const round of ['first', 'second']) {
      const { r } = await fetchText(p);
      assert.equal(r.status, 200, p);
      assert.equal(r.headers.get('cache-control'), cc, `${p} (${round})`);
      assert.equal(r.headers.get('x-rulecache-rule'), rule, p);
      const expires = Date.parse(r.headers.get('expires'));
      const date = Date.now();
      if (ahead > 0) assert.ok(Math.abs(expires - (date + ahead * 1000)) < 120_000, `${p}: Expires ${r.headers.get('expires')}`);
      else assert.ok(expires < date - 86400_000, `${p}: Expires in the past: ${r.headers.get('expires')}`);
      assert.equal(r.headers.get('last-modified') !== null, lm, `${p}: Last-Modified ${r.headers.get('last-modified')}`);
      if (round === 'second') assert.ok(isHit(r), `${p}: ${cacheStatus(r)}`);
    }
  }
  // Logged in, an anonOnly view is private and kept out of every cache.
  const { r } = await fetchText('/news/item-2', { cookie: acCookie('bob') });
  assert.equal(r.headers.get('cache-control'), 'max-age=0, must-revalidate, private');

  // noCaching (pushed) on the feed.
  await push(bundle((b) => (b.operations['plone.content.feed'] = { operation: 'noCaching', parameters: { noStore: true } })));
  const feed = await fetchText('/RSS');
  assert.equal(feed.r.headers.get('cache-control'), 'no-store');
  assert.equal(feed.r.headers.get('x-rulecache-operation'), 'noCaching');
  await push(bundle());
});

test('weakCaching stores, revalidates every use with a conditional request, and serves the refreshed copy', async () => {
  await push(
    bundle((b) => {
      b.operations['plone.content.itemView'] = {
        operation: 'weakCaching',
        parameters: { vary: ['X-Anonymous'], anonOnly: true },
      };
    }),
  );
  const p = '/news/item-2/view';
  const stats0 = await stack.originStats(p);
  let { r, body } = await fetchText(p);
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('x-rulecache-operation'), 'weakCaching');
  assert.equal(r.headers.get('cache-control'), 'max-age=0, must-revalidate, private');
  assert.match(cacheStatus(r), /stored/, `first request stored: ${cacheStatus(r)}`);
  const firstVersion = r.headers.get('x-origin-version');

  for (let i = 0; i < 3; i++) {
    const before = await stack.originStats(p);
    ({ r, body } = await fetchText(p));
    const after = await stack.originStats(p);
    assert.equal(r.status, 200);
    assert.equal(after.conditional - before.conditional, 1, 'one conditional request to the origin');
    assert.equal(after.not_modified - before.not_modified, 1, 'answered 304');
    assert.match(cacheStatus(r), /fwd=stale; fwd-status=304; stored/, cacheStatus(r));
    assert.match(body, /Purge on publish/, 'the stored body is served after the 304');
    assert.deepEqual([...body.matchAll(MARKER)].map((m) => m[1]), ['anonymous']);
    assert.equal(r.headers.get('x-origin-version'), firstVersion);
  }

  // The content changes: the revalidation gets a full 200 and the new copy replaces the old.
  await stack.bump('/news/item-2');
  const before = await stack.originStats(p);
  ({ r } = await fetchText(p));
  let after = await stack.originStats(p);
  assert.match(cacheStatus(r), /fwd=stale; fwd-status=200; stored/, cacheStatus(r));
  assert.equal(after.conditional - before.conditional, 1);
  assert.equal(after.not_modified - before.not_modified, 0);
  const newVersion = r.headers.get('x-origin-version');
  assert.notEqual(newVersion, firstVersion);
  ({ r } = await fetchText(p));
  after = await stack.originStats(p);
  assert.match(cacheStatus(r), /fwd=stale; fwd-status=304/, cacheStatus(r));
  assert.equal(r.headers.get('x-origin-version'), newVersion, 'the replaced copy is the one served');
  assert.ok(after.hits - stats0.hits >= 6);
  await push(bundle());
});

test('the control panel is served from the bundle with its security headers, as the files in www/ say', async () => {
  // Every file of www/ (the panel's ES modules import one another by name), and the folder's
  // index at the prefix itself.
  const types = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };
  const names = fs.readdirSync(path.join(root, 'www')).filter((f) => !f.startsWith('.')).sort();
  assert.ok(names.includes('app.js') && names.length > 3, `www/ holds the panel's modules: ${names}`);
  const files = [
    ['/_rulecache/', types['.html'], 'index.html'],
    ...names.map((f) => [`/_rulecache/${f}`, types[path.extname(f)], f]),
  ];
  for (const [p, type, file] of files) {
    const r = await get(p);
    const body = await r.text();
    assert.equal(r.status, 200, p);
    assert.equal(r.headers.get('content-type'), type, p);
    assert.match(r.headers.get('content-security-policy') ?? '', /default-src/, p);
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff', p);
    // Every line of the source that is not a comment is served, as written (escapes such as
    // `<`, quotes, backslashes and non-ASCII text survive the trip through the bundle).
    const source = fs.readFileSync(path.join(root, 'www', file), 'utf8');
    const lines = source.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('//') && !l.startsWith('/*') && !l.startsWith('*'));
    const missing = lines.filter((l) => !body.includes(l) && !/\/\*|\*\//.test(l));
    assert.deepEqual(missing.slice(0, 3), [], `${p}: lines of www/${file} not served`);
    const head = await get(p, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-type'), type);
    assert.equal((await head.arrayBuffer()).byteLength, 0, `${p}: HEAD has no body`);
  }
  const post = await get('/_rulecache/app.js', { method: 'POST', body: 'x' });
  assert.equal(post.status, 405);
  // Only the files of www/ are served under the prefix.
  assert.equal((await get('/_rulecache/not-a-panel-file.js')).status, 404);
});

test('the shipped profiles are served from the bundle as JSON, each the bundle policy/ holds', async () => {
  const r = await get('/_rulecache/api/profiles', { headers: { authorization: `Bearer ${stack.secret}` } });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-type'), 'application/json; charset=utf-8');
  assert.equal(r.headers.get('cache-control'), 'no-store');
  const profiles = await r.json();
  const files = fs.readdirSync(path.join(root, 'policy')).filter((f) => f.endsWith('.json') && f !== 'schema.json');
  assert.deepEqual(profiles.map((p) => `${p.id}.json`).sort(), files.sort());
  for (const p of profiles) {
    const bundle = JSON.parse(fs.readFileSync(path.join(root, 'policy', `${p.id}.json`), 'utf8'));
    assert.deepEqual(p.bundle, bundle, p.id);
    assert.equal(p.name, bundle.name);
  }
  const anonymous = await get('/_rulecache/api/profiles');
  assert.equal(anonymous.status, 401, 'the list needs the secret');
});
