// The isolate's inspector (the DevTools protocol over a WebSocket; Node 20 needs
// --experimental-websocket): a session, the target of a worker, its wasm memory, and a free
// loopback port to open an inspector on.
import net from 'node:net';
import { sleep } from './processes.mjs';

/** A free loopback port (bound, then released). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** A DevTools protocol session with the isolate behind `wsUrl`: { call(method, params), events, close() }. */
export async function inspectorSession(wsUrl) {
  const ws = new WebSocket(wsUrl);
  let id = 0;
  const pending = new Map();
  const events = [];
  ws.onmessage = (e) => {
    const m = JSON.parse(e.data);
    if (m.id && pending.has(m.id)) {
      pending.get(m.id)(m);
      pending.delete(m.id);
    } else if (m.method) {
      events.push(m);
    }
  };
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = () => reject(new Error(`inspector ${wsUrl} did not open`));
  });
  const call = (method, params = {}) =>
    new Promise((resolve, reject) => {
      id += 1;
      const timer = setTimeout(() => reject(new Error(`inspector ${method} timed out`)), 10_000);
      pending.set(id, (m) => {
        clearTimeout(timer);
        if (m.error) reject(new Error(`${method}: ${m.error.message}`));
        else resolve(m.result);
      });
      ws.send(JSON.stringify({ id, method, params }));
    });
  return { call, events, close: () => ws.close() };
}

/** The inspector WebSocket of the worker that answers on `port` (`pick` chooses among the listed targets). */
export async function inspectorTarget(port, pick) {
  for (let i = 0; i < 50; i += 1) {
    try {
      const list = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
      const t = list.find(pick);
      if (t) return { url: t.webSocketDebuggerUrl, listed: list.map((x) => x.id) };
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`no inspector target on port ${port}`);
}

/** The byte length of every WebAssembly.Memory in the isolate (wasm linear memory only grows). */
export async function wasmMemoryBytes(session) {
  await session.call('Runtime.enable');
  for (let i = 0; i < 20 && !session.events.some((e) => e.method === 'Runtime.executionContextCreated'); i += 1) await sleep(50);
  const ctx = session.events.find((e) => e.method === 'Runtime.executionContextCreated')?.params.context.id;
  const proto = await session.call('Runtime.evaluate', { expression: 'WebAssembly.Memory.prototype', contextId: ctx });
  const all = await session.call('Runtime.queryObjects', { prototypeObjectId: proto.result.objectId });
  const sizes = await session.call('Runtime.callFunctionOn', {
    objectId: all.objects.objectId,
    functionDeclaration: 'function () { return this.map((m) => m.buffer.byteLength); }',
    returnByValue: true,
  });
  await session.call('Runtime.disable');
  return sizes.result.value.reduce((a, n) => a + n, 0);
}
