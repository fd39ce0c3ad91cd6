// The probe origin (tests/support/probe_origin.py) for the adversarial tests and the soak: a
// real HTTP server on loopback that reads cookies like Zope, Python, Node or a lenient parser
// (the first path segment chooses), names in every body the user it rendered for, and
// records what reached it.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import http from 'node:http';

const here = path.dirname(fileURLToPath(import.meta.url));

export const PARSERS = ['zope', 'python', 'node', 'lenient'];

/** Starts the probe on a free port; resolves to { url, ticket(user), log(path), control(path, params), whoami(parser, headers), stop }. */
export async function startProbe() {
  const python = process.env.PYTHON ?? 'python3';
  const child = spawn(python, [path.join(here, 'probe_origin.py'), '--port', '0'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout });
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('probe origin did not start')), 10_000);
    lines.on('line', (line) => {
      const m = /listening on (http:\/\/\S+)/.exec(line);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    child.on('exit', (code) => reject(new Error(`probe origin exited with ${code}`)));
  });
  const control = async (p, params = {}, headers = {}) => {
    const r = await fetch(`${url}${p}?${new URLSearchParams(params)}`, { headers });
    return r.json();
  };
  const tickets = new Map();
  return {
    url,
    control,
    async ticket(user) {
      if (!tickets.has(user)) tickets.set(user, (await control('/__probe/ticket', { user })).ticket);
      return tickets.get(user);
    },
    /** What reached `p` (newest last): [{ n, method, target, headers: [[name, value]], user, xAnonymous }]. */
    log: (p) => control('/__probe/log', { path: p }),
    /** Who the origin takes a request with these header fields (an array of [name, value]) for. */
    whoami(parser, fields) {
      return new Promise((resolve, reject) => {
        const u = new URL(`${url}/__probe/whoami?parser=${parser}`);
        const req = http.request({ host: u.hostname, port: u.port, path: u.pathname + u.search, headers: [['host', u.host], ...fields].flat() }, (res) => {
          let body = '';
          res.on('data', (d) => (body += d));
          res.on('end', () => resolve(JSON.parse(body).user ?? 'anonymous'));
        });
        req.on('error', reject);
        req.end();
      });
    },
    async stop() {
      child.stdin.end();
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r() : child.on('exit', r)));
    },
  };
}

/**
 * A request over plain node:http sending exactly `fields` (an array of [name, value]; a name
 * may repeat), so duplicate Cookie lines reach the worker as two lines.
 * Resolves to { status, headers, body }.
 */
export function rawRequest(base, p, { method = 'GET', fields = [], body } = {}) {
  const u = new URL(base + p);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: u.hostname, port: u.port, method, path: u.pathname + u.search, headers: [['host', u.host], ...fields].flat(), agent: false },
      (res) => {
        const chunks = [];
        res.on('data', (d) => chunks.push(d));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('latin1') }));
      },
    );
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/** The user a probe page was rendered for ('anonymous' for visitors), or null for other bodies. */
export function renderedFor(body) {
  const m = /data-user="([^"]*)"/.exec(body);
  if (m) return m[1];
  try {
    return JSON.parse(body).user ?? null;
  } catch {
    return null;
  }
}
