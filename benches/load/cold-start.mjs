// Cold start: a new runtime (Miniflare instance, workerd process) to its first response,
// the median of COLD_ROUNDS rounds after one uncounted round.
import { Miniflare } from 'miniflare';
import { workerOptions } from '../../tests/support/stack.mjs';
import { COLD_ROUNDS, MF, WD } from './settings.mjs';
import { median } from './statistics.mjs';
import { jsOptions, rustOptions } from './miniflare.mjs';
import { startWorkerd } from './workerd.mjs';
import { SMALL } from './scenarios.mjs';
import { JS_FIXED, JS_FORWARDER } from './workers.mjs';

function coldSummary(label, runtime, rounds) {
  const res = {
    label,
    runtime,
    rounds,
    readyMs: median(rounds.map((r) => r.ready)),
    firstResponseMs: median(rounds.map((r) => r.first)),
    firstRequestMs: median(rounds.map((r) => r.firstRequest)),
  };
  console.log(`  ${runtime.padEnd(9)} ${label.padEnd(40)} ready ${res.readyMs.toFixed(0)} ms, first response ${res.firstResponseMs.toFixed(0)} ms (first request alone ${res.firstRequestMs.toFixed(1)} ms), median of ${COLD_ROUNDS}`);
  return res;
}

/** New Miniflare instance → first response. */
async function coldStart(label, makeOptions, firstPath) {
  const rounds = [];
  // Round -1 is not counted: it reads the worker's files from disk for the first time.
  for (let i = -1; i < COLD_ROUNDS; i += 1) {
    const t0 = performance.now();
    const mf = new Miniflare(makeOptions());
    const url = (await mf.ready).toString().replace(/\/$/, '');
    const tReady = performance.now();
    const r = await fetch(url + firstPath);
    await r.arrayBuffer();
    const tFirst = performance.now();
    await mf.dispose();
    if (i >= 0) rounds.push({ ready: tReady - t0, first: tFirst - t0, firstRequest: tFirst - tReady });
  }
  return coldSummary(label, MF, rounds);
}

/** New workerd process → listening → first response (ready: its socket is listening). */
async function coldStartWorkerd(label, configFile, firstPath) {
  const rounds = [];
  // Round -1 is not counted (as above).
  for (let i = -1; i < COLD_ROUNDS; i += 1) {
    const t0 = performance.now();
    const wd = await startWorkerd(configFile, firstPath);
    const tFirst = t0 + wd.answerMs;
    if (i >= 0) rounds.push({ ready: wd.listenMs, first: wd.answerMs, firstRequest: tFirst - (t0 + wd.listenMs) });
    await wd.stop();
  }
  return coldSummary(label, WD, rounds);
}

/** The cold-start rows of a run, printed: each worker in Miniflare, and in bare workerd when used. */
export async function coldRows(origin, mf, wd, wdConfigs) {
  console.log('\ncold start (new runtime → first response):');
  const cold = [];
  cold.push(await coldStart('rulecache', () => workerOptions({ originUrl: origin.url, secret: 'bench-secret' }), SMALL));
  cold.push(await coldStart('plain JS forwarder', () => jsOptions(JS_FORWARDER, origin.url), SMALL));
  cold.push(await coldStart('plain JS fixed response', () => jsOptions(JS_FIXED, origin.url), '/hello'));
  if (mf.rustFwd) cold.push(await coldStart('plain Rust forwarder', () => rustOptions(origin.url), SMALL));
  if (wd) {
    if (wd.rc) cold.push(await coldStartWorkerd('rulecache', wdConfigs.rulecache, SMALL));
    cold.push(await coldStartWorkerd('plain JS forwarder', wdConfigs.jsForwarder, SMALL));
    cold.push(await coldStartWorkerd('plain JS fixed response', wdConfigs.jsFixed, '/hello'));
    if (wd.rustFwd) cold.push(await coldStartWorkerd('plain Rust forwarder', wdConfigs.rustForwarder, SMALL));
  }
  return cold;
}
