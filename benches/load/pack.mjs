// Workers packed by the workspace's worker-pack: the environment it runs in, the plain Rust
// forwarder built once with it, and the size of a packed wasm module.
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import fs from 'node:fs';
import zlib from 'node:zlib';
import { root, WANT_RUST } from './settings.mjs';
import { run } from './processes.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
export const rustDir = path.join(here, 'rust-forwarder');

/** The environment worker-pack runs in: the project's wasm-opt and esbuild unless set. */
export function packEnv() {
  return {
    ...process.env,
    WASM_OPT_BIN: process.env.WASM_OPT_BIN ?? path.join(root, 'node_modules/.bin/wasm-opt'),
    ESBUILD_BIN: process.env.ESBUILD_BIN ?? path.join(root, 'node_modules/.bin/esbuild'),
  };
}

/** Builds the plain Rust forwarder once (worker-pack); false when that is not possible. */
export function ensureRustForwarder() {
  const out = path.join(rustDir, 'build/index.js');
  if (fs.existsSync(out)) return true;
  if (!WANT_RUST) return false;
  const pack = path.join(root, 'target/debug/worker-pack');
  if (!fs.existsSync(pack)) {
    console.log('rust forwarder: worker-pack missing (make build makes it); skipped');
    return false;
  }
  console.log('rust forwarder: building with worker-pack (first run only) …');
  const env = { ...packEnv(), CARGO_TARGET_DIR: path.join(root, 'target/bench-rust-forwarder') };
  const ok = run(pack, ['--manifest-path', path.join(rustDir, 'Cargo.toml'), '--out', path.join(rustDir, 'build')], { cwd: root, env });
  if (!ok) console.log('rust forwarder: build failed; skipped');
  return ok && fs.existsSync(out);
}

/** A wasm module's size: raw and gzipped (level 9). */
export function wasmSize(file) {
  const bytes = fs.readFileSync(file);
  return { raw: bytes.length, gzip: zlib.gzipSync(bytes, { level: 9 }).length };
}
