// The report of a run: the throughput table on the console, and every row as Markdown tables
// (bench-results/load.md).
import { COLD_ROUNDS, MF, WD } from './settings.mjs';
import { SCENARIOS } from './scenarios.mjs';
import { FILL_BYTES, FILL_ENTRIES } from './memory.mjs';
import { WORKERS } from './workers.mjs';

/** The throughput rows as a table on the console, the ratios beside each. */
export function printTable(rows) {
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
}

/** Every row of one run as Markdown tables: throughput, cold start, peak memory. */
export function markdownReport(report) {
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
