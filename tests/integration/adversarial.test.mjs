// Adversarial tests in the real runtime: the worker in workerd (Miniflare) in front of the
// probe origin, which reads cookies like Zope, Python, Node or a lenient parser and names in
// every page the user it rendered it for. Each test is an attack that worked against the
// earlier worker (see the threat model in the README); it must not work now.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startStack, client, cacheStatus, isHit, sleep } from '../support/stack.mjs';
import { startProbe, rawRequest, renderedFor } from '../support/probe.mjs';

const SECRET = 'adversarial-secret';
let probe;
let stack;
let get;
let counter = 0;
/** A fresh path under a parser's segment. */
const fresh = (parser, rest) => `/${parser}/${rest.replace('*', `${process.pid}-${++counter}`)}`;

before(async () => {
  probe = await startProbe();
  stack = await startStack({ originUrl: probe.url, secret: SECRET });
  get = client(stack);
});

after(async () => {
  await stack?.stop();
  await probe?.stop();
});

const text = async (p, headers = {}) => {
  const r = await get(p, { headers });
  return { r, body: await r.text() };
};
const raw = (p, fields, opts = {}) => rawRequest(stack.workerUrl, p, { fields, ...opts });
const sentHeaders = (record) => Object.fromEntries(record.headers);

// --- 1. the authenticated bucket is not public -------------------------------------------

test('a logged-in user\'s file is not served to a junk auth cookie', async () => {
  const p = fresh('zope', 'docs/*/report.pdf');
  const editor = await text(p, { cookie: `__ac=${await probe.ticket('editor')}` });
  assert.equal(renderedFor(editor.body), 'editor');
  const cc = editor.r.headers.get('cache-control') ?? '';
  assert.ok(!/s-maxage|public/.test(cc) && /private/.test(cc), `sent downstream to a logged-in user: ${cc}`);
  const attacker = await text(p, { cookie: '__ac=x' });
  assert.ok(!isHit(attacker.r), `junk cookie got a hit: ${cacheStatus(attacker.r)}`);
  assert.equal(renderedFor(attacker.body), 'anonymous', 'the junk cookie was served the editor\'s file');
});

test('web cache deception: a member page under a .css URL is stored for nobody', async () => {
  const p = fresh('zope', '@@personal-information/*/x.css');
  const victim = await text(p, { cookie: `__ac=${await probe.ticket('victim')}` });
  assert.equal(renderedFor(victim.body), 'victim');
  const attacker = await text(p, { cookie: '__ac=junk' });
  assert.equal(renderedFor(attacker.body), 'anonymous', 'the victim\'s page was served');
  // Even the anonymous page is not kept as a stylesheet.
  const anon = await text(p);
  assert.match(cacheStatus(anon.r), /detail=content-type/);
  assert.ok(!isHit((await text(p)).r));
});

// --- 2. cookie parsing as origins do it ------------------------------------------------------

test('a login any origin parser reads is never stored for anonymous visitors', async () => {
  const cases = [
    ['zope', (t) => [['cookie', `a="1", __ac=${t}`]]],
    ['zope', (t) => [['cookie', 'a="1"'], ['cookie', `__ac=${t}`]]],
    ['python', (t) => [['cookie', `a=1 __ac=${t}`]]],
    ['lenient', (t) => [['cookie', `x=1,__ac=${t}`]]],
    ['lenient', (t) => [['cookie', `%5F%5Fac=${t}`]]],
    ['node', (t) => [['cookie', `a=1; __ac = "${t}"`]]],
  ];
  for (const [parser, fields] of cases) {
    const p = fresh(parser, 'page/*');
    const member = await raw(p, fields(await probe.ticket('member')));
    const reached = (await probe.log(p)).at(-1);
    assert.equal(reached.user, 'member', `${parser}: the case must be a login at the origin`);
    assert.equal(reached.xAnonymous, null, `${parser} ${JSON.stringify(fields('T'))}: the edge called it anonymous`);
    assert.equal(renderedFor(member.body), 'member');
    const anon = await text(p);
    assert.equal(renderedFor(anon.body), 'anonymous', `${parser}: the member's page reached an anonymous visitor`);
  }
});

// --- 3. error statuses are not kept (CPDoS) ----------------------------------------------

test('a 431 provoked by one request is not served to the next', async () => {
  const p = fresh('zope', 'theme/*/site.css');
  const fields = Array.from({ length: 130 }, (_, i) => [`x-pad-${i}`, 'x']);
  // The padding is no field the cache path forwards, so it never reaches the origin now; were
  // it to (a bypassed request), an error status is never stored either.
  const poisoned = await raw(p, fields);
  assert.ok([200, 431].includes(poisoned.status), String(poisoned.status));
  const next = await text(p);
  assert.equal(next.r.status, 200, `the 431 was kept: ${cacheStatus(next.r)}`);
});

test('a transient 503 is not kept, and a 503 while revalidating keeps the entry', async () => {
  const p = fresh('zope', 'theme/*/b.css');
  await probe.control('/__probe/fail', { path: p, count: 1 });
  assert.equal((await text(p)).r.status, 503);
  const next = await text(p);
  assert.equal(next.r.status, 200, `the 503 was kept: ${cacheStatus(next.r)}`);
  // honourOrigin: stored for 2 s, then a 503 (with a long max-age) while revalidating.
  const q = fresh('zope', 'expiring/*');
  assert.equal((await text(q)).r.status, 200);
  await sleep(2500);
  await probe.control('/__probe/fail', { path: q, count: 1 });
  assert.equal((await text(q)).r.status, 503);
  const after = await text(q);
  assert.equal(after.r.status, 200);
  assert.match(cacheStatus(after.r), /fwd-status=304/, `the stored entry was lost: ${cacheStatus(after.r)}`);
});

// --- 4. unkeyed inputs do not reach the origin ---------------------------------------------

test('cookies the policy does not name are not forwarded on cacheable requests', async () => {
  const p = fresh('zope', 'plain/*');
  await text(p, { cookie: 'theme=dark; _ga=GA1.2; statusmessages_x=1' });
  const seen = sentHeaders((await probe.log(p)).at(-1));
  assert.equal(seen.cookie, undefined, `forwarded: ${seen.cookie}`);
});

test('dropped query parameters, cloaked ones too, are not forwarded', async () => {
  const p = fresh('zope', 'plain/*');
  await text(`${p}?id=1&utm_source=mail&fbclid=x&utm_x=1;callback=evil`);
  const target = (await probe.log(p)).at(-1).target;
  assert.ok(!/utm_|fbclid|callback/.test(target), `forwarded: ${target}`);
  assert.match(target, /id=1/);
});

test('host, URL and method override headers are not forwarded', async () => {
  const p = fresh('zope', 'plain/*');
  await text(p, {
    'x-forwarded-host': 'evil.example',
    forwarded: 'host=evil.example',
    'x-original-url': '/admin',
    'x-rewrite-url': '/admin',
    'x-http-method-override': 'DELETE',
  });
  const seen = sentHeaders((await probe.log(p)).at(-1));
  for (const h of ['forwarded', 'x-original-url', 'x-rewrite-url', 'x-http-method-override']) {
    assert.equal(seen[h], undefined, `${h} forwarded: ${seen[h]}`);
  }
  assert.equal(seen['x-forwarded-host'], new URL(stack.workerUrl).host, 'the edge sets the host the client asked for');
});

// --- 5. an operation's vary is keyed; Accept-Encoding forwarded as keyed --------------------

test('a ruleset declaring Vary: Accept never serves JSON to an HTML request', async () => {
  const p = fresh('zope', 'x/*/@search');
  const json = await text(p, { accept: 'application/json' });
  assert.match(json.r.headers.get('content-type') ?? '', /json/);
  const html = await text(p, { accept: 'text/html' });
  assert.match(html.r.headers.get('content-type') ?? '', /html/, `JSON served to an HTML request: ${cacheStatus(html.r)}`);
  assert.match(html.body, /<html>/);
});

test('Accept-Encoding reaches the origin normalised, not as the client wrote it', async () => {
  const p = fresh('zope', 'plain/*');
  await text(p, { 'accept-encoding': 'deflate, x-evil, br;q=0.2, gzip;q=0.9' });
  const seen = sentHeaders((await probe.log(p)).at(-1));
  // One coding of the key's list (the runtime may put its own choice in place of ours).
  assert.match(seen['accept-encoding'] ?? '', /^(br|gzip|identity)$/, `forwarded: ${seen['accept-encoding']}`);
});

// --- 6. the admin secret stays in the worker; 8. debug headers need it ----------------------

test('the admin secret is never forwarded, and debug headers need it', async () => {
  const p = fresh('zope', 'plain/*');
  const plain = await text(p);
  assert.equal(plain.r.headers.get('x-rulecache-rule'), null, 'debug headers sent to everyone');
  assert.ok(!/key=/.test(cacheStatus(plain.r)), `cache key sent to everyone: ${cacheStatus(plain.r)}`);
  const q = fresh('zope', 'plain/*');
  const debug = await text(q, { authorization: `Bearer ${SECRET}` });
  assert.ok(debug.r.headers.get('x-rulecache-rule'), 'debug headers with the secret');
  const seen = sentHeaders((await probe.log(q)).at(-1));
  assert.equal(seen.authorization, undefined, 'the admin secret reached the origin');
});

// --- 7. memory pressure from outside ----------------------------------------------------------

/** Sends headers and a first chunk of a body that never ends; resolves to the status. */
function endlessBody(p, headers) {
  const u = new URL(stack.workerUrl + p);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: u.hostname, port: u.port, method: headers.method ?? 'POST', path: u.pathname, headers: { 'content-length': String(96 << 20), ...headers.fields }, agent: false },
      (res) => {
        res.resume();
        resolve(res.statusCode);
        req.destroy();
      },
    );
    req.on('error', (e) => (e.code === 'ECONNRESET' || e.code === 'EPIPE' ? null : reject(e)));
    req.write(Buffer.alloc(64 << 10, 'x'));
  });
}

test('unauthenticated PURGE and admin requests are answered without reading their bodies', async () => {
  assert.equal(await endlessBody('/zope/x', { method: 'PURGE', fields: {} }), 401);
  assert.equal(await endlessBody('/_rulecache/api/purge', { fields: { 'content-type': 'application/json' } }), 401);
  assert.equal(await endlessBody('/_rulecache/api/purge', { fields: { authorization: 'Bearer wrong' } }), 401);
  // A malformed signature is refused unread; a well-formed one in its window needs its body,
  // and gets at most 1 MiB of it.
  const ts = String(Math.floor(Date.now() / 1000));
  const malformed = { 'x-rulecache-timestamp': ts, 'x-rulecache-signature': 'v1=00' };
  assert.equal(await endlessBody('/_rulecache/api/purge', { fields: malformed }), 401);
  const signed = { 'x-rulecache-timestamp': ts, 'x-rulecache-signature': `v1=${'0'.repeat(64)}` };
  assert.equal(await endlessBody('/_rulecache/api/purge', { fields: signed }), 413);
});

test('a byte range of a large stored entry is cut from the stored body', async () => {
  const p = fresh('zope', 'big/*/file.css');
  // A body above the memory tier's limit: kept in the Cache API only.
  const first = await text(`${p}?size=400000`);
  assert.equal(first.r.status, 200);
  const full = first.body;
  await sleep(300);
  const part = await text(`${p}?size=400000`, { range: 'bytes=10-19' });
  assert.equal(part.r.status, 206, cacheStatus(part.r));
  assert.equal(part.body, full.slice(10, 20));
});

// --- 9. policy store failure is visible, the last good policy kept ---------------------------

test('a stored policy that no longer validates keeps the last good one, and says so', async () => {
  const admin = { authorization: `Bearer ${SECRET}`, 'content-type': 'application/json' };
  const profiles = await (await get('/_rulecache/api/profiles', { headers: admin })).json();
  const base = profiles.find((p) => p.id === 'with-caching-proxy-splitviews').bundle;
  const pushed = { ...base, name: 'adversarial-good', caching: { ...base.caching, debugHeaders: true } };
  const r = await get('/_rulecache/api/policy', { method: 'POST', headers: admin, body: JSON.stringify(pushed) });
  const { version } = await r.json();
  assert.equal(r.status, 200);
  const kv = await stack.mf.getKVNamespace('RULECACHE_KV');
  await kv.put(`policy:v:${version + 1}`, '{"version": 1, "name": "broken", "rules": 7}');
  await kv.put('policy:active', String(version + 1));
  await sleep(5500);
  const p = fresh('zope', 'plain/*');
  const page = await text(p);
  assert.ok(page.r.headers.get('x-rulecache-policy')?.startsWith('adversarial-good'), `policy now: ${page.r.headers.get('x-rulecache-policy')}`);
  const info = await (await get('/_rulecache/api/policy', { headers: admin })).json();
  assert.match(info.storeError?.error ?? '', /no longer validates/);
  // Put things back for the other tests.
  await kv.put('policy:active', String(version));
  const back = { ...base, name: 'adversarial-restored' };
  await get('/_rulecache/api/policy', { method: 'POST', headers: admin, body: JSON.stringify(back) });
});

test('a 304 that forbids storing ends the stored entry', async () => {
  const p = fresh('zope', 'expiring/*');
  await probe.control('/__probe/cc304', { path: p, cc: 'no-store' });
  assert.equal((await text(p)).r.status, 200);
  await sleep(2500);
  const revalidated = await text(p);
  assert.match(cacheStatus(revalidated.r), /fwd-status=304/);
  assert.ok(!/stored/.test(cacheStatus(revalidated.r)), cacheStatus(revalidated.r));
  const next = await text(p);
  assert.ok(!isHit(next.r) && !/fwd-status=304/.test(cacheStatus(next.r)), `still served from the entry: ${cacheStatus(next.r)}`);
});
