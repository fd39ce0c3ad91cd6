// What a cold start pays, stage by stage, in bare workerd: a new runtime process to the first
// response, for rulecache beside the plain JS forwarder and two workers in between that isolate
// what the module itself costs.
//
//   make bench-cold
//
// The stages (each round starts every worker once, in turn; medians of the per-round
// differences):
// - "runtime and a JS worker": the plain JS forwarder's time to listening;
// - "compiling the module": a JS forwarder that imports rulecache's wasm module (which the
//   runtime compiles when it loads the worker) without using it, minus the forwarder;
// - "instantiating it": the same forwarder instantiating the module at load with no-op imports
//   (nothing of rulecache runs), minus the one that only imports it;
// - "the glue and the module's start": rulecache to listening, minus the instantiating
//   forwarder: wasm-bindgen's glue, the entry shim, and the module's start function (the bundled
//   policy compiled, the decision path rehearsed, see `policy_store::prepare`);
// - "first request": rulecache's first request (listening to the first response) minus the
//   forwarder's. Both fetch the same page from the demo origin; rulecache stores it.
//
// And where the module's own time goes: V8 compiles a wasm function with its baseline compiler
// (Liftoff) on its first call, on the thread that runs the worker. A run of the worker packed
// with its function names, under V8's `--trace-wasm-compilation-times` (a diagnostic flag a
// deployed worker cannot set), lists every function compiled while the module starts, while the
// first request is answered and just after, with the time each took: the tables give them by
// crate and module.
//
// Environment: BENCH_COLD_ROUNDS (rounds, default 11). Writes bench-results/cold.json and
// bench-results/cold.md.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import fs from 'node:fs';
import { startOrigin } from '../../tests/support/stack.mjs';
import { runMain, sleep } from './processes.mjs';
import { median } from './statistics.mjs';
import { JS_FORWARDER } from './workers.mjs';
import { packEnv } from './pack.mjs';
import { jsWorkerConfig, rulecacheConfig, startWorkerd, workerdConfig, writeConfig, writeModule } from './workerd.mjs';
import { SMALL } from './scenarios.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ROUNDS = Number(process.env.BENCH_COLD_ROUNDS ?? 11);
const buildDir = path.join(root, 'build');
const namesDir = path.join(root, 'target/bench-cold/build');
const outDir = path.join(root, 'bench-results');

// The plain JS forwarder's fetch handler, with the module imported (and, for the second,
// instantiated with an import object of no-ops) at load.
const FORWARD = `export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    return fetch(new Request(env.ORIGIN + url.pathname + url.search, request));
  },
};`;
const MODULE_ONLY = `import wasm from './index_bg.wasm';
globalThis.rulecacheModule = wasm;
${FORWARD}`;
const INSTANTIATED = `import wasm from './index_bg.wasm';
const imports = {};
for (const i of WebAssembly.Module.imports(wasm)) {
  imports[i.module] ??= {};
  imports[i.module][i.name] = i.kind === 'function' ? () => {} : i.kind === 'tag' ? WebAssembly.JSTag : undefined;
}
globalThis.rulecacheInstance = new WebAssembly.Instance(wasm, imports);
${FORWARD}`;

function stageConfigs(originUrl) {
  const wasm = { name: 'index_bg.wasm', kind: 'wasm', file: path.join(buildDir, 'index_bg.wasm') };
  const js = (id, source) => ({ name: `${id}.js`, kind: 'esModule', file: writeModule(`${id}.js`, source) });
  const config = (id, modules) => writeConfig(id, workerdConfig({ id, modules, text: { ORIGIN: originUrl } }));
  return {
    forwarder: jsWorkerConfig('cold-js-forwarder', JS_FORWARDER, originUrl),
    moduleOnly: config('cold-module-only', [js('cold-module-only', MODULE_ONLY), wasm]),
    instantiated: config('cold-instantiated', [js('cold-instantiated', INSTANTIATED), wasm]),
    rulecache: rulecacheConfig('cold-rulecache', originUrl),
  };
}

/** ROUNDS rounds, each starting every worker once; round -1 (files read from disk) is dropped. */
async function stages(configs) {
  const rounds = [];
  for (let i = -1; i < ROUNDS; i += 1) {
    const round = {};
    for (const [name, file] of Object.entries(configs)) {
      const wd = await startWorkerd(file, SMALL);
      round[name] = { listen: wd.listenMs, first: wd.answerMs - wd.listenMs };
      await wd.stop();
    }
    if (i >= 0) rounds.push(round);
  }
  const m = (f) => median(rounds.map(f));
  return {
    rounds,
    rows: [
      ['runtime and a JS worker (the plain JS forwarder, to listening)', m((r) => r.forwarder.listen)],
      ["compiling rulecache's module (decoding and validating it)", m((r) => r.moduleOnly.listen - r.forwarder.listen)],
      ['instantiating it (no-op imports, nothing of rulecache runs)', m((r) => r.instantiated.listen - r.moduleOnly.listen)],
      ["the glue and the module's start (bundled policy compiled, decision path rehearsed)", m((r) => r.rulecache.listen - r.instantiated.listen)],
      ["first request, beyond the plain JS forwarder's", m((r) => r.rulecache.first - r.forwarder.first)],
    ],
    forwarder: { listen: m((r) => r.forwarder.listen), first: m((r) => r.forwarder.first), total: m((r) => r.forwarder.listen + r.forwarder.first) },
    rulecache: { listen: m((r) => r.rulecache.listen), first: m((r) => r.rulecache.first), total: m((r) => r.rulecache.listen + r.rulecache.first) },
  };
}

/** Function index → name, from a wasm module's name section. */
function functionNames(file) {
  const b = fs.readFileSync(file);
  let i = 8;
  const leb = () => {
    let r = 0;
    let shift = 0;
    for (;;) {
      const x = b[i++];
      r += (x & 0x7f) * 2 ** shift;
      shift += 7;
      if (x < 0x80) return r;
    }
  };
  const names = new Map();
  while (i < b.length) {
    const id = b[i++];
    const size = leb();
    const end = i + size;
    if (id === 0) {
      const len = leb();
      const section = b.toString('utf8', i, i + len);
      i += len;
      while (section === 'name' && i < end) {
        const sub = b[i++];
        const subEnd = leb() + i;
        if (sub === 1) {
          for (let n = leb(); n > 0; n -= 1) {
            const index = leb();
            const l = leb();
            names.set(index, b.toString('utf8', i, i + l));
            i += l;
          }
        }
        i = subEnd;
      }
    }
    i = end;
  }
  return names;
}

/** A function's crate and module (and, for rulecache's crates, the item below). */
function group(name) {
  const m = /^<?(?:impl )?([A-Za-z_0-9]+)(?:\[[0-9a-f]+\])?::([A-Za-z_0-9]+)(?:::([A-Za-z_0-9]+))?/.exec(name ?? '');
  if (!m) return name ? name.replace(/::h[0-9a-f]{16}$/, '').slice(0, 40) : '(unnamed)';
  return m[1].startsWith('rulecache') && m[3] ? `${m[1]}::${m[2]}::${m[3]}` : `${m[1]}::${m[2]}`;
}

const COMPILED = /Compiled function 0x[0-9a-f]+#(\d+) using (\w+), took (\d+) \S+ and \d+ bytes; bodysize (\d+)/;

/**
 * One start of rulecache (packed with names) under the compile trace: the functions compiled
 * to listening, while the first request is answered, and in the 300 ms after its response.
 */
async function traceRound(originUrl) {
  const config = rulecacheConfig('cold-trace', originUrl, namesDir, ['--trace-wasm-compilation-times']);
  const compiled = [];
  const wd = await startWorkerd(config, null, [], (line) => {
    const m = COMPILED.exec(line);
    if (m) compiled.push({ index: Number(m[1]), tier: m[2], us: Number(m[3]), bytes: Number(m[4]) });
  });
  try {
    await sleep(300);
    const atListen = compiled.length;
    const r = await fetch(wd.url + SMALL);
    await r.arrayBuffer();
    const atAnswer = compiled.length;
    await sleep(300);
    const phases = {
      'module start': compiled.slice(0, atListen),
      'first request': compiled.slice(atListen, atAnswer),
      'after its response': compiled.slice(atAnswer),
    };
    return phases;
  } finally {
    await wd.stop();
  }
}

function summarise(list, names) {
  const liftoff = list.filter((f) => f.tier === 'Liftoff');
  const groups = new Map();
  for (const f of liftoff) {
    const k = group(names.get(f.index));
    const g = groups.get(k) ?? { group: k, functions: 0, bytes: 0, us: 0 };
    g.functions += 1;
    g.bytes += f.bytes;
    g.us += f.us;
    groups.set(k, g);
  }
  return {
    functions: liftoff.length,
    bytes: liftoff.reduce((a, f) => a + f.bytes, 0),
    us: liftoff.reduce((a, f) => a + f.us, 0),
    optimisedInBackground: list.length - liftoff.length,
    groups: [...groups.values()].sort((a, b) => b.bytes - a.bytes),
  };
}

async function compileTrace(originUrl) {
  const pack = path.join(root, 'target/debug/worker-pack');
  const r = spawnSync(pack, ['--out', namesDir, '--names'], { cwd: root, env: packEnv(), stdio: 'inherit' });
  if (r.status !== 0) throw new Error('worker-pack --names failed');
  const names = functionNames(path.join(namesDir, 'index_bg.wasm'));
  const runs = [];
  for (let i = 0; i < 3; i += 1) runs.push(await traceRound(originUrl));
  // The functions compiled are the same in every run; their times are not: each phase's total
  // time is the median of the runs, its groups are the first run's.
  const out = {};
  for (const phase of Object.keys(runs[0])) {
    const s = summarise(runs[0][phase], names);
    s.us = median(runs.map((run) => summarise(run[phase], names).us));
    out[phase] = s;
  }
  return out;
}

function markdown(report) {
  const ms = (v) => v.toFixed(1);
  const kb = (v) => (v / 1024).toFixed(1);
  const lines = [
    `# Cold start, stage by stage (bare workerd)`,
    ``,
    `${report.date}, ${report.rounds} rounds, median of each round's difference. The plain JS forwarder: ${ms(report.stages.forwarder.total)} ms to its first response; rulecache: ${ms(report.stages.rulecache.total)} ms (${(report.stages.rulecache.total / report.stages.forwarder.total).toFixed(2)}×).`,
    ``,
    `| stage | ms |`,
    `|---|---:|`,
    ...report.stages.rows.map(([name, v]) => `| ${name} | ${ms(v)} |`),
    ``,
    `## Wasm functions compiled on the way (Liftoff, on the worker's thread)`,
    ``,
    `| phase | functions | KiB of code | ms compiling |`,
    `|---|---:|---:|---:|`,
    ...Object.entries(report.compiled).map(([phase, s]) => `| ${phase} | ${s.functions} | ${kb(s.bytes)} | ${ms(s.us / 1000)} |`),
    ``,
  ];
  for (const [phase, s] of Object.entries(report.compiled)) {
    lines.push(`### ${phase}: the largest groups`, ``, `| crate::module | functions | KiB | ms |`, `|---|---:|---:|---:|`);
    for (const g of s.groups.slice(0, 15)) lines.push(`| \`${g.group}\` | ${g.functions} | ${kb(g.bytes)} | ${ms(g.us / 1000)} |`);
    lines.push(``);
  }
  return lines.join('\n');
}

async function main() {
  const origin = await startOrigin();
  try {
    console.log(`cold start stages, ${ROUNDS} rounds:`);
    const st = await stages(stageConfigs(origin.url));
    for (const [name, v] of st.rows) console.log(`  ${name.padEnd(88)} ${v.toFixed(1)} ms`);
    console.log(`  plain JS forwarder ${st.forwarder.total.toFixed(1)} ms, rulecache ${st.rulecache.total.toFixed(1)} ms to the first response`);
    console.log('wasm functions compiled (names build, --trace-wasm-compilation-times):');
    const compiled = await compileTrace(origin.url);
    for (const [phase, s] of Object.entries(compiled)) {
      console.log(`  ${phase.padEnd(20)} ${String(s.functions).padStart(4)} functions, ${(s.bytes / 1024).toFixed(1)} KiB, ${(s.us / 1000).toFixed(1)} ms`);
    }
    const report = { date: new Date().toISOString().slice(0, 10), rounds: ROUNDS, stages: st, compiled };
    fs.mkdirSync(outDir, { recursive: true });
    fs.writeFileSync(path.join(outDir, 'cold.json'), JSON.stringify(report, null, 2) + '\n');
    fs.writeFileSync(path.join(outDir, 'cold.md'), markdown(report) + '\n');
    console.log('wrote bench-results/cold.json and bench-results/cold.md');
  } finally {
    await origin.stop();
  }
}

runMain(main);
