// The "plain JS same answer" baseline: for each bare-workerd scenario, a plain JS worker that
// gives the client the answer rulecache gives (the same status, fields and body) and sends the
// origin the request rulecache sends, with every decision made in advance. It does the runtime
// work rulecache's answer takes (read the request, forward it with its fields edited, build a
// Response with edited fields, or answer held bytes with held fields, or both: a conditional
// request forwarded and its 304 answered with held bytes) and nothing else: what
// rulecache pays beyond it is the decision and the crossings into wasm and back.
//
// The answers are recorded from rulecache itself: it runs in bare workerd in front of a
// recording proxy (which keeps what the origin was sent and what it answered), and a client on
// a raw socket sends the scenario's request with the fields the load generator sends. From the
// differences the worker's edits are written out as constants; each worker is then checked
// against the recording (same status, same fields but those that change by the request) before
// it is measured.
import http from 'node:http';
import net from 'node:net';

/** The baseline's name in the tables. */
import { WORKERS } from './workers.mjs';

export const NAME = WORKERS['js-same-answer'];

/** The fields oha sends (besides Host), as the load benchmark drives every worker. */
export const GENERATOR_FIELDS = [
  ['accept', '*/*'],
  ['accept-encoding', 'gzip, compress, deflate, br'],
  ['user-agent', 'oha/1.16.0'],
];

// Fields whose values change from one request to the next (the origin's clock and counters,
// the entry's age): left as the origin or the runtime sets them, and not compared.
const PER_REQUEST = new Set(['date', 'age', 'x-origin-hit']);
// Fields the runtime adds to a request sent with `cache: 'no-store'` (as both workers send
// it) and sets from the URL.
const RUNTIME_ADDED = new Set(['host', 'cache-control', 'pragma']);

/** Pairs of [lower-case name, value] from Node's rawHeaders. */
const pairs = (raw) => {
  const out = [];
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([raw[i].toLowerCase(), raw[i + 1]]);
  return out;
};
const joined = (list, name) => {
  const v = list.filter(([n]) => n === name).map(([, v]) => v);
  return v.length ? v.join(', ') : null;
};

/** The edits (fields deleted, fields set) that turn `from` into `to`, `skip` left alone. */
function edits(from, to, skip) {
  const names = [...new Set([...from, ...to].map(([n]) => n))].filter((n) => !skip.has(n));
  const remove = [];
  const set = [];
  for (const n of names) {
    const [a, b] = [joined(from, n), joined(to, n)];
    if (a === b) continue;
    if (b === null) remove.push(n);
    else set.push([n, b]);
  }
  return { remove, set };
}

/** A GET with exactly these fields on a raw socket; resolves to { status, fields, body }. */
function rawGet(url, fields) {
  const u = new URL(url);
  const head = [`GET ${u.pathname}${u.search} HTTP/1.1`, `host: ${u.host}`, ...fields.map(([n, v]) => `${n}: ${v}`), '', ''].join('\r\n');
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(u.port), u.hostname, () => socket.write(head));
    let buf = Buffer.alloc(0);
    socket.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
      const status = Number(lines[0].split(' ')[1]);
      const got = lines.slice(1).map((l) => {
        const i = l.indexOf(':');
        return [l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim()];
      });
      const length = joined(got, 'content-length');
      if (length === null) {
        socket.destroy();
        reject(new Error(`${url}: an answer without Content-Length (${joined(got, 'transfer-encoding') ?? 'no framing'})`));
        return;
      }
      if (buf.length - end - 4 >= Number(length)) {
        socket.destroy();
        resolve({ status, fields: got, body: buf.subarray(end + 4, end + 4 + Number(length)) });
      }
    });
    socket.on('error', reject);
    // An answer cut short rejects instead of waiting forever (after a resolve, it does nothing).
    socket.on('close', () => reject(new Error(`${url}: the connection closed before the answer was whole`)));
    socket.setTimeout(10_000, () => socket.destroy(new Error(`${url}: no whole answer within 10 s`)));
  });
}

/** A proxy in front of `originUrl` that keeps the last request it forwarded and its answer. */
async function recordingProxy(originUrl) {
  const o = new URL(originUrl);
  const seen = { request: null, answer: null };
  const server = http.createServer((req, res) => {
    const sent = pairs(req.rawHeaders);
    const up = http.request({ host: o.hostname, port: o.port, path: req.url, method: req.method, headers: req.headers }, (a) => {
      seen.request = { method: req.method, fields: sent };
      seen.answer = { status: a.statusCode, fields: pairs(a.rawHeaders) };
      res.writeHead(a.statusCode, a.rawHeaders);
      a.pipe(res);
    });
    up.on('error', (e) => res.destroy(e));
    req.pipe(up);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}`, seen, close: () => new Promise((r) => server.close(r)) };
}

/**
 * Records rulecache's answer to each scenario. `start(originUrl)` starts rulecache in bare
 * workerd in front of `originUrl` and resolves to { url, stop }. Resolves to
 * { [scenario id]: recipe }.
 */
export async function record(originUrl, start, scenarios) {
  const proxy = await recordingProxy(originUrl);
  const rc = await start(proxy.url);
  const recipes = {};
  try {
    for (const sc of scenarios) {
      const client = [...GENERATOR_FIELDS, ...Object.entries(sc.headers).map(([n, v]) => [n.toLowerCase(), v])];
      let got = null;
      // As the load benchmark primes: the entry is stored by the first requests.
      for (let i = 0; i < 3; i += 1) {
        proxy.seen.request = null;
        got = await rawGet(rc.url + sc.path, client);
      }
      const forwarded = proxy.seen.request;
      const recipe = { id: sc.id, path: sc.path, client, status: got.status, fields: got.fields };
      if (forwarded && proxy.seen.answer.status === 304 && got.status !== 304) {
        // Revalidated: the conditional request rulecache sent, and its answer from the stored
        // body, held by the worker.
        recipe.forward = edits(client, forwarded.fields, RUNTIME_ADDED);
        recipe.revalidated = true;
        recipe.body = got.body.toString('base64');
      } else if (forwarded) {
        recipe.forward = edits(client, forwarded.fields, RUNTIME_ADDED);
        recipe.answer = edits(proxy.seen.answer.fields, got.fields, PER_REQUEST);
      } else {
        // Answered from the memory tier: the same bytes and fields, held by the worker.
        recipe.body = got.body.toString('base64');
      }
      recipes[sc.id] = recipe;
    }
  } finally {
    await rc.stop();
    await proxy.close();
  }
  return recipes;
}

// The forward both kinds of forwarding worker make: the client's request sent to the origin
// with FORWARD_REMOVE and FORWARD_SET applied, its answer as `origin`.
const FORWARD = `    const url = new URL(request.url);
    const forward = new Request(env.ORIGIN + url.pathname + url.search, { method: request.method, headers: request.headers, redirect: 'manual', cache: 'no-store' });
    for (const n of FORWARD_REMOVE) forward.headers.delete(n);
    for (const [n, v] of FORWARD_SET) forward.headers.set(n, v);
    const origin = await fetch(forward);
`;
const forwardEdits = (forward) => `const FORWARD_REMOVE = ${JSON.stringify(forward.remove)};
const FORWARD_SET = ${JSON.stringify(forward.set)};`;

/** The worker's module source for one recipe. */
export function source(recipe) {
  const c = (v) => JSON.stringify(v);
  if (recipe.revalidated) {
    const fields = recipe.fields.filter(([n]) => n !== 'content-length');
    return `// ${recipe.id}: rulecache's conditional request and its answer from the stored body, decided in advance.
${forwardEdits(recipe.forward)}
const BODY = Uint8Array.from(atob(${c(recipe.body)}), (ch) => ch.charCodeAt(0));
const FIELDS = ${c(fields)};
export default {
  async fetch(request, env) {
${FORWARD}    await origin.arrayBuffer();
    // The stored head, refreshed by the 304: its Date is the origin's.
    const headers = new Headers(FIELDS);
    const date = origin.headers.get('date');
    if (date) headers.set('date', date);
    return new Response(BODY, { status: ${recipe.status}, headers });
  },
};
`;
  }
  if (recipe.forward) {
    return `// ${recipe.id}: rulecache's forward and answer, decided in advance.
${forwardEdits(recipe.forward)}
const ANSWER_REMOVE = ${c(recipe.answer.remove)};
const ANSWER_SET = ${c(recipe.answer.set)};
export default {
  async fetch(request, env) {
${FORWARD}    const answer = new Response(origin.body, { status: origin.status, headers: origin.headers });
    for (const n of ANSWER_REMOVE) answer.headers.delete(n);
    for (const [n, v] of ANSWER_SET) answer.headers.set(n, v);
    return answer;
  },
};
`;
  }
  const fields = recipe.fields.filter(([n]) => n !== 'content-length');
  return `// ${recipe.id}: rulecache's answer from memory, decided in advance.
const BODY = Uint8Array.from(atob(${c(recipe.body)}), (ch) => ch.charCodeAt(0));
const HEADERS = new Headers(${c(fields)});
export default {
  fetch(request) {
    // What an answer keyed on the URL and the audience reads of the request.
    request.url;
    request.headers.get('cookie');
    request.headers.get('authorization');
    request.headers.get('accept-encoding');
    return new Response(BODY, { status: ${recipe.status}, headers: HEADERS });
  },
};
`;
}

/** Problems found comparing the worker at `url` with the recording (none: it answers the same). */
export async function check(url, recipe) {
  const got = await rawGet(url + recipe.path, recipe.client);
  const problems = [];
  if (got.status !== recipe.status) problems.push(`status ${got.status}, rulecache ${recipe.status}`);
  // A forwarded body is the origin's, whose length changes with its counter.
  const skip = recipe.forward && !recipe.revalidated ? new Set([...PER_REQUEST, 'content-length']) : PER_REQUEST;
  const { remove, set } = edits(recipe.fields, got.fields, skip);
  for (const n of remove) problems.push(`no ${n}`);
  for (const [n, v] of set) problems.push(`${n}: ${v} (rulecache: ${joined(recipe.fields, n) ?? 'none'})`);
  return problems;
}
