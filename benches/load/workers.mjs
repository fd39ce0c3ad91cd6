// The comparison workers of the load benchmark: their names, by the id a result row carries
// (read by the benchmark's report and by the documentation's generated performance page), and
// the sources of the plain JS ones.
export const WORKERS = {
  'js-fixed': 'plain JS fixed response',
  'js-forwarder': 'plain JS forwarder',
  'rust-forwarder': 'plain Rust forwarder',
  'js-edge-cache': 'plain JS edge cache',
  'js-caches-default-hit': 'plain JS caches.default hit',
  'js-same-answer': 'plain JS same answer',
};

export const JS_FORWARDER = `export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    return fetch(new Request(env.ORIGIN + url.pathname + url.search, request));
  },
};`;

export const JS_FIXED = `export default {
  async fetch() {
    return new Response('hello\\n', { headers: { 'content-type': 'text/plain' } });
  },
};`;

// A hand-written edge cache of the kind site owners put in front of a CMS today: bypass for a
// login cookie (the AUTH_COOKIE binding, Plone's __ac when unbound) or Authorization, else
// answer from caches.default; on a miss fetch the origin and store the answer in the background
// when it is plainly cacheable. Used by the load and the offload benchmarks.
export const JS_EDGE_CACHE = `export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    const upstream = new Request(env.ORIGIN + url.pathname + url.search, request);
    const cookie = request.headers.get('cookie') || '';
    if (request.method !== 'GET' || request.headers.has('authorization') || new RegExp('(^|;\\\\s*)' + (env.AUTH_COOKIE || '__ac') + '=').test(cookie)) {
      return fetch(upstream);
    }
    const cache = caches.default;
    const hit = await cache.match(request);
    if (hit) return hit;
    const response = await fetch(upstream);
    const cc = response.headers.get('cache-control') || '';
    if (response.status === 200 && /(s-)?max-age=[1-9]/.test(cc) && !/no-store|private/.test(cc) && !response.headers.has('set-cookie')) {
      ctx.waitUntil(cache.put(request, response.clone()));
    }
    return response;
  },
};`;

// A worker that only answers from caches.default: the first request stores the origin's
// answer (once), every later one is a match returned as it is.
export const JS_CACHE_HIT = `let stored = null;
export default {
  async fetch(request, env) {
    const hit = await caches.default.match(request);
    if (hit) return hit;
    const url = new URL(request.url);
    stored ??= fetch(env.ORIGIN + url.pathname + url.search).then((r) => caches.default.put(request, r));
    await stored;
    return (await caches.default.match(request)) ?? new Response('not stored', { status: 500 });
  },
};`;
