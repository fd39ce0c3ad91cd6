//! The control panel's files, compiled into the worker.

/// One file served under the admin prefix.
pub struct Asset {
    pub content_type: &'static str,
    pub body: &'static str,
}

/// The asset at `path` (relative to the admin prefix, e.g. `/app.js`).
pub fn find(path: &str) -> Option<Asset> {
    let _ = path;
    None
}
