//! Compacts the shipped policy profiles (`policy/*.json` at the repository root) for embedding:
//! the same JSON without the whitespace between tokens (the wasm module's size is budgeted;
//! the admin API serves the profiles re-serialised anyway). No tool beyond the compiler.

use std::path::Path;
use std::{env, fs};

/// The profiles `policy::PROFILES` embeds.
const PROFILES: [&str; 5] = [
    "without-caching-proxy",
    "with-caching-proxy",
    "with-caching-proxy-splitviews",
    "plone6-splitviews",
    "django",
];

fn main() {
    let out = env::var("OUT_DIR").unwrap_or_else(|_| ".".into());
    for id in PROFILES {
        let src = format!("../../policy/{id}.json");
        println!("cargo:rerun-if-changed={src}");
        let text = match fs::read_to_string(&src) {
            Ok(text) => text,
            Err(e) => panic!("cannot read {src}: {e}"),
        };
        if let Err(e) = fs::write(Path::new(&out).join(format!("{id}.json")), compact_json(&text)) {
            panic!("cannot write {id}.json: {e}");
        }
    }
}

/// `text` without whitespace outside strings (any JSON text stays the same value).
fn compact_json(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in text.chars() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !matches!(c, ' ' | '\t' | '\n' | '\r') {
            out.push(c);
        }
    }
    out
}
