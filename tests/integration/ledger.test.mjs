// The global purge ledger against the real worker in workerd: a purge written by another
// location is honoured even after this isolate takes a purge itself; the ledger keeps more
// than 9,000 records across a restart of its Durable Object; a signature is one nonce
// whatever the case of its hex; a signed PURGE covers the fields that change it; a location
// 60,000 records behind catches up at once; the ledger chains its records and changes epoch
// when a copy read further than its rows; a flood of tags collapses into one record; a location
// that read past a ledger later restored from an older copy starts over and honours the purges
// recorded under the reissued numbers.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Miniflare } from 'miniflare';
import { startStack, startOrigin, workerOptions, client, ns, sleep, cacheStatus, isHit } from '../support/stack.mjs';

const SECRET = 'ledger-test-secret-0123456789';
let stack, get;
before(async () => { stack = await startStack({ secret: SECRET }); get = client(stack); });
after(async () => { await stack?.stop(); });

const bearer = { authorization: `Bearer ${SECRET}` };
/** Ledger budgets no test reaches (credential burst, per minute, global burst, per minute). */
const WIDE = '1000000000,1000000000,1000000000,1000000000';

/** Stores `p` and returns its storage key once it is a hit (named with the admin secret). */
async function cachedKey(g, p) {
  for (let i = 0; i < 50; i += 1) {
    const r = await g(p); await r.arrayBuffer();
    if (isHit(r)) {
      const d = await g(p, { headers: bearer }); await d.arrayBuffer();
      const key = /key="([^"]+)"/.exec(cacheStatus(d))?.[1];
      if (key) return key;
    }
    await sleep(20);
  }
  throw new Error(`${p} was never served from cache`);
}

/** Polls `p` until it is not a hit; the milliseconds it took, or null after `limit`. */
async function untilMiss(g, p, limit = 15_000) {
  const t0 = Date.now();
  while (Date.now() - t0 < limit) {
    const r = await g(p); await r.arrayBuffer();
    if (!isHit(r)) return Date.now() - t0;
    await sleep(200);
  }
  return null;
}

async function ledger(mf, path, init) {
  const namespace = await mf.getDurableObjectNamespace('PURGE_LEDGER');
  const stub = namespace.get(namespace.idFromName('global'));
  const r = await stub.fetch(`https://ledger${path}`, init);
  return { status: r.status, body: r.status === 200 ? await r.json() : await r.text() };
}

test('a purge another location wrote is honoured after this isolate takes a purge of its own', async () => {
  const other = `${ns('ledger-other')}?cc=max-age%3D600`;
  const mine = `${ns('ledger-mine')}?cc=max-age%3D600`;
  const otherKey = await cachedKey(get, other);
  await cachedKey(get, mine);
  // Let the copy refresh once, so the purges below come after its cursor.
  await sleep(2_500);
  await (await get(mine)).arrayBuffer();
  await sleep(200);
  // Another location purges `other` (only the ledger knows); then this isolate purges `mine`.
  const appended = await stack.ledgerAppend([{ url: otherKey }], false);
  assert.ok(appended.records?.length === 1, JSON.stringify(appended));
  const r = await get(mine, { method: 'PURGE', headers: bearer });
  assert.equal(r.status, 200, await r.text());
  const own = await get(mine); await own.arrayBuffer();
  assert.ok(!isHit(own), 'its own purge applies at once');
  const ms = await untilMiss(get, other);
  assert.ok(ms !== null, 'the other location\'s purge was honoured within the bound (it was lost before)');
});

test('the ledger refuses a signature already applied, in upper- as in lower-case hex', async () => {
  const sig = createHash('sha256').update(`nonce-${process.pid}-${Date.now()}`).digest('hex');
  const order = (nonce) => ({ method: 'POST', body: JSON.stringify({ targets: [{ tag: `nonce-${process.pid}` }], soft: false, nonce }) });
  assert.equal((await ledger(stack.mf, '/append', order(sig))).status, 200);
  assert.equal((await ledger(stack.mf, '/append', order(sig))).status, 409);
  assert.equal((await ledger(stack.mf, '/append', order(sig.toUpperCase()))).status, 409, 'same bytes, other case');
  assert.equal((await ledger(stack.mf, '/append', order('xyz'))).status, 400);
});

function signedV2(method, host, pathAndQuery, fields, ts = Math.floor(Date.now() / 1000)) {
  const bodyHash = createHash('sha256').update('').digest('hex');
  const lines = ['x-purge-tags', 'x-purge-soft', 'surrogate-key', 'fastly-soft-purge'].map((n) => fields[n] ?? '');
  const text = ['v2', method, host, pathAndQuery, String(ts), bodyHash, ...lines].join('\n');
  const sig = createHmac('sha256', SECRET).update(text).digest('hex');
  return { ...fields, 'x-rulecache-timestamp': String(ts), 'x-rulecache-signature': `v2=${sig}` };
}

test('a signed PURGE covers its host and its purge fields', async () => {
  const p = `${ns('ledger-signed')}?cc=max-age%3D600&h=Cache-Tag:signed-tag`;
  await cachedKey(get, p);
  const host = new URL(stack.workerUrl).host;
  const good = signedV2('PURGE', host, p, { 'x-purge-tags': 'signed-tag' });
  const tampered = { ...good, 'x-purge-tags': 'signed-tag, everything' };
  const t = await get(p, { method: 'PURGE', headers: tampered });
  assert.equal(t.status, 401, 'an added tag breaks the signature');
  await t.arrayBuffer();
  const soft = { ...good, 'x-purge-soft': '1' };
  const s = await get(p, { method: 'PURGE', headers: soft });
  assert.equal(s.status, 401, 'an added soft flag breaks the signature');
  await s.arrayBuffer();
  const still = await get(p); await still.arrayBuffer();
  assert.ok(isHit(still));
  const ok = await get(p, { method: 'PURGE', headers: good });
  assert.equal(ok.status, 200, await ok.text());
  const gone = await get(p); await gone.arrayBuffer();
  assert.ok(!isHit(gone));
});

test('more than 9,000 records survive a restart of the ledger, and a new isolate honours them', async () => {
  const origin = await startOrigin();
  const dir = mkdtempSync(join(tmpdir(), 'rulecache-ledger-'));
  const options = () => ({
    // Budgets wide enough for two purges of 5,000 targets by one credential.
    ...workerOptions({ originUrl: origin.url, secret: SECRET, bindings: { PURGE_BUDGETS: WIDE } }),
    durableObjectsPersist: join(dir, 'do'),
    cachePersist: join(dir, 'cache'),
  });
  let mf = new Miniflare(options());
  try {
    let url = (await mf.ready).toString().replace(/\/$/, '');
    const g = (p, init) => fetch(p.startsWith('http') ? p : `${url}${p}`, { redirect: 'manual', ...init });
    const kept = `${ns('ledger-restart')}?cc=max-age%3D86400`;
    const keptKey = await cachedKey(g, kept);
    // Two API purges of 1,000 URLs, each expanded to five purge paths: 10,000 records (soft,
    // so that this location does not delete 10,000 keys of its own first).
    for (let batch = 0; batch < 2; batch += 1) {
      const urls = Array.from({ length: 1000 }, (_, i) => `/bulk/${batch}/${i}`);
      const r = await g('/_rulecache/api/purge', { method: 'POST', headers: { ...bearer, 'content-type': 'application/json' }, body: JSON.stringify({ urls, soft: true }) });
      assert.equal(r.status, 200, await r.text());
    }
    // Another location purges the kept entry: only the ledger knows.
    const namespace = await mf.getDurableObjectNamespace('PURGE_LEDGER');
    const stub = namespace.get(namespace.idFromName('global'));
    const before = await (await stub.fetch('https://ledger/since?seq=0')).json();
    assert.ok(before.last_seq >= 10_000, `last_seq ${before.last_seq}`);
    const appended = await (await stub.fetch('https://ledger/append', { method: 'POST', body: JSON.stringify({ targets: [{ url: keptKey }], soft: false }) })).json();
    assert.equal(appended.records[0].seq, before.last_seq + 1);
    await mf.dispose();

    mf = new Miniflare(options());
    url = (await mf.ready).toString().replace(/\/$/, '');
    const ns2 = await mf.getDurableObjectNamespace('PURGE_LEDGER');
    const stub2 = ns2.get(ns2.idFromName('global'));
    const after = await (await stub2.fetch(`https://ledger/since?seq=${before.last_seq}`)).json();
    assert.equal(after.epoch, before.epoch, 'the same ledger');
    assert.equal(after.last_seq, before.last_seq + 1, 'nothing lost, nothing reused');
    const next = await (await stub2.fetch('https://ledger/append', { method: 'POST', body: JSON.stringify({ targets: [{ tag: 'after-restart' }], soft: false }) })).json();
    assert.equal(next.records[0].seq, before.last_seq + 2);
    // A new isolate reads every page of the ledger before its first answer.
    const r = await g(kept); await r.arrayBuffer();
    assert.ok(!isHit(r), `the purge written before the restart is honoured: ${cacheStatus(r)}`);
  } finally {
    await mf.dispose();
    await origin.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('two isolates writing one ledger: a tag purge taken by one is honoured by the other after its own purge', async () => {
  const origin = await startOrigin();
  const base = workerOptions({ originUrl: origin.url, secret: SECRET });
  const { host, port, ...shared } = base;
  const mf = new Miniflare({
    host,
    port,
    workers: [
      { ...shared, name: 'a' },
      { ...shared, name: 'b', durableObjects: { PURGE_LEDGER: { className: 'PurgeLedger', scriptName: 'a', useSQLite: true } } },
    ],
  });
  try {
    const url = (await mf.ready).toString().replace(/\/$/, '');
    const a = (p, init) => fetch(`${url}${p}`, { redirect: 'manual', ...init });
    const b = await mf.getWorker('b');
    const tag = `two-isolates-${process.pid}`;
    const x = `${ns('ledger-two-x')}?cc=max-age%3D600&h=Cache-Tag:${tag}`;
    const y = `${ns('ledger-two-y')}?cc=max-age%3D600`;
    await cachedKey(a, x);
    await cachedKey(a, y);
    await sleep(2_500);
    await (await a(y)).arrayBuffer();
    await sleep(200);
    // The other isolate purges the tag (a tag purge deletes nothing from the Cache API, so
    // only the ledger can reach the first isolate's copy) ...
    const pb = await b.fetch(`${url}/anything`, { method: 'PURGE', headers: { ...bearer, 'x-purge-tags': tag } });
    assert.equal(pb.status, 200, await pb.text());
    // ... then the first isolate takes a purge of its own.
    const pa = await a(y, { method: 'PURGE', headers: bearer });
    assert.equal(pa.status, 200, await pa.text());
    const ms = await untilMiss(a, x);
    assert.ok(ms !== null, 'the other isolate\'s purge was honoured within the bound');
  } finally {
    await mf.dispose();
    await origin.stop();
  }
});

test('a location 60,000 records behind catches up at once, and honours the purge after them', async () => {
  const origin = await startOrigin();
  const mf = new Miniflare(workerOptions({ originUrl: origin.url, secret: SECRET, bindings: { PURGE_BUDGETS: WIDE } }));
  try {
    const url = (await mf.ready).toString().replace(/\/$/, '');
    const g = (p, init) => fetch(`${url}${p}`, { redirect: 'manual', ...init });
    const p = `${ns('ledger-behind')}?cc=max-age%3D600`;
    const key = await cachedKey(g, p);
    await sleep(2_500);
    await (await g(p)).arrayBuffer();
    await sleep(300);
    // Other locations record 60,000 targets, then purge the entry.
    const namespace = await mf.getDurableObjectNamespace('PURGE_LEDGER');
    const stub = namespace.get(namespace.idFromName('global'));
    for (let b = 0; b < 12; b += 1) {
      const targets = Array.from({ length: 5_000 }, (_, i) => ({ tag: `behind-${b}-${i}` }));
      const r = await stub.fetch('https://ledger/append', { method: 'POST', body: JSON.stringify({ targets, soft: false }) });
      assert.equal(r.status, 200, await r.text());
    }
    const last = await (await stub.fetch('https://ledger/append', { method: 'POST', body: JSON.stringify({ targets: [{ url: key }], soft: false }) })).json();
    assert.ok(last.records[0].seq > 60_000);
    // From the first request on, the copy reads twelve pages back to back (about 1 s here;
    // before, a page per claim hold: 8.5 s here, 13 s observed). What is asserted is the
    // product's promise, the propagation bound; the time is measured, and printed.
    const ms = await untilMiss(g, p, 11_000);
    assert.ok(ms !== null, 'the purge after 60,000 records was honoured within the propagation bound');
    console.log(`# 60,000 records behind: current after ${ms} ms`);
  } finally {
    await mf.dispose();
    await origin.stop();
  }
});

test('the ledger chains its records and changes epoch when a copy read further than its rows', async () => {
  const { body: a } = await ledger(stack.mf, '/append', { method: 'POST', body: JSON.stringify({ targets: [{ tag: `chain-${process.pid}-1` }, { tag: `chain-${process.pid}-2` }] }) });
  assert.equal(a.records.length, 2);
  assert.match(a.records[1].chain, /^[0-9a-f]{32}$/);
  const { body: s } = await ledger(stack.mf, `/since?seq=${a.records[0].seq}`);
  assert.equal(s.anchor, a.records[0].chain, 'an answer names the chain where it starts');
  assert.equal(s.chain, a.records[1].chain);
  // A copy of this epoch that agrees changes nothing …
  const agree = `/since?seq=${s.to}&epoch=${s.epoch}&cursor=${s.to}&chain=${s.chain}`;
  assert.equal((await ledger(stack.mf, agree)).body.epoch, s.epoch);
  // … one that read another record at a number the rows hold is proof they went back.
  const other = `/since?seq=${s.to}&epoch=${s.epoch}&cursor=${s.to}&chain=${'0'.repeat(32)}`;
  const { body: moved } = await ledger(stack.mf, other);
  assert.notEqual(moved.epoch, s.epoch, 'a new epoch');
  assert.equal(moved.last_seq, s.last_seq, 'over the same rows');
  // A signed purge is recorded only while its replay can still be told.
  const old = { targets: [{ tag: 'late' }], nonce: 'ab'.repeat(32), signed_at: Date.now() - 20 * 60_000 };
  assert.equal((await ledger(stack.mf, '/append', { method: 'POST', body: JSON.stringify(old) })).status, 400);
});

test('a flood of tags from one credential collapses into one record for the site', async () => {
  const origin = await startOrigin();
  const mf = new Miniflare(workerOptions({ originUrl: origin.url, secret: SECRET }));
  try {
    const url = (await mf.ready).toString().replace(/\/$/, '');
    const g = (p, init) => fetch(`${url}${p}`, { redirect: 'manual', ...init });
    const p = `${ns('ledger-flood')}?cc=max-age%3D600`;
    await cachedKey(g, p);
    const namespace = await mf.getDurableObjectNamespace('PURGE_LEDGER');
    const stub = namespace.get(namespace.idFromName('global'));
    const t0 = Date.now();
    for (let k = 0; k < 10; k += 1) {
      const tags = Array.from({ length: 1_000 }, (_, i) => `flood-${k}-${i}`);
      const r = await g('/_rulecache/api/purge', { method: 'POST', headers: { ...bearer, 'content-type': 'application/json' }, body: JSON.stringify({ tags }) });
      assert.equal(r.status, 200, await r.text());
    }
    const took = Date.now() - t0;
    const head = await (await stub.fetch('https://ledger/since?seq=0')).json();
    // 5,000 tags fit the credential's budget; each purge after that is one prefix of the site
    // (plus what the budget refilled meanwhile).
    assert.ok(head.last_seq <= 5_000 + 5 + Math.ceil(took / 60), `last_seq ${head.last_seq} after ${took} ms`);
    const tail = await (await stub.fetch(`https://ledger/since?seq=${head.last_seq - 1}`)).json();
    assert.deepEqual(tail.records[0].target, { prefix: `${new URL(url).origin}/` });
    // The entry on the site is purged by it (hard, as asked).
    const r = await g(p); await r.arrayBuffer();
    assert.ok(!isHit(r), cacheStatus(r));
  } finally {
    await mf.dispose();
    await origin.stop();
  }
});

test('a ledger restored from an older copy: a location that read past it starts over and does not serve what the reissued numbers purged', async () => {
  // The runtime's own restore, point-in-time recovery (storage.getBookmarkForTime,
  // onNextSessionRestoreBookmark), throws in local workerd ("This Durable Object's storage
  // back-end does not implement point-in-time recovery"). So the ledger runs in a runtime of
  // its own, its Durable Object storage persisted to a folder; the location runs in another,
  // bound to the ledger's object across the two runtimes (Miniflare's dev registry), so the
  // ledger can be stopped, its folder put back to an older copy and started again while the
  // location's isolate keeps its copy of the ledger.
  const origin = await startOrigin();
  const dir = mkdtempSync(join(tmpdir(), 'rulecache-restore-'));
  const registry = join(dir, 'registry');
  const base = workerOptions({ originUrl: origin.url, secret: SECRET, bindings: { PURGE_BUDGETS: WIDE } });
  const ledgerOptions = () => ({ ...base, name: 'ledger', port: 0, durableObjectsPersist: join(dir, 'do'), unsafeDevRegistryPath: registry });
  let ledgerRuntime = new Miniflare(ledgerOptions());
  const location = new Miniflare({
    ...base,
    name: 'location',
    durableObjects: { PURGE_LEDGER: { className: 'PurgeLedger', scriptName: 'ledger', useSQLite: true } },
    unsafeDevRegistryPath: registry,
  });
  const restart = async (restore) => {
    await ledgerRuntime.dispose();
    restore?.();
    ledgerRuntime = new Miniflare(ledgerOptions());
    await ledgerRuntime.ready;
    // The location learns the ledger's new address from the registry.
    await sleep(500);
  };
  const append = async (targets) => {
    const namespace = await ledgerRuntime.getDurableObjectNamespace('PURGE_LEDGER');
    const stub = namespace.get(namespace.idFromName('global'));
    const r = await stub.fetch('https://ledger/append', { method: 'POST', body: JSON.stringify({ targets, soft: false }) });
    const text = await r.text();
    assert.equal(r.status, 200, text);
    return JSON.parse(text);
  };
  const tags = (name, n) => Array.from({ length: n }, (_, i) => ({ tag: `${name}-${process.pid}-${i}` }));
  try {
    await ledgerRuntime.ready;
    const url = (await location.ready).toString().replace(/\/$/, '');
    const g = (p, init) => fetch(`${url}${p}`, { redirect: 'manual', ...init });
    const kept = `${ns('ledger-restored-kept')}?cc=max-age%3D600`;
    const seen = `${ns('ledger-restored-seen')}?cc=max-age%3D600`;
    const keptKey = await cachedKey(g, kept);
    const seenKey = await cachedKey(g, seen);
    // The ledger holds 3 records; a copy of its storage is taken while it is stopped.
    const first = await append(tags('old', 3));
    assert.equal(first.records.at(-1).seq, 3);
    await restart(() => cpSync(join(dir, 'do'), join(dir, 'do-old'), { recursive: true }));
    // Records 4 to 1,503, then 1,504 purging `seen`: once the location honours it, its copy has
    // read up to 1,504. (More than the 1,000 records a location's poll reaches back below its
    // cursor, SHARED_REACH_BACK: a poll reaching back to 3 would read the reissued numbers
    // again and honour them without any detection.)
    await append(tags('lost', 1_500));
    const last = await append([{ url: seenKey }]);
    assert.equal(last.records[0].seq, 1_504);
    assert.ok((await untilMiss(g, seen)) !== null, 'the location read the ledger up to 1,504');
    await sleep(300);
    const r0 = await g(kept); await r0.arrayBuffer();
    assert.ok(isHit(r0), `nothing purged the kept entry yet: ${cacheStatus(r0)}`);
    // The ledger's storage goes back to the copy at 3 (same epoch), and new purges are given
    // the numbers 4 onwards again: 4 purges the kept entry, 5 to 2,004 move the head past the
    // location's cursor, so "the records after 1,504" would be 1,505 to 2,004 only.
    await restart(() => {
      rmSync(join(dir, 'do'), { recursive: true, force: true });
      cpSync(join(dir, 'do-old'), join(dir, 'do'), { recursive: true });
    });
    const reissued = await append([{ url: keptKey }]);
    assert.equal(reissued.records[0].seq, 4, 'the restored ledger gives 4 out again');
    assert.equal(reissued.epoch, first.epoch, 'in the same epoch');
    const after = await append(tags('new', 2_000));
    assert.equal(after.records.at(-1).seq, 2_004);
    // The location finds the history it read rewritten, starts over and honours record 4:
    // the kept entry is answered as purged (not only revalidated while the copy is unsure).
    const t0 = Date.now();
    let ms = null;
    while (ms === null && Date.now() - t0 < 15_000) {
      const r = await g(kept); await r.arrayBuffer();
      if (/fwd=miss\b/.test(cacheStatus(r)) && /detail=purged/.test(cacheStatus(r))) ms = Date.now() - t0;
      else await sleep(200);
    }
    assert.ok(ms !== null, 'the purge under a reissued number was honoured');
    console.log(`# restored ledger: the purge under a reissued number honoured after ${ms} ms`);
    // The ledger changed its epoch when the location reported a position its rows contradict.
    const namespace = await ledgerRuntime.getDurableObjectNamespace('PURGE_LEDGER');
    const stub = namespace.get(namespace.idFromName('global'));
    const head = await (await stub.fetch('https://ledger/since?seq=2004')).json();
    assert.notEqual(head.epoch, first.epoch, 'a new epoch');
  } finally {
    await location.dispose();
    await ledgerRuntime.dispose();
    await origin.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
