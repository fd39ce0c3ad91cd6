// Starts the real stack for black-box tests: the demo origin (a real HTTP server on
// loopback) and the built worker in workerd through Miniflare, with real KV, Cache API and
// Durable Objects, served over real HTTP on loopback.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import fs from 'node:fs';
import { Miniflare } from 'miniflare';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Starts the demo origin on a free port; resolves to { url, stop }. */
export async function startOrigin() {
  const bin = path.join(root, 'target/release/demo-origin');
  if (!fs.existsSync(bin)) throw new Error(`${bin} is missing: run "make origin" first`);
  const child = spawn(bin, ['--port', '0', '--exit-on-stdin-close'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout });
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('demo origin did not start')), 10_000);
    lines.on('line', (line) => {
      const m = /listening on (http:\/\/\S+)/.exec(line);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    child.on('exit', (code) => reject(new Error(`demo origin exited with ${code}`)));
  });
  return {
    url,
    child,
    stop: async () => {
      child.stdin.end();
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r() : child.on('exit', r)));
    },
  };
}

/**
 * Builds the Miniflare options for the built worker in front of `originUrl`. The secrets are
 * bound as the worker reads them: `secret` → PURGE_SECRET, `adminSecret` → ADMIN_SECRET
 * (by default the same value as `secret`, so one value opens everything in tests that do not
 * care about scopes), `statsSecret` → STATS_SECRET (unset by default). null or undefined
 * leaves the variable unset; `bindings` may also set any of them.
 */
export function workerOptions({ originUrl, secret, adminSecret = secret, statsSecret, port = 0, persist = false, bindings = {} }) {
  const build = path.join(root, 'build');
  if (!fs.existsSync(path.join(build, 'index.js'))) throw new Error('build/index.js is missing: run "make build" first');
  const vars = { ORIGIN: originUrl ?? '', ADMIN_PREFIX: '/_rulecache' };
  const given = { PURGE_SECRET: secret, ADMIN_SECRET: adminSecret, STATS_SECRET: statsSecret };
  for (const [name, value] of Object.entries(given)) if (value !== undefined && value !== null) vars[name] = value;
  Object.assign(vars, bindings);
  const persistRoot = path.join(root, '.wrangler/state/v3');
  return {
    modules: true,
    scriptPath: path.join(build, 'index.js'),
    modulesRoot: build,
    modulesRules: [{ type: 'CompiledWasm', include: ['**/*.wasm'], fallthrough: true }],
    compatibilityDate: '2026-04-01',
    kvNamespaces: ['RULECACHE_KV'],
    r2Buckets: ['RULECACHE_R2'],
    durableObjects: {
      PURGE_LEDGER: { className: 'PurgeLedger', useSQLite: true },
      FLEET_STATS: { className: 'FleetStats', useSQLite: true },
    },
    bindings: vars,
    host: '127.0.0.1',
    port,
    ...(persist
      ? { kvPersist: path.join(persistRoot, 'kv'), cachePersist: path.join(persistRoot, 'cache'), durableObjectsPersist: path.join(persistRoot, 'do'), r2Persist: path.join(persistRoot, 'r2') }
      : {}),
  };
}

/**
 * Starts origin + worker. `secret` is the purge secret and, unless `adminSecret` says
 * otherwise (null: none), the admin secret too; `statsSecret` the read-only one. Returns
 * { workerUrl, originUrl, secret, adminSecret, statsSecret, mf, originHits(path),
 * originStats(path), origin(pathAndQuery, init), bump(path), override(path, params),
 * ledgerAppend(targets, soft), stop() }.
 */
export async function startStack({ secret = 'test-secret', adminSecret = secret, statsSecret, bindings = {}, originUrl: fixedOrigin } = {}) {
  const origin = fixedOrigin ? null : await startOrigin();
  const originUrl = fixedOrigin ?? origin.url;
  const mf = new Miniflare(workerOptions({ originUrl, secret, adminSecret, statsSecret, bindings }));
  const ready = await mf.ready;
  const workerUrl = ready.toString().replace(/\/$/, '');
  const control = (p, init) => fetch(`${originUrl}${p}`, init);
  const stack = {
    mf,
    workerUrl,
    originUrl,
    secret,
    adminSecret,
    statsSecret,
    async originStats(p) {
      const r = await control(`/__origin/hits?path=${encodeURIComponent(p)}`);
      return r.json();
    },
    async originHits(p) {
      return (await stack.originStats(p)).hits;
    },
    async bump(p) {
      await control(`/__origin/bump?path=${encodeURIComponent(p)}`, { method: 'POST' });
    },
    async override(p, params) {
      const q = new URLSearchParams({ path: p, ...params });
      await control(`/__origin/override?${q}`, { method: 'POST' });
    },
    /** Writes straight into the purge ledger, as a purge made at another location would. */
    async ledgerAppend(targets, soft = false) {
      const ns = await mf.getDurableObjectNamespace('PURGE_LEDGER');
      const stub = ns.get(ns.idFromName('global'));
      const r = await stub.fetch('https://ledger/append', { method: 'POST', body: JSON.stringify({ targets, soft, nonce: null }) });
      return r.json();
    },
    async stop() {
      await mf.dispose();
      if (origin) await origin.stop();
    },
  };
  return stack;
}

/** fetch through the worker with a path (or absolute URL). */
export function client(stack) {
  return (p, init = {}) => fetch(p.startsWith('http') ? p : `${stack.workerUrl}${p}`, { redirect: 'manual', ...init });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The Cache-Status field of a response ('' when absent). */
export const cacheStatus = (r) => r.headers.get('cache-status') ?? '';

/** Whether rulecache answered from storage. */
export const isHit = (r) => /^rulecache; hit\b/.test(cacheStatus(r));

/** GET `p` with `headers` through `get` (see `client`); the response and its text. */
export async function fetchText(get, p, headers = {}) {
  const r = await get(p, { headers });
  const body = await r.text();
  return { r, body };
}

/** A unique URL namespace under the origin's test surface. */
let counter = 0;
export function ns(name) {
  counter += 1;
  return `/t/${name}-${process.pid}-${counter}`;
}
