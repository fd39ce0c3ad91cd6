// rulecache with the shipped plone6-splitviews profile in front of a stock Plone 6.2.2 site
// (plone.app.caching's with-caching-proxy profile, plone.cachepurging unchanged, Anonymous
// allowed to use the REST API as on a Volto or Seven site), started by `make e2e-start`.
// Content and users come from tests/e2e/plone/create_site.py.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  PLONE, SECRET, reachable, startWorker, get, isHit, ploneLogin, ploneRegistry, until, users,
  startVirtualHostProxy, ploneEditText,
} from './support.mjs';

let worker;

before(async () => {
  await reachable(`${PLONE}/Plone`, 'Plone');
  // The profile ships with debug headers off; this test reads the operation's name from them.
  worker = await startWorker({ originUrl: PLONE, profile: 'plone6-splitviews.json', edit: (p) => ({ ...p, caching: { ...p.caching, debugHeaders: true } }) });
  const host = new URL(worker.url).host;
  // plone.cachepurging as a site owner configures it: the proxy URL carries the secret.
  await ploneRegistry({
    'plone.cachepurging.interfaces.ICachePurgingSettings.enabled': true,
    'plone.cachepurging.interfaces.ICachePurgingSettings.cachingProxies': [`http://purge:${SECRET}@${host}`],
    'plone.cachepurging.interfaces.ICachePurgingSettings.virtualHosting': false,
  });
});

after(async () => {
  await worker?.stop();
});

test('anonymous item and folder views are hits from the second request', async () => {
  for (const p of ['/Plone/folder1/item1', '/Plone/folder1', '/Plone']) {
    const first = await get(worker.url, p);
    assert.equal(first.r.status, 200, p);
    assert.match(first.status, /stored/, `${p}: ${first.status}`);
    assert.equal(first.r.headers.get('x-cache-rule'), p === '/Plone/folder1/item1' ? 'plone.content.itemView' : 'plone.content.folderView', 'Plone\'s own hint reaches the client');
    assert.equal(first.r.headers.get('x-rulecache-operation'), 'moderateCaching');
    const second = await get(worker.url, p);
    assert.ok(isHit(second), `${p}: ${second.status}`);
    assert.equal(second.body, first.body, p);
    assert.equal(second.r.headers.get('cache-control'), 'max-age=0, s-maxage=3600, must-revalidate');
  }
});

test('a logged-in member always gets their own page, and anonymous visitors never see it', async () => {
  const member = await ploneLogin(worker.url, 'member1');
  const name = users.member1.fullname;
  // the anonymous copy is in the cache first
  const anon = await get(worker.url, '/Plone/folder1/item1');
  assert.ok(!anon.body.includes(name));
  const forms = [
    member.ac, // as the browser sends it back
    member.all.join('; '), // with the statusmessages cookie of the login
    `I18N_LANGUAGE="en"; ${member.ac}`, // after a quoted cookie
    `${member.ac}; _ga=GA1.1.42`, // before an analytics cookie
  ];
  for (const cookie of forms) {
    for (let i = 0; i < 2; i += 1) {
      const m = await get(worker.url, '/Plone/folder1/item1', { cookie });
      assert.equal(m.r.status, 200, cookie);
      assert.ok(m.body.includes(name), `${cookie}: the member's own page`);
      assert.ok(!isHit(m), `${cookie}: ${m.status}`);
      assert.match(m.r.headers.get('cache-control'), /private/);
    }
  }
  // a member first on a fresh URL: nothing of theirs is kept for anonymous visitors
  const first = await get(worker.url, '/Plone/doc1/view', { cookie: member.ac });
  assert.ok(first.body.includes(name));
  for (let i = 0; i < 2; i += 1) {
    const a = await get(worker.url, '/Plone/doc1/view');
    assert.ok(!a.body.includes(name), `anonymous got: ${a.status}`);
  }
  assert.ok(isHit(await get(worker.url, '/Plone/folder1/item1')), 'the anonymous copy is still served');
  // Zope ends a quoted cookie value at a comma: a login to Plone, a single cookie elsewhere
  const odd = await get(worker.url, '/Plone/news', { cookie: `a="1", ${member.ac}` });
  assert.doesNotMatch(odd.status, /stored/, 'a page for a cookie Zope may read as a login is not kept');
  for (let i = 0; i < 2; i += 1) {
    const a = await get(worker.url, '/Plone/news');
    assert.ok(!a.body.includes(name), `anonymous got the member's page: ${a.status}`);
  }
});

test("plone.restapi's auth_token cookie and Basic credentials bypass the anonymous copy", async () => {
  await get(worker.url, '/Plone/folder1');
  assert.ok(isHit(await get(worker.url, '/Plone/folder1')));
  const jwt = await get(worker.url, '/Plone/folder1', { cookie: 'auth_token=eyJhbGciOiJIUzI1NiJ9.e30.x' });
  assert.ok(!isHit(jwt), jwt.status);
  const basic = `Basic ${Buffer.from(`member1:${users.member1.password}`).toString('base64')}`;
  const b = await get(worker.url, '/Plone/folder1', { authorization: basic });
  assert.ok(!isHit(b), b.status);
  assert.ok(b.body.includes(users.member1.fullname));
});

test('an edit through the web is purged by plone.cachepurging and the next anonymous request shows it', async () => {
  const before = await get(worker.url, '/Plone/doc1');
  const again = await get(worker.url, '/Plone/doc1');
  assert.ok(isHit(again), again.status);
  const text = `Edited text ${Date.now()}`;
  // the editor saves the document with Plone's edit form, on the backend URL
  await ploneEditText(PLONE, '/Plone/doc1', 'editor1', `<p>${text}</p>`);
  const seen = [];
  const visible = await until(async () => {
    const x = await get(worker.url, '/Plone/doc1');
    seen.push(x);
    return x.body.includes(text) ? x : null;
  }, { everyMs: 50, limitMs: 20_000 });
  assert.ok(visible.value, `the edit never became visible; last: ${seen.at(-1)?.status}`);
  assert.ok(!isHit(visible.value), `the first response with the edit is a miss: ${visible.value.status}`);
  assert.ok(seen.slice(0, -1).every((x) => isHit(x) && x.body === before.body), 'until then the old copy was served');
  // plone.cachepurging sends one PURGE per path of the object from a queue, so a later one
  // may remove the copy stored just now: the page may be a miss once more, but from here on
  // it always shows the edit, and it is a hit again once the queue is drained.
  const after = [];
  const hit = await until(async () => {
    const x = await get(worker.url, '/Plone/doc1');
    after.push(x);
    return isHit(x) ? x : null;
  }, { everyMs: 100, limitMs: 10_000 });
  assert.ok(hit.value, `never a hit again; last: ${after.at(-1)?.status}`);
  assert.ok(after.every((x) => x.body.includes(text)), 'the old copy came back after the edit was visible');
  console.log(`# purge-to-visible ${visible.elapsedMs} ms after the edit was saved`);
});

/** GET with the Accept header Volto and Seven send for content JSON. */
const json = (base, p, headers = {}) => get(base, p, { accept: 'application/json', ...headers });

test('anonymous REST API content reads (++api++, with expanders) are hits like the HTML views', async () => {
  const objects = ['/Plone/++api++', '/Plone/++api++/doc1', '/Plone/++api++/folder1', '/Plone/++api++/folder1/item1', '/Plone/++api++/news', '/Plone/++api++/events'];
  const queries = ['', '?expand=breadcrumbs', '?expand=breadcrumbs,navigation,actions'];
  const urls = objects.flatMap((o) => queries.map((q) => `${o}${q}`));
  let reads = 0;
  let hits = 0;
  for (let round = 0; round < 5; round += 1) {
    for (const u of urls) {
      const x = await json(worker.url, u);
      assert.equal(x.r.status, 200, `${u}: ${x.r.status}`);
      assert.match(x.r.headers.get('content-type'), /application\/json/, u);
      if (round === 0) {
        assert.equal(x.r.headers.get('x-rulecache-rule'), 'plone.content.api', `${u}: ${x.status}`);
        assert.match(x.status, /stored/, `${u}: ${x.status}`);
      } else {
        assert.ok(isHit(x), `${u} round ${round}: ${x.status}`);
      }
      reads += 1;
      if (isHit(x)) hits += 1;
    }
  }
  // A REST endpoint is not content: it stays dynamic, revalidated with Plone.
  const search = await json(worker.url, '/Plone/++api++/@search?SearchableText=doc1');
  assert.equal(search.r.headers.get('x-rulecache-rule'), 'plone.content.dynamic', search.status);
  console.log(`# ++api++ anonymous reads: ${hits} hits of ${reads} (${((100 * hits) / reads).toFixed(1)} %; ${urls.length} URLs, 5 rounds)`);
});

test('an edit through the REST API is visible at the edge in the HTML view and the ++api++ JSON, purged by plone.cachepurging alone', async () => {
  const page = '/Plone/folder1/item1';
  const reads = [page, '/Plone/++api++/folder1/item1', '/Plone/++api++/folder1/item1?expand=breadcrumbs,navigation', '/Plone/folder1/item1/++api++'];
  // The HTML view as a browser asks for it; the JSON as Volto and Seven do.
  const read = (u) => (u === page ? get(worker.url, u) : json(worker.url, u));
  for (const u of reads) {
    await read(u);
    const again = await read(u);
    assert.ok(isHit(again), `${u}: ${again.status}`);
  }
  const title = `Item one edited ${Date.now()}`;
  // The editor saves through plone.restapi on the backend: only plone.cachepurging's PURGEs
  // (the object's view paths) reach the edge.
  const saved = Date.now();
  const r = await fetch(`${PLONE}${page}`, {
    method: 'PATCH',
    headers: {
      authorization: `Basic ${Buffer.from(`editor1:${users.editor1.password}`).toString('base64')}`,
      accept: 'application/json',
      'content-type': 'application/json',
    },
    body: JSON.stringify({ title }),
  });
  assert.equal(r.status, 204, await r.text());
  // Every read is polled in each round, so each time is when that read first showed the edit.
  const times = {};
  const last = {};
  const visible = await until(async () => {
    await Promise.all(reads.filter((u) => !(u in times)).map(async (u) => {
      const x = await read(u);
      last[u] = x.status;
      if (x.body.includes(title)) times[u] = Date.now() - saved;
    }));
    return reads.every((u) => u in times);
  }, { everyMs: 50, limitMs: 20_000 });
  assert.ok(visible.value, `the edit never became visible everywhere: ${JSON.stringify({ times, last })}`);
  for (const u of reads) {
    const hit = await until(async () => {
      const x = await read(u);
      assert.ok(x.body.includes(title), `${u}: the old copy came back: ${x.status}`);
      return isHit(x) ? x : null;
    }, { everyMs: 100, limitMs: 10_000 });
    assert.ok(hit.value, `${u} is a hit again once the purges are done`);
  }
  console.log(`# REST edit to visible at the edge (ms from sending the PATCH): ${JSON.stringify(times)}`);
});

test("a private file fetched by its owner is never served to anyone else", async () => {
  const owner = await ploneLogin(worker.url, 'member1');
  const other = await ploneLogin(worker.url, 'member2');
  const secret = 'the secret of member1';
  for (const p of ['/Plone/members-area/secret.txt/@@download/file', '/Plone/members-area/secret.txt/@@display-file/file']) {
    const mine = await get(worker.url, p, { cookie: owner.ac });
    assert.equal(mine.r.status, 200, `${p}: ${mine.r.status}`);
    assert.ok(mine.body.includes(secret), p);
    assert.ok(!isHit(mine));
    for (const [who, headers] of [['anonymous', {}], ['member2', { cookie: other.ac }], ['anonymous', {}]]) {
      const x = await get(worker.url, p, headers);
      assert.ok(!x.body.includes(secret), `${who} got the owner's file at ${p}: ${x.status}`);
      assert.notEqual(x.r.status, 200, `${who}: ${x.r.status}`);
    }
  }
});

test('behind VirtualHostMonster at the root: hits, purges of the virtual paths, no crossing', async () => {
  const proxy = await startVirtualHostProxy(PLONE);
  const vworker = await startWorker({ originUrl: proxy.url, profile: 'plone6-splitviews.json' });
  try {
    const host = new URL(vworker.url).host;
    proxy.setPublicHost(host);
    const first = await get(vworker.url, '/folder1/item1');
    assert.equal(first.r.status, 200);
    assert.ok(first.body.includes(`http://${host}/folder1/item1`), 'Plone built the public URLs');
    const second = await get(vworker.url, '/folder1/item1');
    assert.ok(isHit(second), second.status);
    const member = await ploneLogin(vworker.url, 'member1', '');
    const m = await get(vworker.url, '/folder1/item1', { cookie: member.ac });
    assert.ok(m.body.includes(users.member1.fullname) && !isHit(m));
    // plone.cachepurging with virtualHosting on names the object by its VHM path
    const purge = await fetch(`${vworker.url}/VirtualHostBase/http/${host}/Plone/VirtualHostRoot/folder1/item1`, {
      method: 'PURGE',
      headers: { authorization: `Basic ${Buffer.from(`purge:${SECRET}`).toString('base64')}` },
    });
    assert.equal(purge.status, 200, await purge.text());
    const after = await get(vworker.url, '/folder1/item1');
    assert.ok(!isHit(after), after.status);
    // The JSON at the root's ++api++ (as Volto reads it), with expanders, and an image scale:
    // purged by the same one PURGE of the object.
    const api = ['/++api++/folder1/item1', '/++api++/folder1/item1?expand=breadcrumbs'];
    for (const u of api) {
      await json(vworker.url, u);
      const again = await json(vworker.url, u);
      assert.ok(isHit(again), `${u}: ${again.status}`);
      assert.ok(again.body.includes(`http://${host}/folder1/item1`), 'public URLs in the JSON');
    }
    const purge2 = await fetch(`${vworker.url}/VirtualHostBase/http/${host}/Plone/VirtualHostRoot/folder1/item1`, {
      method: 'PURGE',
      headers: { authorization: `Basic ${Buffer.from(`purge:${SECRET}`).toString('base64')}` },
    });
    assert.equal(purge2.status, 200, await purge2.text());
    for (const u of api) {
      const x = await json(vworker.url, u);
      assert.ok(!isHit(x), `${u} purged: ${x.status}`);
    }
  } finally {
    await vworker.stop();
    await proxy.stop();
  }
});

test('the secret Plone holds (in its caching proxy URL) purges only: the admin API refuses it', async () => {
  for (const [method, body] of [['GET', undefined], ['POST', '{}']]) {
    const r = await fetch(`${worker.url}/_rulecache/api/policy`, {
      method,
      body,
      headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/json' },
    });
    const text = await r.text();
    assert.equal(r.status, 401, `${method}: ${text}`);
    assert.ok(!text.includes(SECRET));
  }
});
