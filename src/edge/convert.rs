//! Moving heads between JavaScript objects and the core's plain types.

use worker::{Headers as JsHeaders, Request, Response, Result};

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

/// The head of an incoming request.
pub fn request_head(req: &Request) -> Result<RequestHead> {
    let url = req.url()?;
    Ok(RequestHead::new(&req.inner().method(), url, headers_from_js(req.headers())))
}

/// The head of a response.
pub fn response_head(resp: &Response) -> ResponseHead {
    ResponseHead::new(resp.status_code(), headers_from_js(resp.headers()))
}

/// A copy of `js` (a JavaScript `Headers` that holds `from`) edited to hold `to`: one crossing
/// for the copy and one per changed field, instead of one per field.
pub fn edited_copy(js: &JsHeaders, from: &Headers, to: &Headers) -> JsHeaders {
    let Ok(copy) = web_sys::Headers::new_with_headers(&js.0) else { return headers_to_js(to) };
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
    JsHeaders(copy)
}
