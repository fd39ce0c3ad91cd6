// The order of a purge or admin request: its credential is decided on the headers before any
// body byte is read. In bare workerd (no Miniflare in front), a client announces a 96 MiB body,
// sends the head and 64 KiB of it, and then sends nothing more until it has an answer: a
// server that read the body before deciding would never answer. It is answered 401 while
// 96 MiB - 64 KiB are still unsent; and, uploading as fast as the connection takes bytes, the
// server closes the connection after a few MiB at most (what the kernel buffers) instead of
// taking the 96 MiB. A well-formed signature in its window is the only credential whose body is
// read: at most MAX_BODY_BYTES (1 MiB), then 413.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rulecacheConfig, startWorkerd } from '../../benches/load/workerd.mjs';
import { upload } from '../support/upload.mjs';

const MIB = 1024 * 1024;
const TOTAL = 96 * MIB;
const SECRET = 'bench-secret';

let w;
before(async () => {
  // No origin is reached: every request here is answered by the worker itself.
  w = await startWorkerd(rulecacheConfig('body-order', 'http://127.0.0.1:9'), '/_rulecache/api/stats');
});
after(async () => { await w?.stop(); });

const now = () => Math.floor(Date.now() / 1000);
const basic = (password) => `Basic ${Buffer.from(`purge:${password}`).toString('base64')}`;
const CREDENTIALS = {
  'no credential': () => ({}),
  'a wrong Bearer token': () => ({ authorization: 'Bearer not-the-secret' }),
  'a wrong Basic password': () => ({ authorization: basic('not-the-secret') }),
  'another scheme': () => ({ authorization: 'Digest username="x"' }),
  'a malformed signature': () => ({ 'x-rulecache-timestamp': String(now()), 'x-rulecache-signature': 'v2=zz' }),
  'a timestamp an hour old': () => ({ 'x-rulecache-timestamp': String(now() - 3600), 'x-rulecache-signature': `v2=${'ab'.repeat(32)}` }),
  'a timestamp without a signature': () => ({ 'x-rulecache-timestamp': String(now()) }),
};
const TARGETS = [['PURGE', '/news'], ['POST', '/_rulecache/api/purge'], ['POST', '/_rulecache/api/policy']];

for (const [method, path] of TARGETS) {
  for (const [name, headers] of Object.entries(CREDENTIALS)) {
    for (const chunked of [false, true]) {
      test(`${method} ${path} with ${name} (${chunked ? 'chunked' : 'Content-Length'}): 401 before the body is sent`, async () => {
        const r = await upload(w.url, path, { method, headers: headers(), total: TOTAL, first: 64 * 1024, mode: 'stall', chunked });
        assert.equal(r.answered, true, 'answered while the client waits with 96 MiB - 64 KiB unsent');
        assert.equal(r.status, 401, r.head);
        assert.equal(r.sentBeforeAnswer, 64 * 1024);
        assert.equal(r.finished, false);
      });
    }
  }
}

test('uploading 96 MiB as fast as possible without a credential: 401, the connection closed long before the end', async () => {
  for (const [method, path] of TARGETS) {
    const r = await upload(w.url, path, { method, total: TOTAL, mode: 'stream' });
    assert.equal(r.finished, false, `${method} ${path}: the whole body was taken`);
    assert.equal(r.closedEarly, true, `${method} ${path}`);
    // What the connection took in all: the kernel's buffers on both ends and at most the
    // runtime's grace for an unread upload, far below the body.
    assert.ok(r.sentTotal < 16 * MIB, `${method} ${path}: ${r.sentTotal} bytes taken`);
    if (r.status !== null) assert.equal(r.status, 401);
  }
});

test('a well-formed signature in its window: its body is read, at most 1 MiB, then 413', async () => {
  const headers = { 'x-rulecache-timestamp': String(now()), 'x-rulecache-signature': `v2=${'ab'.repeat(32)}` };
  // Announced longer than the cap: refused on the length, unread.
  const announced = await upload(w.url, '/news', { method: 'PURGE', headers, total: TOTAL, mode: 'stall' });
  assert.equal(announced.status, 413, announced.head);
  assert.equal(announced.sentBeforeAnswer, 64 * 1024);
  // Chunked: nothing is decided before the body (the signature covers it), so no answer while
  // the client waits; streamed, 413 once past the cap and the connection closed.
  const waiting = await upload(w.url, '/news', { method: 'PURGE', headers, total: TOTAL, mode: 'stall', chunked: true, timeoutMs: 1000 });
  assert.equal(waiting.answered, false);
  const streamed = await upload(w.url, '/news', { method: 'PURGE', headers, total: TOTAL, mode: 'stream', chunked: true });
  assert.equal(streamed.finished, false);
  assert.equal(streamed.closedEarly, true);
  assert.ok(streamed.sentTotal < 16 * MIB, `${streamed.sentTotal} bytes taken`);
  if (streamed.status !== null) assert.equal(streamed.status, 413);
});
