// Peak memory under load: rulecache (and the plain JS forwarder beside it) with its inspector
// open, the memory tier filled, then bodies of 1 MB and 10 MB streaming; the isolate's heap from
// its inspector, the process's resident size from /proc.
import fs from 'node:fs';
import { Miniflare } from 'miniflare';
import { workerOptions } from '../../tests/support/stack.mjs';
import { MF, WD } from './settings.mjs';
import { sleep } from './processes.mjs';
import { measure } from './generator.mjs';
import { freePort, inspectorSession, inspectorTarget, wasmMemoryBytes } from './inspector.mjs';
import { prime } from './scenarios.mjs';
import { startWorkerd } from './workerd.mjs';
import { WORKERS } from './workers.mjs';

// The memory tier is filled first (FILL_ENTRIES entries of FILL_BYTES, more than its 16 MiB),
// and stays full for the scenarios after it: hits on a filled tier, then bodies of 1 MB and
// 10 MB streaming on misses and (Cache API) hits.
export const FILL_ENTRIES = 100;
export const FILL_BYTES = 200_000;
const fillPath = (i) => `/t/mem-fill-${i}?bytes=${FILL_BYTES}&cc=max-age%3D3600`;
export const MEMORY_SCENARIOS = [
  { id: 'mem-tier-full-hit', title: `memory-tier hit, tier full (${FILL_ENTRIES} × 200 kB offered)`, path: fillPath(FILL_ENTRIES - 1), needs: [], expect: (cs) => /; hit/.test(cs) },
  { id: 'mem-miss-1MB', title: 'miss, 1 MB body streamed (no-store)', path: '/t/mem-miss-1m?bytes=1000000&cc=no-store', needs: [], expect: (cs) => /fwd=/.test(cs) },
  { id: 'mem-miss-10MB', title: 'miss, 10 MB body streamed (no-store)', path: '/t/mem-miss-10m?bytes=10000000&cc=no-store', needs: [], expect: (cs) => /fwd=/.test(cs) },
  { id: 'mem-hit-1MB', title: 'Cache API hit, 1 MB body streamed', path: '/t/mem-hit-1m?bytes=1000000&cc=max-age%3D3600', needs: ['Cache API'], expect: (cs) => /; hit/.test(cs) },
  { id: 'mem-hit-10MB', title: 'Cache API hit, 10 MB body streamed', path: '/t/mem-hit-10m?bytes=10000000&cc=max-age%3D3600', needs: ['Cache API'], expect: (cs) => /; hit/.test(cs) },
];
export const ISOLATE_LIMIT = 128 * 1024 * 1024;

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
export async function startMemoryTarget(runtime, origin, wdConfigs, worker = 'rulecache') {
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
export async function memoryTierStats(base) {
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

/**
 * The memory rows of a run, printed: rulecache in bare workerd (when it runs there) with the
 * plain JS forwarder beside it, and rulecache in Miniflare; none without a WebSocket client.
 */
export async function memoryRows(gen, origin, wd, wdConfigs) {
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
  return memory;
}
