// The goals of a run (issue 17's table, and the JS edge cache: beat it on hits, match it on
// misses), each a ratio within one runtime and this run, and the bare-workerd ratios given
// beside them for information.
import * as sameAnswer from './same-answer.mjs';
import { MF, WD } from './settings.mjs';

const x = (v) => (v == null ? '' : `${v.toFixed(2)}x`);

/** Of the worker giving rulecache's answer with its decisions made in advance, the ratio `key` of scenario `id`. */
const sameAnswerRatio = (row, id, key) => row(`js-same-answer:${id}`, WD)?.[key];

/**
 * The goals, each { budget, runtime, value, met, unit, sameAnswer }; `row(id, runtime)` finds a
 * throughput row, `cold`, `memory` and `size` are the run's other results.
 */
export function goals(row, cold, memory, size) {
  const MiB = 1024 * 1024;
  const KiB = 1024;
  // The goals (issue 17's table, and the JS edge cache: beat it on hits, match it on misses),
  // each a ratio within one runtime and this run; a goal whose rows were not measured is
  // reported as such.
  const coldOf = (label, rt) => cold.find((c) => c.label === label && c.runtime === rt);
  const goal = (text, runtime, value, ok, unit = 'x', same = null) => ({ budget: text, runtime, value: value ?? null, met: value == null ? null : ok(value), unit, sameAnswer: same ?? null });
  // The same ratio for the worker that gives rulecache's answer with its decisions made in
  // advance: the most any worker giving that answer gets from the runtime.
  const sameOf = (id, key) => sameAnswerRatio(row, id, key);
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
  return budgets;
}

/** Prints the goals: met, missed, or not measured. */
export function printGoals(budgets) {
  console.log('\ngoals (each a ratio of rows in one runtime, this run):');
  for (const b of budgets) {
    const v = b.value == null ? 'not measured' : b.unit === 'x' ? `${b.value.toFixed(2)}x` : b.unit === 'B' ? `${b.value} B` : `${b.value.toFixed(1)} ${b.unit}`;
    const same = b.sameAnswer == null ? '' : `; ${sameAnswer.NAME}: ${b.sameAnswer.toFixed(2)}x`;
    console.log(`  ${b.met == null ? '-      ' : b.met ? 'met    ' : 'MISSED '} ${b.budget}${b.runtime ? ` [${b.runtime}]` : ''} (${v}${same})`);
  }
}

/** The bare-workerd ratios (information only, not budgets), printed. */
export function informationalRows(row, wd, wdScenarios, rcCheck) {
  const sameOf = (id, key) => sameAnswerRatio(row, id, key);
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
  return informational;
}
