// The offload benchmark (make bench-offload): one seeded trace (trace.mjs) replayed against each
// contender in front of the same real origin (the end-to-end Plone 6 and Django sites, with the
// content plone_content.py / django_content.py add), counting what reaches the origin.
//
// Contenders: rulecache (the shipped profile, unmodified, the real worker in workerd through
// Miniflare), Varnish from Debian with plone.vcl / django.vcl, the hand-written JS edge cache of
// the load benchmark, and no cache. Every contender talks to the origin through one counting
// proxy on loopback, which attributes each origin request to an audience by the client's
// User-Agent, counts bytes, marks each origin answer with a serial (x-offload-origin: an answer
// carrying a serial never seen before came from the origin during that request, anything else
// was served from the cache), and plays the outage (it drops every connection in the window).
//
// Edits go to the origin directly, as an editor's do; the CMS then purges the contender the way
// it does (plone.cachepurging with the purge secret in its proxy URL; for Django the site's
// save handler, through the project's integration rulecache_django for rulecache). A probe (its own User-Agent, not counted) polls the edited page as an anonymous
// visitor until the new text shows: edit-to-visible.
//
// Environment: OFFLOAD_REQUESTS (50000; OFFLOAD_REQUESTS_PLONE / _DJANGO for one origin), OFFLOAD_SEED (30), OFFLOAD_PAGES (2000: what the
// content scripts made), OFFLOAD_CONCURRENCY (4), OFFLOAD_ORIGINS (plone,django),
// OFFLOAD_CONTENDERS (rulecache,varnish,js-edge-cache,none), OFFLOAD_VARNISH_PLONE_PORT /
// OFFLOAD_VARNISH_DJANGO_PORT (a free port), E2E_PLONE_URL / E2E_DJANGO_URL, OFFLOAD_OUT
// (bench-results/offload.json).
// Writes that file and its Markdown table beside it (.md) (the plot: plot.py). `run.mjs --merge A B` writes
// offload.json and offload.md from A's runs with B's in place of A's for the same origin and
// contender (a contender run again on the same trace after a change); each run keeps its time.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { Miniflare } from 'miniflare';
import { generateTrace } from './trace.mjs';
import { JS_EDGE_CACHE } from '../load/workers.mjs';
import {
  PLONE, DJANGO, SECRET, root, users, reachable, startWorker, ploneLogin, ploneRegistry, ploneEditText, cookiesFrom, formFields, sleep,
} from '../../tests/e2e/support.mjs';

const REQUESTS = Number(process.env.OFFLOAD_REQUESTS ?? 50_000);
const SEED = Number(process.env.OFFLOAD_SEED ?? 30);
const PAGES = Number(process.env.OFFLOAD_PAGES ?? 2000);
const CONCURRENCY = Number(process.env.OFFLOAD_CONCURRENCY ?? 4);
const ORIGINS = (process.env.OFFLOAD_ORIGINS ?? 'plone,django').split(',').filter(Boolean);
const CONTENDERS = (process.env.OFFLOAD_CONTENDERS ?? 'rulecache,varnish,js-edge-cache,none').split(',').filter(Boolean);
/** How long a probe waits for an edit to show before calling it not visible. */
const VISIBLE_LIMIT_MS = 30_000;
const PROBE_EVERY_MS = 100;
const TIMELINE_BUCKETS = 40;
const here = path.join(root, 'benches/offload');
const outFile = path.resolve(process.env.OFFLOAD_OUT ?? path.join(root, 'bench-results/offload.json'));

const UA = {
  anonymous: 'Mozilla/5.0 (X11; Linux x86_64) offload-anonymous',
  member: 'Mozilla/5.0 (X11; Linux x86_64) offload-member',
  crawler: 'Mozilla/5.0 (compatible; offloadbot/1.0)',
  probe: 'offload-probe',
};

function audienceOf(req) {
  if (req.method === 'PURGE') return 'purge';
  const ua = req.headers['user-agent'] ?? '';
  if (ua === UA.probe) return 'probe';
  if (ua.includes('varnish-health-probe')) return 'health';
  if (ua.includes('offloadbot')) return 'crawler';
  if (ua.includes('offload-member')) return 'member';
  if (ua.includes('offload-anonymous')) return 'anonymous';
  return 'other';
}

// ---------------------------------------------------------------------------------------
// The counting proxy in front of the real origin

function freshCounts() {
  return { requests: {}, bytes: {}, refused: 0 };
}

async function startCountingProxy(originUrl) {
  const target = new URL(originUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  const state = { down: false, serial: 0, counts: freshCounts() };
  const server = http.createServer((req, res) => {
    const audience = audienceOf(req);
    if (state.down) {
      state.counts.refused += 1;
      req.socket.destroy();
      return;
    }
    const up = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers, agent }, (ur) => {
      state.serial += 1;
      const raw = [];
      for (let i = 0; i < ur.rawHeaders.length; i += 2) {
        if (ur.rawHeaders[i].toLowerCase() !== 'x-offload-origin') raw.push(ur.rawHeaders[i], ur.rawHeaders[i + 1]);
      }
      raw.push('x-offload-origin', String(state.serial));
      res.writeHead(ur.statusCode, ur.statusMessage, raw);
      let bytes = 0;
      ur.on('data', (c) => { bytes += c.length; });
      ur.on('end', () => {
        state.counts.requests[audience] = (state.counts.requests[audience] ?? 0) + 1;
        state.counts.bytes[audience] = (state.counts.bytes[audience] ?? 0) + bytes;
      });
      ur.pipe(res);
    });
    up.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(up);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    state,
    stop: () => new Promise((r) => { server.closeAllConnections(); server.close(r); agent.destroy(); }),
  };
}

// ---------------------------------------------------------------------------------------
// Sites: what the trace walks, how members log in, what each audience must see

async function freePort() {
  const s = net.createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

const pad = (n, w) => String(n).padStart(w, '0');

async function ploneSite() {
  await reachable(`${PLONE}/Plone`, 'Plone');
  const pages = Array.from({ length: PAGES }, (_, i) => `/Plone/library/section-${pad(Math.floor(i / 100), 2)}/page-${pad(i, 4)}`);
  const sections = [...new Set(pages.map((p) => p.replace(/\/page-\d+$/, '')))];
  const home = await (await fetch(`${PLONE}/Plone`)).text();
  const statics = [...new Set([...home.matchAll(/(?:href|src)="https?:\/\/[^/"]+(\/Plone\/\+\+[^"]+)"/g)].map((m) => m[1]))];
  const members = ['member1', 'member2'];
  const markers = Object.fromEntries(members.map((m) => [m, users[m].fullname]));
  return {
    kind: 'plone',
    origin: PLONE,
    profile: 'plone6-splitviews.json',
    vcl: 'plone.vcl',
    authCookie: '__ac',
    pages,
    listings: ['/Plone', '/Plone/library', '/Plone/news', '/Plone/events', '/Plone/media', ...sections],
    images: Array.from({ length: 40 }, (_, i) => `/Plone/media/image-${pad(i, 3)}.png/@@images/image`),
    files: Array.from({ length: 40 }, (_, i) => `/Plone/media/file-${pad(i, 3)}.pdf/@@download/file`),
    statics,
    members,
    crawl: (i) => (i % 5 === 4 ? `${sections[i % sections.length]}?b_start:int=${20 * (1 + (Math.floor(i / 5) % 4))}` : pages[(i * 7919) % pages.length]),
    async login(user) {
      // The login cookie alone: the statusmessages cookie of the login answer is gone once
      // the next page has shown its message.
      return (await ploneLogin(PLONE, user)).ac;
    },
    /** Who a page was rendered for: the member whose full name is on it, else anonymous. */
    seenAs(body) {
      for (const [m, name] of Object.entries(markers)) if (body.includes(name)) return m;
      return 'anonymous';
    },
    async pointPurgesAt(edge) {
      await ploneRegistry({ 'plone.cachepurging.interfaces.ICachePurgingSettings.cachingProxies': edge ? [edge.purgeUrl] : [] });
    },
    async edit(pagePath, text) {
      await ploneEditText(PLONE, pagePath, 'editor1', `<p>${text}</p>`);
    },
  };
}

async function djangoLogin(user, password) {
  const page = await fetch(`${DJANGO}/login/`);
  const csrf = cookiesFrom(page).find((c) => c.startsWith('csrftoken='));
  const fields = formFields(await page.text(), 'login-form').concat([['username', user], ['password', password]]);
  const r = await fetch(`${DJANGO}/login/`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: csrf, 'content-type': 'application/x-www-form-urlencoded', referer: `${DJANGO}/login/` },
    body: new URLSearchParams(fields),
  });
  const cookies = cookiesFrom(r);
  if (!cookies.some((c) => c.startsWith('sessionid='))) throw new Error(`Django login of ${user} failed: ${r.status}`);
  const fresh = cookies.find((c) => c.startsWith('csrftoken=')) ?? csrf;
  return [cookies.find((c) => c.startsWith('sessionid=')), fresh].join('; ');
}

async function djangoSite() {
  await reachable(`${DJANGO}/`, 'Django');
  const manifest = JSON.parse(fs.readFileSync(path.join(root, 'target/e2e/django-state/static/staticfiles.json'), 'utf8'));
  const pages = Array.from({ length: PAGES }, (_, i) => `/pages/page-${pad(i, 4)}/`);
  const statics = [`/static/${manifest.paths['e2e/site.css']}`, '/static/e2e/site.css'];
  const members = ['member1', 'member2'];
  let editor = null;
  return {
    kind: 'django',
    origin: DJANGO,
    profile: 'django.json',
    vcl: 'django.vcl',
    authCookie: 'sessionid',
    pages,
    // Not /cached/: Django's own cache_page serves its anonymous render to members too.
    listings: ['/', '/pages/'],
    // The Django site has no media library: its downloads are its static files.
    images: statics,
    files: statics,
    statics,
    members,
    crawl: (i) => (i % 5 === 4 ? `/pages/?page=${1 + (Math.floor(i / 5) % 50)}` : pages[(i * 7919) % pages.length]),
    login: (user) => djangoLogin(user, `${user}-e2e-pass`),
    seenAs(body) {
      const m = /Hello ([\w-]+)<\/p>/.exec(body);
      return m ? m[1] : 'unknown';
    },
    async pointPurgesAt(edge) {
      const file = path.join(root, 'target/e2e/django-state/purge-proxies.json');
      fs.writeFileSync(file, JSON.stringify(edge ? [edge.purgeSecret ? { kind: 'rulecache', url: edge.url, secret: edge.purgeSecret } : { kind: 'http', url: edge.url }] : []));
    },
    async edit(pagePath, text) {
      editor ??= await djangoLogin('editor1', 'editor1-e2e-pass');
      const form = await fetch(`${DJANGO}${pagePath}edit/`, { headers: { cookie: editor } });
      const fields = formFields(await form.text()).filter(([n]) => n !== 'body').concat([['body', text]]);
      const r = await fetch(`${DJANGO}${pagePath}edit/`, {
        method: 'POST',
        redirect: 'manual',
        headers: { cookie: editor, 'content-type': 'application/x-www-form-urlencoded', referer: `${DJANGO}${pagePath}edit/` },
        body: new URLSearchParams(fields),
      });
      if (r.status !== 302) throw new Error(`the Django edit answered ${r.status}`);
    },
  };
}

// ---------------------------------------------------------------------------------------
// Contenders

async function waitForPort(port, limitMs = 20_000) {
  const start = Date.now();
  for (;;) {
    const ok = await new Promise((r) => {
      const s = net.connect(port, '127.0.0.1', () => { s.destroy(); r(true); });
      s.on('error', () => r(false));
    });
    if (ok) return;
    if (Date.now() - start > limitMs) throw new Error(`nothing listens on ${port}`);
    await sleep(100);
  }
}

async function startVarnish(site, proxy) {
  const port = Number(process.env[`OFFLOAD_VARNISH_${site.kind.toUpperCase()}_PORT`] ?? 0) || await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'offload-varnish-'));
  const backend = new URL(proxy.url);
  const vcl = fs.readFileSync(path.join(here, site.vcl), 'utf8').replace('BACKEND_HOST', backend.hostname).replace('BACKEND_PORT', backend.port);
  fs.writeFileSync(path.join(dir, 'default.vcl'), vcl);
  // varnishd reads the VCL after dropping root for its own user.
  fs.chmodSync(dir, 0o755);
  fs.chmodSync(path.join(dir, 'default.vcl'), 0o644);
  const child = spawn('varnishd', ['-F', '-n', dir, '-a', `127.0.0.1:${port}`, '-f', path.join(dir, 'default.vcl'), '-s', 'malloc,256m'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c) => { stderr += c; });
  try {
    await waitForPort(port);
  } catch (e) {
    child.kill();
    throw new Error(`varnishd did not start: ${stderr}`);
  }
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    purgeUrl: url,
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r() : child.on('exit', r)));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function startContender(name, site, proxy) {
  if (name === 'rulecache') {
    const w = await startWorker({ originUrl: proxy.url, profile: site.profile });
    return { url: w.url, purgeUrl: `http://purge:${SECRET}@${new URL(w.url).host}`, purgeSecret: SECRET, stop: w.stop };
  }
  if (name === 'varnish') return startVarnish(site, proxy);
  if (name === 'js-edge-cache') {
    const mf = new Miniflare({
      modules: true,
      script: JS_EDGE_CACHE,
      compatibilityDate: '2026-04-01',
      bindings: { ORIGIN: proxy.url, AUTH_COOKIE: site.authCookie },
      host: '127.0.0.1',
      port: 0,
    });
    const url = (await mf.ready).toString().replace(/\/$/, '');
    // It has no purge: nothing is pointed at it.
    return { url, purgeUrl: null, stop: () => mf.dispose(), noPurge: true };
  }
  if (name === 'none') return { url: proxy.url, purgeUrl: null, stop: async () => {}, noPurge: true };
  throw new Error(`unknown contender ${name}`);
}

// ---------------------------------------------------------------------------------------
// Replay

// The visitors' client: node:http, so a request carries exactly the fields a browser's would
// (fetch adds `Cache-Control: no-cache` and `Pragma: no-cache` to every conditional request,
// which no browser revisiting a page sends).
const clientAgent = new http.Agent({ keepAlive: true, maxSockets: 64 });

function send(url, { method = 'GET', headers = {}, timeoutMs = 120_000 } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers: { accept: '*/*', 'accept-encoding': 'gzip, br', ...headers }, agent: clientAgent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        let body = Buffer.concat(chunks);
        try {
          const enc = res.headers['content-encoding'];
          if (enc === 'gzip') body = zlib.gunzipSync(body);
          else if (enc === 'br') body = zlib.brotliDecompressSync(body);
          else if (enc === 'deflate') body = zlib.inflateSync(body);
        } catch { /* a body that does not decode is compared as it came */ }
        resolve({ status: res.statusCode, headers: res.headers, body });
      });
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

const quantile = (xs, q) => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};

const counted = (counts, which) => Object.entries(counts.requests).filter(([a]) => which.includes(a)).reduce((n, [, v]) => n + v, 0);
const AUDIENCES = ['anonymous', 'member', 'crawler'];

async function replay(site, name, trace, proxy, cookies) {
  const edge = await startContender(name, site, proxy);
  await site.pointPurgesAt(edge.noPurge ? null : edge);
  proxy.state.counts = freshCounts();
  const seenSerials = new Set();
  const etags = new Map();
  const clients = Object.fromEntries(AUDIENCES.map((a) => [a, { requests: 0, hits: 0 }]));
  let crossings = 0;
  const crossingExamples = [];
  const outage = { answers: 0, errors: 0, served: 0 };
  let errors = 0;
  const timeline = [];
  const bucket = Math.max(50, Math.ceil(trace.requests / TIMELINE_BUCKETS));
  let done = 0;
  let lastMark = { done: 0, hits: 0, origin: 0 };
  let hitsTotal = 0;
  const editTimes = [];
  let notVisible = 0;
  const editQueue = [];
  let editing = null;

  async function probeUntil(pagePath, text) {
    const start = Date.now();
    let last = null;
    while (Date.now() - start < VISIBLE_LIMIT_MS) {
      try {
        const r = await send(`${edge.url}${pagePath}`, { headers: { 'user-agent': UA.probe } });
        if (r.body.toString('utf8').includes(text)) return Date.now() - start;
        last = `${r.status} ${r.headers['cache-status'] ?? r.headers['x-cache'] ?? ''}`;
      } catch (e) {
        last = e.message;
      }
      await sleep(PROBE_EVERY_MS);
    }
    console.log(`  the edit of ${pagePath} was not visible within ${VISIBLE_LIMIT_MS} ms (last answer: ${last})`);
    return null;
  }

  async function runEdits() {
    while (editQueue.length) {
      const ev = editQueue.shift();
      const text = `Edited for the offload run ${name} ${ev.edit}`;
      try {
        await site.edit(ev.path, text);
        const ms = await probeUntil(ev.path, text);
        if (ms === null) notVisible += 1;
        else editTimes.push(ms);
      } catch (e) {
        console.log(`  edit ${ev.edit} of ${ev.path} failed: ${e.message}`);
      }
    }
    editing = null;
  }

  async function one(ev) {
    const inOutage = ev.i >= trace.outage.start && ev.i < trace.outage.end;
    const headers = { 'user-agent': UA[ev.audience] };
    const cookie = [];
    if (ev.audience === 'member') cookie.push(cookies[ev.visitor]);
    if (ev.analytics) cookie.push(`_ga=GA1.2.${ev.visitor.slice(8)}.1700000000`, `_gid=GA1.2.${ev.visitor.slice(8)}`);
    if (cookie.length) headers.cookie = cookie.join('; ');
    const etagKey = `${ev.visitor} ${ev.path}`;
    if (ev.revisit && etags.has(etagKey)) headers['if-none-match'] = etags.get(etagKey);
    let status = 0;
    let body = '';
    let fromOrigin = false;
    try {
      const r = await send(`${edge.url}${ev.path}`, { method: ev.method, headers });
      status = r.status;
      const serial = r.headers['x-offload-origin'] ?? null;
      fromOrigin = serial !== null && !seenSerials.has(serial);
      if (serial !== null) seenSerials.add(serial);
      const type = r.headers['content-type'] ?? '';
      if (type.startsWith('text/html')) body = r.body.toString('utf8');
      const etag = r.headers.etag;
      if (status === 200 && etag) etags.set(etagKey, etag);
    } catch {
      status = 0;
    }
    const failed = status === 0 || status >= 500;
    if (failed) errors += 1;
    const c = clients[ev.audience];
    c.requests += 1;
    if (!failed && !fromOrigin) { c.hits += 1; hitsTotal += 1; }
    if (inOutage) {
      outage.answers += 1;
      if (failed) outage.errors += 1;
    }
    if (status === 200 && ev.method === 'GET' && body && ['page', 'listing', 'crawl'].includes(ev.kind)) {
      const seen = site.seenAs(body);
      const should = ev.audience === 'member' ? ev.visitor : 'anonymous';
      if (seen !== should) {
        crossings += 1;
        if (crossingExamples.length < 5) crossingExamples.push({ i: ev.i, audience: ev.audience, visitor: ev.visitor, path: ev.path, seenAs: seen });
      }
    }
    done += 1;
    if (done - lastMark.done >= bucket || done === trace.requests) {
      const origin = counted(proxy.state.counts, AUDIENCES);
      const n = done - lastMark.done;
      timeline.push({ upTo: done, hitRatio: +((hitsTotal - lastMark.hits) / n).toFixed(4), originPer1000: +((1000 * (origin - lastMark.origin)) / n).toFixed(1) });
      lastMark = { done, hits: hitsTotal, origin };
      if (timeline.length % 8 === 0) console.log(`  ${done} of ${trace.requests} (${Math.round((Date.now() - started) / 1000)} s)`);
    }
  }

  const started = Date.now();
  let next = 0;
  const events = trace.events;
  async function lane() {
    for (;;) {
      const k = next;
      next += 1;
      if (k >= events.length) return;
      const ev = events[k];
      if (ev.edit !== undefined) {
        editQueue.push(ev);
        editing ??= runEdits();
        continue;
      }
      if (ev.i === trace.outage.start) proxy.state.down = true;
      if (ev.i === trace.outage.end) proxy.state.down = false;
      await one(ev);
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, lane));
  proxy.state.down = false;
  if (editing) await editing;
  const seconds = (Date.now() - started) / 1000;
  await edge.stop();
  const counts = proxy.state.counts;
  const clientRequests = trace.requests;
  const originRequests = counted(counts, AUDIENCES);
  const per1000 = (o, n) => (n ? +((1000 * o) / n).toFixed(1) : null);
  return {
    origin: site.kind,
    contender: name,
    clientRequests,
    originRequests,
    originPer1000: per1000(originRequests, clientRequests),
    originPer1000ByAudience: Object.fromEntries(AUDIENCES.map((a) => [a, per1000(counts.requests[a] ?? 0, clients[a].requests)])),
    hitRatio: +(hitsTotal / clientRequests).toFixed(4),
    hitRatioByAudience: Object.fromEntries(AUDIENCES.map((a) => [a, clients[a].requests ? +(clients[a].hits / clients[a].requests).toFixed(4) : null])),
    originBytes: Object.entries(counts.bytes).filter(([a]) => AUDIENCES.includes(a)).reduce((n, [, v]) => n + v, 0),
    errors,
    outageAnswers: outage.answers,
    outageErrors: outage.errors,
    edits: trace.edits,
    editToVisibleMs: { p50: quantile(editTimes, 0.5), p95: quantile(editTimes, 0.95), max: editTimes.length ? Math.max(...editTimes) : null },
    editsNotVisibleWithinMs: { limit: VISIBLE_LIMIT_MS, count: notVisible },
    crossings,
    crossingExamples,
    overheadRequests: { probe: counts.requests.probe ?? 0, health: counts.requests.health ?? 0, purge: counts.requests.purge ?? 0, other: counts.requests.other ?? 0 },
    seconds: +seconds.toFixed(1),
    when: new Date(started).toISOString(),
    timeline,
  };
}

// ---------------------------------------------------------------------------------------
// Report

function markdown(result) {
  const lines = [
    `# Origin offload (make bench-offload)`,
    '',
    `${Object.entries(result.requestsPerContender).map(([o, n]) => `${o} ${n.toLocaleString('en-US')}`).join(', ')} client requests per contender, trace seed ${result.seed}, ${result.pages.toLocaleString('en-US')} pages, ${result.concurrency} at a time; run ${result.when.slice(0, 10)} in ${Math.round(result.seconds / 60)} minutes. Origin requests and hits are counted at a proxy in front of the origin; edit-to-visible is from the save's answer to the first anonymous read showing the edit (not visible within ${VISIBLE_LIMIT_MS / 1000} s: counted apart).`,
    '',
    '| origin | contender | origin req. / 1,000 | anonymous | member | crawler | hit ratio | MB from origin | outage answers (errors) | edit-to-visible p50 / p95 / max ms (not visible) | crossings |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  const ms = (v) => (v === null || v === undefined ? '–' : String(v));
  for (const r of result.runs) {
    const a = r.originPer1000ByAudience;
    lines.push(`| ${r.origin} | ${r.contender} | ${r.originPer1000} | ${a.anonymous} | ${a.member} | ${a.crawler} | ${(100 * r.hitRatio).toFixed(1)} % | ${(r.originBytes / 1e6).toFixed(1)} | ${r.outageAnswers} (${r.outageErrors}) | ${ms(r.editToVisibleMs.p50)} / ${ms(r.editToVisibleMs.p95)} / ${ms(r.editToVisibleMs.max)} (${r.editsNotVisibleWithinMs.count} of ${r.edits}) | ${r.crossings} |`);
  }
  lines.push('', '![hit ratio and origin load over the trace](offload.png)', '');
  return lines.join('\n');
}

let started = 0;

function write(result, file = outFile) {
  if (started) result.seconds = Math.round((Date.now() - started) / 1000);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  fs.writeFileSync(file.replace(/\.json$/, '.md'), markdown(result));
}

if (process.argv[2] === '--merge') {
  const [a, b] = process.argv.slice(3).map((f) => JSON.parse(fs.readFileSync(f, 'utf8')));
  const again = new Set(b.runs.map((r) => `${r.origin} ${r.contender}`));
  for (const r of b.runs) {
    if (a.requestsPerContender[r.origin] !== b.requestsPerContender[r.origin] || a.seed !== b.seed) {
      throw new Error(`${r.origin}: the runs were not made on the same trace`);
    }
  }
  a.runs = a.runs.map((r) => (again.has(`${r.origin} ${r.contender}`) ? b.runs.find((x) => x.origin === r.origin && x.contender === r.contender) : r));
  a.seconds += b.seconds;
  a.rerun = [...new Set([...(a.rerun ?? []), ...again])];
  write(a, path.join(root, 'bench-results/offload.json'));
  console.log('bench-results/offload.json and offload.md written (merged)');
  process.exit(0);
}

const cookiesFor = async (site) => Object.fromEntries(await Promise.all(site.members.map(async (m) => [m, await site.login(m)])));

started = Date.now();
const result = { when: new Date().toISOString(), seed: SEED, requestsPerContender: {}, pages: PAGES, concurrency: CONCURRENCY, outage: {}, runs: [] };
for (const kind of ORIGINS) {
  const site = kind === 'plone' ? await ploneSite() : await djangoSite();
  const requests = Number(process.env[`OFFLOAD_REQUESTS_${kind.toUpperCase()}`] ?? REQUESTS);
  const trace = generateTrace({ seed: SEED, requests, site });
  result.outage[kind] = trace.outage;
  result.requestsPerContender[kind] = requests;
  const proxy = await startCountingProxy(site.origin);
  try {
    for (const name of CONTENDERS) {
      const cookies = await cookiesFor(site);
      console.log(`${kind} · ${name}: ${requests} requests …`);
      const run = await replay(site, name, trace, proxy, cookies);
      console.log(`  ${run.originPer1000} origin requests / 1,000, hit ratio ${run.hitRatio}, outage ${run.outageAnswers} answers ${run.outageErrors} errors, edit-to-visible p50 ${run.editToVisibleMs.p50} ms, crossings ${run.crossings} (${run.seconds} s)`);
      result.runs.push(run);
      // Written after each contender, so a long run that is stopped keeps what it measured.
      write(result);
    }
  } finally {
    await site.pointPurgesAt(null);
    await proxy.stop();
  }
}
write(result);
console.log(`${path.relative(root, outFile)} and offload.md written (${result.seconds} s)`);
