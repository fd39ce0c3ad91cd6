// The R2 media tier: a ruleset whose operation says "globalTier": "r2" keeps its large bodies
// in R2 as they stream to the client; another location (here one whose Cache API keeps
// nothing, so that every answer it gives from storage comes from R2) serves them without the
// origin, answers a Range request by R2's ranged read, revalidates after a soft purge and
// fetches again after a hard one. The body (100 MiB from a streaming origin) is never held
// whole by the test: both sides are hashed as they stream.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createHash } from 'node:crypto';
import { Miniflare } from 'miniflare';
import { workerOptions, cacheStatus, sleep } from '../support/stack.mjs';

const SECRET = 'r2-secret';
const SIZE = 100 * 1024 * 1024;
const PATH = '/media/film.bin';
const CHUNK = 64 * 1024;
const bearer = { authorization: `Bearer ${SECRET}` };

/** Byte `i` of the media body. */
const byteAt = (i) => (i * 31 + Math.floor(i / 65_521)) & 0xff;

function chunkAt(offset, length) {
  const b = Buffer.allocUnsafe(length);
  for (let j = 0; j < length; j += 1) b[j] = byteAt(offset + j);
  return b;
}

/** The SHA-256 of bytes `start..=end` of the media body, computed chunk by chunk. */
function expectedHash(start = 0, end = SIZE - 1) {
  const h = createHash('sha256');
  for (let at = start; at <= end; at += CHUNK) h.update(chunkAt(at, Math.min(CHUNK, end + 1 - at)));
  return h.digest('hex');
}

/** Streams a response body into a hash: its length and digest, never the body itself. */
async function digest(response) {
  const h = createHash('sha256');
  let length = 0;
  for await (const chunk of response.body) {
    h.update(chunk);
    length += chunk.byteLength;
  }
  return { length, hash: h.digest('hex') };
}

/** An origin that streams the media body (ETag "v1", 304 to a matching If-None-Match),
 * counting full and conditional requests. */
function startMediaOrigin() {
  const counts = { full: 0, conditional: 0 };
  const server = http.createServer((req, res) => {
    if (req.url.split('?')[0] !== PATH) { res.writeHead(404); res.end(); return; }
    const head = { etag: '"v1"', 'cache-control': 'max-age=600', 'content-type': 'application/octet-stream' };
    if (req.headers['if-none-match'] === '"v1"') {
      counts.conditional += 1;
      res.writeHead(304, head);
      res.end();
      return;
    }
    counts.full += 1;
    res.writeHead(200, { ...head, 'content-length': String(SIZE) });
    if (req.method === 'HEAD') { res.end(); return; }
    let at = 0;
    const pump = () => {
      while (at < SIZE) {
        const chunk = chunkAt(at, Math.min(CHUNK, SIZE - at));
        at += chunk.length;
        if (!res.write(chunk)) { res.once('drain', pump); return; }
      }
      res.end();
    };
    pump();
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    resolve({
      url: `http://127.0.0.1:${server.address().port}`,
      counts,
      stop: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }),
    });
  }));
}

let origin, mf, url, a, b, c, bucket;
const WHOLE = expectedHash();

before(async () => {
  origin = await startMediaOrigin();
  const { host, port, ...shared } = workerOptions({ originUrl: origin.url, secret: SECRET });
  // Two locations in one runtime: A, and B whose Cache API keeps nothing. They share KV (the
  // policy), R2 and the purge ledger (A's Durable Object), as every location does.
  mf = new Miniflare({
    host,
    port,
    workers: [
      { ...shared, name: 'a' },
      { ...shared, name: 'b', cache: false, durableObjects: { PURGE_LEDGER: { className: 'PurgeLedger', scriptName: 'a', useSQLite: true } } },
      // A deployment without the bucket's binding.
      { ...shared, name: 'c', cache: false, r2Buckets: [], durableObjects: { PURGE_LEDGER: { className: 'PurgeLedger', scriptName: 'a', useSQLite: true } } },
    ],
  });
  url = (await mf.ready).toString().replace(/\/$/, '');
  a = (p, init) => fetch(`${url}${p}`, { redirect: 'manual', ...init });
  const worker = await mf.getWorker('b');
  b = (p, init) => worker.fetch(`${url}${p}`, { redirect: 'manual', ...init });
  const unbound = await mf.getWorker('c');
  c = (p, init) => unbound.fetch(`${url}${p}`, { redirect: 'manual', ...init });
  bucket = await mf.getR2Bucket('RULECACHE_R2');

  const profiles = await (await a('/_rulecache/api/profiles', { headers: bearer })).json();
  const bundle = profiles.find((p) => p.id === 'with-caching-proxy').bundle;
  bundle.rulesets['test.media'] = { title: 'large media, kept in R2' };
  bundle.rules.unshift({ id: 'media', ruleset: 'test.media', match: { pathPrefix: '/media/' } });
  bundle.operations['test.media'] = { operation: 'strongCaching', parameters: { maxage: 600, globalTier: 'r2' } };
  const push = await a('/_rulecache/api/policy', { method: 'POST', headers: bearer, body: JSON.stringify(bundle) });
  assert.equal(push.status, 200, await push.text());
});
after(async () => {
  await mf?.dispose();
  await origin?.stop();
});

/** The R2 objects, once one holds the whole body (it is written as the answer streams). */
async function storedObjects() {
  for (let waited = 0; waited < 60_000; waited += 200) {
    const { objects } = await bucket.list({ include: ['customMetadata'] });
    if (objects.some((o) => o.size === SIZE)) return objects;
    await sleep(200);
  }
  return (await bucket.list({ include: ['customMetadata'] })).objects;
}

const range = (start, end) => ({ headers: { range: `bytes=${start}-${end}` } });

test('a large body stored at one location is served from R2 at another, whole and by range, without the origin', async () => {
  const first = await a(PATH);
  assert.equal(first.status, 200);
  assert.deepEqual(await digest(first), { length: SIZE, hash: WHOLE }, 'the client got the whole body as it streamed');
  assert.equal(origin.counts.full, 1);

  const objects = await storedObjects();
  assert.equal(objects.length, 1, JSON.stringify(objects.map((o) => o.key)));
  assert.equal(objects[0].size, SIZE, 'the whole body is in R2');
  assert.ok(objects[0].customMetadata['rulecache-record'], 'with its stored record');

  // Explain, asked where only R2 holds the entry, finds it there.
  const explained = await b('/_rulecache/api/explain', { method: 'POST', headers: bearer, body: JSON.stringify({ url: `${url}${PATH}`, method: 'GET' }) });
  const explanation = await explained.json();
  assert.equal(explanation.cached?.present, true, JSON.stringify(explanation.cached));

  const whole = await b(PATH);
  assert.equal(whole.status, 200);
  assert.match(cacheStatus(whole), /hit/, cacheStatus(whole));
  assert.equal(whole.headers.get('etag'), '"v1"', 'served with its stored record');
  assert.deepEqual(await digest(whole), { length: SIZE, hash: WHOLE });

  const [start, end] = [SIZE / 2 + 12_345, SIZE / 2 + 12_345 + 99_999];
  const part = await b(PATH, range(start, end));
  assert.equal(part.status, 206);
  assert.equal(part.headers.get('content-range'), `bytes ${start}-${end}/${SIZE}`);
  assert.deepEqual(await digest(part), { length: 100_000, hash: expectedHash(start, end) });
  assert.equal(origin.counts.full, 1, 'the origin was asked once, by the first location');
});

test('a soft purge at one location has the other revalidate its R2 copy, a hard one has it fetch again', async () => {
  const { full, conditional } = origin.counts;
  const uploaded = (await bucket.head((await storedObjects())[0].key)).uploaded.getTime();
  const soft = await a('/_rulecache/api/purge', { method: 'POST', headers: { ...bearer, 'content-type': 'application/json' }, body: JSON.stringify({ urls: [PATH], soft: true }) });
  assert.equal(soft.status, 200, await soft.text());
  // B learns of it from the ledger within the propagation bound: it then asks the origin
  // whether its copy is still good (a 304), and serves the range from R2.
  let served;
  for (let waited = 0; waited < 20_000 && origin.counts.conditional === conditional; waited += 250) {
    served = await b(PATH, range(0, 999));
    served.digest = await digest(served);
    if (origin.counts.conditional === conditional) await sleep(250);
  }
  assert.equal(origin.counts.conditional, conditional + 1, 'revalidated once');
  assert.equal(origin.counts.full, full, 'not fetched again');
  assert.equal(served.status, 206);
  assert.deepEqual(served.digest, { length: 1000, hash: expectedHash(0, 999) });
  // The 304 re-stores the R2 copy with its refreshed record (its body read back from R2), so
  // the purge is behind it: the next answer needs no revalidation.
  let objects = await storedObjects();
  for (let waited = 0; waited < 30_000 && objects[0]?.uploaded.getTime() === uploaded; waited += 250) {
    await sleep(250);
    objects = await storedObjects();
  }
  assert.equal(objects.length, 1, 'the copy stays in R2');
  assert.equal(objects[0].size, SIZE);
  assert.notEqual(objects[0].uploaded.getTime(), uploaded, 'rewritten with its refreshed record');
  const next = await b(PATH, range(0, 999));
  assert.deepEqual(await digest(next), { length: 1000, hash: expectedHash(0, 999) });
  assert.equal(origin.counts.conditional, conditional + 1, 'no second revalidation');

  const hard = await a('/_rulecache/api/purge', { method: 'POST', headers: { ...bearer, 'content-type': 'application/json' }, body: JSON.stringify({ urls: [PATH] }) });
  assert.equal(hard.status, 200, await hard.text());
  const left = (await bucket.list()).objects;
  assert.equal(left.length, 0, `the hard purge deleted the R2 copy: ${left.map((o) => o.key)}`);
  const again = await b(PATH);
  assert.equal(again.status, 200);
  assert.doesNotMatch(cacheStatus(again), /hit/, cacheStatus(again));
  assert.deepEqual(await digest(again), { length: SIZE, hash: WHOLE });
  assert.equal(origin.counts.full, full + 1, 'fetched again from the origin');
});

test('a worker without the R2 binding serves the ruleset without the tier', async () => {
  const { full } = origin.counts;
  const r = await c(PATH);
  assert.equal(r.status, 200, cacheStatus(r));
  assert.deepEqual(await digest(r), { length: SIZE, hash: WHOLE });
  assert.equal(origin.counts.full, full + 1, 'from the origin');
});
