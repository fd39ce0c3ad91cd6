//! The origin's HTTP/1.1 server: hyper on a small tokio runtime (keep-alive, pipelining,
//! `Content-Length` and chunked request bodies, `Expect: 100-continue`, and the 400/431/505
//! answers to malformed requests are hyper's). The site's handlers are plain blocking
//! functions (they may sleep for the delays the tests ask for), run on tokio's blocking pool.
//!
//! Nothing here panics on what a client sends: hyper answers a malformed request itself and
//! closes the connection; a request body beyond [`MAX_BODY`] gets a 413.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::thread;
use std::time::Duration;

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue, CONNECTION, CONTENT_LENGTH};
use hyper_util::rt::{TokioIo, TokioTimer};

use super::site::Site;

/// Largest request body accepted (413 beyond).
pub const MAX_BODY: usize = 8 * 1024 * 1024;
/// Largest request head (request line and header fields); hyper answers 431 beyond.
const MAX_HEAD: usize = 64 * 1024;
/// A connection that sends no complete request head for this long is closed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
const WRITE_CHUNK: usize = 16 * 1024;

/// A parsed request. Header names are lower-cased; values are kept as received (the values of
/// one name together, in the order they came).
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

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

pub fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_tchar)
}

/// A header field value as RFC 9110 §5.5 allows it: visible characters, spaces, tabs and
/// obs-text (no CR, LF, NUL or other controls).
pub fn is_field_value(s: &str) -> bool {
    s.bytes().all(|b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}

/// Start serving on `host:port` in a background thread; returns the bound address.
pub fn start(host: &str, port: u16, site: Arc<Site>) -> io::Result<(SocketAddr, thread::JoinHandle<()>)> {
    let listener = std::net::TcpListener::bind((host, port))?;
    let addr = listener.local_addr()?;
    listener.set_nonblocking(true)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("demo-origin")
        // Handlers sleep for the delays tests ask for: one blocking thread each, as many as
        // the clients keep waiting.
        .max_blocking_threads(1024)
        .build()?;
    let handle = thread::Builder::new().name("accept".into()).spawn(move || {
        runtime.block_on(async move {
            let Ok(listener) = tokio::net::TcpListener::from_std(listener) else { return };
            accept_loop(listener, site).await;
        });
    })?;
    Ok((addr, handle))
}

async fn accept_loop(listener: tokio::net::TcpListener, site: Arc<Site>) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(_) => {
                // Out of descriptors or an aborted handshake: back off a little and go on.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let site = Arc::clone(&site);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| serve(Arc::clone(&site), req));
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(IDLE_TIMEOUT)
                .max_buf_size(MAX_HEAD)
                .title_case_headers(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// The site asked to close the connection without an answer: returning an error from the
/// service makes hyper drop the connection without writing anything.
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped on purpose")
    }
}

impl std::error::Error for Dropped {}

async fn serve(site: Arc<Site>, req: hyper::Request<Incoming>) -> Result<hyper::Response<OutBody>, Dropped> {
    let (parts, body) = req.into_parts();
    let minor = if parts.version == hyper::Version::HTTP_10 { 0 } else { 1 };
    let reject = |site: &Site, status: u16, why: &str| {
        let mut resp = Response::text(status, "text/plain; charset=utf-8", format!("{why}\n"));
        resp.close = true;
        site.decorate_error(&mut resp);
        Ok(to_hyper(resp, false, minor))
    };
    // Origin-form (`/p?q`), absolute-form (`http://h/p?q`) or asterisk-form (`*`) only (RFC 9112
    // §3.2); hyper also takes an authority alone, which is for CONNECT.
    if parts.uri.scheme().is_none() && parts.uri.authority().is_some() {
        return reject(&site, 400, "bad request target");
    }
    let declared =
        parts.headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return reject(&site, 413, "request body too large");
    }
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes().to_vec(),
        Err(e) if e.is::<LengthLimitError>() => return reject(&site, 413, "request body too large"),
        // A malformed chunked body (a truncated one ends the connection before this answer).
        Err(_) => return reject(&site, 400, "bad request body"),
    };
    let target = parts.uri.to_string();
    let path = match parts.uri.path() {
        "" => "/".to_string(),
        p => p.to_string(),
    };
    let query = parts.uri.query().unwrap_or_default().to_string();
    let headers = parts
        .headers
        .iter()
        .map(|(n, v)| (n.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    let request =
        Request { method: parts.method.as_str().to_string(), target, path, query, minor, headers, body };
    let head = request.is_head();
    let outcome = tokio::task::spawn_blocking(move || site.handle(&request)).await;
    match outcome {
        Ok(Outcome::Respond(resp)) => Ok(to_hyper(resp, head, minor)),
        Ok(Outcome::Drop) | Err(_) => Err(Dropped),
    }
}

/// Statuses that never carry a body (RFC 9110 §6.4.1).
fn bodiless(status: u16) -> bool {
    status < 200 || status == 204 || status == 304
}

fn to_hyper(resp: Response, head_only: bool, minor: u8) -> hyper::Response<OutBody> {
    let no_body = bodiless(resp.status);
    let length = resp.body.len();
    let chunked = matches!(resp.body, Body::Generated { chunked: true, .. }) && minor >= 1 && !no_body;
    let body = if head_only || no_body {
        OutBody::Full(None)
    } else {
        match resp.body {
            Body::Empty => OutBody::Full(None),
            Body::Bytes(b) => OutBody::Full(Some(Bytes::from(b))),
            Body::Static(b) => OutBody::Full(Some(Bytes::from_static(b))),
            Body::Generated { len, chunk_delay, .. } => {
                OutBody::Generated(Generated::new(len, chunk_delay, chunked))
            }
        }
    };
    let mut out = hyper::Response::new(body);
    // The site only makes statuses 100..=599; anything else would be a bug, answered as 500.
    *out.status_mut() =
        hyper::StatusCode::from_u16(resp.status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    let headers = out.headers_mut();
    for (name, value) in &resp.headers {
        // Names are tokens and values field values (the site checks what it copies from a
        // request); a pair that is neither is left out rather than sent broken.
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value))
        {
            headers.append(name, value);
        }
    }
    if !no_body && !chunked {
        // Also for HEAD: the length a GET would have (RFC 9110 §8.6).
        headers.insert(CONTENT_LENGTH, HeaderValue::from(length));
    }
    if resp.close {
        headers.insert(CONNECTION, HeaderValue::from_static("close"));
    }
    out
}

const PATTERN: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_\n";

/// A response body: whole bytes, or a generated pattern in 16 KiB pieces with an optional
/// pause between pieces (each piece is written out before the pause).
enum OutBody {
    Full(Option<Bytes>),
    Generated(Generated),
}

struct Generated {
    left: u64,
    known_length: bool,
    chunk_delay: Duration,
    piece: Bytes,
    pause: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Generated {
    fn new(len: u64, chunk_delay: Duration, chunked: bool) -> Self {
        let piece: Vec<u8> = PATTERN.iter().copied().cycle().take(WRITE_CHUNK).collect();
        Generated { left: len, known_length: !chunked, chunk_delay, piece: Bytes::from(piece), pause: None }
    }
}

impl http_body::Body for OutBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            OutBody::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            OutBody::Generated(g) => {
                if let Some(pause) = g.pause.as_mut() {
                    if pause.as_mut().poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    g.pause = None;
                }
                if g.left == 0 {
                    return Poll::Ready(None);
                }
                let n = g.left.min(WRITE_CHUNK as u64) as usize;
                g.left -= n as u64;
                if !g.chunk_delay.is_zero() && g.left > 0 {
                    g.pause = Some(Box::pin(tokio::time::sleep(g.chunk_delay)));
                }
                Poll::Ready(Some(Ok(Frame::data(g.piece.slice(..n)))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            OutBody::Full(bytes) => bytes.is_none(),
            OutBody::Generated(g) => g.left == 0,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            OutBody::Full(bytes) => SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64)),
            OutBody::Generated(g) if g.known_length => SizeHint::with_exact(g.left),
            OutBody::Generated(_) => SizeHint::new(),
        }
    }
}
