// Load benchmark: rulecache against plain workers, all served by Miniflare over HTTP on
// loopback in front of the demo origin, driven by a load generator (oha, else wrk).
//
//   make bench-load            (builds the worker and the origin first)
//   node benches/load/run.mjs  (when both are built)
//
// Environment: BENCH_DURATION (seconds per scenario, default 5), BENCH_WARMUP (default 1),
// BENCH_CONCURRENCY (default 32), BENCH_COLD_ROUNDS (default 3), BENCH_RUST_FORWARDER=0 to
// leave out the plain Rust forwarder baseline (built once with worker-build, then reused).
//
// Prints a table and writes bench-results/load.json. Everything it starts it stops.
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import fs from 'node:fs';
import os from 'node:os';
import zlib from 'node:zlib';
import { Miniflare } from 'miniflare';
import { startOrigin, workerOptions } from '../../tests/support/stack.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const here = path.dirname(fileURLToPath(import.meta.url));
const cargoBin = path.join(os.homedir(), '.cargo/bin');
process.env.PATH = `${cargoBin}:${process.env.PATH}`;
process.env.WRANGLER_SEND_METRICS ??= 'false';
process.env.CLOUDFLARE_CF_FETCH_ENABLED ??= 'false';

const DURATION = Number(process.env.BENCH_DURATION ?? 5);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 1);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const COLD_ROUNDS = Number(process.env.BENCH_COLD_ROUNDS ?? 3);
const WANT_RUST = process.env.BENCH_RUST_FORWARDER !== '0';
const RUNTIME = 'miniflare';
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

/** Builds the plain Rust forwarder once (worker-build); false when that is not possible. */
function ensureRustForwarder() {
  const out = path.join(rustDir, 'build/index.js');
  if (fs.existsSync(out)) return true;
  if (!WANT_RUST) return false;
  if (!has('worker-build')) {
    console.log('rust forwarder: worker-build missing (make tools-rust installs it); skipped');
    return false;
  }
  console.log('rust forwarder: building with worker-build (first run only) …');
  const env = {
    ...process.env,
    WASM_BINDGEN_BIN: process.env.WASM_BINDGEN_BIN ?? path.join(cargoBin, 'wasm-bindgen'),
    WASM_OPT_BIN: process.env.WASM_OPT_BIN ?? path.join(root, 'node_modules/.bin/wasm-opt'),
    ESBUILD_BIN: process.env.ESBUILD_BIN ?? path.join(root, 'node_modules/.bin/esbuild'),
    CARGO_TARGET_DIR: path.join(root, 'target/bench-rust-forwarder'),
  };
  const ok = run('worker-build', ['--release'], { cwd: rustDir, env });
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
  return { mf, url };
}

// ---------------------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------------------

const SMALL = '/t/bench-small?cc=max-age%3D3600';
const LARGE = '/t/bench-large?bytes=300000&cc=max-age%3D3600';
const NOSTORE = '/t/bench-miss?cc=no-store';
const REVALIDATE = '/t/bench-reval?cc=max-age%3D0&etag=%22x%22';
const NEWS = '/news';

// expect: a test on the Cache-Status the worker sends once primed.
const SCENARIOS = [
  { id: 'memory-hit', title: 'rulecache memory-tier hit', path: SMALL, headers: {}, expect: (cs) => /; hit/.test(cs) },
  { id: 'cache-api-hit', title: 'rulecache Cache API hit (300 kB)', path: LARGE, headers: {}, expect: (cs) => /; hit/.test(cs) },
  { id: 'miss', title: 'rulecache miss, forwarded (no-store)', path: NOSTORE, headers: {}, expect: (cs) => !/; hit/.test(cs) && /fwd=/.test(cs) },
  { id: 'revalidate-304', title: 'rulecache stale, revalidated (304)', path: REVALIDATE, headers: {}, expect: (cs) => /fwd=stale/.test(cs) && /fwd-status=304/.test(cs) },
  { id: 'splitview-anon-hit', title: 'rulecache split-view anonymous hit', path: NEWS, headers: {}, expect: (cs) => /; hit/.test(cs) },
  { id: 'bypass-logged-in', title: 'rulecache bypass, logged in', path: NEWS, headers: { Cookie: `__ac=${ALICE}` }, expect: (cs) => /fwd=bypass/.test(cs) },
];

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

async function measure(gen, label, url, headers) {
  await drive(gen, url, headers, WARMUP);
  const m = await drive(gen, url, headers, DURATION);
  process.stdout.write(`  ${label.padEnd(58)} ${m.rps.toFixed(0).padStart(7)} req/s  p50 ${m.p50.toFixed(2)} ms  p99 ${m.p99.toFixed(2)} ms${m.errors ? `  (${m.errors} errors)` : ''}\n`);
  return m;
}

// ---------------------------------------------------------------------------------------
// Cold start and size
// ---------------------------------------------------------------------------------------

async function coldStart(label, makeOptions, firstPath) {
  const rounds = [];
  for (let i = 0; i < COLD_ROUNDS; i += 1) {
    const t0 = performance.now();
    const mf = new Miniflare(makeOptions());
    const url = (await mf.ready).toString().replace(/\/$/, '');
    const tReady = performance.now();
    const r = await fetch(url + firstPath);
    await r.arrayBuffer();
    const tFirst = performance.now();
    await mf.dispose();
    rounds.push({ ready: tReady - t0, first: tFirst - t0, firstRequest: tFirst - tReady });
  }
  const res = {
    label,
    rounds,
    readyMs: median(rounds.map((r) => r.ready)),
    firstResponseMs: median(rounds.map((r) => r.first)),
    firstRequestMs: median(rounds.map((r) => r.firstRequest)),
  };
  console.log(`  ${label.padEnd(40)} ready ${res.readyMs.toFixed(0)} ms, first response ${res.firstResponseMs.toFixed(0)} ms (first request alone ${res.firstRequestMs.toFixed(1)} ms), median of ${COLD_ROUNDS}`);
  return res;
}

function wasmSize(file) {
  const bytes = fs.readFileSync(file);
  return { raw: bytes.length, gzip: zlib.gzipSync(bytes, { level: 9 }).length };
}

// ---------------------------------------------------------------------------------------

async function main() {
  const gen = ensureGenerator();
  const genVersion = spawnSync(gen, ['--version'], { encoding: 'utf8' }).stdout?.trim() ?? '';
  const haveRust = ensureRustForwarder();

  const origin = await startOrigin();
  const started = [];
  const stopAll = async () => {
    for (const s of started.reverse()) await s.mf.dispose().catch(() => {});
    await origin.stop();
  };
  process.on('SIGINT', () => stopAll().finally(() => process.exit(130)));

  try {
    console.log(`load generator: ${genVersion}; ${CONCURRENCY} connections, ${WARMUP} s warm-up + ${DURATION} s per scenario`);
    console.log(`runtime: every worker (rulecache and the baselines) is served by Miniflare's HTTP server on loopback (workerd inside), for a like-for-like ratio`);
    console.log(`origin: ${origin.url}; ${os.cpus().length} CPUs shared by generator, runtime and origin\n`);

    const rc = await serve(workerOptions({ originUrl: origin.url, secret: 'bench-secret' }));
    started.push(rc);
    const jsFwd = await serve(jsOptions(JS_FORWARDER, origin.url));
    started.push(jsFwd);
    const jsFixed = await serve(jsOptions(JS_FIXED, origin.url));
    started.push(jsFixed);
    let rustFwd = null;
    if (haveRust) {
      rustFwd = await serve(rustOptions(origin.url));
      started.push(rustFwd);
    }

    const rows = [];
    console.log('throughput:');
    const fixed = await measure(gen, 'plain JS worker, fixed response', `${jsFixed.url}/hello`, {});
    rows.push({ scenario: 'js-fixed', title: 'plain JS worker, fixed response', runtime: RUNTIME, ...fixed, baseline: null, ratio: null });

    for (const sc of SCENARIOS) {
      const cs = await prime(rc.url + sc.path, sc.headers);
      const asExpected = sc.expect(cs);
      if (!asExpected) console.log(`  warning: ${sc.id}: unexpected Cache-Status after priming: ${cs || '(none)'}`);
      const base = await measure(gen, `plain JS forwarder  ${sc.path}${sc.headers.Cookie ? ' (cookie)' : ''}`, jsFwd.url + sc.path, sc.headers);
      rows.push({ scenario: `js-forwarder:${sc.id}`, title: `plain JS forwarder (${sc.id})`, runtime: RUNTIME, path: sc.path, ...base, baseline: null, ratio: null });
      let rustBase = null;
      if (rustFwd) {
        rustBase = await measure(gen, `plain Rust forwarder ${sc.path}${sc.headers.Cookie ? ' (cookie)' : ''}`, rustFwd.url + sc.path, sc.headers);
        rows.push({ scenario: `rust-forwarder:${sc.id}`, title: `plain Rust forwarder (${sc.id})`, runtime: RUNTIME, path: sc.path, ...rustBase, baseline: `js-forwarder:${sc.id}`, ratio: rustBase.rps / base.rps });
      }
      const m = await measure(gen, sc.title, rc.url + sc.path, sc.headers);
      const csAfter = await prime(rc.url + sc.path, sc.headers);
      rows.push({
        scenario: sc.id,
        title: sc.title,
        runtime: RUNTIME,
        path: sc.path,
        cacheStatus: cs,
        cacheStatusAfter: csAfter,
        asExpected,
        ...m,
        baseline: `js-forwarder:${sc.id}`,
        ratio: m.rps / base.rps,
        ratioToRustForwarder: rustBase ? m.rps / rustBase.rps : null,
      });
    }

    console.log('\ncold start (new Miniflare → first response):');
    const cold = [];
    cold.push(await coldStart('rulecache', () => workerOptions({ originUrl: origin.url, secret: 'bench-secret' }), SMALL));
    cold.push(await coldStart('plain JS forwarder', () => jsOptions(JS_FORWARDER, origin.url), SMALL));
    cold.push(await coldStart('plain JS fixed response', () => jsOptions(JS_FIXED, origin.url), '/hello'));
    if (rustFwd) cold.push(await coldStart('plain Rust forwarder', () => rustOptions(origin.url), SMALL));

    const size = wasmSize(path.join(root, 'build/index_bg.wasm'));
    const rustSize = rustFwd ? wasmSize(path.join(rustDir, 'build/index_bg.wasm')) : null;

    // The table
    const pad = (s, n) => String(s).padEnd(n);
    const lpad = (s, n) => String(s).padStart(n);
    console.log(`\n${pad('scenario', 44)} ${pad('runtime', 10)} ${lpad('req/s', 8)} ${lpad('p50 ms', 8)} ${lpad('p99 ms', 8)} ${lpad('vs JS fwd', 9)}`);
    for (const r of rows) {
      const ratio = r.ratio == null ? '' : `${r.ratio.toFixed(2)}x`;
      console.log(`${pad(r.scenario, 44)} ${pad(r.runtime, 10)} ${lpad(r.rps.toFixed(0), 8)} ${lpad(r.p50.toFixed(2), 8)} ${lpad(r.p99.toFixed(2), 8)} ${lpad(ratio, 9)}`);
    }
    console.log(`(ratios: each rulecache scenario against the plain JS forwarder on the same path and headers, same runtime, same run)`);

    const row = (id) => rows.find((r) => r.scenario === id);
    const KiB = 1024;
    const budgets = [
      { budget: 'memory-tier hit >= JS forwarder throughput', value: row('memory-hit').ratio, met: row('memory-hit').ratio >= 1 },
      { budget: 'miss >= 0.8 x JS forwarder throughput', value: row('miss').ratio, met: row('miss').ratio >= 0.8 },
      { budget: 'wasm <= 1 MiB raw', value: size.raw, met: size.raw <= 1024 * KiB },
      { budget: 'wasm <= 350 KiB gzipped', value: size.gzip, met: size.gzip <= 350 * KiB },
    ];
    console.log(`\nrelease wasm: ${size.raw} bytes raw (${(size.raw / KiB).toFixed(0)} KiB), ${size.gzip} bytes gzipped (${(size.gzip / KiB).toFixed(0)} KiB)`);
    if (rustSize) console.log(`plain Rust forwarder wasm: ${rustSize.raw} bytes raw, ${rustSize.gzip} bytes gzipped`);
    console.log('\nbudgets:');
    for (const b of budgets) {
      const v = typeof b.value === 'number' && b.value < 100 ? `${b.value.toFixed(2)}x` : String(b.value);
      console.log(`  ${b.met ? 'met    ' : 'MISSED '} ${b.budget} (${v})`);
    }
    if (!rustFwd) console.log('\n(plain Rust forwarder not measured: its build failed or BENCH_RUST_FORWARDER=0)');

    const outDir = path.join(root, 'bench-results');
    fs.mkdirSync(outDir, { recursive: true });
    const report = {
      when: new Date().toISOString(),
      machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model ?? '', node: process.version },
      generator: genVersion,
      runtime: `Miniflare server (${RUNTIME}) for rulecache and every baseline`,
      concurrency: CONCURRENCY,
      warmupSeconds: WARMUP,
      durationSeconds: DURATION,
      results: rows,
      coldStart: cold,
      wasm: { rulecache: size, rustForwarder: rustSize },
      budgets,
    };
    fs.writeFileSync(path.join(outDir, 'load.json'), `${JSON.stringify(report, null, 2)}\n`);
    console.log(`\nwrote ${path.relative(root, path.join(outDir, 'load.json'))}`);
  } finally {
    await stopAll();
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
