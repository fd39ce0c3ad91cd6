// Throughput: each scenario's workers (rulecache and the baselines on the same path and headers,
// in the same runtime) measured in turn ROUNDS times, the order reversed every other round.
import * as sameAnswer from './same-answer.mjs';
import { MF, ROUNDS, WD } from './settings.mjs';
import { median, medianRound } from './statistics.mjs';
import { measure } from './generator.mjs';
import { SCENARIOS, leanest, originHits, prime } from './scenarios.mjs';

/**
 * The throughput rows of a run, printed as they are measured: the plain JS fixed response in
 * every runtime, then every scenario in every runtime where rulecache runs it. `servers`: the
 * workers started in each runtime, by runtime.
 */
export async function measureThroughput(gen, servers, origin) {
  const runtimes = Object.keys(servers);
  const rows = [];
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
  return rows;
}
