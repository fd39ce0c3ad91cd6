// rulecache with the shipped django profile in front of a stock Django 5.2 site
// (tests/e2e/django: sessions, auth, messages in cookies, CSRF, ConditionalGetMiddleware,
// WhiteNoise), served by gunicorn and started by `make e2e-start`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { DJANGO, reachable, root, startWorker, get, isHit, cookiesFrom } from './support.mjs';

let worker;

before(async () => {
  await reachable(`${DJANGO}/`, 'Django');
  // Wagtail-style purgers send PURGE without credentials: allow the loopback address.
  worker = await startWorker({
    originUrl: DJANGO,
    profile: 'django.json',
    edit: (p) => ({ ...p, purge: { ...p.purge, allowFrom: ['127.0.0.1', '::1'] } }),
  });
});

after(async () => {
  await worker?.stop();
});

async function login(user = 'member1', password = 'member1-e2e-pass') {
  const page = await get(worker.url, '/login/');
  const csrf = cookiesFrom(page.r).find((c) => c.startsWith('csrftoken='));
  const token = /name="csrfmiddlewaretoken" value="([^"]+)"/.exec(page.body)?.[1];
  assert.ok(csrf && token, 'the login page sets csrftoken and renders its token');
  const r = await fetch(`${worker.url}/login/`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: csrf, referer: `${worker.url}/login/` },
    body: new URLSearchParams({ username: user, password, csrfmiddlewaretoken: token, next: '/' }),
  });
  assert.equal(r.status, 302, await r.text());
  const session = cookiesFrom(r).find((c) => c.startsWith('sessionid='));
  assert.ok(session, 'logged in');
  const rotated = cookiesFrom(r).find((c) => c.startsWith('csrftoken=')) ?? csrf;
  return `${rotated}; ${session}`;
}

test('anonymous pages that vary on Cookie are hits whatever analytics or CSRF cookies say', async () => {
  const first = await get(worker.url, '/');
  assert.match(first.body, /Hello anonymous/);
  assert.equal(first.r.headers.get('vary')?.toLowerCase().includes('cookie'), true);
  assert.match(first.status, /stored/, first.status);
  for (const cookie of [undefined, '_ga=GA1.2.3.4', 'csrftoken=abcdefabcdefabcdefabcdefabcdefab', 'csrftoken=zzz; _ga=1']) {
    const x = await get(worker.url, '/', cookie ? { cookie } : {});
    assert.ok(isHit(x), `${cookie}: ${x.status}`);
    assert.equal(x.body, first.body);
  }
  const cached = await get(worker.url, '/cached/');
  assert.equal(cached.r.headers.get('cache-control'), 'max-age=60');
  assert.ok(isHit(await get(worker.url, '/cached/')), "cache_page's lifetime is honoured at the edge");
});

test('a logged-in user always gets their own page, and anonymous visitors never see it', async () => {
  const cookie = await login();
  for (let i = 0; i < 3; i += 1) {
    const m = await get(worker.url, '/', { cookie });
    assert.match(m.body, /Hello member1/);
    assert.ok(!isHit(m), m.status);
  }
  const p = await get(worker.url, '/private/', { cookie });
  assert.match(p.body, /Private page of member1/);
  for (let i = 0; i < 2; i += 1) {
    const a = await get(worker.url, '/');
    assert.match(a.body, /Hello anonymous/);
    assert.doesNotMatch(a.body, /member1/);
    const ap = await get(worker.url, '/private/');
    assert.equal(ap.r.status, 302, 'anonymous visitors are sent to the login page');
    assert.doesNotMatch(ap.body, /member1/);
  }
});

test('a pending message is shown to its visitor only and never kept', async () => {
  await get(worker.url, '/');
  const sent = await get(worker.url, '/message/');
  const messages = cookiesFrom(sent.r).find((c) => c.startsWith('messages='));
  assert.ok(messages, 'the messages framework set its cookie');
  const shown = await get(worker.url, '/', { cookie: messages });
  assert.match(shown.body, /Your message was sent/);
  assert.match(shown.status, /detail=cache-stop/);
  const other = await get(worker.url, '/');
  assert.ok(isHit(other), other.status);
  assert.doesNotMatch(other.body, /Your message was sent/);
});

test("WhiteNoise's hashed statics are kept; a purge from an allowed address needs no secret", async () => {
  const manifest = JSON.parse(fs.readFileSync(path.join(root, 'target/e2e/django-state/static/staticfiles.json'), 'utf8'));
  const hashed = `/static/${manifest.paths['e2e/site.css']}`;
  const first = await get(worker.url, hashed);
  assert.match(first.r.headers.get('cache-control'), /immutable/);
  const second = await get(worker.url, hashed);
  assert.ok(isHit(second), second.status);
  assert.ok(Number(/ttl=(\d+)/.exec(second.status)?.[1]) > 300_000_000, second.status);
  // Wagtail's invalidator: PURGE with the site's Host, no credentials, from an allowed
  // address (in CF-Connecting-IP, as Cloudflare's edge sets it)
  const denied = await fetch(`${worker.url}/`, { method: 'PURGE', headers: { 'cf-connecting-ip': '192.0.2.1' } });
  assert.equal(denied.status, 401, 'another address needs the secret');
  assert.ok(isHit(await get(worker.url, '/')), 'a refused purge changes nothing');
  const purge = await fetch(`${worker.url}/`, { method: 'PURGE', headers: { 'cf-connecting-ip': '127.0.0.1' } });
  assert.equal(purge.status, 200, await purge.text());
  const after = await get(worker.url, '/');
  assert.ok(!isHit(after), after.status);
});

test('saving an article invalidates its cache group at the edge from the save response itself (RFC 9875), with no purge call', async () => {
  const slug = `a${Date.now()}`;
  const first = await get(worker.url, `/articles/${slug}/`);
  assert.equal(first.r.status, 200, first.status);
  const stored = await get(worker.url, `/articles/${slug}/`);
  assert.ok(isHit(stored), `kept for the hour the view asks: ${stored.status}`);
  const text = `edited at ${Date.now()}`;
  const save = await fetch(`${worker.url}/articles/${slug}/edit/`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ text }),
  });
  assert.equal(save.status, 200);
  const after = await get(worker.url, `/articles/${slug}/`);
  assert.match(after.body, new RegExp(text), `the saved text at the first request after the save: ${after.status}`);
  const other = await get(worker.url, '/articles/untouched/');
  await get(worker.url, '/articles/untouched/');
  const again = await get(worker.url, '/articles/untouched/');
  assert.ok(isHit(again), `another article keeps its entry: ${other.status} / ${again.status}`);
});
