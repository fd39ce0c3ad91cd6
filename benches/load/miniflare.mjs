// Workers served by Miniflare's HTTP server (workerd inside, with Cache API, KV and Durable
// Objects): the options of a plain JS worker and of the plain Rust forwarder, and the server.
import path from 'node:path';
import { Miniflare } from 'miniflare';
import { COMPAT_DATE, MF } from './settings.mjs';
import { rustDir } from './pack.mjs';

export function jsOptions(script, originUrl) {
  return {
    modules: true,
    script,
    compatibilityDate: COMPAT_DATE,
    bindings: { ORIGIN: originUrl },
    host: '127.0.0.1',
    port: 0,
  };
}

export function rustOptions(originUrl) {
  const build = path.join(rustDir, 'build');
  return {
    modules: true,
    scriptPath: path.join(build, 'index.js'),
    modulesRoot: build,
    modulesRules: [{ type: 'CompiledWasm', include: ['**/*.wasm'], fallthrough: true }],
    compatibilityDate: COMPAT_DATE,
    bindings: { ORIGIN: originUrl },
    host: '127.0.0.1',
    port: 0,
  };
}

export async function serve(options) {
  const mf = new Miniflare(options);
  const url = (await mf.ready).toString().replace(/\/$/, '');
  return { runtime: MF, url, stop: () => mf.dispose() };
}
