// Where a request's CPU time goes: V8 CPU profiles of rulecache and of the plain JS baseline of
// each bare-workerd scenario of the load benchmark (memory-tier hit against the fixed response,
// no-store miss, revalidation and logged-in bypass against the forwarder), taken through the runtime's
// inspector while the load generator drives the worker.
//
//   make bench-profile          (builds the origin and a worker that keeps its function names)
//
// Every sample is put in one bucket (the worker's wasm by crate and module, the JavaScript glue,
// each runtime API called from JavaScript, the runtime outside JavaScript, garbage collection)
// and each bucket is given as microseconds of the isolate's CPU per request answered while the
// profile ran: samples are weighted by the time each stands for, idle time is left out. The
// inspector's sampler slows the worker (req/s is lower than in the load benchmark), and V8
// inlines small JavaScript functions into their callers, which moves time between the glue's
// buckets; read the table for where the time goes, and the load benchmark for the speed. With
// two CPUs or more (and taskset), workerd runs on a CPU of its own, so that its busy time is
// its CPU time.
//
// Environment: PROFILE_DURATION (seconds profiled per row, default 5), PROFILE_INTERVAL_US
// (sampling interval, default 100), BENCH_CONCURRENCY (as for the load benchmark).
// Writes bench-results/profile.json and bench-results/profile.md; the profiles themselves go to
// target/bench-profile/<scenario>-<worker>.cpuprofile (Chromium's DevTools opens them).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import fs from 'node:fs';
import os from 'node:os';
import { startOrigin } from '../../tests/support/stack.mjs';
// The load benchmark's runtimes, workers, scenarios and load generator.
import { runMain } from './processes.mjs';
import { drive, ensureGenerator } from './generator.mjs';
import { JS_FIXED, JS_FORWARDER } from './workers.mjs';
import { packEnv } from './pack.mjs';
import { jsWorkerConfig, rulecacheConfig, startWorkerd } from './workerd.mjs';
import { ALICE, prime, SCENARIOS } from './scenarios.mjs';
import { freePort, inspectorSession, inspectorTarget } from './inspector.mjs';
import * as same from './same-answer.mjs';

const SAME_ANSWER = same.NAME;

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DURATION = Number(process.env.PROFILE_DURATION ?? 5);
const INTERVAL_US = Number(process.env.PROFILE_INTERVAL_US ?? 100);
const buildDir = path.join(root, 'target/bench-profile/build');
const outDir = path.join(root, 'bench-results');

/** The release worker packed with its function names (wasm name section, unmangled glue). */
function namesBuild() {
  const pack = path.join(root, 'target/debug/worker-pack');
  const r = spawnSync(pack, ['--out', buildDir, '--names'], { cwd: root, env: packEnv(), stdio: 'inherit' });
  if (r.status !== 0) throw new Error('worker-pack --names failed');
}

// The functions of heads.js (heads and bodies across the boundary), read from its source;
// everything else in index.js is wasm-bindgen's glue and the entry shim.
const HEADS_JS = new Set(
  [...fs.readFileSync(path.join(root, 'js/heads.js'), 'utf8').matchAll(/\bfunction\s+(\w+)\s*\(/g)].map((m) => m[1]),
);

/** The bucket of one profile node (its own time, not its callees'). */
function bucket(frame) {
  const fn = frame.functionName;
  const url = frame.url;
  if (fn === '(idle)') return null;
  if (fn === '(program)') return 'runtime, outside JavaScript (HTTP, streams, event loop)';
  if (fn === '(garbage collector)') return 'garbage collection';
  if (/^js-to-wasm|^wasm-to-js|externref shim|^wasm_bindgen::/.test(fn)) return 'wasm: wasm-bindgen entry and exit shims';
  if (url.includes('.wasm') || url.startsWith('wasm://')) {
    if (/dlmalloc|^alloc::|__rust_(alloc|dealloc|realloc)|drop_in_place|^memcpy|^memmove|^memset|^memcmp|^<alloc::/.test(fn)) return 'wasm: allocation, copies, comparisons and drops';
    if (/^url::|^idna::|^form_urlencoded::|^percent_encoding::/.test(fn)) return 'wasm: URL parsing (url crate)';
    const worker = /^(?:<)?rulecache_worker::([a-z_]+)/.exec(fn);
    if (worker) return `wasm: shell (rulecache_worker::${worker[1]})`;
    const core = /^(?:<)?rulecache::([a-z_]+)/.exec(fn);
    if (core) return `wasm: core (rulecache::${core[1]})`;
    if (/^(?:<)?(core|std)[:[]/.test(fn)) return 'wasm: Rust standard library (strings, formatting, hashing)';
    if (/^(?:<)?(httpdate|serde|serde_json|hashbrown|futures)/.test(fn)) return `wasm: ${/^(?:<)?([a-z_]+)/.exec(fn)[1]}`;
    return 'wasm: other';
  }
  if (url.endsWith('index.js')) return HEADS_JS.has(fn) ? 'JavaScript: heads.js (heads and bodies across the boundary)' : 'JavaScript: wasm-bindgen glue and entry shim';
  if (url) return 'JavaScript: the worker module';
  if (!fn) return 'runtime, entering JavaScript';
  return `runtime API: ${fn}`;
}

/** The summary line a bucket is counted in. */
function group(b) {
  if (b.startsWith('runtime, ')) return 'runtime: outside JavaScript, and entering it';
  if (b === 'runtime API: fetch' || b === 'runtime API: Request' || b === 'runtime API: URL') return 'runtime: fetch, Request, URL (the forward)';
  if (b === 'runtime API: Response') return 'runtime: Response (building the answer)';
  if (/^runtime API: (append|delete|set|get|has|forEach|entries|Headers)$/.test(b)) return 'runtime: Headers reads and edits';
  if (b.startsWith('runtime API: ')) return 'runtime: other APIs (text decoding, timers, streams)';
  if (b === 'garbage collection') return b;
  if (b === 'JavaScript: the worker module') return "JavaScript: the baseline's own code";
  if (b.startsWith('JavaScript: ')) return 'JavaScript: glue and heads.js';
  if (b.startsWith('wasm: core')) return "wasm: the core's decisions (rulecache)";
  if (b.startsWith('wasm: shell')) return 'wasm: the shell (rulecache_worker)';
  return b.includes('URL') || b.includes('allocation') || b.includes('standard library') ? b : 'wasm: shims, httpdate and other';
}

/** µs per request by bucket, and the top wasm functions, from a V8 CPU profile. */
function summarise(profile, requests) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const timeOf = new Map();
  // timeDeltas[i] is the time between sample i-1 and sample i; sample i stands for the next one.
  const { samples, timeDeltas } = profile;
  for (let i = 0; i < samples.length; i += 1) {
    const dt = timeDeltas[i + 1] ?? INTERVAL_US;
    timeOf.set(samples[i], (timeOf.get(samples[i]) ?? 0) + Math.max(dt, 0));
  }
  const buckets = new Map();
  const wasmFns = new Map();
  let cpu = 0;
  for (const [id, us] of timeOf) {
    const frame = byId.get(id).callFrame;
    const b = bucket(frame);
    if (!b) continue;
    cpu += us;
    buckets.set(b, (buckets.get(b) ?? 0) + us);
    if (b.startsWith('wasm: ') && !b.includes('shims')) wasmFns.set(frame.functionName, (wasmFns.get(frame.functionName) ?? 0) + us);
  }
  const perRequest = (us) => us / requests;
  return {
    requests,
    cpuUsPerRequest: perRequest(cpu),
    buckets: Object.fromEntries([...buckets].sort((a, b) => b[1] - a[1]).map(([k, us]) => [k, perRequest(us)])),
    topWasm: [...wasmFns].sort((a, b) => b[1] - a[1]).slice(0, 15).map(([fn, us]) => ({ fn: fn.replace(/::h[0-9a-f]{16}$/, ''), us: perRequest(us) })),
  };
}

async function profileRow(gen, worker, url, headers, file) {
  const target = await inspectorTarget(worker.inspectorPort, () => true);
  const session = await inspectorSession(target.url);
  try {
    await drive(gen, url, headers, 1);
    await session.call('Profiler.enable');
    await session.call('Profiler.setSamplingInterval', { interval: INTERVAL_US });
    await session.call('Profiler.start');
    const m = await drive(gen, url, headers, DURATION);
    const { profile } = await session.call('Profiler.stop');
    fs.writeFileSync(file, JSON.stringify(profile));
    return { rps: m.rps, ...summarise(profile, Math.max(m.ok, 1)) };
  } finally {
    session.close();
  }
}

// The sampler records where the isolate's thread is, not whether it has a CPU: on a machine
// shared with the load generator and the origin, time the thread waits for a CPU would count
// where it waited. With two CPUs or more, the runtime gets the last one to itself and this
// process, the origin and the load generator (its children) the others.
const CPUS = os.availableParallelism();
const PINNED = CPUS >= 2 && spawnSync('sh', ['-c', 'command -v taskset'], { stdio: 'ignore' }).status === 0;
const pin = (pid, cpus) => spawnSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' }).status === 0;

async function startWithInspector(configFile) {
  const inspectorPort = await freePort();
  const w = await startWorkerd(configFile, '/', [`--inspector-addr=127.0.0.1:${inspectorPort}`]);
  if (PINNED && !pin(w.pid, String(CPUS - 1))) throw new Error('taskset could not pin workerd');
  return { ...w, inspectorPort };
}

function markdown(report) {
  const f = (v) => (v == null ? '' : v.toFixed(1));
  const out = [];
  const cpus = report.pinned ? `workerd pinned to a CPU of its own, the origin and load generator on the other${report.cpus > 2 ? 's' : ''}` : 'workerd sharing the CPUs with the origin and load generator (busy time includes time waiting for a CPU)';
  out.push(`CPU profiles, bare workerd (${report.date}; ${report.durationS} s per row, sampled every ${report.intervalUs} µs, ${report.concurrency} connections; ${report.cpus} CPUs, ${cpus}). Microseconds of the isolate thread's busy time per request answered, idle time left out; req/s is with the sampler running. ${SAME_ANSWER}: the scenario's plain JS worker that gives rulecache's answer with every decision made in advance (\`benches/load/same-answer.mjs\`).`, '');
  const workers = (row) => [['rulecache', 'rulecache'], ['sameAnswer', SAME_ANSWER], ['baseline', row.baselineName]];
  for (const row of report.rows) {
    const ws = workers(row);
    out.push(`**${row.title}** (\`${row.path}\`${row.cookie ? ', logged-in cookie' : ''}): ${ws.map(([k, name]) => `${name} ${row[k].rps.toFixed(0)} req/s, ${f(row[k].cpuUsPerRequest)} µs a request`).join('; ')}.`, '');
    const groups = (r) => Object.entries(r.buckets).reduce((m, [k, us]) => ({ ...m, [group(k)]: (m[group(k)] ?? 0) + us }), {});
    const gs = ws.map(([k]) => groups(row[k]));
    const gnames = [...new Set(gs.flatMap((g) => Object.keys(g)))].sort((a, b) => (gs[0][b] ?? 0) - (gs[0][a] ?? 0));
    const pct = (v, all) => (v == null ? '' : `${((100 * v) / all).toFixed(0)} %`);
    out.push(`| where | ${ws.map(([, name]) => `${name} µs/request | share`).join(' | ')} |`, `|---|${ws.map(() => '---:|---:').join('|')}|`);
    for (const n of gnames) out.push(`| ${n} | ${ws.map(([k], i) => `${f(gs[i][n])} | ${pct(gs[i][n], row[k].cpuUsPerRequest)}`).join(' | ')} |`);
    out.push(`| **all** | ${ws.map(([k]) => `**${f(row[k].cpuUsPerRequest)}** | `).join(' | ')} |`, '');
    const names = [...new Set(ws.flatMap(([k]) => Object.keys(row[k].buckets)))];
    names.sort((a, b) => (row.rulecache.buckets[b] ?? 0) - (row.rulecache.buckets[a] ?? 0));
    out.push('<details><summary>every bucket</summary>', '');
    out.push(`| bucket | ${ws.map(([, name]) => `${name} µs/request`).join(' | ')} |`, `|---|${ws.map(() => '---:').join('|')}|`);
    for (const n of names) out.push(`| ${n} | ${ws.map(([k]) => f(row[k].buckets[n])).join(' | ')} |`);
    out.push('', '</details>', '');
    out.push(`Top wasm functions of rulecache (own time, µs/request): ${row.rulecache.topWasm.slice(0, 10).map((t) => `\`${t.fn}\` ${t.us.toFixed(2)}`).join('; ')}.`, '');
  }
  return out.join('\n');
}

async function main() {
  const gen = ensureGenerator();
  namesBuild();
  // Before the origin starts: it and every load generator run inherit this process's CPUs.
  if (PINNED && !pin(process.pid, CPUS === 2 ? '0' : `0-${CPUS - 2}`)) throw new Error('taskset could not pin this process');
  const origin = await startOrigin();
  try {
    const configs = {
      rulecache: rulecacheConfig('profile-rulecache', origin.url, buildDir),
      'plain JS forwarder': jsWorkerConfig('profile-js-forwarder', JS_FORWARDER, origin.url),
      'plain JS fixed response': jsWorkerConfig('profile-js-fixed', JS_FIXED, origin.url),
    };
    const scenarios = SCENARIOS.filter((s) => s.needs.length === 0);
    // rulecache's answers, recorded in front of a recording proxy, for the same-answer workers.
    const recipes = await same.record(origin.url, (o) => startWorkerd(rulecacheConfig('profile-record', o, buildDir), '/'), scenarios);
    for (const sc of scenarios) {
      configs[`${SAME_ANSWER} ${sc.id}`] = jsWorkerConfig(`profile-same-answer-${sc.id}`, same.source(recipes[sc.id]), origin.url);
    }
    const rows = [];
    for (const sc of scenarios) {
      const baselineName = sc.fixedBaseline ? 'plain JS fixed response' : 'plain JS forwarder';
      const headers = sc.headers.Cookie ? { Cookie: `__ac=${ALICE}` } : {};
      const row = { id: sc.id, title: sc.title.replace(/^rulecache /, ''), path: sc.path, cookie: Boolean(sc.headers.Cookie), baselineName };
      for (const [which, name] of [['rulecache', 'rulecache'], ['sameAnswer', `${SAME_ANSWER} ${sc.id}`], ['baseline', baselineName]]) {
        const w = await startWithInspector(configs[name]);
        try {
          const url = w.url + sc.path;
          const cs = await prime(url, headers);
          if (which === 'rulecache' && !sc.expect(cs)) throw new Error(`${sc.id}: rulecache answered with Cache-Status "${cs}"`);
          if (which === 'sameAnswer') {
            const problems = await same.check(w.url, recipes[sc.id]);
            if (problems.length) throw new Error(`${sc.id}: the same-answer worker answers otherwise than rulecache: ${problems.join('; ')}`);
          }
          const file = path.join(path.dirname(buildDir), `${sc.id}-${which}.cpuprofile`);
          row[which] = await profileRow(gen, w, url, headers, file);
        } finally {
          await w.stop();
        }
      }
      console.log(`${row.title}: rulecache ${row.rulecache.cpuUsPerRequest.toFixed(1)} µs a request, ${SAME_ANSWER} ${row.sameAnswer.cpuUsPerRequest.toFixed(1)} µs, ${baselineName} ${row.baseline.cpuUsPerRequest.toFixed(1)} µs`);
      rows.push(row);
    }
    const report = { date: new Date().toISOString().slice(0, 10), runtime: 'bare workerd', cpus: CPUS, pinned: PINNED, durationS: DURATION, intervalUs: INTERVAL_US, concurrency: Number(process.env.BENCH_CONCURRENCY ?? 32), rows };
    fs.mkdirSync(outDir, { recursive: true });
    fs.writeFileSync(path.join(outDir, 'profile.json'), `${JSON.stringify(report, null, 2)}\n`);
    fs.writeFileSync(path.join(outDir, 'profile.md'), `${markdown(report)}\n`);
    console.log(`wrote bench-results/profile.json and bench-results/profile.md`);
  } finally {
    await origin.stop();
  }
}

runMain(main);
