#!/usr/bin/env node
// Runs the fuzz targets on the stable toolchain (cargo-fuzz, libFuzzer; `make fuzz`,
// `make fuzz-replay`, `make fuzz-cmin`). Node 20, no dependencies.
//
//   node fuzz/run.mjs build            every target, one cargo-fuzz build
//   node fuzz/run.mjs run [TARGET[:SECONDS]]...
//                                      each target for FUZZ_SECONDS (or its own SECONDS) on its
//                                      corpus fuzz/corpus/<target>/, FUZZ_JOBS at a time; adds
//                                      the run to fuzz/stats.json; exits 1 when one crashed
//   node fuzz/run.mjs replay           every committed corpus and regression input, once
//   node fuzz/run.mjs cmin [TARGET]... each corpus merged down to the inputs that keep its
//                                      coverage
//
// No target named means all of them (fuzz/Cargo.toml's [[bin]]s). Environment:
//   FUZZ_SECONDS    seconds a target (default 60)
//   FUZZ_JOBS       fuzzers at a time (default 1)
//   FUZZ_NICE       niceness of the fuzzers (default 19: they take only idle CPU)
//   FUZZ_SANITIZER  none (default; the core has no unsafe code) or address (its nightly flag is
//                   let through on stable by RUSTC_BOOTSTRAP=1; about a third of the speed)
//
// A crash leaves its input in fuzz/artifacts/<target>/ (not committed): shrink it with
// `cargo fuzz tmin --sanitizer none <target> <file>`, put it in fuzz/regressions/<target>/ and
// keep it as a test in crates/core/tests/flow/fuzz_regressions.rs.
import fs from 'node:fs';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const fuzzDir = path.dirname(fileURLToPath(import.meta.url));
const statsPath = path.join(fuzzDir, 'stats.json');
const corpusDir = (t) => path.join(fuzzDir, 'corpus', t);
const regressionsDir = (t) => path.join(fuzzDir, 'regressions', t);
const artifactsDir = (t) => path.join(fuzzDir, 'artifacts', t);

const sanitizer = process.env.FUZZ_SANITIZER || 'none';
const nice = String(process.env.FUZZ_NICE ?? '19');
const jobs = Math.max(1, Number(process.env.FUZZ_JOBS || 1));
const defaultSeconds = Math.max(1, Number(process.env.FUZZ_SECONDS || 60));
const triple = `${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-unknown-linux-gnu`;
const binary = (t) => path.join(fuzzDir, 'target', triple, 'release', t);
const env = { ...process.env, ...(sanitizer === 'none' ? {} : { RUSTC_BOOTSTRAP: '1' }) };

/** The targets, in fuzz/Cargo.toml's order. */
function allTargets() {
  const toml = fs.readFileSync(path.join(fuzzDir, 'Cargo.toml'), 'utf8');
  return [...toml.matchAll(/\[\[bin\]\]\s*\nname\s*=\s*"([^"]+)"/g)].map((m) => m[1]);
}

function chosen(args) {
  const known = allTargets();
  const list = args.length ? args : known;
  return list.map((a) => {
    const [name, secs] = a.split(':');
    if (!known.includes(name)) throw new Error(`no fuzz target ${name} (targets: ${known.join(' ')})`);
    return { name, seconds: secs ? Number(secs) : defaultSeconds };
  });
}

function build() {
  const r = spawnSync('nice', ['-n', nice, 'cargo', 'fuzz', 'build', '--sanitizer', sanitizer], {
    cwd: fuzzDir,
    env,
    stdio: 'inherit',
  });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

/** Files and bytes in a folder (0, 0 when it is missing). */
function size(dir) {
  let files = 0;
  let bytes = 0;
  for (const f of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
    const st = fs.statSync(path.join(dir, f));
    if (st.isFile()) {
      files += 1;
      bytes += st.size;
    }
  }
  return { files, bytes };
}

function readStats() {
  try {
    return JSON.parse(fs.readFileSync(statsPath, 'utf8'));
  } catch {
    return { targets: {} };
  }
}

function writeStats(stats) {
  const sorted = Object.fromEntries(Object.keys(stats.targets).sort().map((k) => [k, stats.targets[k]]));
  fs.writeFileSync(statsPath, `${JSON.stringify({ ...stats, targets: sorted }, null, 2)}\n`);
}

/** The CPU seconds a running process has used (user and system), from /proc; 0 once it is gone. */
function cpuSeconds(pid) {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in USER_HZ (100 on Linux)
  } catch {
    return 0;
  }
}

/**
 * Runs a target's fuzzer; resolves to { seconds, cpuSeconds, executions, crashed, output }. At
 * nice 19 the fuzzer gets only what other work leaves, so its wall time and its CPU time differ;
 * the CPU time is sampled every two seconds.
 */
function fuzzOne({ name, seconds }) {
  for (const d of [corpusDir(name), artifactsDir(name)]) fs.mkdirSync(d, { recursive: true });
  const args = [
    '-n', nice, binary(name),
    `-artifact_prefix=${artifactsDir(name)}/`,
    `-max_total_time=${seconds}`,
    '-timeout=25',
    '-print_final_stats=1',
    corpusDir(name),
  ];
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn('nice', args, { cwd: fuzzDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let cpu = 0;
    const sampler = setInterval(() => {
      cpu = Math.max(cpu, cpuSeconds(child.pid));
    }, 2000);
    let output = '';
    const keep = (b) => {
      output = (output + b.toString()).slice(-200_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('close', (code, signal) => {
      clearInterval(sampler);
      const m = /stat::number_of_executed_units:\s*(\d+)/.exec(output);
      resolve({
        seconds: Math.round((Date.now() - started) / 1000),
        cpuSeconds: Math.round(cpu),
        executions: m ? Number(m[1]) : 0,
        crashed: code !== 0 || signal !== null,
        output,
      });
    });
  });
}

async function run(targets) {
  build();
  const queue = [...targets].sort((a, b) => b.seconds - a.seconds);
  const crashes = [];
  const worker = async () => {
    for (let t = queue.shift(); t; t = queue.shift()) {
      const before = new Set(fs.existsSync(artifactsDir(t.name)) ? fs.readdirSync(artifactsDir(t.name)) : []);
      console.log(`fuzz ${t.name}: ${t.seconds} s`);
      const r = await fuzzOne(t);
      const found = fs.readdirSync(artifactsDir(t.name)).filter((f) => !before.has(f));
      // Read, add and write at once: the other workers run in this same process.
      const stats = readStats();
      const s = stats.targets[t.name] ?? { seconds: 0, cpu_seconds: 0, executions: 0, runs: 0, crashes: 0 };
      s.seconds += r.seconds;
      s.cpu_seconds = (s.cpu_seconds ?? 0) + r.cpuSeconds;
      s.executions += r.executions;
      s.runs += 1;
      if (r.crashed) s.crashes += 1;
      const c = size(corpusDir(t.name));
      s.corpus_files = c.files;
      s.corpus_bytes = c.bytes;
      s.last_run = new Date().toISOString().slice(0, 10);
      stats.targets[t.name] = s;
      writeStats(stats);
      console.log(
        `fuzz ${t.name}: ${r.executions.toLocaleString('en-US')} executions in ${r.seconds} s (${r.cpuSeconds} s of CPU), ` +
          `corpus ${c.files} inputs, ${r.crashed ? 'CRASHED' : 'no crash'}`,
      );
      if (r.crashed) {
        crashes.push(t.name);
        console.log(r.output.split('\n').slice(-60).join('\n'));
        for (const f of found) console.log(`fuzz ${t.name}: input in ${path.join('fuzz/artifacts', t.name, f)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: jobs }, worker));
  if (crashes.length) {
    console.error(`fuzz: crashes in ${crashes.join(', ')}`);
    process.exit(1);
  }
}

/** Every committed input, once: the corpus and the kept crash inputs. */
function replay(targets) {
  build();
  let failed = 0;
  for (const { name } of targets) {
    const dirs = [corpusDir(name), regressionsDir(name)].filter((d) => fs.existsSync(d) && size(d).files > 0);
    if (!dirs.length) continue;
    const r = spawnSync('nice', ['-n', nice, binary(name), '-runs=0', ...dirs], { cwd: fuzzDir, env, encoding: 'utf8' });
    const n = dirs.reduce((sum, d) => sum + size(d).files, 0);
    if (r.status === 0) console.log(`replay ${name}: ${n} inputs, no crash`);
    else {
      failed += 1;
      console.log(`${r.stderr}`.split('\n').slice(-40).join('\n'));
      console.log(`replay ${name}: CRASHED`);
    }
  }
  if (failed) process.exit(1);
}

/** Each corpus merged into a fresh folder that keeps its coverage, then put in its place. */
function cmin(targets) {
  build();
  for (const { name } of targets) {
    const dir = corpusDir(name);
    if (!fs.existsSync(dir)) continue;
    const before = size(dir);
    const tmp = `${dir}.cmin`;
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.mkdirSync(tmp);
    const r = spawnSync('nice', ['-n', nice, binary(name), '-merge=1', tmp, dir], { cwd: fuzzDir, env, encoding: 'utf8' });
    if (r.status !== 0) {
      console.log(`${r.stderr}`.split('\n').slice(-40).join('\n'));
      fs.rmSync(tmp, { recursive: true, force: true });
      process.exit(1);
    }
    fs.rmSync(dir, { recursive: true });
    fs.renameSync(tmp, dir);
    const after = size(dir);
    const stats = readStats();
    if (stats.targets[name]) {
      stats.targets[name].corpus_files = after.files;
      stats.targets[name].corpus_bytes = after.bytes;
      writeStats(stats);
    }
    console.log(`cmin ${name}: ${before.files} inputs (${before.bytes} B) → ${after.files} (${after.bytes} B)`);
  }
}

const [command, ...rest] = process.argv.slice(2);
if (command === 'build') build();
else if (command === 'run') await run(chosen(rest));
else if (command === 'replay') replay(chosen(rest));
else if (command === 'cmin') cmin(chosen(rest));
else {
  console.error('usage: node fuzz/run.mjs build | run [TARGET[:SECONDS]]... | replay | cmin [TARGET]...');
  process.exit(2);
}
