// The fleet's statistics, black box: two worker instances (two isolates, reporting as two
// locations) share the statistics' Durable Objects and the purge ledger. What each served is
// counted here from its answers, and the fleet figures the admin API and the metrics endpoint
// give are compared with the sum, once a flush interval has passed; `promtool check metrics`
// (Debian's prometheus package) checks the endpoint's output and a real Prometheus scrapes it;
// a purge's receipt says when each location applied it, and `rulecache purge --wait` names a
// location that stopped.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Miniflare } from 'miniflare';
import { startOrigin, workerOptions, ns, sleep, cacheStatus } from '../support/stack.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ADMIN = 'fleet-admin-secret-4d1c';
const PURGE = 'fleet-purge-secret-77b0';
const STATS = 'fleet-stats-secret-e913';
const FLUSH_MS = 500;
const acCookie = (user) => `__ac=${Buffer.from(`${user}:${user}`).toString('base64')}`;

let origin, mf, url, ams, fra;
before(async () => {
  origin = await startOrigin();
  const base = workerOptions({ originUrl: origin.url, secret: PURGE, adminSecret: ADMIN, statsSecret: STATS });
  const { host, port, bindings, durableObjects, ...shared } = base;
  const objects = Object.fromEntries(Object.entries(durableObjects).map(([k, v]) => [k, { ...v, scriptName: 'ams' }]));
  mf = new Miniflare({
    host,
    port,
    workers: [
      { ...shared, name: 'ams', durableObjects, bindings: { ...bindings, STATS_LOCATION: 'AMS', STATS_FLUSH_MS: String(FLUSH_MS) } },
      { ...shared, name: 'fra', durableObjects: objects, bindings: { ...bindings, STATS_LOCATION: 'FRA', STATS_FLUSH_MS: String(FLUSH_MS) } },
    ],
  });
  url = (await mf.ready).toString().replace(/\/$/, '');
  const a = (p, init) => fetch(`${url}${p}`, { redirect: 'manual', ...init });
  const b = await mf.getWorker('fra');
  const f = (p, init) => b.fetch(`${url}${p}`, { redirect: 'manual', ...init });
  ams = { name: 'AMS', send: a };
  fra = { name: 'FRA', send: f };
});
after(async () => {
  await mf?.dispose();
  await origin?.stop();
});

/** What the test saw, per location. */
const seen = new Map();
function count(loc, r, bodyBytes) {
  const s = seen.get(loc.name) ?? { requests: 0, hits: 0, misses: 0, bypass: 0, anonOnly: 0, bytesFromCache: 0 };
  const cs = cacheStatus(r);
  s.requests += 1;
  if (/^rulecache; hit\b/.test(cs)) { s.hits += 1; s.bytesFromCache += bodyBytes; }
  else if (/fwd=uri-miss/.test(cs)) s.misses += 1;
  else if (/fwd=bypass/.test(cs)) { s.bypass += 1; if (/detail=anon-only/.test(cs)) s.anonOnly += 1; }
  seen.set(loc.name, s);
}
async function send(loc, p, headers = {}) {
  const r = await loc.send(p, { headers });
  const body = Buffer.from(await r.arrayBuffer());
  count(loc, r, body.length);
  return r;
}
const sum = (k) => [...seen.values()].reduce((t, s) => t + s[k], 0);

async function adminJson(p, secret = ADMIN, loc = ams) {
  const r = await loc.send(`/_rulecache/api/${p}`, { headers: { authorization: `Bearer ${secret}` } });
  return { status: r.status, body: await r.json() };
}

/** Reads the fleet figures until they count every request the test sent (a request to each
 * instance after the flush interval carries what is pending), at most `rounds` intervals. */
async function settledFleet(rounds = 10) {
  let fleet;
  for (let i = 0; i < rounds; i += 1) {
    await sleep(FLUSH_MS * 2 + 100);
    await send(ams, '/');
    await send(fra, '/');
    await sleep(300);
    fleet = (await adminJson('stats/fleet')).body;
    if (fleet.requests === sum('requests')) return fleet;
  }
  return fleet;
}

test('the fleet figures equal the sum of what each instance served, bypass reasons apart from misses', async () => {
  for (const [loc, n] of [[ams, 4], [fra, 3]]) {
    for (let i = 0; i < n; i += 1) {
      const p = `${ns(`fleet-${loc.name}`)}?cc=max-age%3D600`;
      await send(loc, p);
      await send(loc, p);
      await send(loc, p);
    }
    // A logged-in visitor on an anonOnly view bypasses the cache.
    await send(loc, '/news', { cookie: acCookie('alice') });
  }
  const fleet = await settledFleet();
  assert.equal(fleet.requests, sum('requests'), 'every request served is counted once');
  assert.equal(fleet.totals.hits, sum('hits'));
  assert.equal(fleet.totals.misses, sum('misses'));
  assert.equal(fleet.totals.bypass, sum('bypass'));
  assert.equal(fleet.totals.bypassReasons['anon-only'], sum('anonOnly'));
  assert.equal(fleet.totals.bytesFromCache, sum('bytesFromCache'));
  assert.ok(fleet.totals.hits > 0 && fleet.totals.bypass > 0 && fleet.totals.misses > 0);
  for (const loc of [ams, fra]) {
    assert.equal(fleet.locations[loc.name]?.requests, seen.get(loc.name).requests, `${loc.name} counted apart`);
  }
  assert.ok(fleet.originLatencyMs.count >= sum('misses'), 'every origin answer timed');
  assert.ok(fleet.minutes.length >= 1 && fleet.minutes.reduce((t, m) => t + m.requests, 0) === fleet.requests);
});

test('the stats secret reads the metrics, promtool accepts them, and they agree with the fleet figures', async () => {
  const metrics = (headers) => ams.send('/_rulecache/metrics', { headers });
  assert.equal((await metrics({})).status, 401, 'no credential');
  assert.ok([401, 403].includes((await metrics({ authorization: `Bearer ${PURGE}` })).status), 'the purge secret reads nothing');
  const r = await metrics({ authorization: `Bearer ${STATS}` });
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  const text = await r.text();
  const promtool = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  assert.equal(promtool.error, undefined, 'promtool is installed (make tools-prometheus)');
  assert.equal(promtool.status, 0, `promtool check metrics: ${promtool.stdout}${promtool.stderr}`);
  const fleet = (await adminJson('stats/fleet', STATS)).body;
  const total = [...text.matchAll(/^rulecache_requests_total\{[^}]*\} (\d+)$/gm)].reduce((t, m) => t + Number(m[1]), 0);
  assert.equal(total, fleet.requests);
  const om = await (await metrics({ authorization: `Bearer ${STATS}`, accept: 'application/openmetrics-text; version=1.0.0' })).text();
  assert.ok(om.endsWith('# EOF\n') && om.includes('# TYPE rulecache_requests counter'));
});

test('rulecache stats prints the fleet figures, with the stats secret', async () => {
  const fleet = (await adminJson('stats/fleet', STATS)).body;
  const table = await cli(['stats', url], { RULECACHE_SECRET: STATS });
  assert.equal(table.status, 0, table.out);
  const all = table.out.split('\n').find((l) => l.startsWith('(all)'))?.split(/\s+/);
  assert.equal(Number(all?.[1]), fleet.requests, table.out);
  assert.equal(Number(all?.[2]), fleet.totals.hits, table.out);
  assert.match(table.out, /anon-only \d+/);
  assert.match(table.out, /locations: AMS \(\d+ requests, \d+ isolates\), FRA/);
  const json = await cli(['stats', url, '--json'], { RULECACHE_SECRET: STATS });
  assert.equal(JSON.parse(json.out).requests, fleet.requests);
  const refused = await cli(['stats', url], { RULECACHE_SECRET: PURGE });
  assert.equal(refused.status, 1, 'the purge secret reads no statistics');
});

async function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

test('a real Prometheus scrapes the worker with the stats secret', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rulecache-prometheus-'));
  const port = await freePort();
  const target = new URL(url).host;
  fs.writeFileSync(path.join(dir, 'prometheus.yml'), [
    'global:', '  scrape_interval: 1s', 'scrape_configs:', '  - job_name: rulecache',
    '    metrics_path: /_rulecache/metrics', '    authorization:', `      credentials: ${STATS}`,
    '    static_configs:', `      - targets: ['${target}']`, '',
  ].join('\n'));
  const prom = spawn('prometheus', [
    `--config.file=${path.join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
  ], { stdio: 'ignore' });
  try {
    const query = async (q) => {
      const r = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(q)}`);
      return (await r.json()).data?.result ?? [];
    };
    let requests = null;
    for (let i = 0; i < 60 && requests === null; i += 1) {
      await sleep(500);
      try {
        const up = await query('up{job="rulecache"}');
        const sumReq = await query('sum(rulecache_requests_total)');
        if (up[0]?.value?.[1] === '1' && sumReq.length) requests = Number(sumReq[0].value[1]);
      } catch { /* not listening yet */ }
    }
    assert.notEqual(requests, null, 'Prometheus scraped the worker (up == 1) and holds its samples');
    const fleet = (await adminJson('stats/fleet', STATS)).body;
    assert.equal(requests, fleet.requests, 'Prometheus holds the fleet figures');
  } finally {
    prom.kill('SIGTERM');
    await new Promise((r) => (prom.exitCode !== null ? r() : prom.on('exit', r)));
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/** Runs the command line tool; resolves to { status, out } while the event loop keeps running. */
function cli(args, env = {}) {
  const bin = path.join(root, 'target/debug/rulecache');
  if (!fs.existsSync(bin)) throw new Error(`${bin} is missing: run "cargo build -p rulecache-cli" first`);
  return new Promise((resolve) => {
    const child = spawn(bin, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    child.on('exit', (status) => resolve({ status, out }));
  });
}

/** Sends requests to `locs` every 100 ms until `done` settles (the traffic that carries their
 * ledger cursors to the fleet's figures). */
async function traffic(locs, done) {
  let over = false;
  done.finally(() => { over = true; });
  const p = `${ns('fleet-traffic')}?cc=max-age%3D600`;
  while (!over) {
    for (const loc of locs) await send(loc, p);
    await sleep(100);
  }
  return done;
}

test('a purge receipt says when each location applied it; purge --wait returns once all have', async () => {
  const started = Date.now();
  const [{ status, out }] = await Promise.all([
    traffic([ams, fra], cli(['purge', url, '--wait', '--timeout', '30', `${ns('receipt')}`], { RULECACHE_SECRET: PURGE })),
  ]);
  assert.equal(status, 0, out);
  assert.match(out, /applied everywhere: 2 active location\(s\)/);
  const id = /purge (\S+) recorded/.exec(out)?.[1];
  const { status: s, body: receipt } = await adminJson(`purges/${encodeURIComponent(id)}`, PURGE);
  assert.equal(s, 200, JSON.stringify(receipt));
  assert.equal(receipt.appliedEverywhere, true);
  assert.ok(receipt.recordedAt >= started - 1000);
  for (const name of ['AMS', 'FRA']) {
    const loc = receipt.locations.find((l) => l.location === name);
    assert.ok(loc?.appliedAt >= receipt.recordedAt, `${name} applied it after it was recorded: ${JSON.stringify(loc)}`);
  }
  assert.equal((await adminJson('purges/no-such-purge', PURGE)).status, 404);
  assert.ok([401, 403].includes((await adminJson(`purges/${encodeURIComponent(id)}`, STATS)).status), 'the stats secret reads no receipt');
});

test('purge --wait names a location that stopped answering within its timeout', async () => {
  // FRA reported a moment ago (active), then gets no more requests: it never reports the new purge.
  await traffic([ams, fra], sleep(1_500));
  const { status, out } = await traffic([ams], cli(['purge', url, '--wait', '--timeout', '6', `${ns('receipt-stopped')}`], { RULECACHE_SECRET: PURGE }));
  assert.equal(status, 3, out);
  assert.match(out, /not applied within 6 s at: FRA\n/);
});
