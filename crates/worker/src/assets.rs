//! The control panel's files, compiled into the worker (compacted by `build.rs`): no separate
//! asset upload, no build step of their own, and the same deployment as the API they call.

/// One file served under the admin prefix.
pub struct Asset {
    pub content_type: &'static str,
    pub body: &'static str,
}

const INDEX: &str = include_str!(concat!(env!("OUT_DIR"), "/index.html"));
const APP_JS: &str = include_str!(concat!(env!("OUT_DIR"), "/app.js"));
const APP_CSS: &str = include_str!(concat!(env!("OUT_DIR"), "/app.css"));

/// The asset at `path` (relative to the admin prefix, e.g. `/app.js`).
pub fn find(path: &str) -> Option<Asset> {
    let (content_type, body) = match path {
        "/" | "/index.html" => ("text/html; charset=utf-8", INDEX),
        "/app.js" => ("text/javascript; charset=utf-8", APP_JS),
        "/app.css" => ("text/css; charset=utf-8", APP_CSS),
        _ => return None,
    };
    Some(Asset { content_type, body })
}
