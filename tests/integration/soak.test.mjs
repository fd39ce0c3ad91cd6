// The split-view soak: many interleaved requests from anonymous visitors and logged-in users
// (real tickets, junk tickets, look-alike cookie names, duplicate and malformed Cookie fields,
// Authorization), with conditional requests, HEAD, ranges, purges and expiring entries,
// through the real worker in front of the probe origin reading cookies like Zope, Python,
// Node and a lenient parser. Every answer names the user the origin rendered it for; it must
// be the user the origin takes the request for. Counts: SOAK_REQUESTS (default 4000; `make
// soak` runs more), SOAK_USERS (default 24), SOAK_CONCURRENCY (default 16).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import fs from 'node:fs';
import { startStack } from '../support/stack.mjs';
import { startProbe, PARSERS } from '../support/probe.mjs';
import { XorShift } from '../support/xorshift.mjs';

const REQUESTS = Number(process.env.SOAK_REQUESTS ?? 4000);
const USERS = Number(process.env.SOAK_USERS ?? 24);
const CONCURRENCY = Number(process.env.SOAK_CONCURRENCY ?? 16);
const SECRET = 'soak-secret';

let probe;
let stack;

before(async () => {
  probe = await startProbe();
  stack = await startStack({ originUrl: probe.url, secret: SECRET });
});

after(async () => {
  await stack?.stop();
  await probe?.stop();
});

/** The Cookie/Authorization field sets a request can carry, for `user` (null: a visitor). */
function identities(user, ticket, otherTicket) {
  if (!user) {
    return [
      [],
      [['cookie', '_ga=GA1.2.3; lang=en']],
      [['cookie', '__ac=""; _ga=1']],
      [['cookie', 'x__ac=junk']],
      [['cookie', `__acx=${otherTicket}`]],
      [['cookie', '__ac=junk-ticket']],
      [['cookie', 'a="unbalanced; b=1']],
      [['cookie', 'lang=en'], ['cookie', 'theme=dark']],
    ];
  }
  const basic = `Basic ${Buffer.from(`${user}:${user}`).toString('base64')}`;
  return [
    [['cookie', `__ac=${ticket}`]],
    [['cookie', `_ga=1; __ac=${ticket}; lang=en`]],
    [['cookie', `a="1", __ac=${ticket}`]],
    [['cookie', 'a="1"'], ['cookie', `__ac=${ticket}`]],
    [['cookie', `a=1 __ac=${ticket}`]],
    [['cookie', `x=1,__ac=${ticket}`]],
    [['cookie', `%5F%5Fac=${ticket}`]],
    [['cookie', `__AC=${ticket}`]],
    [['cookie', `__ac = "${ticket}"`]],
    [['cookie', `__ac_session=${ticket}`]],
    [['cookie', `__ac="${ticket}`]],
    [['authorization', basic]],
  ];
}

const PATHS = [
  (k) => `page/${k}`,
  (k) => `expiring/${k}`,
  (k) => `theme/${k}.css`,
  (k) => `docs/${k}.pdf`,
  (k) => `x/${k}/@search`,
  (k) => `plain/${k}`,
];

const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY * 2 });

function send(method, p, fields) {
  const u = new URL(stack.workerUrl + p);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, method, path: u.pathname + u.search, headers: [['host', u.host], ...fields].flat(), agent }, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('latin1') }));
    });
    req.on('error', reject);
    req.end();
  });
}

test(`split-view soak: ${REQUESTS} requests, ${USERS} users, every parser: zero crossings`, { timeout: 30 * 60_000 }, async () => {
  const rng = new XorShift(0x50a4);
  // Every identity, with whom each origin parser takes it for.
  const people = [null, ...Array.from({ length: USERS }, (_, i) => `user${i}`)];
  const tickets = new Map();
  for (const u of people.slice(1)) tickets.set(u, await probe.ticket(u));
  const pool = [];
  for (const u of people) {
    const other = tickets.get(people[1 + rng.below(USERS)]);
    for (const fields of identities(u, tickets.get(u), other)) {
      const expected = {};
      // The runtime joins repeated Cookie lines with ", " before the worker sees them, and
      // forwards the joined field: the origin is asked about that.
      const cookies = fields.filter(([n]) => n === 'cookie').map(([, v]) => v);
      const asForwarded = [...fields.filter(([n]) => n !== 'cookie'), ...(cookies.length ? [['cookie', cookies.join(', ')]] : [])];
      for (const parser of PARSERS) expected[parser] = await probe.whoami(parser, asForwarded);
      pool.push({ fields, expected, label: u ?? 'visitor' });
    }
  }
  const started = Date.now();
  const etags = new Map();
  const tally = Object.fromEntries(PARSERS.map((p) => [p, { requests: 0, hits: 0, checked: 0, crossings: 0, loggedIn: 0 }]));
  const crossings = [];
  let purges = 0;
  let next = 0;
  async function worker() {
    while (next < REQUESTS) {
      next += 1;
      const parser = PARSERS[rng.below(PARSERS.length)];
      const path = `/${parser}/${PATHS[rng.below(PATHS.length)](rng.below(6))}`;
      const roll = rng.below(100);
      if (roll === 0) {
        purges += 1;
        const soft = rng.below(2) === 0 ? [['x-purge-soft', '1']] : [];
        const r = await send('PURGE', path, [['authorization', `Bearer ${SECRET}`], ...soft]);
        assert.equal(r.status, 200, `purge ${path}: ${r.body}`);
        continue;
      }
      // Mostly visitors, as on a real site.
      const who = rng.below(100) < 55 ? pool[rng.below(8)] : pool[rng.below(pool.length)];
      const fields = [...who.fields];
      let method = 'GET';
      const etagKey = `${who.label}|${JSON.stringify(who.fields)}|${path}`;
      if (roll < 9) method = 'HEAD';
      else if (roll < 17 && etags.has(etagKey)) fields.push(['if-none-match', etags.get(etagKey)]);
      else if (roll < 23) fields.push(['range', 'bytes=0-9']);
      else if (roll < 28) fields.push(['accept', 'application/json']);
      const r = await send(method, path, fields);
      const t = tally[parser];
      t.requests += 1;
      if (who.expected[parser] !== 'anonymous') t.loggedIn += 1;
      if (/^rulecache; hit/.test(r.headers['cache-status'] ?? '')) t.hits += 1;
      if (r.status === 200 && r.headers.etag && method === 'GET' && !fields.some(([n]) => n === 'range')) etags.set(etagKey, r.headers.etag);
      const servedFor = r.headers['x-probe-user'];
      const marker = /data-user="([^"]*)"/.exec(r.body)?.[1];
      for (const seen of [servedFor, marker]) {
        if (seen === undefined) continue;
        t.checked += 1;
        if (seen !== who.expected[parser]) {
          t.crossings += 1;
          if (crossings.length < 20) crossings.push({ parser, path, method, fields: who.fields, expected: who.expected[parser], served: seen, status: r.status, cacheStatus: r.headers['cache-status'] });
        }
      }
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const total = Object.values(tally).reduce((a, t) => ({ requests: a.requests + t.requests, hits: a.hits + t.hits, crossings: a.crossings + t.crossings, checked: a.checked + t.checked }), { requests: 0, hits: 0, crossings: 0, checked: 0 });
  const report = {
    requests: REQUESTS,
    seconds: +((Date.now() - started) / 1000).toFixed(1),
    purges,
    identities: pool.length,
    users: USERS,
    total: { ...total, hitRatio: +(total.hits / total.requests).toFixed(3) },
    byParser: Object.fromEntries(Object.entries(tally).map(([p, t]) => [p, { ...t, hitRatio: +(t.hits / t.requests).toFixed(3) }])),
  };
  fs.mkdirSync('bench-results', { recursive: true });
  fs.writeFileSync('bench-results/soak.json', `${JSON.stringify({ report, crossings }, null, 2)}\n`);
  console.log(`soak: ${JSON.stringify(report)}`);
  assert.deepEqual(crossings, [], `${total.crossings} responses reached the wrong user`);
  assert.ok(total.hits > total.requests / 10, `the cache was hardly used: ${total.hits} hits`);
  for (const [p, t] of Object.entries(tally)) assert.ok(t.loggedIn > 0 && t.checked > t.requests / 2, `${p}: ${JSON.stringify(t)}`);
  agent.destroy();
});
