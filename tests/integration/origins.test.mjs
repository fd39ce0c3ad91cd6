// Named origins in the real runtime: a site being migrated page by page. The legacy site is
// the worker's ORIGIN; a new CMS (mounted under a base path) is a named origin of the policy.
// Migrated pages come from the new CMS, the rest from the legacy site, a page moves by a
// policy push (no redeploy), the new CMS's own purges reach the public URLs, and a bundle
// naming an unknown origin is refused with every problem listed and the old policy kept.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startStack, client, cacheStatus, isHit } from '../support/stack.mjs';

const SECRET = 'origins-secret';
let stack, get, legacy, cms;

/** A real HTTP origin that answers every path with its own name, the path it was asked
 * for and the count of requests for it; it records what reached it. */
function startNamedOrigin(name) {
  const hits = new Map();
  const seen = [];
  const server = http.createServer((req, res) => {
    const path = req.url.split('?')[0];
    hits.set(path, (hits.get(path) ?? 0) + 1);
    seen.push({ path: req.url, headers: req.headers });
    const body = `${name} ${req.url} #${hits.get(path)}`;
    res.writeHead(200, { 'content-type': 'text/html', 'cache-control': 'max-age=600', 'content-length': String(Buffer.byteLength(body)) });
    res.end(body);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    const { port } = server.address();
    resolve({
      url: `http://127.0.0.1:${port}`,
      hits: (p) => hits.get(p) ?? 0,
      last: () => seen[seen.length - 1],
      stop: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }),
    });
  }));
}

/** The migration policy: `/wiki/**` by rule and `pageMap` entries from the new CMS. */
function bundle(pageMap, extra = {}) {
  return {
    version: 1,
    name: 'migration',
    caching: { debugHeaders: true },
    origins: {
      cms: {
        url: `${cms.url}/site`,
        purgeAliases: ['https://cms.internal.example'],
        forward: { keepCookies: ['cms_lang'] },
      },
    },
    rulesets: { pages: {} },
    rules: [
      { id: 'wiki', ruleset: 'pages', origin: 'cms', match: { pathPrefix: '/wiki/' } },
      { id: 'rest', ruleset: 'pages', match: { glob: '/**' } },
    ],
    operations: { pages: { operation: 'moderateCaching', parameters: { smaxage: 600 } } },
    pageMap,
    ...extra,
  };
}

async function api(method, p, body) {
  const r = await get(`/_rulecache/api/${p}`, {
    method,
    headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch {}
  return { status: r.status, json, text };
}

async function push(b) {
  const res = await api('POST', 'policy', b);
  assert.equal(res.status, 200, `push refused: ${res.text}`);
}

async function page(p, headers = {}) {
  const r = await get(p, { headers });
  return { r, body: await r.text(), status: cacheStatus(r) };
}

before(async () => {
  legacy = await startNamedOrigin('legacy');
  cms = await startNamedOrigin('cms');
  stack = await startStack({ secret: SECRET, originUrl: legacy.url });
  get = client(stack);
  await push(bundle([{ path: '/about', action: 'rewrite', to: '/pages/about-us', origin: 'cms' }]));
});
after(async () => { await stack?.stop(); await legacy?.stop(); await cms?.stop(); });

test('migrated pages come from the new CMS, the rest from the legacy site, each stored', async () => {
  const about = await page('/about');
  assert.equal(about.body, 'cms /site/pages/about-us #1');
  const wiki = await page('/wiki/start?lang=de');
  assert.equal(wiki.body, 'cms /site/wiki/start?lang=de #1');
  const news = await page('/news');
  assert.equal(news.body, 'legacy /news #1');
  for (const p of ['/about', '/wiki/start?lang=de', '/news']) {
    const again = await page(p);
    assert.ok(isHit(again.r), `${p}: ${again.status}`);
  }
  assert.equal(cms.hits('/site/pages/about-us'), 1);
  assert.equal(legacy.hits('/about'), 0, 'the legacy site never saw the migrated page');
});

test("an origin's forwarding settings reach that origin only", async () => {
  await page('/wiki/cookies', { cookie: 'cms_lang=de; tracking=1' });
  assert.equal(cms.last().headers.cookie, 'cms_lang=de');
  await page('/cookies', { cookie: 'cms_lang=de; tracking=1' });
  assert.equal(legacy.last().headers.cookie, undefined);
});

test('a page moves to the new CMS by a push of the page map, and back, never answered from the other copy', async () => {
  assert.equal((await page('/contact')).body, 'legacy /contact #1');
  assert.ok(isHit((await page('/contact')).r));
  await push(bundle([
    { path: '/about', action: 'rewrite', to: '/pages/about-us', origin: 'cms' },
    { path: '/contact', action: 'rewrite', to: '/pages/contact', origin: 'cms' },
  ]));
  const moved = await page('/contact');
  assert.equal(moved.body, 'cms /site/pages/contact #1');
  assert.ok(isHit((await page('/contact')).r));
  await push(bundle([{ path: '/about', action: 'rewrite', to: '/pages/about-us', origin: 'cms' }]));
  const back = await page('/contact');
  assert.equal(back.body, 'legacy /contact #1', 'the legacy copy, not the CMS page');
});

test("the new CMS's purges, in its own paths, reach the public URL", async () => {
  await page('/wiki/edited');
  assert.ok(isHit((await page('/wiki/edited')).r));
  const r = await get('/_rulecache/api/purge', {
    method: 'POST',
    headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/json' },
    body: JSON.stringify({ urls: ['https://cms.internal.example/site/wiki/edited'] }),
  });
  assert.equal(r.status, 200, await r.text());
  const after = await page('/wiki/edited');
  assert.equal(after.body, 'cms /site/wiki/edited #2');
});

test('explain names the page-map entry and the origin that answer', async () => {
  const r = await api('POST', 'explain', { url: `${stack.workerUrl}/about` });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.origin, 'cms');
  assert.deepEqual(r.json.pageMapEntry, { path: '/about', action: 'rewrite', to: '/pages/about-us', origin: 'cms' });
  assert.equal(r.json.originUrl, `${cms.url}/site/pages/about-us`);
  const news = await api('POST', 'explain', { url: `${stack.workerUrl}/news` });
  assert.equal(news.json.origin, 'default');
  assert.equal(news.json.originUrl, `${legacy.url}/news`);
});

test('a page map naming an unknown origin or a malformed target is refused with every problem listed, the old policy kept', async () => {
  const before = (await api('GET', 'policy')).json;
  const bad = bundle([
    { path: '/a', action: 'rewrite', to: '/a', origin: 'wikii' },
    { path: '/b', action: 'redirect301', to: 'http://[broken' },
    { path: '/c', action: 'rewrite', to: 'no-slash', origin: 'cms' },
  ]);
  bad.rules[0].origin = 'nowhere';
  const res = await api('POST', 'policy', bad);
  assert.equal(res.status, 422, res.text);
  const paths = res.json.errors.map((e) => e.path).sort();
  assert.deepEqual(paths, ['/pageMap/0/origin', '/pageMap/1/to', '/pageMap/2/to', '/rules/0/origin'], res.text);
  assert.match(res.text, /origin \\?"wikii\\?" is not declared in \/origins \(declared: cms/);
  const now = (await api('GET', 'policy')).json;
  assert.equal(now.version, before.version, 'the active policy is unchanged');
  assert.equal((await page('/about')).body.startsWith('cms /site/pages/about-us'), true);
});
