// `make run`: the demo origin on 127.0.0.1:8788 and the worker (workerd through Miniflare,
// with local KV, Cache API and Durable Objects kept under .wrangler/state) on 127.0.0.1:8787.
import fs from 'node:fs';
import { Miniflare } from 'miniflare';
import { spawn } from 'node:child_process';
import { workerOptions } from './stack.mjs';

/** `name`'s value in .dev.vars, else `fallback`. */
function devVar(name, fallback) {
  try {
    const text = fs.readFileSync('.dev.vars', 'utf8');
    const m = new RegExp(`^${name}\\s*=\\s*"?([^"\\n]*)"?`, 'm').exec(text);
    if (m && m[1]) return m[1];
  } catch {}
  return fallback;
}

const originPort = Number(process.env.ORIGIN_PORT ?? 8788);
const workerPort = Number(process.env.PORT ?? 8787);
const origin = await startOriginOn(originPort);
const secret = devVar('PURGE_SECRET', 'dev-purge-secret');
const adminSecret = devVar('ADMIN_SECRET', 'dev-admin-secret');
const statsSecret = devVar('STATS_SECRET', null);
const mf = new Miniflare(workerOptions({ originUrl: origin.url, secret, adminSecret, statsSecret, port: workerPort, persist: true }));
const url = (await mf.ready).toString().replace(/\/$/, '');
/** A variable's first value (each may list several, for rotation). */
const first = (list) => list.split(/[\s,]+/).filter(Boolean)[0];

async function startOriginOn(port) {
  const child = spawn('target/release/demo-origin', ['--port', String(port), '--exit-on-stdin-close'], { stdio: ['pipe', 'inherit', 'inherit'] });
  await new Promise((r) => setTimeout(r, 300));
  return { url: `http://127.0.0.1:${port}`, stop: () => child.kill('SIGTERM') };
}

console.log(`
rulecache is running at ${url}  (demo origin at ${origin.url})
policy: the bundled splitviews profile until you push one
secrets (from .dev.vars, else these): PURGE_SECRET "${secret}" purges only; ADMIN_SECRET "${adminSecret}" opens the panel${statsSecret ? `; STATS_SECRET "${statsSecret}" reads stats` : ''}

Try:
  curl -si ${url}/news | grep -i -E '^(cache-status|x-rulecache|vary|cache-control)'     # twice: miss, then hit
  curl -si -b '__ac=YWxpY2U6YWxpY2U=' ${url}/news | grep -i cache-status              # logged in: bypass (anonOnly)
  curl -si ${url}/++plone++static/++unique++2026-01-01/app.js | grep -i cache-control  # strongCaching
  curl -si -X PURGE -H 'Authorization: Bearer ${first(secret)}' ${url}/news                  # purge /news and its variants
  open ${url}/_rulecache/                                                              # the control panel (admin secret: ${first(adminSecret)})
Stop with Ctrl-C.
`);

const stop = async () => {
  await mf.dispose();
  origin.stop();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
