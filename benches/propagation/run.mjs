// Purge propagation: how long after a purge is recorded in the ledger by another location
// this location stops serving the purged entry, measured against the real worker in workerd
// (Miniflare: real Durable Object, KV and Cache API) in front of the demo origin.
//
//   make bench-propagation            (builds the worker and the origin first)
//   node benches/propagation/run.mjs  (when both are built)
//
// Two kinds of traffic are measured, each PROPAGATION_ROUNDS times (default 8):
//   - steady: the purged URL is requested every PROPAGATION_POLL_MS (default 50) ms, as a
//     busy URL is; the copy of the ledger is refreshed in the background once 2 s old;
//   - after a quiet spell: no request for 11 s, then one request; a copy 10 s old is
//     refreshed before that request is answered.
// The purge is written straight into the ledger Durable Object (as a purge taken at another
// location would be), so this location's Cache API copy is not deleted: only the ledger
// can make it a miss. Prints median and maximum, and writes bench-results/propagation.json.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startStack, client, ns, sleep, cacheStatus, isHit } from '../../tests/support/stack.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ROUNDS = Number(process.env.PROPAGATION_ROUNDS ?? 8);
const POLL_MS = Number(process.env.PROPAGATION_POLL_MS ?? 50);
const QUIET_MS = 11_000;

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : NaN;
};

async function main() {
  const stack = await startStack({ secret: 'propagation-secret' });
  const get = client(stack);
  const send = async (p) => {
    const r = await get(p);
    await r.arrayBuffer();
    return r;
  };
  /** Stores `p`, returns its storage key once it is served from cache. */
  const cached = async (p) => {
    for (let i = 0; i < 100; i += 1) {
      const r = await send(p);
      if (isHit(r)) {
        // Cache-Status names the storage key to a request with the admin secret.
        const d = await get(p, { headers: { authorization: `Bearer ${stack.secret}` } });
        await d.arrayBuffer();
        const key = /key="([^"]+)"/.exec(cacheStatus(d))?.[1];
        if (key) return key;
      }
      await sleep(20);
    }
    throw new Error(`${p} was never served from cache`);
  };
  const results = { steady: [], afterQuiet: [] };
  try {
    for (let i = 0; i < ROUNDS; i += 1) {
      const p = `${ns('propagation-steady')}?cc=max-age%3D600`;
      const key = await cached(p);
      const t0 = performance.now();
      await stack.ledgerAppend([{ url: key }], false);
      let ms = NaN;
      while (performance.now() - t0 < 30_000) {
        const r = await send(p);
        if (!isHit(r)) {
          ms = performance.now() - t0;
          break;
        }
        await sleep(POLL_MS);
      }
      results.steady.push(ms);
      console.log(`  steady traffic, round ${i + 1}: first miss ${ms.toFixed(0)} ms after the ledger recorded the purge`);
    }
    for (let i = 0; i < Math.min(ROUNDS, 3); i += 1) {
      const p = `${ns('propagation-quiet')}?cc=max-age%3D600`;
      const key = await cached(p);
      await stack.ledgerAppend([{ url: key }], false);
      await sleep(QUIET_MS);
      const r = await send(p);
      const honoured = !isHit(r);
      results.afterQuiet.push(honoured);
      console.log(`  after ${QUIET_MS / 1000} s without requests, round ${i + 1}: first request ${honoured ? 'a miss (purge honoured)' : 'STILL A HIT'}`);
    }
  } finally {
    await stack.stop();
  }
  const summary = {
    rounds: ROUNDS,
    pollMs: POLL_MS,
    steadyMedianMs: median(results.steady),
    steadyMaxMs: Math.max(...results.steady),
    afterQuietHonoured: results.afterQuiet.every(Boolean),
    documentedBoundMs: 10_000,
    results,
  };
  console.log(
    `\npurge propagation (steady traffic): median ${summary.steadyMedianMs.toFixed(0)} ms, max ${summary.steadyMaxMs.toFixed(0)} ms over ${ROUNDS} rounds`
      + `; after a quiet spell the first request ${summary.afterQuietHonoured ? 'always honoured the purge' : 'did NOT always honour the purge'}`,
  );
  const out = path.join(root, 'bench-results');
  fs.mkdirSync(out, { recursive: true });
  fs.writeFileSync(path.join(out, 'propagation.json'), `${JSON.stringify(summary, null, 2)}\n`);
  if (!Number.isFinite(summary.steadyMaxMs) || !summary.afterQuietHonoured) process.exitCode = 1;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
