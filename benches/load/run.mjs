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
//
// The modules beside this entry: settings.mjs (the environment), workers.mjs (the comparison
// workers), runtimes.mjs with miniflare.mjs, workerd.mjs and pack.mjs (starting them),
// scenarios.mjs, generator.mjs and statistics.mjs (the load generator and the rounds),
// throughput.mjs, memory.mjs with inspector.mjs, flood.mjs, cold-start.mjs, goals.mjs and report.mjs.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import fs from 'node:fs';
import os from 'node:os';
import { startOrigin } from '../../tests/support/stack.mjs';
import { CONCURRENCY, DURATION, MF, ROUNDS, WANT_WORKERD, WARMUP, WD, root } from './settings.mjs';
import { runMain } from './processes.mjs';
import { ensureGenerator } from './generator.mjs';
import { ensureRustForwarder, rustDir, wasmSize } from './pack.mjs';
import { WORKERD_BIN } from './workerd.mjs';
import { SCENARIOS, leanest } from './scenarios.mjs';
import { describeRuntimes, startRuntimes } from './runtimes.mjs';
import { measureThroughput } from './throughput.mjs';
import { ISOLATE_LIMIT, memoryRows } from './memory.mjs';
import { floodOnly, floodRows } from './flood.mjs';
import { coldRows } from './cold-start.mjs';
import { goals, informationalRows, printGoals } from './goals.mjs';
import { markdownReport, printTable } from './report.mjs';

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

    const { mf, wd, wdConfigs, cacheProbe, rcCheck } = await startRuntimes(origin, haveRust, haveWorkerd, started);

    const wdScenarios = SCENARIOS.filter((sc) => leanest(sc) === WD).map((sc) => sc.id);
    describeRuntimes({ wd, workerdVersion, miniflareVersion, haveRust, rcCheck, cacheProbe, wdScenarios });

    const servers = { [MF]: mf, ...(wd ? { [WD]: wd } : {}) };
    const rows = await measureThroughput(gen, servers, origin);
    const row = (id, rt) => rows.find((r) => r.scenario === id && r.runtime === rt);

    const memory = await memoryRows(gen, origin, wd, wdConfigs);
    const flood = await floodRows(origin, wd, wdConfigs);
    const cold = await coldRows(origin, mf, wd, wdConfigs);

    const size = wasmSize(path.join(root, 'build/index_bg.wasm'));
    const rustSize = haveRust ? wasmSize(path.join(rustDir, 'build/index_bg.wasm')) : null;

    printTable(rows);

    const KiB = 1024;
    const budgets = goals(row, cold, memory, size);
    console.log(`\nrelease wasm: ${size.raw} bytes raw (${(size.raw / KiB).toFixed(0)} KiB), ${size.gzip} bytes gzipped (${(size.gzip / KiB).toFixed(0)} KiB)`);
    if (rustSize) console.log(`plain Rust forwarder wasm: ${rustSize.raw} bytes raw, ${rustSize.gzip} bytes gzipped`);
    printGoals(budgets);

    const informational = informationalRows(row, wd, wdScenarios, rcCheck);
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


// Run as a script; its parts are imported from the modules beside it.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) runMain(main);
