// The load generator (oha, else wrk): installed when missing, driven for a number of seconds,
// its report read into req/s, latency percentiles and errors.
import { spawn } from 'node:child_process';
import { CONCURRENCY, DURATION, WARMUP } from './settings.mjs';
import { has, run } from './processes.mjs';

export function ensureGenerator() {
  if (has('oha')) return 'oha';
  console.log('load generator: installing oha (cargo install oha --locked) …');
  if (run('cargo', ['install', 'oha', '--locked']) && has('oha')) return 'oha';
  console.log('load generator: oha unavailable, installing wrk from apt …');
  if (has('wrk') || (run('apt-get', ['update', '-qq']) && run('apt-get', ['install', '-y', '-qq', 'wrk']))) {
    if (has('wrk')) return 'wrk';
  }
  throw new Error('no load generator: install oha (cargo install oha --locked) or wrk');
}

function spawnCollect(cmd, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} exited ${code}: ${err || out}`))));
  });
}

/** Drives `url` for `seconds`; resolves to { rps, p50, p99 (ms), total, ok, errors }. */
export async function drive(gen, url, headers, seconds) {
  const hdrs = Object.entries(headers);
  if (gen === 'oha') {
    // Keep-alive connections (oha's default), like wrk; -w lets requests in flight at the
    // deadline finish instead of resetting their connections.
    const args = ['-z', `${seconds}s`, '-w', '-c', String(CONCURRENCY), '--no-tui', '--output-format', 'json'];
    for (const [n, v] of hdrs) args.push('-H', `${n}: ${v}`);
    args.push(url);
    const j = JSON.parse(await spawnCollect('oha', args));
    const codes = j.statusCodeDistribution ?? {};
    const ok = Object.entries(codes).reduce((a, [c, n]) => a + (Number(c) < 400 ? n : 0), 0);
    const total = Object.values(codes).reduce((a, n) => a + n, 0);
    const errors = Object.entries(j.errorDistribution ?? {})
      .filter(([what]) => !/deadline/i.test(what))
      .reduce((a, [, n]) => a + n, 0);
    const pct = j.latencyPercentiles ?? {};
    return {
      rps: ok / seconds,
      p50: (pct.p50 ?? NaN) * 1000,
      p99: (pct.p99 ?? NaN) * 1000,
      total,
      ok,
      errors: errors + (total - ok),
    };
  }
  const args = ['-d', `${seconds}s`, '-c', String(CONCURRENCY), '-t', '1', '--latency'];
  for (const [n, v] of hdrs) args.push('-H', `${n}: ${v}`);
  args.push(url);
  const out = await spawnCollect('wrk', args);
  const num = (re) => Number((re.exec(out) ?? [])[1] ?? NaN);
  const ms = (re) => {
    const m = re.exec(out);
    if (!m) return NaN;
    const f = { us: 0.001, ms: 1, s: 1000 }[m[2]] ?? 1;
    return Number(m[1]) * f;
  };
  const total = num(/(\d+) requests in/);
  const bad = num(/Non-2xx or 3xx responses: (\d+)/) || 0;
  const sockErr = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = bad + (sockErr ? sockErr.slice(1).reduce((a, n) => a + Number(n), 0) : 0);
  return {
    rps: (total - bad) / seconds,
    p50: ms(/50%\s+([\d.]+)(us|ms|s)/),
    p99: ms(/99%\s+([\d.]+)(us|ms|s)/),
    total,
    ok: total - bad,
    errors,
  };
}

/** One worker measured once: a warm-up, then DURATION seconds, its line printed. */
export async function measure(gen, runtime, label, url, headers) {
  await drive(gen, url, headers, WARMUP);
  const m = await drive(gen, url, headers, DURATION);
  process.stdout.write(`  ${runtime.padEnd(9)} ${label.padEnd(58)} ${m.rps.toFixed(0).padStart(7)} req/s  p50 ${m.p50.toFixed(2)} ms  p99 ${m.p99.toFixed(2)} ms${m.errors ? `  (${m.errors} errors)` : ''}\n`);
  return m;
}
