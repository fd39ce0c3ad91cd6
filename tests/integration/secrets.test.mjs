// Scoped secrets, black box: PURGE_SECRET purges and opens nothing else, ADMIN_SECRET opens
// the admin API (and may purge), STATS_SECRET reads the stats only; each is a list of values
// so a secret can be rotated without downtime; with no ADMIN_SECRET the admin API is off.
// And the policy hole the purge secret used to open: a split view that names no credential
// source is refused, and the active policy stays.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startStack, client, ns, isHit, fetchText } from '../support/stack.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const PROFILE = JSON.parse(fs.readFileSync(path.join(root, 'policy/with-caching-proxy-splitviews.json'), 'utf8'));
const MARKER = /<body data-audience="([^"]*)" data-user="([^"]*)">/;
const acCookie = (user) => `__ac=${Buffer.from(`${user}:${user}`).toString('base64')}`;

const PURGE = 'purge-value-5f0c2e';
const PURGE_NEXT = 'purge-value-next-91ad';
const ADMIN = 'admin-value-7b3d18';
const ADMIN_NEXT = 'admin-value-next-c4e2';
const STATS = 'stats-value-02f9';

let stack, get;
before(async () => {
  stack = await startStack({
    secret: `${PURGE}, ${PURGE_NEXT}`,
    adminSecret: `${ADMIN}\n${ADMIN_NEXT}`,
    statsSecret: STATS,
  });
  get = client(stack);
});
after(async () => { await stack?.stop(); });

const bearer = (token) => ({ authorization: `Bearer ${token}` });

/** Calls the admin API with `token` (null: no Authorization). */
async function api(g, method, p, body, token) {
  const headers = { 'content-type': 'application/json', ...(token === null ? {} : bearer(token)) };
  const r = await g(`/_rulecache/api/${p}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch {}
  return { status: r.status, json, text };
}

async function activePolicy(g = get, token = ADMIN) {
  const res = await api(g, 'GET', 'policy', undefined, token);
  assert.equal(res.status, 200, res.text);
  return res.json.active;
}

function noSecretIn(text) {
  for (const value of [PURGE, PURGE_NEXT, ADMIN, ADMIN_NEXT, STATS]) {
    assert.ok(!text.includes(value), 'no secret appears in a response');
  }
}

async function cached(g, p) {
  for (let i = 0; i < 2; i++) await (await g(p)).arrayBuffer();
  const r = await g(p); await r.arrayBuffer();
  assert.ok(isHit(r), `${p} is served from the cache`);
}

test('the purge secret purges, but opens neither the admin API nor the stats', async () => {
  for (const token of [PURGE, PURGE_NEXT]) {
    const p = `${ns('secrets-purge')}?cc=max-age%3D600`;
    await cached(get, p);
    const r = await get(p, { method: 'PURGE', headers: bearer(token) });
    assert.equal(r.status, 200, await r.text());
    const after = await get(p); await after.arrayBuffer();
    assert.ok(!isHit(after), 'purged');
    const q = `${ns('secrets-purge-api')}?cc=max-age%3D600`;
    await cached(get, q);
    const viaApi = await api(get, 'POST', 'purge', { urls: [q] }, token);
    assert.equal(viaApi.status, 200, viaApi.text);
  }
  const before = await activePolicy();
  for (const token of [PURGE, PURGE_NEXT]) {
    const read = await api(get, 'GET', 'policy', undefined, token);
    assert.ok([401, 403].includes(read.status), `GET policy with the purge secret: ${read.status}`);
    assert.equal(read.json.active, undefined, 'no policy is shown');
    noSecretIn(read.text);
    const bundle = structuredClone(PROFILE);
    bundle.name = 'pushed with the purge secret';
    const push = await api(get, 'POST', 'policy', bundle, token);
    assert.ok([401, 403].includes(push.status), `POST policy with the purge secret: ${push.status}`);
    noSecretIn(push.text);
    for (const [method, p, body] of [['POST', 'policy/rollback', { version: 1 }], ['GET', 'profiles'], ['POST', 'explain', { url: 'http://example.org/' }], ['GET', 'stats']]) {
      const res = await api(get, method, p, body, token);
      assert.ok([401, 403].includes(res.status), `${method} ${p} with the purge secret: ${res.status}`);
    }
  }
  const now = await activePolicy();
  assert.equal(now.version, before.version, 'nothing was pushed');
  assert.equal(now.name, before.name);
});

test('the admin secret (either value of the list) pushes a policy, reads it and may purge', async () => {
  let last;
  for (const token of [ADMIN, ADMIN_NEXT]) {
    const bundle = structuredClone(PROFILE);
    bundle.name = `pushed with ${token === ADMIN ? 'the first' : 'the second'} admin value`;
    const push = await api(get, 'POST', 'policy', bundle, token);
    assert.equal(push.status, 200, push.text);
    noSecretIn(push.text);
    const active = await activePolicy(get, token);
    assert.equal(active.version, push.json.version);
    assert.equal(active.name, bundle.name);
    last = active.version;
  }
  const p = `${ns('secrets-admin-purge')}?cc=max-age%3D600`;
  await cached(get, p);
  const purge = await api(get, 'POST', 'purge', { urls: [p] }, ADMIN_NEXT);
  assert.equal(purge.status, 200, purge.text);
  const stats = await api(get, 'GET', 'stats', undefined, ADMIN);
  assert.equal(stats.status, 200, stats.text);
  const profiles = await api(get, 'GET', 'profiles', undefined, ADMIN);
  assert.equal(profiles.status, 200);
  assert.equal((await activePolicy()).version, last);
});

test('the stats secret reads the stats and nothing else', async () => {
  const stats = await api(get, 'GET', 'stats', undefined, STATS);
  assert.equal(stats.status, 200, stats.text);
  assert.equal(stats.json.scope, 'isolate');
  for (const [method, p, body] of [['GET', 'policy'], ['POST', 'policy', PROFILE], ['POST', 'purge', { urls: ['/news'] }], ['GET', 'profiles']]) {
    const res = await api(get, method, p, body, STATS);
    assert.ok([401, 403].includes(res.status), `${method} ${p} with the stats secret: ${res.status}`);
  }
  const purge = await get('/news', { method: 'PURGE', headers: bearer(STATS) });
  assert.equal(purge.status, 401);
  await purge.arrayBuffer();
});

test('debug headers on request take the admin secret, not the purge secret', async () => {
  const p = `${ns('secrets-debug')}?cc=max-age%3D600`;
  const plain = await get(p); await plain.arrayBuffer();
  assert.equal(plain.headers.get('x-rulecache-rule'), null, 'the active policy sends no debug headers');
  const withPurge = await get(p, { headers: bearer(PURGE) }); await withPurge.arrayBuffer();
  assert.equal(withPurge.headers.get('x-rulecache-rule'), null, 'the purge secret proves no debug request');
  const withAdmin = await get(p, { headers: bearer(ADMIN) }); await withAdmin.arrayBuffer();
  assert.notEqual(withAdmin.headers.get('x-rulecache-rule'), null, 'the admin secret does');
});

test('a split view that names no credential source is refused with its path; the active policy stays', async () => {
  const before = await activePolicy();
  // What the purge secret's holder pushed: nothing marks a member, and a catch-all rule keeps
  // anonymous answers even when the origin marks them private.
  const attack = structuredClone(PROFILE);
  attack.name = 'everyone is anonymous';
  attack.splitView = { enabled: true, header: 'X-Anonymous', authCookies: [], authCookiePrefixes: [], authorizationHeader: false };
  attack.rulesets['attack.everything'] = { title: 'everything' };
  attack.rules.unshift({ id: 'everything', ruleset: 'attack.everything', match: { pathPrefix: '/' } });
  attack.operations['attack.everything'] = { operation: 'moderateCaching', parameters: { smaxage: 3600, anonOnly: true, storeAnonymousPrivate: true } };
  const res = await api(get, 'POST', 'policy', attack, ADMIN);
  assert.equal(res.status, 422, res.text);
  const problem = res.json.errors.find((e) => e.path === '/splitView');
  assert.ok(problem, `the problem is listed at /splitView: ${res.text}`);
  assert.match(problem.message, /credential source/);

  const now = await activePolicy();
  assert.equal(now.version, before.version, 'active version unchanged');
  assert.equal(now.name, before.name);
  // A member's page is still not served to anonymous visitors.
  const p = '/news/item-3';
  const member = await fetchText(get, p, { cookie: acCookie('alice') });
  assert.equal(MARKER.exec(member.body)?.[2], 'alice');
  const anon = await fetchText(get, p);
  assert.equal(MARKER.exec(anon.body)?.[2], '', `anonymous visitors get the anonymous page: ${anon.body.slice(0, 200)}`);
});

test('with no ADMIN_SECRET the admin API answers 403 and changes nothing; purging still works', async () => {
  const closed = await startStack({ secret: PURGE, adminSecret: null });
  try {
    const g = client(closed);
    const kv = await closed.mf.getKVNamespace('RULECACHE_KV');
    const keysBefore = (await kv.list()).keys.map((k) => k.name);
    for (const token of [PURGE, ADMIN, '', null]) {
      for (const [method, p, body] of [['GET', 'policy'], ['POST', 'policy', { ...PROFILE, name: 'should not land' }], ['POST', 'policy/rollback', { version: 1 }], ['GET', 'profiles'], ['POST', 'explain', { url: 'http://example.org/' }]]) {
        const res = await api(g, method, p, body, token);
        assert.equal(res.status, 403, `${method} ${p} with ${JSON.stringify(token)}: ${res.text}`);
        assert.match(res.json.error, /ADMIN_SECRET/);
        noSecretIn(res.text);
      }
    }
    assert.deepEqual((await kv.list()).keys.map((k) => k.name), keysBefore, 'no policy was stored');
    const panel = await g('/_rulecache/');
    assert.equal(panel.status, 200, 'the panel page itself is static');
    await panel.arrayBuffer();
    const p = `${ns('secrets-closed')}?cc=max-age%3D600`;
    await cached(g, p);
    const purge = await g(p, { method: 'PURGE', headers: bearer(PURGE) });
    assert.equal(purge.status, 200, await purge.text());
  } finally {
    await closed.stop();
  }
});
