// A client that uploads a large request body over a raw socket and watches for the answer while
// it sends: how many body bytes it had handed to the connection when the answer's head arrived,
// whether it was still sending then, and what the server did with the rest of the body (kept
// reading it, or closed the connection).
import net from 'node:net';

const CRLF = '\r\n';

/**
 * Sends `method path` to `base` (http://host:port) with a `total`-byte body announced by
 * Content-Length (or chunked when `chunked`), in `chunk`-byte writes.
 *
 * mode 'stall': sends the head and `first` body bytes, then nothing until the answer arrives
 *   (or `timeoutMs` passes): a server that waits for the body before answering never answers.
 * mode 'stream': writes as fast as the connection takes the bytes (each write after the last
 *   drained), notes how many it had written when the answer's head arrived, and keeps writing
 *   until the whole body is sent or the server closes the connection.
 *
 * Resolves to { status, head, body, sentBeforeAnswer, sentTotal, finished (whole body written),
 * closedEarly (the server ended or reset the connection before the body was written),
 * answered }.
 */
export function upload(base, path, {
  method = 'POST',
  headers = {},
  total = 96 * 1024 * 1024,
  chunk = 64 * 1024,
  first = 64 * 1024,
  mode = 'stall',
  chunked = false,
  timeoutMs = 30_000,
} = {}) {
  const { hostname, port } = new URL(base);
  const fields = { host: `${hostname}:${port}`, ...headers };
  if (chunked) fields['transfer-encoding'] = 'chunked';
  else fields['content-length'] = String(total);
  const head = `${method} ${path} HTTP/1.1${CRLF}${Object.entries(fields).map(([n, v]) => `${n}: ${v}${CRLF}`).join('')}${CRLF}`;
  const block = Buffer.alloc(chunk, 0x61);
  const frame = (buf) => (chunked ? Buffer.concat([Buffer.from(`${buf.length.toString(16)}${CRLF}`), buf, Buffer.from(CRLF)]) : buf);

  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: hostname, port: Number(port) });
    let sent = 0;
    let sentBeforeAnswer = null;
    let received = Buffer.alloc(0);
    let closed = false;
    let done = false;
    const timer = setTimeout(() => finish(), timeoutMs);
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      const text = received.toString('latin1');
      const end = text.indexOf(CRLF + CRLF);
      const status = end > 0 ? Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]) : null;
      resolve({
        status,
        head: end > 0 ? text.slice(0, end) : '',
        body: end > 0 ? text.slice(end + 4) : '',
        answered: sentBeforeAnswer !== null,
        sentBeforeAnswer,
        sentTotal: sent,
        finished: sent >= total,
        closedEarly: closed && sent < total,
      });
    };
    const write = (n) => {
      const buf = n === block.length ? block : block.subarray(0, n);
      sent += n;
      return sock.write(frame(buf));
    };
    // Stream mode: write until the kernel stops taking bytes, go on once it drained.
    const pump = () => {
      while (!done && !closed && sent < total) {
        if (!write(Math.min(chunk, total - sent))) return;
      }
      if (sent >= total && chunked && !closed) sock.write(`0${CRLF}${CRLF}`);
    };
    sock.on('drain', () => { if (mode === 'stream') pump(); });
    sock.on('data', (d) => {
      if (sentBeforeAnswer === null) sentBeforeAnswer = sent;
      received = Buffer.concat([received, d]);
      const text = received.toString('latin1');
      const end = text.indexOf(CRLF + CRLF);
      if (end < 0) return;
      const len = Number(/\r\ncontent-length: *(\d+)/i.exec(text.slice(0, end))?.[1] ?? 0);
      const whole = received.length >= end + 4 + len;
      // The stall client has seen what it came for; the stream client goes on sending.
      if (whole && (mode === 'stall' || sent >= total)) finish();
    });
    const ended = () => { closed = true; finish(); };
    sock.on('end', ended);
    sock.on('close', ended);
    sock.on('error', (e) => { if (e.code === 'ECONNRESET' || e.code === 'EPIPE') ended(); else if (!done) { done = true; clearTimeout(timer); reject(e); } });
    sock.on('connect', () => {
      sock.write(head);
      if (mode === 'stall') write(Math.min(first, total));
      else pump();
    });
  });
}
