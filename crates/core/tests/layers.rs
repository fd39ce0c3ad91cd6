//! The crates' layers (docs/src/architecture.md, "Layers"): a module imports only from the
//! layers below it, so each layer can be read, tested and changed knowing only those below.
//!
//! Every `crate::…` and `super::…` path in the source (outside comments, string literals and
//! test code) is resolved to the top-level module it reaches, and the check fails, naming the
//! file, the line, the path and both layers, when that module sits above the importing one.
//! It also fails on a top-level module missing from the order, on a cycle among the top-level
//! modules or among the modules of one layer, and on anything re-exported at the core's root
//! (each module has one path: `rulecache::rfc::freshness`, never `rulecache::freshness`).
//!
//! Test code (a `#[cfg(test)]` item, or a `tests.rs` file) may also use the core's `testing`
//! harness, whatever its layer.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)] // a test reading the source: it may panic

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The core's layers, bottom up.
const CORE_LAYERS: &[&str] = &["http", "rfc", "storage", "purge", "policy", "flow", "testing"];
/// Reached from test code in any layer.
const CORE_TEST_ONLY: &[&str] = &["testing"];

/// The worker's modules, bottom up. Its root (`lib.rs`: the entry points and the `Config`,
/// clock and replay guard every module reads) stands outside the order.
const WORKER_LAYERS: &[&str] = &[
    "settle",
    "isolate",
    "convert",
    "assets",
    "persist",
    "r2",
    "policy_store",
    "ledger",
    "cache",
    "fleet",
    "admin",
];

#[test]
fn the_core_imports_only_downwards() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let problems = check(&src, "crates/core/src", CORE_LAYERS, CORE_TEST_ONLY, false);
    assert!(problems.is_empty(), "{}", report(&problems));
}

#[test]
fn the_worker_imports_only_downwards() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../src");
    let problems = check(&src, "src", WORKER_LAYERS, &[], true);
    assert!(problems.is_empty(), "{}", report(&problems));
}

#[test]
fn the_core_has_no_root_re_exports() {
    let lib = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
    let code = strip(&lib);
    let found: Vec<String> = code
        .lines()
        .enumerate()
        .filter(|(_, l)| l.trim_start().starts_with("pub use") || l.trim_start().starts_with("use "))
        .map(|(i, l)| format!("crates/core/src/lib.rs:{}: `{}`", i + 1, l.trim()))
        .collect();
    assert!(
        found.is_empty(),
        "the crate root declares its layers and nothing else; reach a module by its one path \
         (`rulecache::rfc::freshness`, not `rulecache::freshness`):\n{}",
        found.join("\n")
    );
}

/// The check itself, on made-up sources: an upward import and a cycle are found, test code may
/// use the harness.
#[test]
fn the_check_finds_an_upward_import() {
    let dir = std::env::temp_dir().join(format!("layers-check-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    let write = |p: &str, text: &str| {
        let path = dir.join(p);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    };
    write("lib.rs", "pub mod low;\npub mod high;\npub mod testing;\n");
    write("low/mod.rs", "mod a;\nmod b;\n// crate::high in a comment\nconst S: &str = \"crate::high\";\n");
    write("low/a.rs", "use super::b::X;\n#[cfg(test)]\nmod tests {\n    use crate::testing::T;\n}\n");
    write("low/b.rs", "use crate::{high::Y, low::a};\npub struct X;\n");
    write("high.rs", "use crate::low;\npub struct Y;\n");
    write("testing.rs", "pub struct T;\n");
    let problems = check(&dir, "src", &["low", "high", "testing"], &["testing"], false);
    let _ = fs::remove_dir_all(&dir);
    let text = report(&problems);
    assert!(text.contains("low/b.rs:1: `crate::{high::Y, low::a}` reaches `high`"), "{text}");
    assert!(text.contains("cycle among the modules of `low`: a → b → a"), "{text}");
    assert!(text.contains("cycle among the top-level modules: high → low → high"), "{text}");
    assert_eq!(problems.len(), 3, "{text}");
}

fn report(problems: &[String]) -> String {
    format!("{} import problem(s):\n{}", problems.len(), problems.join("\n"))
}

/// The problems of the crate whose source is in `src` (named `shown` in the messages).
fn check(
    src: &Path,
    shown: &str,
    layers: &[&str],
    test_only: &[&str],
    root_items_allowed: bool,
) -> Vec<String> {
    let mut files = Vec::new();
    collect(src, &mut files);
    files.sort();
    let mut problems = Vec::new();
    let mut top_edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut inner_edges: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    let test_files = test_module_files(&files);
    let tops: BTreeSet<String> = files.iter().filter_map(|f| module_path(src, f).first().cloned()).collect();
    for top in &tops {
        if !layers.contains(&top.as_str()) {
            problems.push(format!("top-level module `{top}` is not in the layer order: add it to it"));
        }
    }
    for file in &files {
        let module = module_path(src, file);
        let Some(from) = module.first() else { continue };
        let rel = format!("{shown}/{}", file.strip_prefix(src).unwrap().display());
        let whole_file_is_test = test_files.contains(file);
        let code: Vec<char> = strip(&fs::read_to_string(file).unwrap()).chars().collect();
        let test_code = test_items(&code);
        let inline = inline_modules(&code);
        for (offset, path, targets) in paths(&code, &module, &inline) {
            let line = code[..offset].iter().filter(|c| **c == '\n').count() + 1;
            let in_test = whole_file_is_test || test_code[offset];
            for target in targets {
                let Some(to) = target.first() else { continue };
                if !tops.contains(to) {
                    if !root_items_allowed {
                        problems.push(format!(
                            "{rel}:{line}: `{path}` reaches `{to}` at the crate root: the root holds only \
                             the layers"
                        ));
                    }
                    continue;
                }
                if to == from {
                    if let (Some(a), Some(b)) = (module.get(1), target.get(1)) {
                        if a != b && !in_test && tops_has_child(src, from, b) {
                            inner_edges
                                .entry(from.clone())
                                .or_default()
                                .entry(a.clone())
                                .or_default()
                                .insert(b.clone());
                        }
                    }
                    continue;
                }
                let (Some(lf), Some(lt)) = (position(layers, from), position(layers, to)) else { continue };
                if in_test && test_only.contains(&to.as_str()) {
                    continue;
                }
                if lt > lf {
                    problems.push(format!(
                        "{rel}:{line}: `{path}` reaches `{to}` (layer {} of {}), above `{from}` (layer {}): \
                         a module imports only from the layers below it ({}); move the name down to the \
                         layer that owns it",
                        lt + 1,
                        layers.len(),
                        lf + 1,
                        layers.join(" → ")
                    ));
                }
                if !in_test {
                    top_edges.entry(from.clone()).or_default().insert(to.clone());
                }
            }
        }
    }
    if let Some(cycle) = find_cycle(&top_edges) {
        problems.push(format!("cycle among the top-level modules: {}", cycle.join(" → ")));
    }
    for (top, edges) in &inner_edges {
        if let Some(cycle) = find_cycle(edges) {
            problems.push(format!("cycle among the modules of `{top}`: {}", cycle.join(" → ")));
        }
    }
    problems
}

fn position(layers: &[&str], name: &str) -> Option<usize> {
    layers.iter().position(|l| *l == name)
}

/// Whether `top` has a submodule `child` (a file or a folder), as opposed to an item of its own.
fn tops_has_child(src: &Path, top: &str, child: &str) -> bool {
    src.join(top).join(format!("{child}.rs")).exists() || src.join(top).join(child).join("mod.rs").exists()
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `storage/key/mod.rs` → `[storage, key]`; `lib.rs` → `[]`.
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap();
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let last = parts.pop().unwrap();
    let stem = last.trim_end_matches(".rs");
    if !(stem == "mod" || (parts.is_empty() && (stem == "lib" || stem == "main"))) {
        parts.push(stem.to_string());
    }
    parts
}

/// The files of modules declared `#[cfg(test)] mod name;`, and every `tests.rs`.
fn test_module_files(files: &[PathBuf]) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    for file in files {
        if file.file_name().is_some_and(|n| n == "tests.rs") {
            out.insert(file.clone());
        }
        let code: String = strip(&fs::read_to_string(file).unwrap()).split_whitespace().collect();
        let dir = if file.file_name().is_some_and(|n| n == "mod.rs" || n == "lib.rs") {
            file.parent().unwrap().to_path_buf()
        } else {
            file.with_extension("")
        };
        for piece in code.split("#[cfg(test)]").skip(1) {
            if let Some(name) = piece.strip_prefix("mod").and_then(|r| r.split_once(';')).map(|(n, _)| n) {
                if name.chars().all(|c| c.is_alphanumeric() || c == '_') {
                    out.insert(dir.join(format!("{name}.rs")));
                    out.insert(dir.join(name).join("mod.rs"));
                }
            }
        }
    }
    out
}

/// The source with comments and the contents of string and character literals blanked out
/// (line breaks kept, so offsets and line numbers stay those of the file).
fn strip(text: &str) -> String {
    let c: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let blank = |ch: char| if ch == '\n' { '\n' } else { ' ' };
    let ident = |ch: char| ch.is_alphanumeric() || ch == '_';
    let mut i = 0;
    while i < c.len() {
        let at = |k: usize| c.get(k).copied().unwrap_or('\0');
        if at(i) == '/' && at(i + 1) == '/' {
            while i < c.len() && c[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if at(i) == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            while i < c.len() {
                if at(i) == '/' && at(i + 1) == '*' {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if at(i) == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(c[i]));
                    i += 1;
                }
            }
        } else if at(i) == 'r'
            && (at(i + 1) == '"' || at(i + 1) == '#')
            && (i == 0 || !ident(c[i - 1]) || c[i - 1] == 'b')
        {
            // A raw string: r"…", r#"…"#.
            let mut k = i + 1;
            let mut hashes = 0;
            while at(k) == '#' {
                hashes += 1;
                k += 1;
            }
            if at(k) != '"' {
                out.push(c[i]);
                i += 1;
                continue;
            }
            for _ in i..=k {
                out.push(' ');
            }
            i = k + 1;
            while i < c.len() {
                if c[i] == '"' && (1..=hashes).all(|h| at(i + h) == '#') {
                    for _ in 0..=hashes {
                        out.push(' ');
                    }
                    i += hashes + 1;
                    break;
                }
                out.push(blank(c[i]));
                i += 1;
            }
        } else if at(i) == '"' {
            out.push(' ');
            i += 1;
            while i < c.len() && c[i] != '"' {
                if c[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < c.len() {
                    out.push(blank(c[i]));
                    i += 1;
                }
            }
            out.push(' ');
            i += 1;
        } else if at(i) == '\'' && (at(i + 1) == '\\' || at(i + 2) == '\'') {
            // A character literal ('x', '\n', '\u{…}'); a lifetime has no closing quote.
            out.push(' ');
            i += 1;
            if at(i) == '\\' {
                out.push(' ');
                i += 1;
            }
            while i < c.len() && c[i] != '\'' {
                out.push(' ');
                i += 1;
            }
            out.push(' ');
            i += 1;
        } else {
            out.push(c[i]);
            i += 1;
        }
    }
    out
}

/// The modules declared inline (`mod name { … }`): where each starts and ends, and its name.
fn inline_modules(code: &[char]) -> Vec<(usize, usize, String)> {
    let ident = |ch: char| ch.is_alphanumeric() || ch == '_';
    let mut out = Vec::new();
    for i in 0..code.len() {
        let word = ["m", "o", "d", " "]
            .iter()
            .enumerate()
            .all(|(k, w)| code.get(i + k).map(|c| c.to_string()) == Some(w.to_string()));
        if !word || (i > 0 && ident(code[i - 1])) {
            continue;
        }
        let mut k = i + 4;
        let s = k;
        while k < code.len() && ident(code[k]) {
            k += 1;
        }
        let name: String = code[s..k].iter().collect();
        while k < code.len() && code[k].is_whitespace() {
            k += 1;
        }
        if name.is_empty() || code.get(k) != Some(&'{') {
            continue;
        }
        let start = k;
        let k = matching_brace(code, k);
        out.push((start, k, name));
    }
    out
}

/// The index of the `}` that closes the `{` at `open` (or the end of `code`).
fn matching_brace(code: &[char], open: usize) -> usize {
    let mut braces = 0;
    let mut k = open;
    while k < code.len() {
        match code[k] {
            '{' => braces += 1,
            '}' => {
                braces -= 1;
                if braces == 0 {
                    return k;
                }
            }
            _ => {}
        }
        k += 1;
    }
    k
}

/// Which characters of `code` belong to a `#[cfg(test)]` item (a test module, function or
/// statement).
fn test_items(code: &[char]) -> Vec<bool> {
    let mut test = vec![false; code.len()];
    let pattern: Vec<char> = "#[cfg(test)]".chars().collect();
    let mut i = 0;
    while i + pattern.len() <= code.len() {
        if code[i..i + pattern.len()] != pattern[..] {
            i += 1;
            continue;
        }
        let start = i;
        let mut k = i + pattern.len();
        let mut depth = 0i32;
        while k < code.len() {
            match code[k] {
                '(' | '[' => depth += 1,
                ')' | ']' => depth -= 1,
                ';' if depth == 0 => break,
                '{' if depth == 0 => {
                    k = matching_brace(code, k);
                    break;
                }
                _ => {}
            }
            k += 1;
        }
        for t in test.iter_mut().take((k + 1).min(code.len())).skip(start) {
            *t = true;
        }
        i = k + 1;
    }
    test
}

/// Every `crate::…`/`super::…` path in `code` (of the module at `module`): its offset, its
/// text, and the module paths it reaches (one for each item of a `{…}` group).
fn paths(
    b: &[char],
    file_module: &[String],
    inline: &[(usize, usize, String)],
) -> Vec<(usize, String, Vec<Vec<String>>)> {
    let starts = |i: usize, word: &str| word.chars().enumerate().all(|(k, w)| b.get(i + k) == Some(&w));
    let ident = |ch: char| ch.is_alphanumeric() || ch == '_';
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let word_start = i == 0 || !(ident(b[i - 1]) || b[i - 1] == '$' || b[i - 1] == ':');
        if !word_start || !(starts(i, "crate::") || starts(i, "super::")) {
            i += 1;
            continue;
        }
        let start = i;
        let mut base: Vec<String> = if starts(i, "crate::") {
            i += 7;
            Vec::new()
        } else {
            let mut m = file_module.to_vec();
            m.extend(inline.iter().filter(|(s, e, _)| (*s..*e).contains(&i)).map(|(_, _, n)| n.clone()));
            while starts(i, "super::") {
                m.pop();
                i += 7;
            }
            m
        };
        // Segments up to a group or the end of the path.
        let mut targets = Vec::new();
        loop {
            let s = i;
            while i < b.len() && ident(b[i]) {
                i += 1;
            }
            if i > s {
                base.push(b[s..i].iter().collect::<String>());
                if base.len() >= 2 || b.get(i) != Some(&':') || b.get(i + 1) != Some(&':') {
                    targets.push(base.clone());
                    break;
                }
                i += 2;
                continue;
            }
            if b.get(i) == Some(&'{') {
                // Each item of the group, at depth 1.
                let mut depth = 0;
                let mut item_start = true;
                while i < b.len() {
                    match b[i] {
                        '{' => {
                            depth += 1;
                            item_start = depth == 1;
                        }
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                i += 1;
                                break;
                            }
                        }
                        ',' if depth == 1 => item_start = true,
                        ch if item_start && depth == 1 && ident(ch) => {
                            let s = i;
                            while i < b.len() && ident(b[i]) {
                                i += 1;
                            }
                            let name = b[s..i].iter().collect::<String>();
                            let mut t = base.clone();
                            if name != "self" {
                                t.push(name);
                            }
                            // `top::module` inside the group: the module too.
                            if t.len() < 2 && starts(i, "::") {
                                let s = i + 2;
                                let mut k = s;
                                while k < b.len() && ident(b[k]) {
                                    k += 1;
                                }
                                if k > s {
                                    t.push(b[s..k].iter().collect());
                                }
                            }
                            targets.push(t);
                            item_start = false;
                            continue;
                        }
                        _ => {}
                    }
                    i += 1;
                }
            }
            if targets.is_empty() {
                targets.push(base.clone());
            }
            break;
        }
        // The rest of the path, for the message.
        while starts(i, "::") {
            i += 2;
            if b.get(i) == Some(&'{') {
                let mut depth = 0;
                while i < b.len() {
                    depth += match b[i] {
                        '{' => 1,
                        '}' => -1,
                        _ => 0,
                    };
                    i += 1;
                    if depth == 0 {
                        break;
                    }
                }
            } else if b.get(i) == Some(&'*') {
                i += 1;
            } else {
                while i < b.len() && ident(b[i]) {
                    i += 1;
                }
            }
        }
        out.push((start, b[start..i].iter().collect(), targets));
    }
    out
}

/// A cycle in `edges`, as the names along it with the first repeated at the end.
fn find_cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_string());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, edges, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for node in edges.keys() {
        if let Some(c) = visit(node, edges, &mut Vec::new(), &mut done) {
            return Some(c);
        }
    }
    None
}
