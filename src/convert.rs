//! Moving heads between JavaScript objects and the core's plain types. A head crosses the wasm
//! boundary once, as one string of lines (see [`Headers::from_lines`]), instead of once or
//! more per field; JavaScript objects nothing needs to change are passed on as they are, and
//! a body held in memory is handed to the runtime as a view, copied once by `new Response`.

use std::rc::Rc;

use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::ReadableStream;
use worker::{Headers as JsHeaders, Response, Result};

use crate::isolate::with_isolate;
use rulecache::flow::engine::FetchFailure;
use rulecache::http::{write_line, HeaderEdit, Headers, RequestHead, ResponseHead};

#[wasm_bindgen(module = "/js/heads.js")]
extern "C" {
    #[wasm_bindgen(js_name = headLines)]
    fn head_lines(headers: &web_sys::Headers) -> String;
    #[wasm_bindgen(js_name = requestLines)]
    fn request_lines(req: &web_sys::Request) -> String;
    #[wasm_bindgen(js_name = responseLines)]
    fn response_lines(resp: &web_sys::Response) -> String;
    #[wasm_bindgen(js_name = headersFromLines)]
    fn headers_from_lines(lines: &str) -> web_sys::Headers;
    #[wasm_bindgen(js_name = editedHeaders)]
    fn edited_headers(headers: &web_sys::Headers, removed: &str, added: &str) -> web_sys::Headers;
    #[wasm_bindgen(js_name = respond, catch)]
    fn respond_with_lines(
        status: u16,
        headers: &str,
        removed: &str,
        added: &str,
        bytes: Option<&[u8]>,
        stream: Option<ReadableStream>,
    ) -> std::result::Result<web_sys::Response, JsValue>;
    #[wasm_bindgen(js_name = respond, catch)]
    fn respond_with_headers(
        status: u16,
        headers: &web_sys::Headers,
        removed: &str,
        added: &str,
        bytes: Option<&[u8]>,
        stream: Option<ReadableStream>,
    ) -> std::result::Result<web_sys::Response, JsValue>;
    #[wasm_bindgen(js_name = readCapped)]
    fn read_capped_js(req: &web_sys::Request, cap: f64) -> js_sys::Promise;
    #[wasm_bindgen(js_name = sliceStream)]
    fn slice_stream_js(stream: ReadableStream, start: f64, end: f64) -> ReadableStream;
    #[wasm_bindgen(js_name = forward, catch)]
    fn forward_js(
        url: &str,
        method: &str,
        headers: &web_sys::Headers,
        removed: &str,
        added: &str,
        body: Option<ReadableStream>,
    ) -> std::result::Result<js_sys::Promise, JsValue>;
}

/// Copies a JavaScript `Headers` into the core's list.
pub fn headers_from_js(js: &JsHeaders) -> Headers {
    Headers::from_lines(&head_lines(&js.0))
}

/// Builds a JavaScript `Headers` from the core's list.
pub fn headers_to_js(h: &Headers) -> JsHeaders {
    JsHeaders(headers_from_lines(&h.to_lines()))
}

/// An incoming request's method, URL and header fields, read in one crossing.
pub struct RequestLines(String);

impl RequestLines {
    pub fn read(req: &web_sys::Request) -> Self {
        RequestLines(request_lines(req))
    }

    fn parts(&self) -> (&str, &str, &str) {
        let (method, rest) = self.0.split_once('\n').unwrap_or((&self.0, ""));
        let (url, lines) = rest.split_once('\n').unwrap_or((rest, ""));
        (method, url, lines)
    }

    pub fn method(&self) -> &str {
        self.parts().0
    }

    pub fn url(&self) -> &str {
        self.parts().1
    }

    /// The head the core works on.
    pub fn head(&self) -> Result<RequestHead> {
        let (method, url, lines) = self.parts();
        let url = request_url(url).ok_or_else(|| worker::Error::RustError(format!("not a URL: {url}")))?;
        Ok(RequestHead::new(method, url, Headers::from_lines(lines)))
    }
}

/// The URL of a request the shell takes through the `worker` crate's wrapper (the admin API,
/// PURGE, the ledger's Durable Object), parsed by the core's parser: the wrapper's own
/// `url()` would link a second URL parser into the module.
pub(crate) fn url_of(req: &worker::Request) -> Result<rulecache::http::Url> {
    let text = req.inner().url();
    rulecache::http::parse_url(&text).ok_or_else(|| worker::Error::RustError(format!("not a URL: {text}")))
}

/// A request's URL (as the runtime serialised it), parsed as `parse_url` does, through the
/// isolate's memo of URLs parsed lately.
fn request_url(text: &str) -> Option<rulecache::http::Url> {
    with_isolate(|i| i.urls.parse(text))
}

/// The head of a runtime response, read in one crossing.
pub fn response_head(resp: &web_sys::Response) -> ResponseHead {
    ResponseHead::from_lines(&response_lines(resp))
}

/// Wraps a runtime response for the `worker` crate's APIs (the Cache API) reading only its
/// status, headers and body. (`Response::from` also reads `cf` and `webSocket`, which the
/// cache never uses; reading `cf` builds an object on every call.)
pub fn lean_response(resp: web_sys::Response) -> Response {
    let builder = Response::builder().with_status(resp.status()).with_headers(JsHeaders(resp.headers()));
    match resp.body() {
        Some(stream) => builder.stream(stream),
        None => builder.empty(),
    }
}

/// Sends a request to `url` with the runtime's `fetch`, redirects not followed: the fields of
/// `headers` (a JavaScript object, not changed) with `edits` applied in the request built for
/// it.
pub async fn forward(
    url: &str,
    method: &str,
    headers: &web_sys::Headers,
    edits: &HeaderEdits,
    body: Option<ReadableStream>,
) -> std::result::Result<web_sys::Response, FetchFailure> {
    let answer = match forward_js(url, method, headers, &edits.removed, &edits.added, body) {
        Ok(send) => super::settle::JsAwait::new(send).await,
        Err(e) => Err(e),
    };
    // `fetch` resolves to a Response.
    answer.map(JsCast::unchecked_into).map_err(|e| fetch_failure(&e))
}

/// What a rejected `fetch` says, read from the error object's own properties: the runtime
/// marks an error `retryable` when the connection could not be made or was lost; any other is
/// its refusal of what the origin sent (a status line, framing or `Content-Length` it cannot
/// parse). The message is logged for the operator, never matched.
fn fetch_failure(error: &JsValue) -> FetchFailure {
    let retryable =
        js_sys::Reflect::get(error, &JsValue::from_str("retryable")).ok().and_then(|v| v.as_bool());
    let message = js_sys::Reflect::get(error, &JsValue::from_str("message")).ok().and_then(|m| m.as_string());
    worker::console_warn!(
        "rulecache: the origin fetch failed: {}",
        message.as_deref().unwrap_or("(no message)")
    );
    if retryable == Some(true) {
        FetchFailure::Unreachable
    } else {
        FetchFailure::InvalidResponse
    }
}

/// Reads a request's body, at most `cap` bytes: `None` when it is (or says it is) longer; the
/// rest is never read.
pub async fn read_capped(req: &web_sys::Request, cap: usize) -> Result<Option<Vec<u8>>> {
    let value = super::settle::JsAwait::new(read_capped_js(req, cap as f64)).await?;
    if value.is_null() {
        return Ok(None);
    }
    Ok(Some(js_sys::Uint8Array::new(&value).to_vec()))
}

/// Bytes `start..=end` of a body stream, streamed: the bytes before are read and dropped, the
/// rest is never read.
pub fn slice_stream(stream: ReadableStream, start: u64, end: u64) -> ReadableStream {
    slice_stream_js(stream, start as f64, end as f64)
}

/// Reads a runtime response's whole body.
pub async fn read_body(resp: &web_sys::Response) -> Result<Rc<[u8]>> {
    let buffer = super::settle::JsAwait::new(resp.array_buffer()?).await?;
    Ok(js_sys::Uint8Array::new(&buffer).to_vec().into())
}

/// The header fields of a response being built.
pub enum OutHeaders<'a> {
    /// The core's list, sent across as lines.
    Core(&'a Headers),
    /// A JavaScript object (not changed), with the edits (none: passed on as it is) applied in
    /// the response built from it.
    Js(web_sys::Headers, HeaderEdits),
}

/// The body of a response being built.
pub enum OutBody<'a> {
    None,
    /// Bytes in wasm memory: the runtime copies them once.
    Bytes(&'a [u8]),
    Stream(ReadableStream),
}

/// Builds the runtime's response in one crossing.
pub fn respond(status: u16, headers: &OutHeaders, body: OutBody) -> Result<web_sys::Response> {
    let (bytes, stream) = match body {
        OutBody::None => (None, None),
        OutBody::Bytes(b) => (Some(b), None),
        OutBody::Stream(s) => (None, Some(s)),
    };
    let response = match headers {
        OutHeaders::Core(h) => respond_with_lines(status, &h.to_lines(), "", "", bytes, stream),
        OutHeaders::Js(h, e) => respond_with_headers(status, h, &e.removed, &e.added, bytes, stream),
    };
    Ok(response?)
}

/// The edits that turn a JavaScript `Headers` holding one list into one holding another, as
/// lines for one crossing: the names of the fields removed or replaced, and the fields added.
#[derive(Default)]
pub struct HeaderEdits {
    removed: String,
    added: String,
}

impl HeaderEdits {
    pub fn between(from: &Headers, to: &Headers) -> HeaderEdits {
        let mut edits = HeaderEdits::default();
        for edit in from.edits_to(to) {
            let (name, values) = match edit {
                HeaderEdit::Remove(name) => (name, Vec::new()),
                HeaderEdit::Replace(name, values) => (name, values),
            };
            if name.contains('\n') {
                continue;
            }
            if from.contains(name) {
                edits.removed.push_str(name);
                edits.removed.push('\n');
            }
            for v in values {
                write_line(&mut edits.added, name, v);
            }
        }
        edits
    }

    pub fn is_empty(&self) -> bool {
        self.removed.is_empty() && self.added.is_empty()
    }
}

/// `js` (a JavaScript `Headers` that holds `from`) edited to hold `to`: passed on as it is
/// when nothing changed, else copied with the changed fields replaced, in one crossing.
pub fn edited_copy(js: web_sys::Headers, from: &Headers, to: &Headers) -> web_sys::Headers {
    let edits = HeaderEdits::between(from, to);
    if edits.is_empty() {
        return js;
    }
    edited_headers(&js, &edits.removed, &edits.added)
}

/// A response's fields: `js` (holding `from`) edited to hold `to` in the response built from
/// it (passed on as it is when it does already).
pub fn edited_out(js: web_sys::Headers, from: &Headers, to: &Headers) -> OutHeaders<'static> {
    OutHeaders::Js(js, HeaderEdits::between(from, to))
}
