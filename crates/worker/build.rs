//! Prepares the control panel's files for embedding: the same text without indentation,
//! blank lines and whole-line comments (the panel is served from inside the wasm module, whose
//! size is budgeted). No tool beyond the compiler is needed.

use std::path::Path;
use std::{env, fs};

/// The panel's sources, at the repository root.
const WWW: &str = "../../www";

fn main() {
    println!("cargo:rerun-if-changed={WWW}");
    let out = env::var("OUT_DIR").unwrap_or_else(|_| ".".into());
    for name in ["index.html", "app.js", "app.css"] {
        let src = Path::new(WWW).join(name);
        println!("cargo:rerun-if-changed={}", src.display());
        let text = match fs::read_to_string(&src) {
            Ok(text) => text,
            Err(e) => panic!("cannot read {}: {e}", src.display()),
        };
        let compact = compact(&text, name);
        let _ = fs::write(Path::new(&out).join(name), compact);
    }
}

/// Trims every line and drops blank ones; drops comment lines in JavaScript (`//`, and
/// `/* … */` blocks that start a line) and every `/* … */` comment in CSS. Safe for these
/// files: they have no multi-line strings or preformatted text.
fn compact(text: &str, name: &str) -> String {
    let text = if name.ends_with(".css") { strip_block_comments(text) } else { text.to_string() };
    let js = name.ends_with(".js");
    let mut out = String::with_capacity(text.len());
    let mut in_comment = false;
    for line in text.lines().map(str::trim) {
        if in_comment {
            in_comment = !line.contains("*/");
            continue;
        }
        if js && line.starts_with("/*") {
            in_comment = !line.contains("*/");
            continue;
        }
        if line.is_empty() || (js && line.starts_with("//")) {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

fn strip_block_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("/*") {
        out.push_str(rest.get(..start).unwrap_or(""));
        rest = match rest.get(start + 2..).and_then(|r| r.find("*/").map(|end| (r, end))) {
            Some((r, end)) => r.get(end + 2..).unwrap_or(""),
            None => "",
        };
    }
    out.push_str(rest);
    out
}
