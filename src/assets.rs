//! The control panel's files, carried by the worker's bundle as a JavaScript module made by
//! `build.rs` from `www/` (compacted): no separate asset upload, no build step of their own,
//! the same deployment as the API they call, and nothing of their text in the wasm module.
//! The shipped policy profiles travel the same way (`build.rs` takes them from the core).

use wasm_bindgen::prelude::wasm_bindgen;

#[wasm_bindgen(module = "/js/panel.gen.js")]
extern "C" {
    #[wasm_bindgen(js_name = panelFile)]
    fn panel_file(name: &str, headers: &web_sys::Headers, head: bool) -> web_sys::Response;
}

#[wasm_bindgen(module = "/js/profiles.gen.js")]
extern "C" {
    /// The default profile's bundle text.
    #[wasm_bindgen(js_name = defaultProfile)]
    pub fn default_profile() -> String;
    /// Every shipped profile as the JSON `[{"id", "name", "bundle"}]`, a 200 response with
    /// `headers` built where the text is (it never crosses into wasm memory).
    #[wasm_bindgen(js_name = profileList)]
    pub fn profile_list(headers: &web_sys::Headers) -> web_sys::Response;
}

/// One file served under the admin prefix.
pub struct Asset {
    pub content_type: &'static str,
    name: &'static str,
}

impl Asset {
    /// The file as a response with `headers` (no body when `head`).
    pub fn response(&self, headers: &web_sys::Headers, head: bool) -> web_sys::Response {
        panel_file(self.name, headers, head)
    }
}

// `PANEL_FILES`: every file of `www/` with its content type, written by `build.rs` from the
// folder itself, so that each file the panel loads is served.
include!(concat!(env!("OUT_DIR"), "/panel_files.rs"));

/// The asset at `path` (relative to the admin prefix, e.g. `/app.js`; `/` is `index.html`).
pub fn find(path: &str) -> Option<Asset> {
    let wanted = if path == "/" { "index.html" } else { path.strip_prefix('/')? };
    let &(name, content_type) = PANEL_FILES.iter().find(|(name, _)| *name == wanted)?;
    Some(Asset { content_type, name })
}
