// The load benchmark's settings: the repository's root, what the environment sets (see
// run.mjs for the variables), the names of the two runtimes, and the environment every
// runtime it starts is given (wrangler's telemetry and Cloudflare lookups off).
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import os from 'node:os';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const cargoBin = path.join(os.homedir(), '.cargo/bin');
process.env.PATH = `${cargoBin}:${process.env.PATH}`;
process.env.WRANGLER_SEND_METRICS ??= 'false';
process.env.CLOUDFLARE_CF_FETCH_ENABLED ??= 'false';

export const DURATION = Number(process.env.BENCH_DURATION ?? 3);
export const WARMUP = Number(process.env.BENCH_WARMUP ?? 1);
export const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
export const COLD_ROUNDS = Number(process.env.BENCH_COLD_ROUNDS ?? 7);
export const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
export const WANT_RUST = process.env.BENCH_RUST_FORWARDER !== '0';
export const WANT_WORKERD = process.env.BENCH_WORKERD !== '0';
export const MF = 'miniflare';
export const WD = 'workerd';
export const COMPAT_DATE = '2026-04-01';
