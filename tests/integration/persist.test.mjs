// `persist`: an entry kept in KV is served by another location (its own, empty Cache API)
// without reaching the origin.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Miniflare } from 'miniflare';
import { startOrigin, workerOptions, sleep } from '../support/stack.mjs';

const SECRET = 'persist-secret';
let origin, kvDir, first, second;

async function location() {
  const mf = new Miniflare({ ...workerOptions({ originUrl: origin.url, secret: SECRET }), kvPersist: kvDir });
  const url = (await mf.ready).toString().replace(/\/$/, '');
  return { mf, url };
}

before(async () => {
  origin = await startOrigin();
  kvDir = mkdtempSync(join(tmpdir(), 'rulecache-kv-'));
  first = await location();
});
after(async () => {
  await first?.mf.dispose();
  await second?.mf.dispose();
  await origin?.stop();
  rmSync(kvDir, { recursive: true, force: true });
});

test('a persisted entry stored at one location is served by another without the origin', async () => {
  const profiles = await (await fetch(`${first.url}/_rulecache/api/profiles`, { headers: { authorization: `Bearer ${SECRET}` } })).json();
  const bundle = profiles.find((p) => p.id === 'with-caching-proxy-splitviews').bundle;
  bundle.operations['plone.resource'].parameters.persist = true;
  const push = await fetch(`${first.url}/_rulecache/api/policy`, { method: 'POST', headers: { authorization: `Bearer ${SECRET}` }, body: JSON.stringify(bundle) });
  assert.equal(push.status, 200, await push.text());

  const path = '/++resource++demo/style.css';
  const a = await fetch(`${first.url}${path}`);
  const body = await a.text();
  assert.match(a.headers.get('cache-status'), /stored/);
  const hits = async () => (await (await fetch(`${origin.url}/__origin/hits?path=${encodeURIComponent(path)}`)).json()).hits;
  assert.equal(await hits(), 1);
  await sleep(500); // the copy is written after the answer

  // Another location: a fresh runtime with its own cache, sharing only KV (and the policy in
  // it), asked for the same site URL.
  second = await location();
  // Explain, asked where only KV holds the entry, finds it there.
  const explained = await second.mf.dispatchFetch(`${first.url}/_rulecache/api/explain`, {
    method: 'POST',
    headers: { authorization: `Bearer ${SECRET}` },
    body: JSON.stringify({ url: `${first.url}${path}`, method: 'GET' }),
  });
  const explanation = await explained.json();
  assert.equal(explanation.cached.present, true, JSON.stringify(explanation.cached));
  assert.equal(explanation.cached.status, 'hit');
  const b = await second.mf.dispatchFetch(`${first.url}${path}`);
  assert.equal(await b.text(), body);
  assert.match(b.headers.get('cache-status'), /hit/, b.headers.get('cache-status'));
  assert.equal(await hits(), 1, 'the origin was not asked again');

  // Not persisted (an item view): the second location must fetch it itself.
  await fetch(`${first.url}/news/item-2`).then((r) => r.text());
  await sleep(300);
  const c = await second.mf.dispatchFetch(`${first.url}/news/item-2`);
  await c.text();
  assert.match(c.headers.get('cache-status'), /fwd=/);
});

test('a persisted entry refreshed by a background 304 keeps its body in KV and everywhere it is served', async () => {
  // A persisting stale-while-revalidate ruleset: location A stores the page; location B holds
  // it only in KV, serves it stale and revalidates it in the background (the origin answers
  // 304); KV, B and a fresh location C must all still serve the whole page.
  const profiles = await (await fetch(`${first.url}/_rulecache/api/profiles`, { headers: { authorization: `Bearer ${SECRET}` } })).json();
  const bundle = profiles.find((p) => p.id === 'with-caching-proxy-splitviews').bundle;
  bundle.rulesets['test.swrKv'] = { title: 'persisted, revalidated in the background' };
  bundle.rules.unshift({ id: 'swr-kv', ruleset: 'test.swrKv', match: { pathPrefix: '/t/swr-kv' } });
  bundle.operations['test.swrKv'] = { operation: 'strongCaching', parameters: { maxage: 2, staleWhileRevalidate: 120, persist: true } };
  // A URL with a query goes to KV only when the policy bounds its query (cacheKey.keepParams).
  bundle.cacheKey.keepParams = ['bytes', 'etag'];
  const push = await fetch(`${first.url}/_rulecache/api/policy`, { method: 'POST', headers: { authorization: `Bearer ${SECRET}` }, body: JSON.stringify(bundle) });
  assert.equal(push.status, 200, await push.text());

  for (const size of [2000, 300000]) {
    const path = `/t/swr-kv/${size}?bytes=${size}&etag=%22p${size}%22`;
    const a = await fetch(`${first.url}${path}`);
    assert.equal((await a.arrayBuffer()).byteLength, size);
    assert.match(a.headers.get('cache-status'), /stored/);
    await sleep(3000); // stale now (max-age 2), within stale-while-revalidate

    const b = await location();
    try {
      const stale = await b.mf.dispatchFetch(`${first.url}${path}`);
      assert.equal((await stale.arrayBuffer()).byteLength, size, 'served stale from KV');
      assert.match(stale.headers.get('cache-status'), /stale-while-revalidate/, stale.headers.get('cache-status'));
      await sleep(800); // the background revalidation (a 304) and its puts
      const again = await b.mf.dispatchFetch(`${first.url}${path}`);
      assert.match(again.headers.get('cache-status'), /hit/, again.headers.get('cache-status'));
      assert.equal((await again.arrayBuffer()).byteLength, size, 'B serves the whole page after the 304');
    } finally {
      await b.mf.dispose();
    }
    const c = await location();
    try {
      const fresh = await c.mf.dispatchFetch(`${first.url}${path}`);
      assert.match(fresh.headers.get('cache-status'), /hit/, fresh.headers.get('cache-status'));
      assert.equal((await fresh.arrayBuffer()).byteLength, size, 'a fresh location reads the whole page from KV');
    } finally {
      await c.mf.dispose();
    }
  }
});

test('a cache-busting query never costs a KV write; a bounded one does', async () => {
  const kv = await first.mf.getKVNamespace('RULECACHE_KV');
  const objects = async () => (await kv.list({ prefix: 'obj:' })).keys.length;
  const before = await objects();
  for (let i = 0; i < 5; i += 1) await (await fetch(`${first.url}/t/swr-kv/bust?bytes=10&zz=${i}`)).arrayBuffer();
  await sleep(500);
  assert.equal(await objects(), before + 1, 'only the bounded query (zz is not kept) reached KV');
});
