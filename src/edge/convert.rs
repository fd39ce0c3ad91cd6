//! Moving heads between JavaScript objects and the core's plain types.

use wasm_bindgen::JsCast;
use worker::{Headers as JsHeaders, Response, Result};

use crate::http::{HeaderEdit, Headers, RequestHead, ResponseHead};

/// Copies a JavaScript `Headers` into the core's list (one crossing per field).
pub fn headers_from_js(js: &JsHeaders) -> Headers {
    let mut h = Headers::new();
    for (name, value) in js.entries() {
        h.append(&name, value);
    }
    h
}

/// Builds a JavaScript `Headers` from the core's list.
pub fn headers_to_js(h: &Headers) -> JsHeaders {
    let js = JsHeaders::new();
    for (name, value) in h.iter() {
        // A value the runtime refuses (e.g. a stray control byte) is dropped, never a panic.
        let _ = js.append(name, value);
    }
    js
}

/// The head of an incoming request: method, URL and header fields, nothing else read.
pub fn request_head(req: &web_sys::Request) -> Result<RequestHead> {
    let url = url::Url::parse(&req.url())?;
    Ok(RequestHead::new(&req.method(), url, headers_from_js(&JsHeaders(req.headers()))))
}

/// The head of a response.
pub fn response_head(resp: &Response) -> ResponseHead {
    ResponseHead::new(resp.status_code(), headers_from_js(resp.headers()))
}

/// Wraps a runtime response reading only its status, headers and body. (`Response::from`
/// also reads `cf` and `webSocket`, which the cache never uses; reading `cf` builds an object
/// on every call.)
pub fn lean_response(resp: web_sys::Response) -> Response {
    let builder = Response::builder().with_status(resp.status()).with_headers(JsHeaders(resp.headers()));
    match resp.body() {
        Some(stream) => builder.stream(stream),
        None => builder.empty(),
    }
}

/// Sends `req` with the runtime's `fetch`.
pub async fn send(req: &web_sys::Request) -> Result<Response> {
    let global: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
    let answer = wasm_bindgen_futures::JsFuture::from(global.fetch_with_request(req)).await?;
    Ok(lean_response(answer.dyn_into()?))
}

/// A copy of `js` (a JavaScript `Headers` that holds `from`) edited to hold `to`: one crossing
/// for the copy and one per changed field, instead of one per field.
pub fn edited_copy(js: &web_sys::Headers, from: &Headers, to: &Headers) -> web_sys::Headers {
    let Ok(copy) = web_sys::Headers::new_with_headers(js) else { return headers_to_js(to).0 };
    for edit in from.edits_to(to) {
        match edit {
            HeaderEdit::Remove(name) => {
                let _ = copy.delete(name);
            }
            HeaderEdit::Replace(name, values) => {
                let _ = copy.delete(name);
                for v in values {
                    let _ = copy.append(name, v);
                }
            }
        }
    }
    copy
}
