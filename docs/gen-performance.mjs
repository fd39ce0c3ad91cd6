#!/usr/bin/env node
// Writes the generated part of docs/src/performance.md (between `<!-- generated:begin -->` and
// `<!-- generated:end -->`) from the files the benchmarks leave in bench-results/:
//
//   load.json          make bench-load         (benches/load/run.mjs)
//   profile.json       make bench-profile      (benches/load/profile.mjs)
//   cold.json          make bench-cold         (benches/load/cold.mjs)
//   instructions.json  make bench-instructions (Makefile)
//   core-scaling.json  make bench-core         (crates/core/benches/core.rs)
//   propagation.json   make bench-propagation  (benches/propagation/run.mjs)
//   fleet-sim.json     make bench-fleet-sim    (crates/core/benches/fleet_sim.rs)
//   soak.json          make soak               (tests/integration/soak.test.mjs)
//   e2e.json           make e2e-measure        (tests/e2e/measure.mjs)
//   offload.json       make bench-offload      (benches/offload/run.mjs; its plot offload.png
//                      is copied to docs/src/offload.png)
//
// A missing folder or file gives a "not run yet" line, a file of another shape a note; neither
// fails. Node 20, no dependencies.
//
//   node docs/gen-performance.mjs [--results DIR] [--page FILE] [--stdout]
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { WORKERS } from '../benches/load/workers.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BEGIN = '<!-- generated:begin -->';
const END = '<!-- generated:end -->';

function option(name, fallback) {
  const i = process.argv.indexOf(name);
  return i > 0 && process.argv[i + 1] ? path.resolve(process.argv[i + 1]) : fallback;
}
const resultsDir = option('--results', path.join(root, 'bench-results'));
const pagePath = option('--page', path.join(root, 'docs/src/performance.md'));
const toStdout = process.argv.includes('--stdout');

// ---------------------------------------------------------------------------------------
// Formatting

const isNum = (v) => typeof v === 'number' && Number.isFinite(v);
const fix = (v, d = 0) => (isNum(v) ? v.toFixed(d) : '');
const int = (v) => (isNum(v) ? Math.round(v).toLocaleString('en-US') : '');
const times = (v) => (isNum(v) ? `${v.toFixed(2)}×` : '');
const pct = (v) => (isNum(v) ? `${(100 * v).toFixed(0)} %` : '');
const MiB = 1024 * 1024;
const mib = (v) => (isNum(v) ? (v / MiB).toFixed(1) : '');
const cell = (v) => String(v ?? '').replace(/\|/g, '\\|').replace(/\n/g, ' ');
const row = (cells) => `| ${cells.map(cell).join(' | ')} |`;
function table(head, align, rows) {
  return [row(head), `|${align.map((a) => (a === 'r' ? '---:' : '---')).join('|')}|`, ...rows.map(row)];
}
const runtimeName = (rt) => (rt === 'workerd' ? 'bare workerd' : rt === 'miniflare' ? 'Miniflare' : rt ?? '');
const code = (s) => `\`${s}\``;

/** The run's date: the report's own `when`/`date`, else the file's modification time. */
function runDate(json, file) {
  const own = json?.when ?? json?.date;
  if (typeof own === 'string' && own) return own.slice(0, 10);
  return fs.statSync(file).mtime.toISOString().slice(0, 10);
}

// ---------------------------------------------------------------------------------------
// One renderer per file: (json, date) → Markdown lines


function load(r, date) {
  const out = [];
  const m = r.machine ?? {};
  if (!Array.isArray(r.results) || !r.results.length) {
    // `BENCH_ONLY=flood` alone: the flood's rows and nothing else.
    out.push(`Run of ${date}: ${m.cpus ?? '?'} CPUs; the flood of small entries alone (\`BENCH_ONLY=flood\`).`, '');
  } else out.push(
    `Run of ${date}: ${m.cpus ?? '?'} CPUs shared by load generator, runtime and origin; ${r.generator ?? 'load generator'}, ` +
      `${r.concurrency} connections, ${r.warmupSeconds} s warm-up and ${r.durationSeconds} s per worker and round, ` +
      `${r.rounds} rounds; ${fix(r.totalSeconds)} s in all. A row's req/s is the worker's median round; a ratio is the ` +
      `median over the rounds of the two workers' req/s in the same round, same runtime.`,
    '',
  );
  if (Array.isArray(r.budgets) && r.budgets.length) {
    out.push('**Goals**', '');
    const value = (b) => {
      if (b.value == null) return 'not measured';
      if (b.unit === 'x') return times(b.value);
      if (b.unit === 'B') return `${int(b.value)} B`;
      return `${fix(b.value, 1)} ${b.unit}`;
    };
    const text = (s) => String(s).replace(/>=/g, '≥').replace(/<=/g, '≤').replace(/ x /g, '× ').replace(/->/g, '→');
    out.push(
      ...table(
        ['goal', 'runtime', 'this run', '', 'plain JS same answer, same ratio'],
        ['l', 'l', 'r', 'l', 'r'],
        r.budgets.map((b) => [text(b.budget), b.runtime ? runtimeName(b.runtime) : '', value(b), b.met == null ? '' : b.met ? 'met' : '**missed**', times(b.sameAnswer)]),
      ),
      '',
    );
  }
  const results = Array.isArray(r.results) ? r.results : [];
  if (results.length) {
    // rulecache's own rows carry the scenario's title; baseline rows are `kind:scenario`.
    const titles = {};
    for (const x of results) if (!x.scenario.includes(':') && x.scenario !== 'js-fixed') titles[x.scenario] = String(x.title ?? x.scenario).replace(/^rulecache /, '');
    out.push('**Throughput**', '');
    const rows = results.map((x) => {
      const [kind, id] = x.scenario.includes(':') ? x.scenario.split(':') : [null, x.scenario];
      const fixed = x.scenario === 'js-fixed';
      const scenario = fixed ? 'fixed response' : (titles[id] ?? id);
      const own = !kind && !fixed;
      let worker = own ? '**rulecache**' : fixed ? WORKERS['js-fixed'] : (WORKERS[kind] ?? String(x.title ?? kind).replace(/ \([^)]*\)$/, ''));
      if (x.jsEdgeCache) worker += ` (${x.jsEdgeCache})`;
      const ratioToFixed = own || kind === 'js-same-answer' ? times(x.ratioToJsFixed) : '';
      return [
        scenario, worker, runtimeName(x.runtime), int(x.rps), fix(x.p50, 1), fix(x.p99, 1), times(x.ratio), ratioToFixed,
        own ? times(x.ratioToJsEdgeCache) : '', own ? times(x.ratioToJsCachesDefaultHit) : '',
        own ? times(x.ratioToRustForwarder) : '', own ? times(x.ratioToSameAnswer) : '',
      ];
    });
    out.push(
      ...table(
        ['scenario', 'worker', 'runtime', 'req/s', 'p50 ms', 'p99 ms', '÷ JS forwarder', '÷ JS fixed response', '÷ JS edge cache', '÷ JS caches.default hit', '÷ Rust forwarder', '÷ JS same answer'],
        ['l', 'l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
        rows,
      ),
      '',
    );
  }
  const cold = Array.isArray(r.coldStart) ? r.coldStart : [];
  if (cold.length) {
    out.push('**Cold start** (median of the rounds; "first request alone" from the runtime listening to the first response)', '');
    const rows = cold.map((c) => {
      const js = cold.find((o) => o.runtime === c.runtime && o.label === 'plain JS forwarder');
      const other = js && c !== js;
      return [c.label === 'rulecache' ? '**rulecache**' : c.label, runtimeName(c.runtime), fix(c.firstResponseMs), fix(c.readyMs), fix(c.firstRequestMs, 1), other ? times(c.firstResponseMs / js.firstResponseMs) : '', other ? times(c.firstRequestMs / js.firstRequestMs) : ''];
    });
    out.push(
      ...table(['worker', 'runtime', 'new runtime → first response ms', 'ready ms', 'first request alone ms', 'first response ÷ JS forwarder', 'first request ÷ JS forwarder'], ['l', 'l', 'r', 'r', 'r', 'r', 'r'], rows),
      '',
    );
  }
  const memory = Array.isArray(r.memory) ? r.memory : [];
  if (memory.length) {
    out.push('**Peak memory under load** (isolate: JS heap plus ArrayBuffers at their peak, plus the wasm linear memory; process: the workerd process\'s VmHWM)', '');
    const rows = memory.map((x) => [
      x.title ?? x.scenario, x.worker === 'rulecache' ? '**rulecache**' : (WORKERS[x.worker] ?? x.worker), runtimeName(x.runtime), int(x.rps),
      mib(x.isolate?.peakBytes), pct(x.isolate?.fractionOfLimit), mib(x.isolate?.jsHeapUsedPeakBytes), mib(x.isolate?.arrayBufferPeakBytes),
      x.isolate?.wasmMemoryBytes == null ? 'unread' : mib(x.isolate.wasmMemoryBytes), mib(x.memoryTier?.bytes), mib(x.process?.vmHwmBytes),
    ]);
    out.push(
      ...table(
        ['scenario', 'worker', 'runtime', 'req/s', 'isolate peak MiB', 'of the 128 MiB limit', 'JS heap MiB', 'ArrayBuffers MiB', 'wasm memory MiB', 'memory tier MiB', 'process VmHWM MiB'],
        ['l', 'l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
        rows,
      ),
      '',
    );
  }
  const flood = Array.isArray(r.flood) ? r.flood : [];
  if (flood.length) {
    out.push(
      `**Peak memory under a flood of small entries** (${int(flood[0].entriesSent)} distinct URLs of ${int(flood[0].bodyBytes)} B, each stored in the memory tier on its miss; what the tier counts beside what the isolate holds after a full garbage collection, wasm linear memory and JS heap with ArrayBuffers, before and after; the JS peak sampled during the flood includes garbage not yet collected)`,
      '',
    );
    const rows = flood.map((x) => [
      runtimeName(x.runtime), int(x.rps), int(x.memoryTier?.entries), mib(x.memoryTier?.bytes), mib(x.memoryTier?.capacityBytes), int(x.countedBytesPerEntry),
      `${int(x.heldBytesPerEntry)} (${int(x.wasmGrowthPerHeldEntry)} + ${int(x.jsGrowthPerHeldEntry)})`,
      `${mib(x.wasmMemoryBeforeBytes)} → ${mib(x.wasmMemoryAfterBytes)}`, `${mib(x.jsBeforeBytes)} → ${mib(x.jsAfterBytes)} (${mib(x.jsPeakBytes)})`,
      mib(x.isolatePeakBytes), pct(x.fractionOfLimit),
    ]);
    out.push(
      ...table(
        ['runtime', 'req/s', 'entries held', 'counted MiB', 'budget MiB', 'counted B an entry', 'held B an entry (wasm + JS)', 'wasm memory MiB (before → after)', 'JS heap + ArrayBuffers MiB held (before → after; peak with garbage)', 'isolate peak MiB', 'of the 128 MiB limit'],
        ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
        rows,
      ),
      '',
    );
  }
  const w = r.wasm?.rulecache;
  if (w) out.push(`Release wasm: ${int(w.raw)} B raw, ${int(w.gzip)} B gzipped.`, '');
  return out;
}

function profile(r, date) {
  const out = [`Run of ${date} in ${r.runtime ?? 'bare workerd'}: ${r.cpus ?? '?'} CPUs, workerd ${r.pinned ? 'pinned to a CPU of its own' : 'not pinned'}; ${r.durationS ?? '?'} s profiled a row, sampled every ${r.intervalUs ?? '?'} µs. µs of the isolate's CPU a request:`, ''];
  const top = (buckets) =>
    Object.entries(buckets ?? {})
      .sort((a, b) => b[1] - a[1])
      .slice(0, 3)
      .map(([k, v]) => `${k} ${fix(v, 1)}`)
      .join('; ');
  const rows = (r.rows ?? []).map((x) => [
    x.title ?? x.id, fix(x.rulecache?.cpuUsPerRequest, 1), fix(x.sameAnswer?.cpuUsPerRequest, 1), `${fix(x.baseline?.cpuUsPerRequest, 1)} (${x.baselineName ?? 'baseline'})`,
    times(x.sameAnswer?.cpuUsPerRequest / x.rulecache?.cpuUsPerRequest), times(x.baseline?.cpuUsPerRequest / x.rulecache?.cpuUsPerRequest), top(x.rulecache?.buckets),
  ]);
  out.push(
    ...table(['scenario', 'rulecache', 'same answer', 'baseline', 'same answer ÷ rulecache', 'baseline ÷ rulecache', "rulecache's largest buckets (µs)"], ['l', 'r', 'r', 'r', 'r', 'r', 'l'], rows),
    '',
    'With the worker limiting the rate, the ratios of CPU time are the ratios of req/s. `bench-results/profile.md` of the same run has every bucket.',
    '',
  );
  return out;
}

function cold(r, date) {
  const st = r.stages ?? {};
  const out = [`Run of ${date}, ${r.rounds ?? '?'} rounds, median of each round's difference.`, ''];
  out.push(...table(['stage', 'ms'], ['l', 'r'], (st.rows ?? []).map(([name, v]) => [name, fix(v, 1)])), '');
  if (isNum(st.rulecache?.total) && isNum(st.forwarder?.total)) {
    out.push(`To the first response: rulecache ${fix(st.rulecache.total, 1)} ms, the plain JS forwarder ${fix(st.forwarder.total, 1)} ms (${times(st.rulecache.total / st.forwarder.total)}).`, '');
  }
  const phases = Object.entries(r.compiled ?? {});
  if (phases.length) {
    out.push(
      ...table(['wasm compiled (Liftoff)', 'functions', 'KiB of code', 'ms'], ['l', 'r', 'r', 'r'], phases.map(([phase, s]) => [phase, int(s.functions), fix(s.bytes / 1024, 1), fix(s.us / 1000, 1)])),
      '',
      '`bench-results/cold.md` of the same run lists the largest groups of each phase.',
      '',
    );
  }
  return out;
}

function instructions(r, date) {
  const names = { hit: 'hit', miss: 'miss', bypass: 'bypass', reval: 'revalidation (304)' };
  const rows = Object.entries(r).filter(([, v]) => isNum(v)).map(([k, v]) => [names[k] ?? k, int(v)]);
  return [`Run of ${date}: instructions a request in the core's harness, natively, at the release build's opt-level (callgrind).`, '', ...table(['request', 'instructions'], ['l', 'r'], rows), ''];
}

function coreScaling(r, date) {
  const rows = (r.curves ?? []).map((c) => [
    c.what ?? c.curve,
    (c.points ?? []).map((p) => int(p.size)).join(' / '),
    (c.points ?? []).map((p) => fix(p.medianNs / 1000, 2)).join(' / '),
    isNum(c.growth) ? `×${fix(c.growth, 1)}` : '',
    c.shape ?? '',
  ]);
  return [`Run of ${date}: criterion medians, natively.`, '', ...table(['curve', 'sizes', 'median µs', 'largest ÷ smallest', 'shape'], ['l', 'r', 'r', 'r', 'l'], rows), ''];
}

function propagation(r, date) {
  const bound = isNum(r.documentedBoundMs) ? ` (the documented bound: ${int(r.documentedBoundMs)} ms)` : '';
  return [
    `Run of ${date}: with the URL requested every ${r.pollMs ?? '?'} ms, the first miss came a median ${int(r.steadyMedianMs)} ms (max ${int(r.steadyMaxMs)} ms, ${r.rounds ?? '?'} rounds) after the ledger recorded the purge${bound}; after a quiet spell the first request ${r.afterQuietHonoured ? 'honoured the purge every time' : '**did not always honour the purge**'}.`,
    '',
  ];
}

function fleetSim(r, date) {
  const s = (ms) => (isNum(ms) ? fix(ms / 1000, 1) : '');
  const rows = (r.results ?? []).map((x) => [
    int(x.isolates),
    `${int(x.busiestLocationIsolates)}, ${fix(x.shardMeanRps)} (${int(x.shardPeakRps)}), ${s(x.advisedIntervalMs)} s`,
    `${fix(x.rollupMeanRps, 1)} (${int(x.rollupPeakRps)})`,
    `${s(x.stalenessMeanMs)} / ${s(x.stalenessP99Ms)} / ${s(x.stalenessMaxMs)} s`,
    x.served === x.counted ? `yes (${int(x.served)})` : `**no** (${int(x.served)} served, ${int(x.counted)} counted)`,
  ]);
  return [
    `Run of ${date}: ${r.locations ?? '?'} locations, ${r.ratePerIsolate ?? '?'} req/s per isolate, ${r.seconds ?? '?'} s measured, flush interval ${s(r.flushIntervalMs)} s, ${pct(r.lostAnswers)} of answers lost.`,
    '',
    ...table(['isolates', 'busiest location: isolates, shard req/s mean (busiest s), advised interval', 'roll-up req/s mean (busiest s)', 'staleness mean / p99 / max', 'served = counted'], ['r', 'r', 'r', 'r', 'r'], rows),
    '',
  ];
}

function soak(r, date) {
  const rep = r.report ?? r;
  const t = rep.total ?? {};
  const crossings = isNum(t.crossings) ? t.crossings : (r.crossings ?? []).length;
  const out = [
    `Run of ${date}: ${int(rep.requests)} requests (${int(rep.purges)} purges, ${int(rep.identities)} distinct identities) in ${fix(rep.seconds)} s, ${int(t.checked)} answers checked, **${int(crossings)} crossings**, hit ratio ${fix(t.hitRatio, 2)}.`,
    '',
  ];
  const by = Object.entries(rep.byParser ?? {});
  if (by.length) out.push(...table(['origin cookie parser', 'requests', 'logged in', 'checked', 'crossings', 'hit ratio'], ['l', 'r', 'r', 'r', 'r', 'r'], by.map(([p, x]) => [p, int(x.requests), int(x.loggedIn), int(x.checked), int(x.crossings), fix(x.hitRatio, 2)])), '');
  return out;
}

function e2e(r, date) {
  const p = r.plone ?? {};
  const d = r.django ?? {};
  const hits = (x) => (x ? `${int(x.hits)} of ${int(x.requests)} hits (${fix(x.ratio, 3)})` : 'not measured');
  const visible = (p.purgeToVisibleMs ?? []).map((t) => t.visibleAfterSaveMs).filter(isNum);
  const out = [`Run of ${date}, ${r.rounds ?? '?'} rounds:`, ''];
  out.push(`- Plone, anonymous: ${hits(p.anonymous)}; pages alone ${fix(p.anonymousPages?.ratio, 3)}.`);
  if (p.loggedIn) out.push(`- Plone, logged in: ${hits(p.loggedIn)}; ${int(p.loggedIn.pagesWithoutTheirName)} pages without the member's name.`);
  if (visible.length) out.push(`- Plone, an edit visible to anonymous visitors after the save returned: ${Math.min(...visible)}–${Math.max(...visible)} ms (median ${int(p.purgeToVisibleMedianMs)} ms).`);
  out.push(`- Django, anonymous: ${hits(d.anonymous)}.`, '');
  return out;
}

function offload(r, date) {
  const ms = (v) => (isNum(v) ? int(v) : '–');
  const out = [
    `Run of ${date}: ${Object.entries(r.requestsPerContender).map(([o, n]) => `${o} ${int(n)}`).join(', ')} client requests per contender from one trace per origin (seed ${r.seed}, ${int(r.pages)} pages, ${r.concurrency} at a time), ${fix((r.seconds ?? 0) / 60, 0)} minutes in all. Origin requests per 1,000 client requests, overall and by audience; edit-to-visible from the save's answer to the first anonymous read showing the edit, with the edits not visible within ${fix((r.runs[0]?.editsNotVisibleWithinMs?.limit ?? 0) / 1000, 0)} s in brackets.`,
    '',
  ];
  if (r.rerun?.length) out.push(`Rows run again later on the same trace and merged in (\`run.mjs --merge\`): ${r.rerun.join(', ')}.`, '');
  out.push(...table(
    ['origin', 'contender', 'origin req. / 1,000', 'anonymous', 'member', 'crawler', 'hit ratio', 'MB from origin', 'outage answers', 'outage errors', 'edit-to-visible p50 / p95 / max ms', 'crossings'],
    ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
    r.runs.map((x) => [
      x.origin, x.contender, fix(x.originPer1000, 1), fix(x.originPer1000ByAudience.anonymous, 1), fix(x.originPer1000ByAudience.member, 1), fix(x.originPer1000ByAudience.crawler, 1),
      pct(x.hitRatio), fix(x.originBytes / 1e6, 1), int(x.outageAnswers), int(x.outageErrors),
      `${ms(x.editToVisibleMs.p50)} / ${ms(x.editToVisibleMs.p95)} / ${ms(x.editToVisibleMs.max)} (${int(x.editsNotVisibleWithinMs?.count)} of ${int(x.edits)})`, int(x.crossings),
    ]),
  ), '');
  const png = path.join(resultsDir, 'offload.png');
  if (fs.existsSync(png)) {
    if (!toStdout) fs.copyFileSync(png, path.join(path.dirname(pagePath), 'offload.png'));
    out.push('![Hit ratio and origin requests per 1,000 over the trace, one line per contender](offload.png)', '');
  }
  return out;
}

const SECTIONS = [
  { file: 'load.json', title: 'Load', make: 'make bench-load', render: load, also: 'load.md' },
  { file: 'profile.json', title: 'CPU profiles', make: 'make bench-profile', render: profile },
  { file: 'cold.json', title: 'Cold start, stage by stage', make: 'make bench-cold', render: cold },
  { file: 'instructions.json', title: 'Instructions per request', make: 'make bench-instructions', render: instructions },
  { file: 'core-scaling.json', title: 'Scaling curves', make: 'make bench-core', render: coreScaling },
  { file: 'propagation.json', title: 'Purge propagation', make: 'make bench-propagation', render: propagation },
  { file: 'fleet-sim.json', title: 'Fleet statistics, simulated', make: 'make bench-fleet-sim', render: fleetSim },
  { file: 'soak.json', title: 'Split-view soak', make: 'make soak', render: soak },
  { file: 'e2e.json', title: 'Plone and Django', make: 'make e2e-measure', render: e2e },
  { file: 'offload.json', title: 'Origin offload', make: 'make bench-offload', render: offload, also: 'offload.md' },
];

// ---------------------------------------------------------------------------------------

function generate() {
  const out = ['', ''];
  if (!fs.existsSync(resultsDir) || !fs.statSync(resultsDir).isDirectory()) {
    out.push(
      '**No results yet.** `bench-results/` does not exist in this checkout: run `make bench` (or one of its targets, `make soak`, `make e2e-measure`), then `make docs`.',
      '',
    );
    return { text: `${out.join('\n')}\n`, files: 0 };
  }
  const present = new Set(fs.readdirSync(resultsDir).filter((f) => f.endsWith('.json')));
  let files = 0;
  if (![...present].length) {
    out.push('**No results yet.** `bench-results/` holds no results: run `make bench` (or one of its targets, `make soak`, `make e2e-measure`), then `make docs`.', '');
  }
  for (const s of SECTIONS) {
    out.push(`### ${s.title}`, '');
    const file = path.join(resultsDir, s.file);
    if (!present.has(s.file)) {
      out.push(`Not run yet: \`${s.make}\` writes \`bench-results/${s.file}\`.`, '');
      continue;
    }
    present.delete(s.file);
    let json;
    try {
      json = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (e) {
      out.push(`\`bench-results/${s.file}\` could not be read (${e.message}); run \`${s.make}\` again.`, '');
      continue;
    }
    try {
      out.push(...s.render(json, runDate(json, file)));
      files += 1;
    } catch (e) {
      out.push(`\`bench-results/${s.file}\` is not in the shape this page knows (${e.message})${s.also ? `; \`bench-results/${s.also}\` of the same run has its tables` : ''}.`, '');
    }
  }
  if (present.size) {
    out.push(`Also in \`bench-results/\`, not shown here: ${[...present].sort().map(code).join(', ')}.`, '');
  }
  return { text: `${out.join('\n')}\n`, files };
}

function main() {
  const { text, files } = generate();
  if (toStdout) {
    process.stdout.write(text);
    return;
  }
  const page = fs.readFileSync(pagePath, 'utf8');
  const begin = page.indexOf(BEGIN);
  const end = page.indexOf(END);
  if (begin < 0 || end < begin || page.indexOf(BEGIN, begin + 1) >= 0 || page.indexOf(END, end + 1) >= 0) {
    console.error(`${path.relative(root, pagePath)}: needs exactly one "${BEGIN}" followed by one "${END}"`);
    process.exit(1);
  }
  const next = page.slice(0, begin + BEGIN.length) + text + page.slice(end);
  const rel = path.relative(root, pagePath);
  if (next === page) {
    console.log(`${rel}: unchanged (${files} result file${files === 1 ? '' : 's'})`);
  } else {
    fs.writeFileSync(pagePath, next);
    console.log(`${rel}: results written from ${files} file${files === 1 ? '' : 's'} in bench-results/`);
  }
}

main();
