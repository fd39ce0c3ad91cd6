// Load benchmark: rulecache against plain workers on loopback in front of the demo origin,
// driven by a load generator (oha, else wrk). Each worker runs in the leanest runtime that has
// what it needs:
//   - bare workerd (a generated config, `workerd serve`) for the workers that need no Cache
//     API and no KV: the plain JS forwarder, the plain JS fixed response, the plain Rust
//     forwarder, and rulecache itself for the scenarios that touch neither (memory-tier hit,
//     no-store miss, bypass) — checked at start-up, left out if it does not run correctly.
//     caches.default throws there ("No Cache was configured"), so the two JS cache workers
//     below do not run in it;
//   - Miniflare's HTTP server (workerd inside, with Cache API, KV and Durable Objects) for
//     rulecache in every scenario, and every baseline again beside it, with two more: a
//     hand-written JS edge cache (cookie/Authorization bypass, caches.default match, put on a
//     cacheable miss) on every scenario, and a JS worker answering the same entry from
//     caches.default for the Cache API hit.
// Every row, printed or in the JSON, names its runtime; every ratio is against a baseline in
// the same runtime and run. Then: peak memory under load (rulecache with its inspector open,
// the memory tier filled, 1 MB and 10 MB bodies streaming; the plain JS forwarder beside it),
// peak memory under a flood of small distinct entries (the tier's count against the isolate's
// heap), cold start, the release wasm's size, and the goals of issue 17.
//
//   make bench-load            (builds the worker and the origin first)
//   node --experimental-websocket benches/load/run.mjs  (when both are built; Node 20 needs
//                              the flag for the inspector client, else the memory rows are
//                              left out)
//
// Each scenario's workers are measured in turn BENCH_ROUNDS times (default 3), the order
// reversed every other round; a row's req/s is its median round, a ratio the median of the
// rounds' ratios (two workers measured in the same round).
//
// Environment: BENCH_DURATION (seconds per worker and round, default 3), BENCH_WARMUP (default
// 1), BENCH_ROUNDS (default 3), BENCH_CONCURRENCY (default 32), BENCH_COLD_ROUNDS (default 7, after one uncounted round), BENCH_RUST_FORWARDER=0 to
// leave out the plain Rust forwarder baseline (built once with worker-pack, then reused),
// BENCH_WORKERD=0 to leave out the bare-workerd rows, BENCH_FLOOD_ENTRIES (default 40000) the
// size of the flood of small entries, BENCH_ONLY=flood to run that flood alone (its rows
// written into an existing bench-results/load.json).
//
// Prints a table and writes bench-results/load.json and bench-results/load.md (every row as
// Markdown tables); generated workerd configs go to target/bench-load/. Everything it starts
// it stops.
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import fs from 'node:fs';
import os from 'node:os';
import zlib from 'node:zlib';
import net from 'node:net';
import { Miniflare } from 'miniflare';
import { startOrigin, workerOptions } from '../../tests/support/stack.mjs';
import * as sameAnswer from './same-answer.mjs';
import { WORKERS } from './workers.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const here = path.dirname(fileURLToPath(import.meta.url));
const cargoBin = path.join(os.homedir(), '.cargo/bin');
process.env.PATH = `${cargoBin}:${process.env.PATH}`;
process.env.WRANGLER_SEND_METRICS ??= 'false';
process.env.CLOUDFLARE_CF_FETCH_ENABLED ??= 'false';

const DURATION = Number(process.env.BENCH_DURATION ?? 3);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 1);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const COLD_ROUNDS = Number(process.env.BENCH_COLD_ROUNDS ?? 7);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const WANT_RUST = process.env.BENCH_RUST_FORWARDER !== '0';
const WANT_WORKERD = process.env.BENCH_WORKERD !== '0';
const MF = 'miniflare';
const WD = 'workerd';
const COMPAT_DATE = '2026-04-01';
// base64("alice:alice"): the demo origin's logged-in user.
const ALICE = 'YWxpY2U6YWxpY2U=';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : NaN;
};
const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
const run = (cmd, args, opts = {}) => {
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...opts });
  return r.status === 0;
};

// ---------------------------------------------------------------------------------------
// The load generator
// ---------------------------------------------------------------------------------------

function ensureGenerator() {
  if (has('oha')) return 'oha';
  console.log('load generator: installing oha (cargo install oha --locked) …');
  if (run('cargo', ['install', 'oha', '--locked']) && has('oha')) return 'oha';
  console.log('load generator: oha unavailable, installing wrk from apt …');
  if (has('wrk') || (run('apt-get', ['update', '-qq']) && run('apt-get', ['install', '-y', '-qq', 'wrk']))) {
    if (has('wrk')) return 'wrk';
  }
  throw new Error('no load generator: install oha (cargo install oha --locked) or wrk');
}

function spawnCollect(cmd, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} exited ${code}: ${err || out}`))));
  });
}

/** Drives `url` for `seconds`; resolves to { rps, p50, p99 (ms), total, ok, errors }. */
async function drive(gen, url, headers, seconds) {
  const hdrs = Object.entries(headers);
  if (gen === 'oha') {
    // Keep-alive connections (oha's default), like wrk; -w lets requests in flight at the
    // deadline finish instead of resetting their connections.
    const args = ['-z', `${seconds}s`, '-w', '-c', String(CONCURRENCY), '--no-tui', '--output-format', 'json'];
    for (const [n, v] of hdrs) args.push('-H', `${n}: ${v}`);
    args.push(url);
    const j = JSON.parse(await spawnCollect('oha', args));
    const codes = j.statusCodeDistribution ?? {};
    const ok = Object.entries(codes).reduce((a, [c, n]) => a + (Number(c) < 400 ? n : 0), 0);
    const total = Object.values(codes).reduce((a, n) => a + n, 0);
    const errors = Object.entries(j.errorDistribution ?? {})
      .filter(([what]) => !/deadline/i.test(what))
      .reduce((a, [, n]) => a + n, 0);
    const pct = j.latencyPercentiles ?? {};
    return {
      rps: ok / seconds,
      p50: (pct.p50 ?? NaN) * 1000,
      p99: (pct.p99 ?? NaN) * 1000,
      total,
      ok,
      errors: errors + (total - ok),
    };
  }
  const args = ['-d', `${seconds}s`, '-c', String(CONCURRENCY), '-t', '1', '--latency'];
  for (const [n, v] of hdrs) args.push('-H', `${n}: ${v}`);
  args.push(url);
  const out = await spawnCollect('wrk', args);
  const num = (re) => Number((re.exec(out) ?? [])[1] ?? NaN);
  const ms = (re) => {
    const m = re.exec(out);
    if (!m) return NaN;
    const f = { us: 0.001, ms: 1, s: 1000 }[m[2]] ?? 1;
    return Number(m[1]) * f;
  };
  const total = num(/(\d+) requests in/);
  const bad = num(/Non-2xx or 3xx responses: (\d+)/) || 0;
  const sockErr = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = bad + (sockErr ? sockErr.slice(1).reduce((a, n) => a + Number(n), 0) : 0);
  return {
    rps: (total - bad) / seconds,
    p50: ms(/50%\s+([\d.]+)(us|ms|s)/),
    p99: ms(/99%\s+([\d.]+)(us|ms|s)/),
    total,
    ok: total - bad,
    errors,
  };
}

// ---------------------------------------------------------------------------------------
// Runtimes
// ---------------------------------------------------------------------------------------

const JS_FORWARDER = `export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    return fetch(new Request(env.ORIGIN + url.pathname + url.search, request));
  },
};`;

const JS_FIXED = `export default {
  async fetch() {
    return new Response('hello\\n', { headers: { 'content-type': 'text/plain' } });
  },
};`;

// A hand-written edge cache of the kind site owners put in front of a CMS today: bypass for a
// login cookie or Authorization, else answer from caches.default; on a miss fetch the origin
// and store the answer in the background when it is plainly cacheable.
const JS_EDGE_CACHE = `export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    const upstream = new Request(env.ORIGIN + url.pathname + url.search, request);
    const cookie = request.headers.get('cookie') || '';
    if (request.method !== 'GET' || request.headers.has('authorization') || /(^|;\\s*)__ac=/.test(cookie)) {
      return fetch(upstream);
    }
    const cache = caches.default;
    const hit = await cache.match(request);
    if (hit) return hit;
    const response = await fetch(upstream);
    const cc = response.headers.get('cache-control') || '';
    if (response.status === 200 && /(s-)?max-age=[1-9]/.test(cc) && !/no-store|private/.test(cc) && !response.headers.has('set-cookie')) {
      ctx.waitUntil(cache.put(request, response.clone()));
    }
    return response;
  },
};`;

// A worker that only answers from caches.default: the first request stores the origin's
// answer (once), every later one is a match returned as it is.
const JS_CACHE_HIT = `let stored = null;
export default {
  async fetch(request, env) {
    const hit = await caches.default.match(request);
    if (hit) return hit;
    const url = new URL(request.url);
    stored ??= fetch(env.ORIGIN + url.pathname + url.search).then((r) => caches.default.put(request, r));
    await stored;
    return (await caches.default.match(request)) ?? new Response('not stored', { status: 500 });
  },
};`;

function jsOptions(script, originUrl) {
  return {
    modules: true,
    script,
    compatibilityDate: COMPAT_DATE,
    bindings: { ORIGIN: originUrl },
    host: '127.0.0.1',
    port: 0,
  };
}

const rustDir = path.join(here, 'rust-forwarder');

/** The environment worker-pack runs in: the project's wasm-opt and esbuild unless set. */
function packEnv() {
  return {
    ...process.env,
    WASM_OPT_BIN: process.env.WASM_OPT_BIN ?? path.join(root, 'node_modules/.bin/wasm-opt'),
    ESBUILD_BIN: process.env.ESBUILD_BIN ?? path.join(root, 'node_modules/.bin/esbuild'),
  };
}

/** Builds the plain Rust forwarder once (worker-pack); false when that is not possible. */
function ensureRustForwarder() {
  const out = path.join(rustDir, 'build/index.js');
  if (fs.existsSync(out)) return true;
  if (!WANT_RUST) return false;
  const pack = path.join(root, 'target/debug/worker-pack');
  if (!fs.existsSync(pack)) {
    console.log('rust forwarder: worker-pack missing (make build makes it); skipped');
    return false;
  }
  console.log('rust forwarder: building with worker-pack (first run only) …');
  const env = { ...packEnv(), CARGO_TARGET_DIR: path.join(root, 'target/bench-rust-forwarder') };
  const ok = run(pack, ['--manifest-path', path.join(rustDir, 'Cargo.toml'), '--out', path.join(rustDir, 'build')], { cwd: root, env });
  if (!ok) console.log('rust forwarder: build failed; skipped');
  return ok && fs.existsSync(out);
}

function rustOptions(originUrl) {
  const build = path.join(rustDir, 'build');
  return {
    modules: true,
    scriptPath: path.join(build, 'index.js'),
    modulesRoot: build,
    modulesRules: [{ type: 'CompiledWasm', include: ['**/*.wasm'], fallthrough: true }],
    compatibilityDate: COMPAT_DATE,
    bindings: { ORIGIN: originUrl },
    host: '127.0.0.1',
    port: 0,
  };
}

async function serve(options) {
  const mf = new Miniflare(options);
  const url = (await mf.ready).toString().replace(/\/$/, '');
  return { runtime: MF, url, stop: () => mf.dispose() };
}

// Bare workerd: one generated config per worker, `workerd serve` on a free loopback port
// (the port it bound is read from its control descriptor), stopped by its own PID.

const WORKERD_BIN = path.join(root, 'node_modules/.bin/workerd');
const configDir = path.join(root, 'target/bench-load');
const capnpString = (s) => JSON.stringify(String(s));
/** The Durable Objects' storage directory of the generated config `id`. */
const doDiskOf = (id) => path.join(configDir, `${id}.do`);

/**
 * A workerd config serving one worker on 127.0.0.1 (port chosen by the system).
 * modules: [{ name, kind: 'esModule' | 'wasm', file }]; text: { NAME: value };
 * durableObjects: { BINDING: className } (SQLite storage on disk); v8Flags: V8's own flags for
 * the process (diagnostics only: a deployed worker cannot set them).
 */
function workerdConfig({ id, modules, text = {}, durableObjects = {}, v8Flags = [] }) {
  const mods = modules.map((m) => `    (name = ${capnpString(m.name)}, ${m.kind} = embed ${capnpString(path.relative(configDir, m.file))}),`);
  const binds = [
    ...Object.entries(text).map(([n, v]) => `    (name = ${capnpString(n)}, text = ${capnpString(v)}),`),
    ...Object.entries(durableObjects).map(([n, c]) => `    (name = ${capnpString(n)}, durableObjectNamespace = (className = ${capnpString(c)})),`),
  ];
  const classes = Object.values(durableObjects);
  const doLines = classes.length
    ? [
        `  durableObjectNamespaces = [`,
        ...classes.map((c) => `    (className = ${capnpString(c)}, uniqueKey = ${capnpString(`bench-${id}-${c}`)}, enableSql = true),`),
        `  ],`,
        // SQLite-backed objects need a disk (in-memory storage has no SQL API); emptied by
        // startWorkerd before each start.
        `  durableObjectStorage = (localDisk = "do-disk"),`,
      ]
    : [];
  const doDisk = classes.length ? [`    (name = "do-disk", disk = (path = ${capnpString(doDiskOf(id))}, writable = true)),`] : [];
  return [
    `# Generated by benches/load/run.mjs: ${id} in bare workerd.`,
    `using Workerd = import "/workerd/workerd.capnp";`,
    ``,
    `const config :Workerd.Config = (`,
    `  services = [`,
    `    (name = "main", worker = .worker),`,
    `    # Outbound fetch may reach loopback (the demo origin).`,
    `    (name = "internet", network = (allow = ["public", "private", "local"])),`,
    ...doDisk,
    `  ],`,
    `  sockets = [(name = "http", address = "127.0.0.1:0", http = (), service = "main")],`,
    ...(v8Flags.length ? [`  v8Flags = [${v8Flags.map(capnpString).join(', ')}],`] : []),
    `);`,
    ``,
    `const worker :Workerd.Worker = (`,
    `  modules = [`,
    ...mods,
    `  ],`,
    `  compatibilityDate = ${capnpString(COMPAT_DATE)},`,
    `  bindings = [`,
    ...binds,
    `  ],`,
    `  globalOutbound = "internet",`,
    ...doLines,
    `);`,
    ``,
  ].join('\n');
}

/** Writes `config` under target/bench-load/ and returns its path. */
function writeConfig(id, config) {
  fs.mkdirSync(configDir, { recursive: true });
  const file = path.join(configDir, `${id}.capnp`);
  fs.writeFileSync(file, config);
  return file;
}

/** Writes a module's source under target/bench-load/ and returns its path. */
function writeModule(name, source) {
  fs.mkdirSync(configDir, { recursive: true });
  const file = path.join(configDir, name);
  fs.writeFileSync(file, source);
  return file;
}

const workerdChildren = new Set();
process.on('exit', () => {
  for (const c of workerdChildren) c.kill('SIGKILL');
});

/**
 * Starts `workerd serve <configFile>`; resolves once it listens and answers
 * `probePath` (any HTTP status). Returns { url, pid, log(), stop(), t0, listenMs, answerMs }
 * (t0: `performance.now()` at the spawn; with `probePath` null it returns once listening, without
 * a request). `onLine` is given each line the process writes.
 */
async function startWorkerd(configFile, probePath = '/', extraArgs = [], onLine = null) {
  const disk = doDiskOf(path.basename(configFile, '.capnp'));
  fs.rmSync(disk, { recursive: true, force: true });
  fs.mkdirSync(disk, { recursive: true });
  const t0 = performance.now();
  const child = spawn(WORKERD_BIN, ['serve', configFile, '--control-fd=3', ...extraArgs], { stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
  workerdChildren.add(child);
  const lines = [];
  let logged = 0;
  // Each stream's lines, a line cut across two chunks joined again.
  const keep = () => {
    let rest = '';
    return (d) => {
      const parts = (rest + String(d)).split('\n');
      rest = parts.pop();
      for (const line of parts) {
        if (!line) continue;
        onLine?.(line);
        logged += 1;
        lines.push(line);
        if (lines.length > 200) lines.shift();
      }
    };
  };
  child.stdout.on('data', keep());
  child.stderr.on('data', keep());
  const exited = new Promise((r) => child.on('exit', (code, signal) => r({ code, signal })));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
    workerdChildren.delete(child);
  };
  try {
    const port = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('workerd did not start listening within 20 s')), 20_000);
      let buf = '';
      child.stdio[3].on('data', (d) => {
        buf += d;
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          try {
            const ev = JSON.parse(line);
            if (ev.event === 'listen' && ev.socket === 'http') {
              clearTimeout(timer);
              resolve(ev.port);
            }
          } catch {
            // not a control message
          }
        }
      });
      exited.then(({ code, signal }) => {
        clearTimeout(timer);
        reject(new Error(`workerd exited (${code ?? signal}) before listening: ${lines.slice(-20).join('\n')}`));
      });
    });
    const url = `http://127.0.0.1:${port}`;
    const tListen = performance.now();
    for (let i = 0; probePath !== null; i += 1) {
      try {
        const r = await fetch(url + probePath);
        await r.arrayBuffer();
        break;
      } catch (e) {
        if (i >= 100) throw new Error(`workerd on ${url} does not answer: ${e.message}`);
        await sleep(50);
      }
    }
    return {
      url,
      pid: child.pid,
      t0,
      listenMs: tListen - t0,
      answerMs: performance.now() - t0,
      log: () => ({ lines: [...lines], count: logged }),
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** The modules of a worker packed by worker-pack into `dir`. */
function wasmModules(dir) {
  return [
    { name: 'index.js', kind: 'esModule', file: path.join(dir, 'index.js') },
    { name: 'index_bg.wasm', kind: 'wasm', file: path.join(dir, 'index_bg.wasm') },
  ];
}

/** The bare-workerd config `id` of a plain JS worker of `source`, `ORIGIN` bound. */
function jsWorkerConfig(id, source, originUrl) {
  const modules = [{ name: `${id}.js`, kind: 'esModule', file: writeModule(`${id}.js`, source) }];
  return writeConfig(id, workerdConfig({ id, modules, text: { ORIGIN: originUrl } }));
}

/**
 * The bare-workerd config `id` of rulecache packed into `dir`, in front of `originUrl`: no
 * RULECACHE_KV binding (rulecache falls back to its bundled policy), the purge ledger Durable
 * Object (SQLite storage on disk, emptied before each start).
 */
function rulecacheConfig(id, originUrl, dir = path.join(root, 'build'), v8Flags = []) {
  return writeConfig(id, workerdConfig({
    id,
    v8Flags,
    modules: wasmModules(dir),
    text: { ORIGIN: originUrl, ADMIN_PREFIX: '/_rulecache', PURGE_SECRET: 'bench-secret', ADMIN_SECRET: 'bench-secret' },
    durableObjects: { PURGE_LEDGER: 'PurgeLedger' },
  }));
}

/** The three baselines and rulecache as bare-workerd configs (files written once). */
function workerdConfigs(originUrl, haveRust) {
  const configs = {
    jsForwarder: jsWorkerConfig('js-forwarder', JS_FORWARDER, originUrl),
    jsFixed: jsWorkerConfig('js-fixed', JS_FIXED, originUrl),
    rulecache: rulecacheConfig('rulecache', originUrl),
  };
  if (haveRust) {
    configs.rustForwarder = writeConfig('rust-forwarder', workerdConfig({ id: 'rust-forwarder', modules: wasmModules(path.join(rustDir, 'build')), text: { ORIGIN: originUrl } }));
  }
  return configs;
}

const CACHE_PROBE = `export default {
  async fetch() {
    const out = {};
    const key = 'http://cache-probe.invalid/entry';
    const steps = [
      ['match', () => caches.default.match(key)],
      ['put', () => caches.default.put(key, new Response('x', { headers: { 'cache-control': 'max-age=60' } }))],
      ['matchAfterPut', () => caches.default.match(key)],
      ['delete', () => caches.default.delete(key)],
    ];
    for (const [name, step] of steps) {
      try {
        const v = await step();
        out[name] = v === undefined ? 'resolves undefined' : v instanceof Response ? 'resolves a Response' : 'resolves ' + String(v);
      } catch (e) {
        out[name] = 'throws ' + String(e);
      }
    }
    return Response.json(out);
  },
};`;

/** What caches.default does in bare workerd without a cache service. */
async function probeWorkerdCache() {
  const file = writeConfig('cache-probe', workerdConfig({ id: 'cache-probe', modules: [{ name: 'cache-probe.js', kind: 'esModule', file: writeModule('cache-probe.js', CACHE_PROBE) }] }));
  const wd = await startWorkerd(file, '/');
  try {
    return await (await fetch(`${wd.url}/`)).json();
  } finally {
    await wd.stop();
  }
}

/**
 * The same-answer workers (see same-answer.mjs), one for each bare-workerd scenario, started
 * with `serve` once rulecache's answers are recorded and each is checked against them; a
 * worker that answers otherwise is left out, with a warning.
 */
async function startSameAnswers(originUrl, serve) {
  const scenarios = SCENARIOS.filter((sc) => leanest(sc) === WD);
  const recipes = await sameAnswer.record(originUrl, (o) => startWorkerd(rulecacheConfig('record-rulecache', o), '/'), scenarios);
  const out = {};
  for (const sc of scenarios) {
    const w = await serve(jsWorkerConfig(`js-same-answer-${sc.id}`, sameAnswer.source(recipes[sc.id]), originUrl));
    const problems = await sameAnswer.check(w.url, recipes[sc.id]);
    if (problems.length) {
      console.log(`  warning: ${sc.id}: the ${sameAnswer.NAME} worker answers otherwise than rulecache (${problems.join('; ')}): left out`);
      await w.stop();
      continue;
    }
    out[sc.id] = w;
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------------------

const SMALL = '/t/bench-small?cc=max-age%3D3600';
const LARGE = '/t/bench-large?bytes=300000&cc=max-age%3D3600';
const NOSTORE = '/t/bench-miss?cc=no-store';
const REVALIDATE = '/t/bench-reval?cc=max-age%3D0&etag=%22x%22';
const NEWS = '/news';

// expect: a test on the Cache-Status the worker sends once primed. needs: what rulecache
// uses on the measured path beyond the memory tier; a scenario that needs nothing also runs
// rulecache in bare workerd (no cache service, no KV).
const SCENARIOS = [
  { id: 'memory-hit', title: 'rulecache memory-tier hit', path: SMALL, headers: {}, needs: [], fixedBaseline: true, expect: (cs) => /; hit/.test(cs) },
  { id: 'cache-api-hit', title: 'rulecache Cache API hit (300 kB)', path: LARGE, headers: {}, needs: ['Cache API'], cacheApiHitBaseline: true, expect: (cs) => /; hit/.test(cs) },
  { id: 'miss', title: 'rulecache miss, forwarded (no-store)', path: NOSTORE, headers: {}, needs: [], expect: (cs) => !/; hit/.test(cs) && /fwd=/.test(cs) },
  { id: 'revalidate-304', title: 'rulecache stale, revalidated (304)', path: REVALIDATE, headers: {}, needs: [], expect: (cs) => /fwd=stale/.test(cs) && /fwd-status=304/.test(cs) },
  { id: 'splitview-anon-hit', title: 'rulecache split-view anonymous hit', path: NEWS, headers: {}, needs: ['Cache API'], fixedBaseline: true, expect: (cs) => /; hit/.test(cs) },
  { id: 'bypass-logged-in', title: 'rulecache bypass, logged in', path: NEWS, headers: { Cookie: `__ac=${ALICE}` }, needs: [], expect: (cs) => /fwd=bypass/.test(cs) },
];
const leanest = (sc) => (sc.needs.length ? MF : WD);

/** How many requests for `p` (path and query) the demo origin has answered. */
async function originHits(originUrl, p) {
  const r = await fetch(`${originUrl}/__origin/hits?path=${encodeURIComponent(p.split('?')[0])}`);
  return (await r.json()).hits;
}

/** Sends a few requests so the entry is stored; returns the last Cache-Status seen. */
async function prime(url, headers) {
  let cs = '';
  for (let i = 0; i < 3; i += 1) {
    const r = await fetch(url, { headers });
    await r.arrayBuffer();
    cs = r.headers.get('cache-status') ?? '';
    await sleep(50);
  }
  return cs;
}

/** Of one worker's rounds, the one with the median req/s (the lower middle of an even count). */
function medianRound(results) {
  const sorted = [...results].sort((a, b) => a.rps - b.rps);
  return sorted[(sorted.length - 1) >> 1];
}

async function measure(gen, runtime, label, url, headers) {
  await drive(gen, url, headers, WARMUP);
  const m = await drive(gen, url, headers, DURATION);
  process.stdout.write(`  ${runtime.padEnd(9)} ${label.padEnd(58)} ${m.rps.toFixed(0).padStart(7)} req/s  p50 ${m.p50.toFixed(2)} ms  p99 ${m.p99.toFixed(2)} ms${m.errors ? `  (${m.errors} errors)` : ''}\n`);
  return m;
}

/**
 * Whether rulecache runs correctly in bare workerd: each scenario that needs neither the
 * Cache API nor KV answers 200 with the Cache-Status it has under Miniflare, and the active
 * policy is the bundled one (there is no KV binding). Resolves to { ok, problems, policySource,
 * scenarios: [{ id, status, cacheStatus, asExpected }] }.
 */
async function checkRulecacheWorkerd(url) {
  const problems = [];
  const scenarios = [];
  let policySource = null;
  try {
    const r = await fetch(`${url}/_rulecache/api/policy`, { headers: { authorization: 'Bearer bench-secret' } });
    const j = r.status === 200 ? await r.json() : null;
    policySource = j?.active?.source ?? null;
    if (policySource !== 'bundled') problems.push(`policy endpoint: status ${r.status}, source ${policySource}`);
  } catch (e) {
    problems.push(`policy endpoint: ${e.message}`);
  }
  for (const sc of SCENARIOS.filter((s) => leanest(s) === WD)) {
    try {
      let status = 0;
      let cs = '';
      for (let i = 0; i < 3; i += 1) {
        const r = await fetch(url + sc.path, { headers: sc.headers });
        await r.arrayBuffer();
        status = r.status;
        cs = r.headers.get('cache-status') ?? '';
        await sleep(50);
      }
      const asExpected = status === 200 && sc.expect(cs);
      scenarios.push({ id: sc.id, status, cacheStatus: cs, asExpected });
      if (!asExpected) problems.push(`${sc.id}: status ${status}, Cache-Status ${cs || '(none)'}`);
    } catch (e) {
      scenarios.push({ id: sc.id, status: null, cacheStatus: null, asExpected: false });
      problems.push(`${sc.id}: ${e.message}`);
    }
  }
  return { ok: problems.length === 0, problems, policySource, scenarios };
}

// ---------------------------------------------------------------------------------------
// Peak memory under load
// ---------------------------------------------------------------------------------------

// The memory tier is filled first (FILL_ENTRIES entries of FILL_BYTES, more than its 16 MiB),
// and stays full for the scenarios after it: hits on a filled tier, then bodies of 1 MB and
// 10 MB streaming on misses and (Cache API) hits.
const FILL_ENTRIES = 100;
const FILL_BYTES = 200_000;
const fillPath = (i) => `/t/mem-fill-${i}?bytes=${FILL_BYTES}&cc=max-age%3D3600`;
const MEMORY_SCENARIOS = [
  { id: 'mem-tier-full-hit', title: `memory-tier hit, tier full (${FILL_ENTRIES} × 200 kB offered)`, path: fillPath(FILL_ENTRIES - 1), needs: [], expect: (cs) => /; hit/.test(cs) },
  { id: 'mem-miss-1MB', title: 'miss, 1 MB body streamed (no-store)', path: '/t/mem-miss-1m?bytes=1000000&cc=no-store', needs: [], expect: (cs) => /fwd=/.test(cs) },
  { id: 'mem-miss-10MB', title: 'miss, 10 MB body streamed (no-store)', path: '/t/mem-miss-10m?bytes=10000000&cc=no-store', needs: [], expect: (cs) => /fwd=/.test(cs) },
  { id: 'mem-hit-1MB', title: 'Cache API hit, 1 MB body streamed', path: '/t/mem-hit-1m?bytes=1000000&cc=max-age%3D3600', needs: ['Cache API'], expect: (cs) => /; hit/.test(cs) },
  { id: 'mem-hit-10MB', title: 'Cache API hit, 10 MB body streamed', path: '/t/mem-hit-10m?bytes=10000000&cc=max-age%3D3600', needs: ['Cache API'], expect: (cs) => /; hit/.test(cs) },
];
const ISOLATE_LIMIT = 128 * 1024 * 1024;

/** A free loopback port (bound, then released). */
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** A DevTools protocol session with the isolate behind `wsUrl`: { call(method, params), events, close() }. */
async function inspectorSession(wsUrl) {
  const ws = new WebSocket(wsUrl);
  let id = 0;
  const pending = new Map();
  const events = [];
  ws.onmessage = (e) => {
    const m = JSON.parse(e.data);
    if (m.id && pending.has(m.id)) {
      pending.get(m.id)(m);
      pending.delete(m.id);
    } else if (m.method) {
      events.push(m);
    }
  };
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = () => reject(new Error(`inspector ${wsUrl} did not open`));
  });
  const call = (method, params = {}) =>
    new Promise((resolve, reject) => {
      id += 1;
      const timer = setTimeout(() => reject(new Error(`inspector ${method} timed out`)), 10_000);
      pending.set(id, (m) => {
        clearTimeout(timer);
        if (m.error) reject(new Error(`${method}: ${m.error.message}`));
        else resolve(m.result);
      });
      ws.send(JSON.stringify({ id, method, params }));
    });
  return { call, events, close: () => ws.close() };
}

/** The inspector WebSocket of the worker that answers on `port` (`pick` chooses among the listed targets). */
async function inspectorTarget(port, pick) {
  for (let i = 0; i < 50; i += 1) {
    try {
      const list = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
      const t = list.find(pick);
      if (t) return { url: t.webSocketDebuggerUrl, listed: list.map((x) => x.id) };
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`no inspector target on port ${port}`);
}

/** The byte length of every WebAssembly.Memory in the isolate (wasm linear memory only grows). */
async function wasmMemoryBytes(session) {
  await session.call('Runtime.enable');
  for (let i = 0; i < 20 && !session.events.some((e) => e.method === 'Runtime.executionContextCreated'); i += 1) await sleep(50);
  const ctx = session.events.find((e) => e.method === 'Runtime.executionContextCreated')?.params.context.id;
  const proto = await session.call('Runtime.evaluate', { expression: 'WebAssembly.Memory.prototype', contextId: ctx });
  const all = await session.call('Runtime.queryObjects', { prototypeObjectId: proto.result.objectId });
  const sizes = await session.call('Runtime.callFunctionOn', {
    objectId: all.objects.objectId,
    functionDeclaration: 'function () { return this.map((m) => m.buffer.byteLength); }',
    returnByValue: true,
  });
  await session.call('Runtime.disable');
  return sizes.result.value.reduce((a, n) => a + n, 0);
}

/** VmHWM and VmRSS of process `pid`, in bytes (null where /proc cannot be read). */
function procMemory(pid) {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name) => Number((new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status) ?? [])[1]) * 1024;
    return { hwm: kb('VmHWM'), rss: kb('VmRSS') };
  } catch {
    return null;
  }
}

/** Resets the peak resident size (VmHWM) of `pid` to its current size; false when not allowed. */
function resetPeak(pid) {
  try {
    fs.writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** The PIDs of this process's workerd children. */
function workerdChildPids() {
  const pids = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const m = /^\d+ \((.*)\) \S+ (\d+)/.exec(stat);
      if (m && m[1] === 'workerd' && Number(m[2]) === process.pid) pids.push(Number(d));
    } catch {
      // gone
    }
  }
  return pids;
}

/**
 * Rulecache in `runtime` with its inspector open: { runtime, url, pid, inspectorUrl, stop }.
 * workerd: `workerd serve --inspector-addr`; Miniflare: its `inspectorPort` (the user worker).
 */
async function startMemoryTarget(runtime, origin, wdConfigs, worker = 'rulecache') {
  const port = await freePort();
  if (runtime === WD) {
    const config = worker === 'rulecache' ? wdConfigs.rulecache : wdConfigs.jsForwarder;
    const wd = await startWorkerd(config, '/', [`--inspector-addr=127.0.0.1:${port}`]);
    const target = await inspectorTarget(port, (t) => t.id === 'main');
    return { runtime, url: wd.url, pid: wd.pid, inspectorUrl: target.url, process: `the workerd process serving ${worker} alone`, stop: wd.stop };
  }
  const before = new Set(workerdChildPids());
  const mf = new Miniflare({ ...workerOptions({ originUrl: origin.url, secret: 'bench-secret' }), inspectorPort: port });
  const url = (await mf.ready).toString().replace(/\/$/, '');
  const pid = workerdChildPids().find((p) => !before.has(p)) ?? null;
  const target = await inspectorTarget(port, (t) => /core:user/.test(`${t.id} ${t.webSocketDebuggerUrl}`));
  return {
    runtime,
    url,
    pid,
    inspectorUrl: target.url,
    process: "Miniflare's workerd process (rulecache and Miniflare's own services: cache, KV and Durable Object storage in memory)",
    stop: () => mf.dispose(),
  };
}

/** Sends `paths` one after another (status checked); resolves to the last response's Cache-Status. */
async function sendAll(base, paths) {
  let cs = '';
  for (const p of paths) {
    const r = await fetch(base + p);
    await r.arrayBuffer();
    cs = r.headers.get('cache-status') ?? '';
  }
  return cs;
}

/** The memory tier's size as rulecache reports it (GET …/api/stats). */
async function memoryTierStats(base) {
  try {
    const r = await fetch(`${base}/_rulecache/api/stats`, { headers: { authorization: 'Bearer bench-secret' } });
    return r.status === 200 ? (await r.json()).memory : null;
  } catch {
    return null;
  }
}

/**
 * Drives `sc` against `target` while sampling the isolate's heap (Runtime.getHeapUsage, every
 * 100 ms) and the process's resident size; after the run reads the process's VmHWM (reset
 * before the run) and the isolate's wasm linear memory.
 */
async function measureMemory(gen, target, sc, worker = 'rulecache') {
  const session = await inspectorSession(target.inspectorUrl);
  try {
    const cs = await prime(target.url + sc.path, {});
    const peakReset = target.pid ? resetPeak(target.pid) : false;
    const peak = { jsUsed: 0, jsTotal: 0, backing: 0, jsPlusBacking: 0, rss: 0, samples: 0 };
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        try {
          const u = await session.call('Runtime.getHeapUsage');
          peak.jsUsed = Math.max(peak.jsUsed, u.usedSize);
          peak.jsTotal = Math.max(peak.jsTotal, u.totalSize);
          peak.backing = Math.max(peak.backing, u.backingStorageSize ?? 0);
          peak.jsPlusBacking = Math.max(peak.jsPlusBacking, u.usedSize + (u.backingStorageSize ?? 0));
          peak.samples += 1;
        } catch {
          // a sample lost under load
        }
        const pm = target.pid ? procMemory(target.pid) : null;
        if (pm) peak.rss = Math.max(peak.rss, pm.rss);
        await sleep(100);
      }
    })();
    const m = await measure(gen, target.runtime, `${worker === 'rulecache' ? 'rulecache' : WORKERS[worker]} ${sc.title}`, target.url + sc.path, {});
    sampling = false;
    await sampler;
    const proc = target.pid ? procMemory(target.pid) : null;
    // A fresh session for the heap walk, retried once: an isolate still draining the last
    // streams may not answer the first in time. Unread, the wasm memory counts as null.
    let wasm = null;
    for (let attempt = 0; attempt < 2 && wasm == null; attempt += 1) {
      const walk = await inspectorSession(target.inspectorUrl).catch(() => null);
      if (!walk) continue;
      wasm = await wasmMemoryBytes(walk).catch(() => null);
      walk.close();
    }
    const isolatePeak = peak.jsPlusBacking + (wasm ?? 0);
    return {
      scenario: sc.id,
      title: sc.title,
      worker,
      runtime: target.runtime,
      path: sc.path,
      cacheStatus: cs,
      asExpected: worker === 'rulecache' ? sc.expect(cs) : null,
      rps: m.rps,
      p50: m.p50,
      p99: m.p99,
      errors: m.errors,
      isolate: {
        peakBytes: isolatePeak,
        jsHeapUsedPeakBytes: peak.jsUsed,
        jsHeapTotalPeakBytes: peak.jsTotal,
        arrayBufferPeakBytes: peak.backing,
        wasmMemoryBytes: wasm,
        samples: peak.samples,
        method: 'inspector: max over Runtime.getHeapUsage samples (every 100 ms) of usedSize + backingStorageSize, plus the byte length of every WebAssembly.Memory after the run (Runtime.queryObjects; linear memory never shrinks)',
        fractionOfLimit: isolatePeak / ISOLATE_LIMIT,
      },
      process: target.pid
        ? { pid: target.pid, what: target.process, vmHwmBytes: proc?.hwm ?? null, vmHwmResetBeforeRun: peakReset, sampledRssPeakBytes: peak.rss || null }
        : null,
    };
  } finally {
    session.close();
  }
}

/** The memory scenarios in `runtime` (rulecache only), each row with its isolate's and process's peak. */
async function memoryRuns(gen, runtime, origin, wdConfigs, worker = 'rulecache') {
  const target = await startMemoryTarget(runtime, origin, wdConfigs, worker);
  const idle = target.pid ? procMemory(target.pid) : null;
  const out = [];
  try {
    const rc = worker === 'rulecache';
    if (rc) await sendAll(target.url, Array.from({ length: FILL_ENTRIES }, (_, i) => fillPath(i)));
    const tier = rc ? await memoryTierStats(target.url) : null;
    const afterFill = rc && target.pid ? procMemory(target.pid) : null;
    for (const sc of MEMORY_SCENARIOS) {
      if (sc.needs.length && runtime !== MF) continue;
      if (!rc && sc.id === 'mem-tier-full-hit') continue;
      const r = await measureMemory(gen, target, sc, worker);
      r.memoryTier = rc ? await memoryTierStats(target.url) : null;
      r.memoryTierAfterFill = tier;
      if (r.process) {
        r.process.idleRssBytes = idle?.rss ?? null;
        r.process.rssAfterFillBytes = afterFill?.rss ?? null;
      }
      out.push(r);
    }
  } finally {
    await target.stop();
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Peak memory under a flood of small entries
// ---------------------------------------------------------------------------------------

// FLOOD_ENTRIES distinct URLs with tiny bodies, each stored in the memory tier on its miss:
// many more than the tier's budget holds once each entry's whole cost is counted. What the
// tier counts (GET …/api/stats) is set beside what the isolate really holds: the growth of
// its wasm linear memory (where the tier lives) and the peak of its JS heap and ArrayBuffers
// (the runtime's objects for the last heads), from the isolate's inspector.
const FLOOD_ENTRIES = Number(process.env.BENCH_FLOOD_ENTRIES ?? 40_000);
const FLOOD_BYTES = 16;
const FLOOD_CONCURRENCY = 16;
const floodPath = (i) => `/t/flood-${i}?bytes=${FLOOD_BYTES}&cc=max-age%3D3600`;

/**
 * What the isolate holds now, after a full garbage collection (HeapProfiler.collectGarbage):
 * JS heap used plus ArrayBuffer backing stores, and its wasm memory.
 */
async function isolateHeap(s) {
  // workerd's inspector does not answer HeapProfiler.collectGarbage; a heap snapshot
  // collects garbage first (its chunks are dropped).
  await s.call('HeapProfiler.takeHeapSnapshot', { reportProgress: false });
  s.events.length = 0;
  const u = await s.call('Runtime.getHeapUsage');
  const wasm = await wasmMemoryBytes(s).catch(() => null);
  return { jsUsed: u.usedSize, backing: u.backingStorageSize ?? 0, wasm };
}

/** Rulecache in `runtime` under the flood: the tier's count against the isolate's heap. */
async function floodRun(runtime, origin, wdConfigs) {
  const target = await startMemoryTarget(runtime, origin, wdConfigs);
  try {
    await prime(target.url + floodPath('warm'), {});
    // One inspector session for every reading.
    const session = await inspectorSession(target.inspectorUrl);
    const before = await isolateHeap(session);
    const peak = { js: 0, samples: 0 };
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        try {
          const u = await session.call('Runtime.getHeapUsage');
          peak.js = Math.max(peak.js, u.usedSize + (u.backingStorageSize ?? 0));
          peak.samples += 1;
        } catch {
          // a sample lost under load
        }
        await sleep(100);
      }
    })();
    let next = 0;
    let errors = 0;
    let stored = 0;
    const t0 = performance.now();
    await Promise.all(Array.from({ length: FLOOD_CONCURRENCY }, async () => {
      while (next < FLOOD_ENTRIES) {
        const i = next;
        next += 1;
        try {
          const r = await fetch(target.url + floodPath(i));
          await r.arrayBuffer();
          if (r.status !== 200) errors += 1;
          if (/; stored/.test(r.headers.get('cache-status') ?? '')) stored += 1;
        } catch {
          errors += 1;
        }
      }
    }));
    const seconds = (performance.now() - t0) / 1000;
    sampling = false;
    await sampler;
    const tier = await memoryTierStats(target.url);
    const after = await isolateHeap(session);
    session.close();
    const wasmGrowth = after.wasm != null && before.wasm != null ? after.wasm - before.wasm : null;
    const jsGrowth = after.jsUsed + after.backing - (before.jsUsed + before.backing);
    const row = {
      runtime,
      entriesSent: FLOOD_ENTRIES,
      bodyBytes: FLOOD_BYTES,
      rps: FLOOD_ENTRIES / seconds,
      errors,
      storedAnswers: stored,
      memoryTier: tier,
      countedBytesPerEntry: tier?.entries ? tier.bytes / tier.entries : null,
      wasmMemoryBeforeBytes: before.wasm,
      wasmMemoryAfterBytes: after.wasm,
      wasmGrowthBytes: wasmGrowth,
      wasmGrowthPerHeldEntry: wasmGrowth != null && tier?.entries ? wasmGrowth / tier.entries : null,
      jsBeforeBytes: before.jsUsed + before.backing,
      jsPeakBytes: peak.samples ? peak.js : null,
      jsAfterBytes: after.jsUsed + after.backing,
      jsGrowthPerHeldEntry: tier?.entries ? jsGrowth / tier.entries : null,
      heldBytesPerEntry: wasmGrowth != null && tier?.entries ? (wasmGrowth + jsGrowth) / tier.entries : null,
      isolatePeakBytes: peak.samples ? peak.js + (after.wasm ?? 0) : null,
      fractionOfLimit: peak.samples ? (peak.js + (after.wasm ?? 0)) / ISOLATE_LIMIT : null,
      samples: peak.samples,
      method: 'inspector: wasm memory (every WebAssembly.Memory) before and after the flood (linear memory never shrinks, so after is its peak); JS heap used plus ArrayBuffer backing stores: before and after the flood each after a full garbage collection (HeapProfiler.collectGarbage: what is held), and the max of Runtime.getHeapUsage samples every 100 ms during it (garbage not yet collected included); the memory tier\'s entries and counted bytes from GET /_rulecache/api/stats after the flood',
    };
    const MiB = 1024 * 1024;
    console.log(`  ${runtime.padEnd(9)} ${FLOOD_ENTRIES} entries of ${FLOOD_BYTES} B at ${row.rps.toFixed(0)} req/s${errors ? ` (${errors} errors)` : ''}: the tier holds ${tier?.entries ?? '?'} counted at ${tier ? (tier.bytes / MiB).toFixed(1) : '?'} MiB (${row.countedBytesPerEntry?.toFixed(0) ?? '?'} B each) of ${tier ? (tier.capacityBytes / MiB).toFixed(0) : '?'} MiB; wasm memory ${before.wasm == null ? '?' : (before.wasm / MiB).toFixed(1)} → ${after.wasm == null ? '?' : (after.wasm / MiB).toFixed(1)} MiB (${row.wasmGrowthPerHeldEntry?.toFixed(0) ?? '?'} B per held entry); JS heap + ArrayBuffers ${(row.jsBeforeBytes / MiB).toFixed(1)} → ${(row.jsAfterBytes / MiB).toFixed(1)} MiB held (${row.jsGrowthPerHeldEntry?.toFixed(0) ?? '?'} B per held entry), ${peak.samples ? (peak.js / MiB).toFixed(1) : '?'} MiB at the peak with garbage (${peak.samples} samples); held in all ${row.heldBytesPerEntry?.toFixed(0) ?? '?'} B per entry against ${row.countedBytesPerEntry?.toFixed(0) ?? '?'} B counted; isolate peak ${row.isolatePeakBytes == null ? '?' : (row.isolatePeakBytes / MiB).toFixed(1)} MiB, ${row.fractionOfLimit == null ? '?' : (100 * row.fractionOfLimit).toFixed(0)} % of 128 MiB`);
    return row;
  } finally {
    await target.stop();
  }
}

// ---------------------------------------------------------------------------------------
// Cold start and size
// ---------------------------------------------------------------------------------------

function coldSummary(label, runtime, rounds) {
  const res = {
    label,
    runtime,
    rounds,
    readyMs: median(rounds.map((r) => r.ready)),
    firstResponseMs: median(rounds.map((r) => r.first)),
    firstRequestMs: median(rounds.map((r) => r.firstRequest)),
  };
  console.log(`  ${runtime.padEnd(9)} ${label.padEnd(40)} ready ${res.readyMs.toFixed(0)} ms, first response ${res.firstResponseMs.toFixed(0)} ms (first request alone ${res.firstRequestMs.toFixed(1)} ms), median of ${COLD_ROUNDS}`);
  return res;
}

/** New Miniflare instance → first response. */
async function coldStart(label, makeOptions, firstPath) {
  const rounds = [];
  // Round -1 is not counted: it reads the worker's files from disk for the first time.
  for (let i = -1; i < COLD_ROUNDS; i += 1) {
    const t0 = performance.now();
    const mf = new Miniflare(makeOptions());
    const url = (await mf.ready).toString().replace(/\/$/, '');
    const tReady = performance.now();
    const r = await fetch(url + firstPath);
    await r.arrayBuffer();
    const tFirst = performance.now();
    await mf.dispose();
    if (i >= 0) rounds.push({ ready: tReady - t0, first: tFirst - t0, firstRequest: tFirst - tReady });
  }
  return coldSummary(label, MF, rounds);
}

/** New workerd process → listening → first response (ready: its socket is listening). */
async function coldStartWorkerd(label, configFile, firstPath) {
  const rounds = [];
  // Round -1 is not counted (as above).
  for (let i = -1; i < COLD_ROUNDS; i += 1) {
    const t0 = performance.now();
    const wd = await startWorkerd(configFile, firstPath);
    const tFirst = t0 + wd.answerMs;
    if (i >= 0) rounds.push({ ready: wd.listenMs, first: wd.answerMs, firstRequest: tFirst - (t0 + wd.listenMs) });
    await wd.stop();
  }
  return coldSummary(label, WD, rounds);
}

function wasmSize(file) {
  const bytes = fs.readFileSync(file);
  return { raw: bytes.length, gzip: zlib.gzipSync(bytes, { level: 9 }).length };
}

// ---------------------------------------------------------------------------------------
// The Markdown report (bench-results/load.md)
// ---------------------------------------------------------------------------------------


/** Every row of one run as Markdown tables: throughput, cold start, peak memory. */
function markdownReport(report) {
  const MiB = 1024 * 1024;
  const f = (v, d = 0) => (v == null || Number.isNaN(v) ? '' : v.toFixed(d));
  const x = (v) => (v == null ? '' : `${v.toFixed(2)}×`);
  const rtName = (rt) => (rt === WD ? 'bare workerd' : 'Miniflare');
  const lines = [];
  lines.push(`One run of \`make bench-load\` (${report.when}; ${report.machine.cpus} CPUs shared by load generator, runtime and origin; ${report.generator}, ${report.concurrency} connections, ${report.warmupSeconds} s warm-up and ${report.durationSeconds} s per worker and round, ${report.rounds} rounds, the order reversed every other round; ${f(report.totalSeconds)} s in all). req/s, p50 and p99: the worker's round with the median req/s; "rounds": every round's req/s. Ratios: the median over the rounds of req/s over the baseline's req/s in the same round, on the same path and headers, in the same runtime.`);
  lines.push('');
  lines.push('| scenario | worker | runtime | req/s | rounds | p50 ms | p99 ms | ÷ JS forwarder | ÷ JS fixed response | ÷ JS edge cache | ÷ JS caches.default hit | ÷ Rust forwarder | ÷ JS same answer |');
  lines.push('|---|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of report.results) {
    const [kind, id] = r.scenario.includes(':') ? r.scenario.split(':') : [null, r.scenario];
    const scenario = kind ? (SCENARIOS.find((sc) => sc.id === id)?.title.replace(/^rulecache /, '') ?? id) : r.scenario === 'js-fixed' ? 'fixed response' : r.title.replace(/^rulecache /, '');
    const worker = kind ? `${WORKERS[kind] ?? kind}${r.jsEdgeCache ? ` (${r.jsEdgeCache})` : ''}` : r.scenario === 'js-fixed' ? WORKERS['js-fixed'] : '**rulecache**';
    const own = !kind && r.scenario !== 'js-fixed';
    // The same-answer worker's own row also gives its ratio to the fixed response.
    const fixedOf = own || kind === 'js-same-answer';
    lines.push(`| ${scenario} | ${worker} | ${rtName(r.runtime)} | ${f(r.rps)} | ${(r.roundsRps ?? []).map((v) => f(v)).join(' / ')} | ${f(r.p50, 1)} | ${f(r.p99, 1)} | ${x(r.ratio)} | ${fixedOf ? x(r.ratioToJsFixed) : ''} | ${own ? x(r.ratioToJsEdgeCache) : ''} | ${own ? x(r.ratioToJsCachesDefaultHit) : ''} | ${own ? x(r.ratioToRustForwarder) : ''} | ${own ? x(r.ratioToSameAnswer) : ''} |`);
  }
  lines.push('');
  lines.push(`Cold start (median of ${COLD_ROUNDS} rounds; "new runtime → first response" from starting the runtime to the first response's body, "first request alone" from the runtime being ready (listening) to that response):`);
  lines.push('');
  lines.push('| worker | runtime | new runtime → first response ms | ready ms | first request alone ms | first response ÷ JS forwarder | first request ÷ JS forwarder |');
  lines.push('|---|---|---:|---:|---:|---:|---:|');
  for (const c of report.coldStart) {
    const js = report.coldStart.find((o) => o.runtime === c.runtime && o.label === 'plain JS forwarder');
    lines.push(`| ${c.label === 'rulecache' ? '**rulecache**' : c.label} | ${rtName(c.runtime)} | ${f(c.firstResponseMs)} | ${f(c.readyMs)} | ${f(c.firstRequestMs, 1)} | ${js && c !== js ? x(c.firstResponseMs / js.firstResponseMs) : ''} | ${js && c !== js ? x(c.firstRequestMs / js.firstRequestMs) : ''} |`);
  }
  if (report.flood?.length) {
    lines.push('');
    lines.push(`Peak memory under a flood of small entries (${report.flood[0].entriesSent} distinct URLs of ${report.flood[0].bodyBytes} B, each stored in the memory tier on its miss; the tier's count from its stats, the isolate's wasm linear memory before and after, its JS heap and ArrayBuffers at their peak from the inspector):`);
    lines.push('');
    lines.push('| runtime | req/s | entries held | counted MiB | counted B an entry | held B an entry (wasm + JS) | wasm memory MiB before → after | JS heap + ArrayBuffers MiB held before → after (peak with garbage) | isolate peak MiB |');
    lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
    const m1 = (v) => (v == null ? '?' : (v / (1024 * 1024)).toFixed(1));
    for (const x of report.flood) {
      lines.push(`| ${rtName(x.runtime)} | ${x.rps.toFixed(0)} | ${x.memoryTier?.entries ?? '?'} | ${m1(x.memoryTier?.bytes)} | ${x.countedBytesPerEntry?.toFixed(0) ?? '?'} | ${x.heldBytesPerEntry?.toFixed(0) ?? '?'} (${x.wasmGrowthPerHeldEntry?.toFixed(0) ?? '?'} + ${x.jsGrowthPerHeldEntry?.toFixed(0) ?? '?'}) | ${m1(x.wasmMemoryBeforeBytes)} → ${m1(x.wasmMemoryAfterBytes)} | ${m1(x.jsBeforeBytes)} → ${m1(x.jsAfterBytes)} (${m1(x.jsPeakBytes)}) | ${m1(x.isolatePeakBytes)} |`);
    }
  }
  if (report.memory?.length) {
    lines.push('');
    lines.push(`Peak memory under load (rulecache, and the plain JS forwarder beside it on the same misses; rulecache's memory tier filled first with ${FILL_ENTRIES} entries of ${FILL_BYTES / 1000} kB, and full for every row after; isolate: the inspector's \`Runtime.getHeapUsage\` sampled every 100 ms, used JS heap plus ArrayBuffer backing stores at their peak, plus the wasm linear memory; process: VmHWM of the workerd process from /proc, reset before each row):`);
    lines.push('');
    lines.push('| scenario | worker | runtime | req/s | isolate peak MiB | of the 128 MiB limit | JS heap MiB | ArrayBuffers MiB | wasm memory MiB | memory tier MiB | workerd process VmHWM MiB (resident idle after start / after the fill) |');
    lines.push('|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const m of report.memory) {
      const proc = m.process?.vmHwmBytes ? `${f(m.process.vmHwmBytes / MiB, 1)} (${f(m.process.idleRssBytes / MiB, 1)}${m.process.rssAfterFillBytes ? ` / ${f(m.process.rssAfterFillBytes / MiB, 1)}` : ''})${m.runtime === MF ? ', with Miniflare\'s services' : ''}` : '';
      lines.push(`| ${m.title} | ${m.worker === 'rulecache' ? '**rulecache**' : WORKERS[m.worker]} | ${rtName(m.runtime)} | ${f(m.rps)} | ${f(m.isolate.peakBytes / MiB, 1)} | ${f(100 * m.isolate.fractionOfLimit)} % | ${f(m.isolate.jsHeapUsedPeakBytes / MiB, 1)} | ${f(m.isolate.arrayBufferPeakBytes / MiB, 1)} | ${m.isolate.wasmMemoryBytes == null ? 'unread' : f(m.isolate.wasmMemoryBytes / MiB, 1)} | ${m.memoryTier ? f(m.memoryTier.bytes / MiB, 1) : ''} | ${proc} |`);
    }
  }
  const w = report.wasm.rulecache;
  lines.push('');
  lines.push(`Release wasm: ${w.raw} B raw, ${w.gzip} B gzipped.`);
  lines.push('');
  lines.push(`| goal | runtime | this run | | ${WORKERS['js-same-answer']}, same ratio |`);
  lines.push('|---|---|---:|---|---:|');
  for (const b of report.budgets) {
    const v = b.value == null ? 'not measured' : b.unit === 'x' ? x(b.value) : b.unit === 'B' ? `${b.value} B` : `${f(b.value, 1)} ${b.unit}`;
    lines.push(`| ${b.budget.replace(/>=/g, '≥').replace(/<=/g, '≤').replace(/ x /g, '× ').replace(/->/g, '→')} | ${b.runtime ? rtName(b.runtime) : ''} | ${v} | ${b.met == null ? '' : b.met ? 'met' : '**missed**'} | ${x(b.sameAnswer)} |`);
  }
  lines.push('');
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------

/**
 * BENCH_ONLY=flood: the flood of small entries alone, its rows written into
 * bench-results/load.json (the other rows of an earlier run kept, the flood's own date beside).
 */
async function floodOnly() {
  const origin = await startOrigin();
  try {
    const haveWorkerd = WANT_WORKERD && fs.existsSync(WORKERD_BIN);
    const wdConfigs = haveWorkerd ? workerdConfigs(origin.url, false) : null;
    console.log(`peak memory under a flood of small entries (rulecache, ${FLOOD_ENTRIES} distinct URLs of ${FLOOD_BYTES} B, ${FLOOD_CONCURRENCY} at a time):`);
    const flood = [];
    for (const rt of [haveWorkerd ? WD : MF]) {
      try {
        flood.push({ ...(await floodRun(rt, origin, wdConfigs)), when: new Date().toISOString() });
      } catch (e) {
        console.log(`  ${rt}: the flood failed: ${e.message}`);
      }
    }
    const outDir = path.join(root, 'bench-results');
    fs.mkdirSync(outDir, { recursive: true });
    const file = path.join(outDir, 'load.json');
    let report = {};
    try {
      report = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch {
      report = { when: new Date().toISOString(), machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model ?? '', node: process.version } };
    }
    report.flood = flood;
    fs.writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
    console.log(`wrote the flood rows into ${path.relative(root, file)}`);
  } finally {
    await origin.stop();
  }
}

async function main() {
  if (process.env.BENCH_ONLY === 'flood') return floodOnly();
  const tStart = performance.now();
  const gen = ensureGenerator();
  const genVersion = spawnSync(gen, ['--version'], { encoding: 'utf8' }).stdout?.trim() ?? '';
  const haveRust = ensureRustForwarder();
  const miniflareVersion = JSON.parse(fs.readFileSync(path.join(root, 'node_modules/miniflare/package.json'), 'utf8')).version;
  const haveWorkerd = WANT_WORKERD && fs.existsSync(WORKERD_BIN);
  const workerdVersion = haveWorkerd ? spawnSync(WORKERD_BIN, ['--version'], { encoding: 'utf8' }).stdout?.trim() ?? '' : null;

  const origin = await startOrigin();
  const started = [];
  const stopAll = async () => {
    for (const s of started.reverse()) await s.stop().catch(() => {});
    started.length = 0;
    await origin.stop();
  };
  process.on('SIGINT', () => stopAll().finally(() => process.exit(130)));

  try {
    console.log(`load generator: ${genVersion}; ${CONCURRENCY} connections, ${WARMUP} s warm-up + ${DURATION} s per scenario`);
    console.log(`origin: ${origin.url}; ${os.cpus().length} CPUs shared by generator, runtime and origin`);

    // Miniflare: everything, rulecache with Cache API, KV and Durable Objects.
    const mf = { rc: null, jsFwd: null, jsFixed: null, rustFwd: null };
    mf.rc = await serve(workerOptions({ originUrl: origin.url, secret: 'bench-secret' }));
    started.push(mf.rc);
    mf.jsFwd = await serve(jsOptions(JS_FORWARDER, origin.url));
    started.push(mf.jsFwd);
    mf.jsFixed = await serve(jsOptions(JS_FIXED, origin.url));
    started.push(mf.jsFixed);
    // The JS edge cache and the caches.default worker need a Cache API: Miniflare only (in
    // bare workerd caches.default.match and put throw "No Cache was configured").
    mf.jsEdge = await serve(jsOptions(JS_EDGE_CACHE, origin.url));
    started.push(mf.jsEdge);
    mf.jsCacheHit = await serve(jsOptions(JS_CACHE_HIT, origin.url));
    started.push(mf.jsCacheHit);
    if (haveRust) {
      mf.rustFwd = await serve(rustOptions(origin.url));
      started.push(mf.rustFwd);
    }

    // Bare workerd: the baselines, and rulecache where it runs correctly without a cache
    // service and without KV.
    let wd = null;
    let wdConfigs = null;
    let cacheProbe = null;
    let rcCheck = null;
    if (haveWorkerd) {
      wdConfigs = workerdConfigs(origin.url, haveRust);
      wd = { rc: null, jsFwd: null, jsFixed: null, rustFwd: null };
      const serveWd = async (file) => {
        const s = await startWorkerd(file, '/');
        const h = { runtime: WD, ...s };
        started.push(h);
        return h;
      };
      cacheProbe = await probeWorkerdCache();
      wd.jsFwd = await serveWd(wdConfigs.jsForwarder);
      wd.jsFixed = await serveWd(wdConfigs.jsFixed);
      if (haveRust) wd.rustFwd = await serveWd(wdConfigs.rustForwarder);
      try {
        wd.rc = await serveWd(wdConfigs.rulecache);
        rcCheck = await checkRulecacheWorkerd(wd.rc.url);
      } catch (e) {
        rcCheck = { ok: false, problems: [`did not start: ${e.message}`], policySource: null, scenarios: [] };
      }
      if (rcCheck.ok) wd.same = await startSameAnswers(origin.url, serveWd);
      if (!rcCheck.ok && wd.rc) {
        const { lines, count } = wd.rc.log();
        rcCheck.log = { lines: count, distinct: [...new Set(lines)].slice(-20) };
        await wd.rc.stop();
        started.splice(started.indexOf(wd.rc), 1);
        wd.rc = null;
      }
    }

    const wdScenarios = SCENARIOS.filter((sc) => leanest(sc) === WD).map((sc) => sc.id);
    const describeCache = (p) => (p ? Object.entries(p).map(([k, v]) => `${k} ${v}`).join('; ') : 'not probed');
    console.log('\nruntimes (the leanest that has what each worker needs):');
    if (wd) {
      console.log(`  ${WD.padEnd(9)} bare workerd (${workerdVersion}; generated configs in ${path.relative(root, configDir)}/, \`workerd serve <config>\`, no cache service, no KV):`);
      console.log(`            the plain JS forwarder, the plain JS fixed response${haveRust ? ', the plain Rust forwarder' : ''} (they need no Cache API, KV or Durable Objects)`);
      if (wd.rc) {
        console.log(`            and rulecache for ${wdScenarios.join(', ')} (needing neither Cache API nor KV): no RULECACHE_KV binding (bundled policy: checked, source "${rcCheck.policySource}"), PURGE_LEDGER in memory`);
      } else {
        console.log(`            rulecache does NOT run correctly in bare workerd, its bare-workerd rows are left out: ${rcCheck.problems.join('; ')}`);
      }
      console.log(`            caches.default there: ${describeCache(cacheProbe)}`);
    } else {
      console.log(`  ${WD.padEnd(9)} not used (${WANT_WORKERD ? `${path.relative(root, WORKERD_BIN)} missing` : 'BENCH_WORKERD=0'})`);
    }
    console.log(`  ${MF.padEnd(9)} Miniflare ${miniflareVersion} HTTP server (workerd inside, Cache API, KV and Durable Objects): rulecache for every scenario (it needs Cache API, KV`);
    console.log(`            and Durable Objects), and every baseline again beside it: the budgets compare rows of this runtime only (like for like)`);
    console.log('  scenario needs (rulecache):');
    for (const sc of SCENARIOS) {
      const where = leanest(sc) === WD && wd?.rc ? `${WD} and ${MF}` : MF;
      console.log(`    ${sc.id.padEnd(20)} ${sc.needs.length ? sc.needs.join(', ') : 'memory tier only'} → ${where}`);
    }
    console.log('');

    const servers = { [MF]: mf, ...(wd ? { [WD]: wd } : {}) };
    const runtimes = Object.keys(servers);
    const rows = [];
    const row = (id, rt) => rows.find((r) => r.scenario === id && r.runtime === rt);
    const hdr = (sc) => `${sc.path}${sc.headers.Cookie ? ' (cookie)' : ''}`;
    console.log('throughput:');
    for (const rt of runtimes) {
      const fixed = await measure(gen, rt, 'plain JS worker, fixed response', `${servers[rt].jsFixed.url}/hello`, {});
      rows.push({ scenario: 'js-fixed', title: 'plain JS worker, fixed response', runtime: rt, ...fixed, baseline: null, ratio: null });
    }

    for (const sc of SCENARIOS) {
      for (const rt of runtimes) {
        const s = servers[rt];
        const runRc = s.rc && (rt === MF || leanest(sc) === WD);
        let cs = '';
        let asExpected = null;
        if (runRc) {
          cs = await prime(s.rc.url + sc.path, sc.headers);
          asExpected = sc.expect(cs);
          if (!asExpected) console.log(`  warning: ${rt} ${sc.id}: unexpected Cache-Status after priming: ${cs || '(none)'}`);
        }
        // Baselines only where rulecache runs the scenario: every ratio is within one runtime.
        if (!runRc) continue;
        // The workers of this row, each primed once; then measured in turn ROUNDS times, the
        // order reversed every other round, so that a drift of the machine falls on all alike.
        const workers = [{ key: 'base', label: `plain JS forwarder  ${hdr(sc)}`, url: s.jsFwd.url + sc.path }];
        if (s.rustFwd) workers.push({ key: 'rust', label: `plain Rust forwarder ${hdr(sc)}`, url: s.rustFwd.url + sc.path });
        let did = null;
        if (s.jsEdge) {
          // What the JS edge cache does on this URL: answered from its cache, or forwarded.
          const before = await originHits(origin.url, sc.path);
          await prime(s.jsEdge.url + sc.path, sc.headers);
          const fromOrigin = (await originHits(origin.url, sc.path)) - before;
          did = /__ac=/.test(sc.headers.Cookie ?? '') ? 'bypass' : fromOrigin >= 3 ? 'forwarded' : 'hit';
          workers.push({ key: 'edge', label: `plain JS edge cache  ${hdr(sc)} (${did})`, url: s.jsEdge.url + sc.path });
        }
        if (s.jsCacheHit && sc.cacheApiHitBaseline) {
          await prime(s.jsCacheHit.url + sc.path, sc.headers);
          workers.push({ key: 'cacheHit', label: `plain JS caches.default hit ${hdr(sc)}`, url: s.jsCacheHit.url + sc.path });
        }
        if (s.same?.[sc.id]) workers.push({ key: 'same', label: `${sameAnswer.NAME} ${hdr(sc)}`, url: s.same[sc.id].url + sc.path });
        if (sc.fixedBaseline) workers.push({ key: 'fixed', label: 'plain JS worker, fixed response', url: `${s.jsFixed.url}/hello`, headers: {} });
        workers.push({ key: 'rc', label: sc.title, url: s.rc.url + sc.path });
        const rounds = Object.fromEntries(workers.map((w) => [w.key, []]));
        for (let round = 0; round < ROUNDS; round += 1) {
          if (ROUNDS > 1) console.log(`  round ${round + 1} of ${ROUNDS}`);
          for (const w of round % 2 ? [...workers].reverse() : workers) {
            rounds[w.key].push(await measure(gen, rt, w.label, w.url, w.headers ?? sc.headers));
          }
        }
        const csAfter = await prime(s.rc.url + sc.path, sc.headers);
        // A worker's row: the round with its median req/s (every round's req/s beside it); a
        // ratio: the median of the rounds' ratios, each of two workers measured in one round.
        const result = (key) => (rounds[key] ? { ...medianRound(rounds[key]), roundsRps: rounds[key].map((m) => m.rps) } : null);
        const ratio = (a, b) => (rounds[a] && rounds[b] ? median(rounds[a].map((m, i) => m.rps / rounds[b][i].rps)) : null);
        const base = result('base');
        rows.push({ scenario: `js-forwarder:${sc.id}`, title: `plain JS forwarder (${sc.id})`, runtime: rt, path: sc.path, ...base, baseline: null, ratio: null });
        if (rounds.rust) {
          rows.push({ scenario: `rust-forwarder:${sc.id}`, title: `plain Rust forwarder (${sc.id})`, runtime: rt, path: sc.path, ...result('rust'), baseline: `js-forwarder:${sc.id}`, baselineRuntime: rt, ratio: ratio('rust', 'base') });
        }
        if (rounds.edge) {
          rows.push({ scenario: `js-edge-cache:${sc.id}`, title: `plain JS edge cache (${sc.id})`, runtime: rt, path: sc.path, jsEdgeCache: did, ...result('edge'), baseline: `js-forwarder:${sc.id}`, baselineRuntime: rt, ratio: ratio('edge', 'base') });
        }
        if (rounds.cacheHit) {
          rows.push({ scenario: `js-caches-default-hit:${sc.id}`, title: `plain JS caches.default hit (${sc.id})`, runtime: rt, path: sc.path, ...result('cacheHit'), baseline: `js-forwarder:${sc.id}`, baselineRuntime: rt, ratio: ratio('cacheHit', 'base') });
        }
        if (rounds.same) {
          rows.push({ scenario: `js-same-answer:${sc.id}`, title: `${sameAnswer.NAME} (${sc.id})`, runtime: rt, path: sc.path, ...result('same'), baseline: `js-forwarder:${sc.id}`, baselineRuntime: rt, ratio: ratio('same', 'base'), ratioToJsFixed: ratio('same', 'fixed') });
        }
        rows.push({
          scenario: sc.id,
          title: sc.title,
          runtime: rt,
          needs: sc.needs,
          path: sc.path,
          cacheStatus: cs,
          cacheStatusAfter: csAfter,
          asExpected,
          ...result('rc'),
          baseline: `js-forwarder:${sc.id}`,
          baselineRuntime: rt,
          ratio: ratio('rc', 'base'),
          ratioToJsFixed: ratio('rc', 'fixed'),
          ratioToJsEdgeCache: ratio('rc', 'edge'),
          ratioToJsCachesDefaultHit: ratio('rc', 'cacheHit'),
          ratioToRustForwarder: ratio('rc', 'rust'),
          ratioToSameAnswer: ratio('rc', 'same'),
        });
      }
    }

    const MiB = 1024 * 1024;
    const memory = [];
    console.log(`\npeak memory under load (rulecache, the memory tier filled first with ${FILL_ENTRIES} × ${FILL_BYTES / 1000} kB; isolate from its inspector, process from /proc/PID/status):`);
    if (typeof WebSocket === 'undefined') {
      console.log('  skipped: the inspector client needs WebSocket (node --experimental-websocket on Node 20; make bench-load passes it)');
    } else {
      // The plain JS forwarder's misses in bare workerd beside rulecache's: what the runtime
      // itself holds while the same bodies stream through it.
      const runs = [...(wd?.rc ? [[WD, 'rulecache'], [WD, 'js-forwarder']] : []), [MF, 'rulecache']];
      for (const [rt, worker] of runs) {
        try {
          memory.push(...(await memoryRuns(gen, rt, origin, wdConfigs, worker)));
        } catch (e) {
          console.log(`  ${rt}: ${worker} memory runs failed: ${e.message}`);
        }
      }
      for (const r of memory) {
        const proc = r.process?.vmHwmBytes ? `; process VmHWM ${(r.process.vmHwmBytes / MiB).toFixed(1)} MiB (resident ${(r.process.idleRssBytes / MiB).toFixed(1)} MiB idle after start${r.process.rssAfterFillBytes ? `, ${(r.process.rssAfterFillBytes / MiB).toFixed(1)} MiB after the fill` : ''})` : '';
        const tier = r.memoryTier ? `; memory tier ${(r.memoryTier.bytes / MiB).toFixed(1)} MiB in ${r.memoryTier.entries} entries` : '';
        console.log(`  ${r.runtime.padEnd(9)} ${(r.worker === 'rulecache' ? '' : `${WORKERS[r.worker]}: `) + r.scenario.padEnd(18)} isolate peak ${(r.isolate.peakBytes / MiB).toFixed(1)} MiB (${(100 * r.isolate.fractionOfLimit).toFixed(0)} % of 128 MiB: JS heap ${(r.isolate.jsHeapUsedPeakBytes / MiB).toFixed(1)} + ArrayBuffers ${(r.isolate.arrayBufferPeakBytes / MiB).toFixed(1)} + wasm memory ${r.isolate.wasmMemoryBytes == null ? 'unread' : (r.isolate.wasmMemoryBytes / MiB).toFixed(1)})${proc}${tier}${r.asExpected === false ? ` (unexpected Cache-Status ${r.cacheStatus})` : ''}`);
      }
    }

    const flood = [];
    console.log(`\npeak memory under a flood of small entries (rulecache, ${FLOOD_ENTRIES} distinct URLs of ${FLOOD_BYTES} B, ${FLOOD_CONCURRENCY} at a time):`);
    if (typeof WebSocket === 'undefined') {
      console.log('  skipped: the inspector client needs WebSocket (node --experimental-websocket on Node 20; make bench-load passes it)');
    } else {
      // The tier and what it holds are the runtime's alike; bare workerd sends the flood
      // ten times as fast as Miniflare (whose cache service stores every entry too).
      for (const rt of [wd?.rc ? WD : MF]) {
        try {
          flood.push(await floodRun(rt, origin, wdConfigs));
        } catch (e) {
          console.log(`  ${rt}: the flood failed: ${e.message}`);
        }
      }
    }

    console.log('\ncold start (new runtime → first response):');
    const cold = [];
    cold.push(await coldStart('rulecache', () => workerOptions({ originUrl: origin.url, secret: 'bench-secret' }), SMALL));
    cold.push(await coldStart('plain JS forwarder', () => jsOptions(JS_FORWARDER, origin.url), SMALL));
    cold.push(await coldStart('plain JS fixed response', () => jsOptions(JS_FIXED, origin.url), '/hello'));
    if (mf.rustFwd) cold.push(await coldStart('plain Rust forwarder', () => rustOptions(origin.url), SMALL));
    if (wd) {
      if (wd.rc) cold.push(await coldStartWorkerd('rulecache', wdConfigs.rulecache, SMALL));
      cold.push(await coldStartWorkerd('plain JS forwarder', wdConfigs.jsForwarder, SMALL));
      cold.push(await coldStartWorkerd('plain JS fixed response', wdConfigs.jsFixed, '/hello'));
      if (wd.rustFwd) cold.push(await coldStartWorkerd('plain Rust forwarder', wdConfigs.rustForwarder, SMALL));
    }

    const size = wasmSize(path.join(root, 'build/index_bg.wasm'));
    const rustSize = haveRust ? wasmSize(path.join(rustDir, 'build/index_bg.wasm')) : null;

    // The table
    const pad = (s, n) => String(s).padEnd(n);
    const lpad = (s, n) => String(s).padStart(n);
    const x = (v) => (v == null ? '' : `${v.toFixed(2)}x`);
    const ratioCols = [
      ['vs JS fwd', 'ratio'],
      ['vs fixed', 'ratioToJsFixed'],
      ['vs JS edge', 'ratioToJsEdgeCache'],
      ['vs c.d hit', 'ratioToJsCachesDefaultHit'],
      ['vs Rust fwd', 'ratioToRustForwarder'],
      ['vs same ans', 'ratioToSameAnswer'],
    ];
    console.log(`\n${pad('scenario', 44)} ${pad('runtime', 10)} ${lpad('req/s', 8)} ${lpad('p50 ms', 8)} ${lpad('p99 ms', 8)} ${lpad('errors', 7)} ${ratioCols.map(([h]) => lpad(h, 11)).join(' ')}`);
    for (const r of rows) {
      console.log(`${pad(r.scenario, 44)} ${pad(r.runtime, 10)} ${lpad(r.rps.toFixed(0), 8)} ${lpad(r.p50.toFixed(2), 8)} ${lpad(r.p99.toFixed(2), 8)} ${lpad(r.errors, 7)} ${ratioCols.map(([, k]) => lpad(x(r[k]), 11)).join(' ')}`);
    }
    console.log('(ratios: req/s of each rulecache scenario over a baseline on the same path and headers, in the same runtime, same run: "vs JS fwd" the plain JS forwarder (for a baseline row: that baseline over the JS forwarder), "vs fixed" the plain JS fixed response (small memory-tier hits), "vs JS edge" the hand-written JS edge cache, "vs c.d hit" the plain JS worker answering the same entry from caches.default (Cache API hit), "vs Rust fwd" the plain Rust forwarder, "vs same ans" the plain JS worker giving rulecache\'s answer with its decisions made in advance)');

    const KiB = 1024;
    // The goals (issue 17's table, and the JS edge cache: beat it on hits, match it on misses),
    // each a ratio within one runtime and this run; a goal whose rows were not measured is
    // reported as such.
    const coldOf = (label, rt) => cold.find((c) => c.label === label && c.runtime === rt);
    const goal = (text, runtime, value, ok, unit = 'x', same = null) => ({ budget: text, runtime, value: value ?? null, met: value == null ? null : ok(value), unit, sameAnswer: same ?? null });
    // The same ratio for the worker that gives rulecache's answer with its decisions made in
    // advance: the most any worker giving that answer gets from the runtime.
    const sameOf = (id, key) => row(`js-same-answer:${id}`, WD)?.[key];
    const rcMemory = memory.filter((m) => m.worker === 'rulecache');
    const maxIsolate = rcMemory.length ? Math.max(...rcMemory.map((m) => m.isolate.peakBytes)) : null;
    const rcCold = coldOf('rulecache', WD);
    const jsCold = coldOf('plain JS forwarder', WD);
    const budgets = [
      goal('memory-tier hit >= 0.70 x the plain JS fixed response', WD, row('memory-hit', WD)?.ratioToJsFixed, (v) => v >= 0.7, 'x', sameOf('memory-hit', 'ratioToJsFixed')),
      goal('miss >= 0.85 x the plain JS forwarder', WD, row('miss', WD)?.ratio, (v) => v >= 0.85, 'x', sameOf('miss', 'ratio')),
      goal('bypass >= 0.85 x the plain JS forwarder', WD, row('bypass-logged-in', WD)?.ratio, (v) => v >= 0.85, 'x', sameOf('bypass-logged-in', 'ratio')),
      goal('stale, revalidated (304) >= 0.95 x the plain JS forwarder', MF, row('revalidate-304', MF)?.ratio, (v) => v >= 0.95),
      goal('Cache API hit >= 1.0 x the plain JS caches.default hit', MF, row('cache-api-hit', MF)?.ratioToJsCachesDefaultHit, (v) => v >= 1),
      goal('memory-tier hit >= 1.0 x the plain JS edge cache', MF, row('memory-hit', MF)?.ratioToJsEdgeCache, (v) => v >= 1),
      goal('Cache API hit >= 1.0 x the plain JS edge cache', MF, row('cache-api-hit', MF)?.ratioToJsEdgeCache, (v) => v >= 1),
      goal('miss >= 0.95 x the plain JS edge cache', MF, row('miss', MF)?.ratioToJsEdgeCache, (v) => v >= 0.95),
      goal('bypass >= 0.95 x the plain JS edge cache', MF, row('bypass-logged-in', MF)?.ratioToJsEdgeCache, (v) => v >= 0.95),
      goal('cold start, new runtime -> first response <= 1.5 x the plain JS forwarder', WD, rcCold && jsCold ? rcCold.firstResponseMs / jsCold.firstResponseMs : null, (v) => v <= 1.5),
      goal('cold start, first request alone <= 15 ms', WD, rcCold?.firstRequestMs, (v) => v <= 15, 'ms'),
      goal('isolate peak memory under load <= 64 MiB (half the 128 MiB limit)', null, maxIsolate == null ? null : maxIsolate / MiB, (v) => v <= 64, 'MiB'),
      goal('release wasm <= 600 KiB raw', null, size.raw, (v) => v <= 600 * KiB, 'B'),
      goal('release wasm <= 250 KiB gzipped', null, size.gzip, (v) => v <= 250 * KiB, 'B'),
    ];
    console.log(`\nrelease wasm: ${size.raw} bytes raw (${(size.raw / KiB).toFixed(0)} KiB), ${size.gzip} bytes gzipped (${(size.gzip / KiB).toFixed(0)} KiB)`);
    if (rustSize) console.log(`plain Rust forwarder wasm: ${rustSize.raw} bytes raw, ${rustSize.gzip} bytes gzipped`);
    console.log('\ngoals (each a ratio of rows in one runtime, this run):');
    for (const b of budgets) {
      const v = b.value == null ? 'not measured' : b.unit === 'x' ? `${b.value.toFixed(2)}x` : b.unit === 'B' ? `${b.value} B` : `${b.value.toFixed(1)} ${b.unit}`;
      const same = b.sameAnswer == null ? '' : `; ${sameAnswer.NAME}: ${b.sameAnswer.toFixed(2)}x`;
      console.log(`  ${b.met == null ? '-      ' : b.met ? 'met    ' : 'MISSED '} ${b.budget}${b.runtime ? ` [${b.runtime}]` : ''} (${v}${same})`);
    }

    const informational = [];
    if (wd?.rc) {
      for (const id of wdScenarios) {
        const r = row(id, WD);
        if (!r) continue;
        informational.push({ scenario: id, runtime: WD, ratioToJsForwarder: r.ratio, ratioToRustForwarder: r.ratioToRustForwarder, ratioToSameAnswer: r.ratioToSameAnswer, sameAnswerRatioToJsForwarder: sameOf(id, 'ratio') ?? null, miniflareRatioToJsForwarder: row(id, MF)?.ratio ?? null });
      }
      console.log(`\nbare ${WD} (information only, not budgets: rulecache without Cache API and KV, bundled policy, against the baselines in bare ${WD}):`);
      for (const i of informational) {
        const rust = i.ratioToRustForwarder == null ? '' : `, ${x(i.ratioToRustForwarder)} the Rust forwarder`;
        const same = i.sameAnswerRatioToJsForwarder == null ? '' : `; ${sameAnswer.NAME}: ${x(i.sameAnswerRatioToJsForwarder)} the JS forwarder, rulecache ${x(i.ratioToSameAnswer)} it`;
        console.log(`  ${i.scenario.padEnd(20)} ${x(i.ratioToJsForwarder)} the JS forwarder${rust} (${MF}: ${x(i.miniflareRatioToJsForwarder)} the JS forwarder)${same}`);
      }
    } else if (wd) {
      console.log(`\nbare ${WD}: rulecache did not run correctly there (${rcCheck.problems.join('; ')}); only the baselines were measured in it`);
    }
    if (!haveRust) console.log('\n(plain Rust forwarder not measured: its build failed or BENCH_RUST_FORWARDER=0)');

    if (wd?.rc) {
      // What rulecache logged in bare workerd (failed Cache API stores, say).
      const { lines, count } = wd.rc.log();
      const noCache = lines.filter((l) => /No Cache was configured/.test(l)).length;
      rcCheck.log = { lines: count, distinct: [...new Set(lines)].slice(0, 10) };
      if (count) console.log(`\nrulecache in bare ${WD} logged ${count} line(s)${noCache ? ` (${noCache} of the last ${lines.length}: a store into caches.default failed, "No Cache was configured"; the memory tier served)` : ''}`);
    }

    const outDir = path.join(root, 'bench-results');
    fs.mkdirSync(outDir, { recursive: true });
    const report = {
      when: new Date().toISOString(),
      machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model ?? '', node: process.version },
      generator: genVersion,
      runtimes: {
        [MF]: {
          version: `miniflare ${miniflareVersion}`,
          serves: 'rulecache (every scenario; Cache API, KV, Durable Objects) and every baseline; the budgets use these rows',
        },
        [WD]: wd
          ? {
              version: workerdVersion,
              serves: `the baselines${wd.rc ? `, and rulecache for ${wdScenarios.join(', ')}` : ''}; no cache service, no KV`,
              cachesDefault: cacheProbe,
              rulecache: { runs: rcCheck.ok, scenarios: wdScenarios, ...rcCheck },
            }
          : null,
      },
      concurrency: CONCURRENCY,
      warmupSeconds: WARMUP,
      durationSeconds: DURATION,
      rounds: ROUNDS,
      totalSeconds: (performance.now() - tStart) / 1000,
      results: rows,
      coldStart: cold,
      wasm: { rulecache: size, rustForwarder: rustSize },
      budgets,
      informational,
      memory,
      flood,
      isolateLimitBytes: ISOLATE_LIMIT,
    };
    fs.writeFileSync(path.join(outDir, 'load.json'), `${JSON.stringify(report, null, 2)}\n`);
    fs.writeFileSync(path.join(outDir, 'load.md'), markdownReport(report));
    console.log(`\nwrote ${path.relative(root, path.join(outDir, 'load.json'))} and ${path.relative(root, path.join(outDir, 'load.md'))} (${((performance.now() - tStart) / 1000).toFixed(0)} s in all)`);
  } finally {
    await stopAll();
  }
}

/** Runs a benchmark's `main` and exits: 0 when it resolves, 1 (the error printed) when not. */
function runMain(main) {
  main().then(
    () => process.exit(0),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}

// Run as a script; imported (by profile.mjs and cold.mjs) for its runtimes, workers and scenarios.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) runMain(main);

export {
  ALICE,
  COLD_ROUNDS,
  JS_FIXED,
  JS_FORWARDER,
  SCENARIOS,
  SMALL,
  drive,
  ensureGenerator,
  freePort,
  inspectorSession,
  inspectorTarget,
  jsWorkerConfig,
  median,
  packEnv,
  prime,
  rulecacheConfig,
  runMain,
  sleep,
  startWorkerd,
  wasmModules,
  workerdConfig,
  writeConfig,
  writeModule,
};
