// The scenarios of the load benchmark: the paths and headers each measures, the Cache-Status
// rulecache answers with once primed, and what it needs beyond the memory tier (which
// decides the leanest runtime it runs in); and the checks made before measuring.
import * as sameAnswer from './same-answer.mjs';
import { MF, WD } from './settings.mjs';
import { sleep } from './processes.mjs';
import { jsWorkerConfig, rulecacheConfig, startWorkerd } from './workerd.mjs';

// base64("alice:alice"): the demo origin's logged-in user.
export const ALICE = 'YWxpY2U6YWxpY2U=';

export const SMALL = '/t/bench-small?cc=max-age%3D3600';
export const LARGE = '/t/bench-large?bytes=300000&cc=max-age%3D3600';
export const NOSTORE = '/t/bench-miss?cc=no-store';
export const REVALIDATE = '/t/bench-reval?cc=max-age%3D0&etag=%22x%22';
export const NEWS = '/news';

// expect: a test on the Cache-Status the worker sends once primed. needs: what rulecache
// uses on the measured path beyond the memory tier; a scenario that needs nothing also runs
// rulecache in bare workerd (no cache service, no KV).
export const SCENARIOS = [
  { id: 'memory-hit', title: 'rulecache memory-tier hit', path: SMALL, headers: {}, needs: [], fixedBaseline: true, expect: (cs) => /; hit/.test(cs) },
  { id: 'cache-api-hit', title: 'rulecache Cache API hit (300 kB)', path: LARGE, headers: {}, needs: ['Cache API'], cacheApiHitBaseline: true, expect: (cs) => /; hit/.test(cs) },
  { id: 'miss', title: 'rulecache miss, forwarded (no-store)', path: NOSTORE, headers: {}, needs: [], expect: (cs) => !/; hit/.test(cs) && /fwd=/.test(cs) },
  { id: 'revalidate-304', title: 'rulecache stale, revalidated (304)', path: REVALIDATE, headers: {}, needs: [], expect: (cs) => /fwd=stale/.test(cs) && /fwd-status=304/.test(cs) },
  { id: 'splitview-anon-hit', title: 'rulecache split-view anonymous hit', path: NEWS, headers: {}, needs: ['Cache API'], fixedBaseline: true, expect: (cs) => /; hit/.test(cs) },
  { id: 'bypass-logged-in', title: 'rulecache bypass, logged in', path: NEWS, headers: { Cookie: `__ac=${ALICE}` }, needs: [], expect: (cs) => /fwd=bypass/.test(cs) },
];
export const leanest = (sc) => (sc.needs.length ? MF : WD);

/** How many requests for `p` (path and query) the demo origin has answered. */
export async function originHits(originUrl, p) {
  const r = await fetch(`${originUrl}/__origin/hits?path=${encodeURIComponent(p.split('?')[0])}`);
  return (await r.json()).hits;
}

/** Sends a few requests so the entry is stored; returns the last Cache-Status seen. */
export async function prime(url, headers) {
  let cs = '';
  for (let i = 0; i < 3; i += 1) {
    const r = await fetch(url, { headers });
    await r.arrayBuffer();
    cs = r.headers.get('cache-status') ?? '';
    await sleep(50);
  }
  return cs;
}

/**
 * Whether rulecache runs correctly in bare workerd: each scenario that needs neither the
 * Cache API nor KV answers 200 with the Cache-Status it has under Miniflare, and the active
 * policy is the bundled one (there is no KV binding). Resolves to { ok, problems, policySource,
 * scenarios: [{ id, status, cacheStatus, asExpected }] }.
 */
export async function checkRulecacheWorkerd(url) {
  const problems = [];
  const scenarios = [];
  let policySource = null;
  try {
    const r = await fetch(`${url}/_rulecache/api/policy`, { headers: { authorization: 'Bearer bench-secret' } });
    const j = r.status === 200 ? await r.json() : null;
    policySource = j?.active?.source ?? null;
    if (policySource !== 'bundled') problems.push(`policy endpoint: status ${r.status}, source ${policySource}`);
  } catch (e) {
    problems.push(`policy endpoint: ${e.message}`);
  }
  for (const sc of SCENARIOS.filter((s) => leanest(s) === WD)) {
    try {
      let status = 0;
      let cs = '';
      for (let i = 0; i < 3; i += 1) {
        const r = await fetch(url + sc.path, { headers: sc.headers });
        await r.arrayBuffer();
        status = r.status;
        cs = r.headers.get('cache-status') ?? '';
        await sleep(50);
      }
      const asExpected = status === 200 && sc.expect(cs);
      scenarios.push({ id: sc.id, status, cacheStatus: cs, asExpected });
      if (!asExpected) problems.push(`${sc.id}: status ${status}, Cache-Status ${cs || '(none)'}`);
    } catch (e) {
      scenarios.push({ id: sc.id, status: null, cacheStatus: null, asExpected: false });
      problems.push(`${sc.id}: ${e.message}`);
    }
  }
  return { ok: problems.length === 0, problems, policySource, scenarios };
}

/**
 * The same-answer workers (see same-answer.mjs), one for each bare-workerd scenario, started
 * with `serve` once rulecache's answers are recorded and each is checked against them; a
 * worker that answers otherwise is left out, with a warning.
 */
export async function startSameAnswers(originUrl, serve) {
  const scenarios = SCENARIOS.filter((sc) => leanest(sc) === WD);
  const recipes = await sameAnswer.record(originUrl, (o) => startWorkerd(rulecacheConfig('record-rulecache', o), '/'), scenarios);
  const out = {};
  for (const sc of scenarios) {
    const w = await serve(jsWorkerConfig(`js-same-answer-${sc.id}`, sameAnswer.source(recipes[sc.id]), originUrl));
    const problems = await sameAnswer.check(w.url, recipes[sc.id]);
    if (problems.length) {
      console.log(`  warning: ${sc.id}: the ${sameAnswer.NAME} worker answers otherwise than rulecache (${problems.join('; ')}): left out`);
      await w.stop();
      continue;
    }
    out[sc.id] = w;
  }
  return out;
}
