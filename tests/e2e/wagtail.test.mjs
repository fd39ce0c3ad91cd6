// The worker in front of a real Wagtail site (tests/e2e/wagtail/, Wagtail from PyPI, started by
// `make e2e-start`) with the shipped Django profile, and Wagtail's own frontend cache purging
// through this project's backend (integrations/wagtail: one signed request per batch). A page
// published through Wagtail's API is new at the edge at once, and its old version never comes
// back. Run with `make test-e2e`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { root, reachable, startWorker, get, isHit, SECRET } from './support.mjs';

const WAGTAIL = process.env.E2E_WAGTAIL_URL ?? 'http://127.0.0.1:18100';
const dir = process.env.E2E_DIR ?? path.join(root, 'target/e2e');
const run = promisify(execFile);
let worker;

before(async () => {
  await reachable(`${WAGTAIL}/news/`, 'Wagtail');
  worker = await startWorker({ originUrl: WAGTAIL, profile: 'django.json' });
});
after(async () => worker?.stop());

/** Publishes `body` on the page `slug` through Wagtail (save_revision().publish(), as the
 * editor's Publish button does), in a process configured with the edge's address and the
 * purge secret; what it printed: the purge ids the backend logged. */
async function publish(slug, body) {
  const site = path.join(root, 'tests/e2e/wagtail');
  const { stdout } = await run(
    path.join(dir, 'wagtail-venv/bin/python'),
    ['manage.py', 'shell', '-v', '0', '-c', "exec(open('publish.py').read())"],
    {
      cwd: site,
      env: {
        ...process.env,
        E2E_WAGTAIL_STATE: path.join(dir, 'wagtail-state'),
        RULECACHE_URL: worker.url,
        RULECACHE_PURGE_SECRET: SECRET,
        E2E_SLUG: slug,
        E2E_BODY: body,
      },
    },
  );
  return JSON.parse(stdout.trim().split('\n').pop());
}

/** The page's body text as the edge serves it. */
const bodyOf = (x) => /<p id="body">([^<]*)<\/p>/.exec(x.body)?.[1];

test('a page published in Wagtail is new at the edge at once, in one signed purge, and its old version never comes back', async () => {
  const first = `news version ${Date.now()}`;
  await publish('news', first);
  let x = await get(worker.url, '/news/');
  assert.equal(x.r.status, 200, x.status);
  x = await get(worker.url, '/news/');
  assert.ok(isHit(x), `stored for the hour the page asks: ${x.status}`);
  assert.equal(bodyOf(x), first);

  const second = `news version ${Date.now()} (edited)`;
  const started = Date.now();
  const { purgeIds, logged } = await publish('news', second);
  assert.equal(purgeIds?.length, 1, `one signed purge for the batch Wagtail sent: ${JSON.stringify(logged)}`);
  assert.match(purgeIds[0], /\S/, 'the purge id is logged');
  const after = await get(worker.url, '/news/');
  const visibleMs = Date.now() - started;
  assert.equal(bodyOf(after), second, `the new version at the first request after publish (${visibleMs} ms): ${after.status}`);
  for (let i = 0; i < 10; i += 1) {
    const again = await get(worker.url, '/news/');
    assert.equal(bodyOf(again), second, `never the old version again: ${again.status}`);
  }
  console.log(`# wagtail publish → new version at the edge: ${visibleMs} ms (publish process included)`);
});

test('the backend purges every URL of the page with all its query strings, and nothing else', async () => {
  const v = `events version ${Date.now()}`;
  await publish('events', v);
  await get(worker.url, '/events/?ref=newsletter');
  await get(worker.url, '/news/');
  const tracked = await get(worker.url, '/events/?ref=newsletter');
  const news = await get(worker.url, '/news/');
  assert.ok(isHit(tracked) && isHit(news), `${tracked.status} / ${news.status}`);
  const edited = `${v} (edited)`;
  await publish('events', edited);
  const fresh = await get(worker.url, '/events/?ref=newsletter');
  assert.equal(bodyOf(fresh), edited, `a tracking parameter does not keep the old page: ${fresh.status}`);
  const untouched = await get(worker.url, '/news/');
  assert.ok(isHit(untouched), `another page keeps its entry: ${untouched.status}`);
});

test('a wrong purge secret changes nothing at the edge and is logged as refused', async () => {
  const v = `news version ${Date.now()} (kept)`;
  await publish('news', v);
  await get(worker.url, '/news/');
  const { stdout, stderr } = await run(
    path.join(dir, 'wagtail-venv/bin/python'),
    [
      '-c',
      [
        'import logging, sys',
        'logging.basicConfig(level=logging.INFO)',
        'from rulecache_wagtail import RulecacheBackend',
        `b = RulecacheBackend({"LOCATION": "${worker.url}", "PURGE_SECRET": "not-the-secret"})`,
        'b.purge_batch(["http://localhost/news/"])',
        'print(b.last_ids)',
      ].join('\n'),
    ],
    { cwd: path.join(root, 'tests/e2e/wagtail') },
  );
  assert.equal(stdout.trim(), '[]', 'no purge id');
  assert.match(stderr, /purge of 1 URL\(s\) failed: purge refused \(401\)/);
  assert.doesNotMatch(stderr, /not-the-secret/, 'the secret is never logged');
  const still = await get(worker.url, '/news/');
  assert.ok(isHit(still), `the entry stands: ${still.status}`);
});

test("the backend's tag purge reaches a page by the cache group it names (RFC 9875 Cache-Groups)", async () => {
  const v = `events version ${Date.now()} (tagged)`;
  const { page } = await publish('events', v);
  await get(worker.url, '/events/');
  const stored = await get(worker.url, '/events/');
  assert.ok(isHit(stored), stored.status);
  // The page changes behind the edge's back (no publish, so no purge) ...
  const site = path.join(root, 'tests/e2e/wagtail');
  const env = { ...process.env, E2E_WAGTAIL_STATE: path.join(dir, 'wagtail-state') };
  const changed = `${v} (changed quietly)`;
  await run(path.join(dir, 'wagtail-venv/bin/python'), ['manage.py', 'shell', '-v', '0', '-c',
    `from wagsite.models import ArticlePage; ArticlePage.objects.filter(pk=${page}).update(body=${JSON.stringify(changed)})`], { cwd: site, env });
  assert.equal(bodyOf(await get(worker.url, '/events/')), v, 'still the stored copy');
  // ... and one tag purge of its group brings the new text.
  const { stdout } = await run(path.join(dir, 'wagtail-venv/bin/python'), ['-c', [
    'from rulecache_wagtail import RulecacheBackend',
    `b = RulecacheBackend({"LOCATION": "${worker.url}", "PURGE_SECRET": "${SECRET}"})`,
    `b.purge_tags(["page-${page}"])`,
    'print(len(b.last_ids))',
  ].join('\n')], { cwd: site });
  assert.equal(stdout.trim(), '1');
  assert.equal(bodyOf(await get(worker.url, '/events/')), changed);
});
