//! A small HTTP/1.1 server on `std::net`: one thread per connection (bounded), keep-alive,
//! pipelining, `Content-Length` and chunked request bodies, `Expect: 100-continue`.
//!
//! Nothing here panics on what a client sends: every malformed request becomes a 400 (or
//! 413/431) and the connection is closed.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Duration;

use super::site::Site;

/// Largest request body accepted (413 beyond).
pub const MAX_BODY: usize = 8 * 1024 * 1024;
/// Largest request head (request line and header fields), 431 beyond.
const MAX_HEAD: usize = 64 * 1024;
const MAX_HEADERS: usize = 128;
/// Connections served at once; further clients wait in the listen backlog.
const MAX_CONNECTIONS: usize = 512;
/// An idle keep-alive connection is closed after this long.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
const WRITE_TIMEOUT: Duration = Duration::from_secs(120);
const WRITE_CHUNK: usize = 16 * 1024;

/// A parsed request. Header names are lower-cased; values are kept as received.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub target: String,
    pub path: String,
    pub query: String,
    /// Minor version of HTTP/1.x.
    pub minor: u8,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// First value of a header (name lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// All values of a header (name lower-case), in order.
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers.iter().filter(move |(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    pub fn is_head(&self) -> bool {
        self.method == "HEAD"
    }

    fn wants_keep_alive(&self) -> bool {
        let mut close = false;
        let mut keep = false;
        for value in self.headers_named("connection") {
            for token in value.split(',') {
                let token = token.trim();
                close |= token.eq_ignore_ascii_case("close");
                keep |= token.eq_ignore_ascii_case("keep-alive");
            }
        }
        if close {
            false
        } else {
            self.minor >= 1 || keep
        }
    }
}

/// What to send as the body.
#[derive(Debug)]
pub enum Body {
    Empty,
    Bytes(Vec<u8>),
    Static(&'static [u8]),
    /// `len` bytes of a repeating pattern, written in pieces.
    Generated {
        len: u64,
        chunk_delay: Duration,
        chunked: bool,
    },
}

impl Body {
    fn len(&self) -> u64 {
        match self {
            Body::Empty => 0,
            Body::Bytes(b) => b.len() as u64,
            Body::Static(b) => b.len() as u64,
            Body::Generated { len, .. } => *len,
        }
    }
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Body,
    /// Close the connection after this response.
    pub close: bool,
}

impl Response {
    pub fn new(status: u16) -> Self {
        Response { status, headers: Vec::new(), body: Body::Empty, close: false }
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    pub fn push_header(&mut self, name: &str, value: impl Into<String>) {
        self.headers.push((name.to_string(), value.into()));
    }

    pub fn has_header(&self, name: &str) -> bool {
        self.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name))
    }

    pub fn remove_header(&mut self, name: &str) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    pub fn text(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        let mut r = Response::new(status);
        r.push_header("Content-Type", content_type);
        r.body = Body::Bytes(body.into());
        r
    }
}

/// What the site decided to do with a request.
pub enum Outcome {
    Respond(Response),
    /// Close the connection without answering.
    Drop,
}

/// Why reading a request failed.
#[derive(Debug)]
enum ReadError {
    /// The peer closed (or timed out) between requests: nothing to answer.
    Closed,
    Io,
    /// Answer with this status and close.
    Reject(u16, &'static str),
}

/// Start serving on `host:port` in a background thread; returns the bound address.
pub fn start(host: &str, port: u16, site: Arc<Site>) -> io::Result<(SocketAddr, thread::JoinHandle<()>)> {
    let listener = TcpListener::bind((host, port))?;
    let addr = listener.local_addr()?;
    let handle = thread::Builder::new().name("accept".into()).spawn(move || accept_loop(listener, site))?;
    Ok((addr, handle))
}

struct Slots {
    used: Mutex<usize>,
    freed: Condvar,
}

struct SlotGuard(Arc<Slots>);

impl Drop for SlotGuard {
    fn drop(&mut self) {
        let mut used = self.0.used.lock().unwrap_or_else(|e| e.into_inner());
        *used = used.saturating_sub(1);
        self.0.freed.notify_one();
    }
}

fn acquire(slots: &Arc<Slots>) -> SlotGuard {
    let mut used = slots.used.lock().unwrap_or_else(|e| e.into_inner());
    while *used >= MAX_CONNECTIONS {
        used = slots.freed.wait(used).unwrap_or_else(|e| e.into_inner());
    }
    *used += 1;
    SlotGuard(Arc::clone(slots))
}

fn accept_loop(listener: TcpListener, site: Arc<Site>) {
    let slots = Arc::new(Slots { used: Mutex::new(0), freed: Condvar::new() });
    loop {
        let guard = acquire(&slots);
        let stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(_) => {
                // Out of descriptors or an aborted handshake: back off a little and go on.
                drop(guard);
                thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        let site = Arc::clone(&site);
        let spawned = thread::Builder::new().stack_size(512 * 1024).spawn(move || {
            let _guard = guard;
            serve_connection(stream, &site);
        });
        if spawned.is_err() {
            thread::sleep(Duration::from_millis(10));
        }
    }
}

fn serve_connection(stream: TcpStream, site: &Site) {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(IDLE_TIMEOUT));
    let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
    let mut reader = BufReader::with_capacity(16 * 1024, stream);
    loop {
        let request = match read_request(&mut reader) {
            Ok(r) => r,
            Err(ReadError::Closed) | Err(ReadError::Io) => return,
            Err(ReadError::Reject(status, why)) => {
                let mut resp = Response::text(status, "text/plain; charset=utf-8", format!("{why}\n"));
                resp.close = true;
                site.decorate_error(&mut resp);
                let _ = write_response(reader.get_mut(), 1, false, false, resp);
                linger_close(reader.into_inner());
                return;
            }
        };
        let keep_alive = request.wants_keep_alive();
        let head = request.is_head();
        let minor = request.minor;
        match site.handle(&request) {
            Outcome::Drop => {
                let _ = reader.get_ref().shutdown(Shutdown::Both);
                return;
            }
            Outcome::Respond(resp) => {
                let keep = keep_alive && !resp.close;
                if write_response(reader.get_mut(), minor, head, keep, resp).is_err() || !keep {
                    let _ = reader.get_mut().flush();
                    linger_close(reader.into_inner());
                    return;
                }
            }
        }
    }
}

/// Close gracefully: stop sending, drain what the client still sends for a moment, so the
/// kernel does not reset the connection before the client has read our answer.
fn linger_close(mut stream: TcpStream) {
    let _ = stream.shutdown(Shutdown::Write);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut sink = [0u8; 8192];
    let mut drained = 0usize;
    while drained < 1024 * 1024 {
        match stream.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(n) => drained += n,
        }
    }
}

/// Read one line (through `\n`) of at most `limit` bytes, without the line ending.
fn read_line(reader: &mut BufReader<TcpStream>, limit: usize, buf: &mut Vec<u8>) -> Result<(), ReadError> {
    buf.clear();
    let n = reader.by_ref().take(limit as u64 + 1).read_until(b'\n', buf).map_err(|e| {
        if is_timeout(&e) {
            ReadError::Closed
        } else {
            ReadError::Io
        }
    })?;
    if n == 0 {
        return Err(ReadError::Closed);
    }
    if buf.last() != Some(&b'\n') {
        if n > limit {
            return Err(ReadError::Reject(431, "request head too large"));
        }
        return Err(ReadError::Io);
    }
    buf.pop();
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    Ok(())
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

pub fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_tchar)
}

/// A header field value may not carry CR, LF or NUL.
pub fn is_field_value(s: &str) -> bool {
    !s.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0)
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Result<Request, ReadError> {
    let mut line = Vec::with_capacity(256);
    let mut head_budget = MAX_HEAD;
    // RFC 9112 §2.2: a server SHOULD ignore at least one empty line before the request-line.
    let mut empties = 0;
    loop {
        read_line(reader, head_budget, &mut line)?;
        head_budget = head_budget.saturating_sub(line.len() + 2);
        if !line.is_empty() {
            break;
        }
        empties += 1;
        if empties > 4 {
            return Err(ReadError::Reject(400, "bad request line"));
        }
    }
    // Once the request line has arrived, a timeout or EOF is a truncated request.
    let truncated = |e: ReadError| match e {
        ReadError::Closed => ReadError::Io,
        other => other,
    };
    let (method, target, minor) = parse_request_line(&line)?;
    let (path, query) = split_target(&target)?;

    let mut headers: Vec<(String, String)> = Vec::new();
    loop {
        read_line(reader, head_budget, &mut line).map_err(truncated)?;
        head_budget = head_budget.saturating_sub(line.len() + 2);
        if line.is_empty() {
            break;
        }
        if headers.len() >= MAX_HEADERS {
            return Err(ReadError::Reject(431, "too many header fields"));
        }
        headers.push(parse_header_line(&line)?);
    }

    let mut request = Request { method, target, path, query, minor, headers, body: Vec::new() };
    let length = body_length(&request)?;
    if request.header("expect").is_some_and(|v| v.trim().eq_ignore_ascii_case("100-continue"))
        && length != BodyLength::None
        && minor >= 1
    {
        let _ = reader.get_mut().write_all(b"HTTP/1.1 100 Continue\r\n\r\n");
    }
    match length {
        BodyLength::None => {}
        BodyLength::Fixed(n) => {
            let mut body = vec![0u8; n];
            reader.read_exact(&mut body).map_err(|_| ReadError::Io)?;
            request.body = body;
        }
        BodyLength::Chunked => request.body = read_chunked(reader).map_err(truncated)?,
    }
    Ok(request)
}

fn parse_request_line(line: &[u8]) -> Result<(String, String, u8), ReadError> {
    const BAD: ReadError = ReadError::Reject(400, "bad request line");
    let line = std::str::from_utf8(line).map_err(|_| BAD)?;
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(BAD);
    };
    if !is_token(method) || target.is_empty() || !target.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(BAD);
    }
    let minor = match version {
        "HTTP/1.1" => 1,
        "HTTP/1.0" => 0,
        v if v.starts_with("HTTP/") => return Err(ReadError::Reject(505, "HTTP version not supported")),
        _ => return Err(BAD),
    };
    Ok((method.to_string(), target.to_string(), minor))
}

/// Origin-form (`/p?q`), absolute-form (`http://h/p?q`) or asterisk-form (`*`).
fn split_target(target: &str) -> Result<(String, String), ReadError> {
    let rest = if target.starts_with('/') || target == "*" {
        target
    } else if let Some(after) = target.strip_prefix("http://").or_else(|| target.strip_prefix("https://")) {
        match after.find(['/', '?']) {
            Some(i) => after.get(i..).unwrap_or("/"),
            None => "/",
        }
    } else {
        return Err(ReadError::Reject(400, "bad request target"));
    };
    let rest = if rest.starts_with('?') { format!("/{rest}") } else { rest.to_string() };
    Ok(match rest.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (rest, String::new()),
    })
}

fn parse_header_line(line: &[u8]) -> Result<(String, String), ReadError> {
    const BAD: ReadError = ReadError::Reject(400, "bad header field");
    if line.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
        // obs-fold (RFC 9112 §5.2): rejected.
        return Err(BAD);
    }
    let colon = line.iter().position(|b| *b == b':').ok_or(BAD)?;
    let (name, value) = line.split_at(colon);
    let value = value.get(1..).unwrap_or_default();
    let name = std::str::from_utf8(name).map_err(|_| BAD)?;
    if !is_token(name) || value.iter().any(|b| *b == b'\r' || *b == 0) {
        return Err(BAD);
    }
    let value = String::from_utf8_lossy(value).trim_matches([' ', '\t']).to_string();
    Ok((name.to_ascii_lowercase(), value))
}

#[derive(Debug, PartialEq, Eq)]
enum BodyLength {
    None,
    Fixed(usize),
    Chunked,
}

fn body_length(request: &Request) -> Result<BodyLength, ReadError> {
    let te: Vec<&str> = request.headers_named("transfer-encoding").collect();
    let cl: Vec<&str> = request.headers_named("content-length").collect();
    if !te.is_empty() {
        if !cl.is_empty() {
            // RFC 9112 §6.1: a server MAY reject a request with both; we do, against smuggling.
            return Err(ReadError::Reject(400, "both Transfer-Encoding and Content-Length"));
        }
        let codings: Vec<String> =
            te.iter().flat_map(|v| v.split(',')).map(|c| c.trim().to_ascii_lowercase()).collect();
        return match codings.as_slice() {
            [only] if only == "chunked" => Ok(BodyLength::Chunked),
            _ => Err(ReadError::Reject(400, "unsupported Transfer-Encoding")),
        };
    }
    let mut length: Option<u64> = None;
    for value in cl.iter().flat_map(|v| v.split(',')) {
        let value = value.trim();
        if value.is_empty() || value.len() > 18 || !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ReadError::Reject(400, "bad Content-Length"));
        }
        let n: u64 = value.parse().map_err(|_| ReadError::Reject(400, "bad Content-Length"))?;
        if length.is_some_and(|l| l != n) {
            return Err(ReadError::Reject(400, "conflicting Content-Length"));
        }
        length = Some(n);
    }
    match length {
        None | Some(0) => Ok(BodyLength::None),
        Some(n) if n > MAX_BODY as u64 => Err(ReadError::Reject(413, "request body too large")),
        Some(n) => Ok(BodyLength::Fixed(n as usize)),
    }
}

fn read_chunked(reader: &mut BufReader<TcpStream>) -> Result<Vec<u8>, ReadError> {
    const BAD: ReadError = ReadError::Reject(400, "bad chunked body");
    let mut body = Vec::new();
    let mut line = Vec::new();
    loop {
        read_line(reader, 4096, &mut line)?;
        let size_text = line.split(|b| *b == b';').next().unwrap_or_default();
        let size_text = std::str::from_utf8(size_text).map_err(|_| BAD)?.trim();
        if size_text.is_empty() || size_text.len() > 15 || !size_text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(BAD);
        }
        let size = usize::from_str_radix(size_text, 16).map_err(|_| BAD)?;
        if size == 0 {
            break;
        }
        if body.len().saturating_add(size) > MAX_BODY {
            return Err(ReadError::Reject(413, "request body too large"));
        }
        let start = body.len();
        body.resize(start + size, 0);
        let chunk = body.get_mut(start..).ok_or(BAD)?;
        reader.read_exact(chunk).map_err(|_| ReadError::Io)?;
        // The chunk data ends with CRLF (a bare LF is tolerated).
        let mut end = [0u8; 1];
        reader.read_exact(&mut end).map_err(|_| ReadError::Io)?;
        if end == *b"\r" {
            reader.read_exact(&mut end).map_err(|_| ReadError::Io)?;
        }
        if end != *b"\n" {
            return Err(BAD);
        }
    }
    // Trailer section, ignored.
    let mut budget = MAX_HEAD;
    loop {
        read_line(reader, budget, &mut line)?;
        budget = budget.saturating_sub(line.len() + 2);
        if line.is_empty() {
            return Ok(body);
        }
    }
}

pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        206 => "Partial Content",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        410 => "Gone",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "Status",
    }
}

/// Statuses that never carry a body (RFC 9110 §6.4.1).
fn bodiless(status: u16) -> bool {
    status < 200 || status == 204 || status == 304
}

const PATTERN: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_\n";

fn write_response(
    stream: &mut TcpStream,
    minor: u8,
    head_only: bool,
    keep_alive: bool,
    resp: Response,
) -> io::Result<()> {
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(format!("HTTP/1.1 {} {}\r\n", resp.status, reason(resp.status)).as_bytes());
    for (name, value) in &resp.headers {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    let no_body = bodiless(resp.status);
    let chunked = matches!(resp.body, Body::Generated { chunked: true, .. }) && minor >= 1 && !no_body;
    if chunked {
        out.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
    } else if !no_body {
        out.extend_from_slice(format!("Content-Length: {}\r\n", resp.body.len()).as_bytes());
    }
    if !keep_alive {
        out.extend_from_slice(b"Connection: close\r\n");
    } else if minor == 0 {
        out.extend_from_slice(b"Connection: keep-alive\r\n");
    }
    out.extend_from_slice(b"\r\n");
    if head_only || no_body {
        return stream.write_all(&out);
    }
    match resp.body {
        Body::Empty => stream.write_all(&out),
        Body::Bytes(b) => {
            out.extend_from_slice(&b);
            stream.write_all(&out)
        }
        Body::Static(b) => {
            out.extend_from_slice(b);
            stream.write_all(&out)
        }
        Body::Generated { len, chunk_delay, .. } => {
            stream.write_all(&out)?;
            let mut piece = Vec::with_capacity(WRITE_CHUNK);
            while piece.len() < WRITE_CHUNK {
                piece.extend_from_slice(PATTERN);
            }
            piece.truncate(WRITE_CHUNK);
            let mut left = len;
            while left > 0 {
                let n = left.min(WRITE_CHUNK as u64) as usize;
                let data = piece.get(..n).unwrap_or_default();
                if chunked {
                    stream.write_all(format!("{n:x}\r\n").as_bytes())?;
                    stream.write_all(data)?;
                    stream.write_all(b"\r\n")?;
                } else {
                    stream.write_all(data)?;
                }
                left -= n as u64;
                if !chunk_delay.is_zero() && left > 0 {
                    stream.flush()?;
                    thread::sleep(chunk_delay);
                }
            }
            if chunked {
                stream.write_all(b"0\r\n\r\n")?;
            }
            stream.flush()
        }
    }
}
