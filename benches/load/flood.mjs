// Peak memory under a flood of small entries: what the memory tier counts against what the
// isolate holds (its wasm memory and JS heap, from its inspector), in the full run or alone
// (BENCH_ONLY=flood).
import path from 'node:path';
import fs from 'node:fs';
import os from 'node:os';
import { startOrigin } from '../../tests/support/stack.mjs';
import { MF, WANT_WORKERD, WD, root } from './settings.mjs';
import { sleep } from './processes.mjs';
import { inspectorSession, wasmMemoryBytes } from './inspector.mjs';
import { ISOLATE_LIMIT, memoryTierStats, startMemoryTarget } from './memory.mjs';
import { prime } from './scenarios.mjs';
import { WORKERD_BIN, workerdConfigs } from './workerd.mjs';

// FLOOD_ENTRIES distinct URLs with tiny bodies, each stored in the memory tier on its miss:
// many more than the tier's budget holds once each entry's whole cost is counted. What the
// tier counts (GET …/api/stats) is set beside what the isolate really holds: the growth of
// its wasm linear memory (where the tier lives) and the peak of its JS heap and ArrayBuffers
// (the runtime's objects for the last heads), from the isolate's inspector.
export const FLOOD_ENTRIES = Number(process.env.BENCH_FLOOD_ENTRIES ?? 40_000);
export const FLOOD_BYTES = 16;
export const FLOOD_CONCURRENCY = 16;
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
export async function floodRun(runtime, origin, wdConfigs) {
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

/** The flood's rows of a full run, printed: rulecache in bare workerd when it runs there, else in Miniflare. */
export async function floodRows(origin, wd, wdConfigs) {
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
  return flood;
}

/**
 * BENCH_ONLY=flood: the flood of small entries alone, its rows written into
 * bench-results/load.json (the other rows of an earlier run kept, the flood's own date beside).
 */
export async function floodOnly() {
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
