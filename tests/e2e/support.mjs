// Helpers of the end-to-end tests: the built worker in workerd (through Miniflare) in front of
// a real application (Plone or Django, started by `make e2e-start`), with one of the shipped
// profiles pushed through the admin API.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Miniflare } from 'miniflare';
import { workerOptions } from '../support/stack.mjs';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const PLONE = process.env.E2E_PLONE_URL ?? 'http://127.0.0.1:18080';
export const DJANGO = process.env.E2E_DJANGO_URL ?? 'http://127.0.0.1:18090';
export const users = JSON.parse(fs.readFileSync(path.join(root, 'tests/e2e/plone/users.json'), 'utf8'));
/** PURGE_SECRET: what the applications are given (plone.cachepurging's proxy URL). */
export const SECRET = 'e2e-purge-secret';
/** ADMIN_SECRET: what pushes the profile; never given to an application. */
export const ADMIN_SECRET = 'e2e-admin-secret';

/** Fails with a clear message when the application is not running. */
export async function reachable(url, what) {
  try {
    await fetch(url, { redirect: 'manual' });
  } catch (e) {
    throw new Error(`${what} is not running at ${url}: start it with "make e2e-start" (${e.message})`);
  }
}

/** Starts the worker in front of `originUrl` and activates `profile` (a file in policy/). */
export async function startWorker({ originUrl, profile, edit = (p) => p }) {
  const mf = new Miniflare(workerOptions({ originUrl, secret: SECRET, adminSecret: ADMIN_SECRET }));
  const url = (await mf.ready).toString().replace(/\/$/, '');
  const bundle = edit(JSON.parse(fs.readFileSync(path.join(root, 'policy', profile), 'utf8')));
  const r = await fetch(`${url}/_rulecache/api/policy`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_SECRET}`, 'content-type': 'application/json' },
    body: JSON.stringify(bundle),
  });
  if (r.status !== 200) throw new Error(`policy push answered ${r.status}: ${await r.text()}`);
  return { url, mf, stop: () => mf.dispose() };
}

/** GET (or any method) through `base`, never following redirects; the response and its text. */
export async function get(base, p, headers = {}, init = {}) {
  const r = await fetch(`${base}${p}`, { redirect: 'manual', headers, ...init });
  const body = await r.text();
  return { r, body, status: r.headers.get('cache-status') ?? '' };
}

export const isHit = (x) => /^rulecache; hit\b/.test(x.status);

/** The `name=value` pairs of a response's Set-Cookie fields, as a browser would send them. */
export function cookiesFrom(r) {
  return r.headers.getSetCookie().map((c) => c.split(';')[0]).filter((c) => !/=("")?$/.test(c));
}

/** A reverse proxy as a site owner puts before Zope: `/x` → VirtualHostMonster's
 * `/VirtualHostBase/http/<public>/Plone/VirtualHostRoot/x`, so Plone builds the public URLs. */
export async function startVirtualHostProxy(upstream) {
  const target = new URL(upstream);
  const state = { publicHost: null };
  const server = http.createServer((req, res) => {
    const vhm = `/VirtualHostBase/http/${state.publicHost}/Plone/VirtualHostRoot${req.url}`;
    const headers = { ...req.headers, host: target.host };
    const up = http.request({ host: target.hostname, port: target.port, path: vhm, method: req.method, headers }, (ur) => {
      res.writeHead(ur.statusCode, ur.rawHeaders);
      ur.pipe(res);
    });
    up.on('error', () => { res.writeHead(502); res.end(); });
    req.pipe(up);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    setPublicHost(h) { state.publicHost = h; },
    stop: () => new Promise((r) => server.close(r)),
  };
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` every `everyMs` until it returns a truthy value or `limitMs` pass. */
export async function until(probe, { everyMs = 100, limitMs = 30_000 } = {}) {
  const start = Date.now();
  for (;;) {
    const v = await probe();
    if (v) return { value: v, elapsedMs: Date.now() - start };
    if (Date.now() - start > limitMs) return { value: null, elapsedMs: Date.now() - start };
    await sleep(everyMs);
  }
}

/** Sets Plone registry records through plone.restapi, as the site administrator. */
export async function ploneRegistry(records) {
  const r = await fetch(`${PLONE}/Plone/@registry`, {
    method: 'PATCH',
    headers: {
      authorization: `Basic ${Buffer.from('admin:admin').toString('base64')}`,
      accept: 'application/json',
      'content-type': 'application/json',
    },
    body: JSON.stringify(records),
  });
  if (r.status >= 300) throw new Error(`@registry answered ${r.status}: ${await r.text()}`);
}

/** Logs in through `base` with Plone's login form; the cookies a browser keeps afterwards. */
export async function ploneLogin(base, user, sitePath = '/Plone') {
  const form = new URLSearchParams({ __ac_name: user, __ac_password: users[user].password, 'buttons.login': 'Log in', came_from: '' });
  const r = await fetch(`${base}${sitePath}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form,
  });
  const cookies = cookiesFrom(r);
  const ac = cookies.find((c) => c.startsWith('__ac='));
  if (!ac) throw new Error(`login of ${user} failed: ${r.status} ${await r.text()}`);
  return { ac, all: cookies };
}

const unescapeHtml = (s) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');
const attr = (tag, name) => {
  const m = new RegExp(`\\s${name}="([^"]*)"`).exec(tag);
  return m ? unescapeHtml(m[1]) : null;
};

/** The fields a browser would submit from the form with `id` in `html` (no button pressed). */
export function formFields(html, id = 'form') {
  const start = html.search(new RegExp(`<form\\b[^>]*\\sid="${id}"`));
  if (start < 0) throw new Error(`no form #${id}`);
  const form = html.slice(start, html.indexOf('</form>', start));
  const fields = [];
  for (const [tag] of form.matchAll(/<input\b[^>]*>/g)) {
    const name = attr(tag, 'name');
    const type = (attr(tag, 'type') ?? 'text').toLowerCase();
    if (!name || ['submit', 'button', 'image', 'file', 'reset'].includes(type)) continue;
    if (['checkbox', 'radio'].includes(type) && !/\schecked\b/.test(tag)) continue;
    fields.push([name, attr(tag, 'value') ?? (type === 'checkbox' ? 'on' : '')]);
  }
  for (const m of form.matchAll(/<textarea\b([^>]*)>([\s\S]*?)<\/textarea>/g)) {
    const name = attr(m[1], 'name');
    if (name) fields.push([name, unescapeHtml(m[2])]);
  }
  for (const m of form.matchAll(/<select\b([^>]*)>([\s\S]*?)<\/select>/g)) {
    const name = attr(m[1], 'name');
    for (const [opt] of m[2].matchAll(/<option\b[^>]*>/g)) {
      if (name && /\sselected\b/.test(opt)) fields.push([name, attr(opt, 'value') ?? '']);
    }
  }
  return fields;
}

/** Edits a document's text through Plone's classic edit form as `user`, at `base` (the
 * backend an editor works on): log in, open @@edit, change the text, press Save. */
export async function ploneEditText(base, docPath, user, html) {
  const { ac } = await ploneLogin(base, user);
  const page = await fetch(`${base}${docPath}/@@edit`, { headers: { cookie: ac } });
  const fields = formFields(await page.text())
    .filter(([n]) => n !== 'form.widgets.IRichTextBehavior.text');
  fields.push(['form.widgets.IRichTextBehavior.text', html], ['form.buttons.save', 'Save']);
  const r = await fetch(`${base}${docPath}/@@edit`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: ac, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields),
  });
  const body = await r.text();
  if (r.status !== 302) throw new Error(`the edit form answered ${r.status}: ${body.slice(0, 300)}`);
  return r;
}
