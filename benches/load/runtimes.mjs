// The runtimes of a run: every worker started in the leanest runtime that has what it needs
// (Miniflare for everything, bare workerd for what needs no Cache API and no KV), and a
// description of which runtime serves which worker and scenario.
import path from 'node:path';
import { workerOptions } from '../../tests/support/stack.mjs';
import { MF, WANT_WORKERD, WD, root } from './settings.mjs';
import { jsOptions, rustOptions, serve } from './miniflare.mjs';
import { WORKERD_BIN, configDir, probeWorkerdCache, startWorkerd, workerdConfigs } from './workerd.mjs';
import { SCENARIOS, checkRulecacheWorkerd, leanest, startSameAnswers } from './scenarios.mjs';
import { JS_CACHE_HIT, JS_EDGE_CACHE, JS_FIXED, JS_FORWARDER } from './workers.mjs';

/**
 * Starts every worker of a run in front of `origin`, each pushed onto `started` (the caller
 * stops them): { mf, wd, wdConfigs, cacheProbe, rcCheck }, `wd` null without bare workerd.
 */
export async function startRuntimes(origin, haveRust, haveWorkerd, started) {
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
  return { mf, wd, wdConfigs, cacheProbe, rcCheck };
}

/** Prints which runtime serves which worker, and where each scenario runs. */
export function describeRuntimes({ wd, workerdVersion, miniflareVersion, haveRust, rcCheck, cacheProbe, wdScenarios }) {
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
}
