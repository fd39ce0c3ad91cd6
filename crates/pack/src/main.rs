//! `worker-pack`: turns a Rust worker crate into the two files the Workers runtime loads
//! (`index.js`, `index_bg.wasm`), as `worker-build` does, without compiling or downloading
//! anything at build time:
//!
//! 1. `cargo build --lib --release --target wasm32-unknown-unknown` of the crate;
//! 2. wasm-bindgen (the library the CLI is made of, `--target module`, with the reset-state
//!    function and abort handler the entry shim relies on);
//! 3. wasm-opt `-Oz` from the `binaryen` npm package (`WASM_OPT_BIN`), once;
//! 4. the entry shim (`shim.js`: a plain object of handlers calling the module's exports, so
//!    the runtime builds no entrypoint instance or proxy per request, and exported classes
//!    wrapped, after worker-build's shim, so that a trapped instance is rebuilt), bundled by
//!    esbuild (`ESBUILD_BIN`).
//!
//! When the compiled module, the shim and the options are what the last run packed (a stamp
//! in the output folder), steps 2–4 are skipped: a no-change build costs one no-op `cargo build`.
//!
//! Usage: `worker-pack [--manifest-path CRATE/Cargo.toml] [--out DIR] [--no-opt] [--names]`
//! (`--names` keeps function names in the module and the glue, for CPU profiles).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sha2::{Digest, Sha256};

const SHIM: &str = include_str!("shim.js");

/// Functions of the generated module that are not handlers.
const SYSTEM_FNS: &[&str] = &["__wbg_reset_state", "__worker_init_state"];

/// wasm features the runtime supports (rustc's wasm32 defaults plus exception handling, used by
/// wasm-bindgen's catch wrappers); named one by one so that no newer encoding is emitted.
const WASM_FEATURES: &[&str] = &[
    "--enable-mutable-globals",
    "--enable-sign-ext",
    "--enable-nontrapping-float-to-int",
    "--enable-bulk-memory",
    "--enable-multivalue",
    "--enable-reference-types",
    "--enable-exception-handling",
];

struct Options {
    manifest: Option<PathBuf>,
    out: PathBuf,
    opt: bool,
    /// Keep function names (for CPU profiles taken through the runtime's inspector).
    names: bool,
}

fn main() {
    if let Err(e) = run() {
        eprintln!("worker-pack: {e}");
        std::process::exit(1);
    }
}

fn parse_args() -> Result<Options, String> {
    let mut options = Options { manifest: None, out: PathBuf::from("build"), opt: true, names: false };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--manifest-path" => {
                options.manifest = Some(args.next().ok_or("--manifest-path needs a path")?.into())
            }
            "--out" => options.out = args.next().ok_or("--out needs a folder")?.into(),
            "--no-opt" => options.opt = false,
            "--names" => options.names = true,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(options)
}

fn run() -> Result<(), String> {
    let options = parse_args()?;
    let wasm = cargo_build(options.manifest.as_deref())?;
    let module = fs::read(&wasm).map_err(|e| format!("cannot read {}: {e}", wasm.display()))?;

    let mut digest = Sha256::new();
    digest.update(&module);
    digest.update(SHIM.as_bytes());
    digest.update([u8::from(options.opt), u8::from(options.names)]);
    digest.update(env!("CARGO_PKG_VERSION").as_bytes());
    let stamp: String = digest.finalize().iter().map(|b| format!("{b:02x}")).collect();
    let stamp_path = options.out.join(".pack-stamp");
    let packed = ["index.js", "index_bg.wasm"].iter().all(|f| options.out.join(f).is_file());
    if packed && fs::read_to_string(&stamp_path).is_ok_and(|s| s == stamp) {
        println!("worker-pack: {} is up to date", options.out.display());
        return Ok(());
    }

    let staging = options.out.with_extension("pack-tmp");
    let _ = fs::remove_dir_all(&staging);
    fs::create_dir_all(&staging).map_err(|e| format!("cannot create {}: {e}", staging.display()))?;

    let mut bindgen = wasm_bindgen_cli_support::Bindgen::new();
    bindgen.module(true).map_err(|e| e.to_string())?;
    bindgen
        .input_path(&wasm)
        .out_name("index")
        .typescript(false)
        .remove_name_section(!options.names)
        .remove_producers_section(true)
        .reset_state_function(true)
        .force_enable_abort_handler(true)
        .generate(&staging)
        .map_err(|e| format!("wasm-bindgen: {e}"))?;

    if options.opt {
        let bin = tool("WASM_OPT_BIN", "node_modules/.bin/wasm-opt");
        let file = staging.join("index_bg.wasm");
        let tmp = staging.join("index_bg.opt.wasm");
        let mut cmd = Command::new(&bin);
        cmd.arg(&file).arg("-Oz").arg("--strip-debug").arg("--strip-producers").args(WASM_FEATURES);
        if options.names {
            cmd.arg("--debuginfo");
        }
        cmd.arg("-o").arg(&tmp);
        status(cmd, "wasm-opt")?;
        fs::rename(&tmp, &file).map_err(|e| format!("cannot replace {}: {e}", file.display()))?;
    }

    let glue = dedupe_snippet_imports(&read(&staging.join("index.js"))?);
    write(&staging.join("index.js"), &glue)?;
    let (functions, classes) = exports(&glue);
    let mut shim = SHIM.replace("$HANDLERS", &handlers(&functions));
    for class in classes {
        shim.push_str(&format!("export const {class} = new Proxy(exports.{class}, classProxyHooks);\n"));
    }
    write(&staging.join("shim.js"), &shim)?;

    let esbuild = tool("ESBUILD_BIN", "node_modules/.bin/esbuild");
    let mut cmd = Command::new(&esbuild);
    cmd.current_dir(&staging).args([
        "--external:./index_bg.wasm",
        "--external:cloudflare:*",
        "--format=esm",
        "--bundle",
        "./shim.js",
        "--outfile=index.js",
        "--allow-overwrite",
        "--log-level=warning",
    ]);
    // A profile names the glue's functions too: their identifiers are kept.
    if options.names {
        cmd.args(["--minify-whitespace", "--minify-syntax"]);
    } else {
        cmd.arg("--minify");
    }
    status(cmd, "esbuild")?;
    // The runtime imports the compiled module as a value, not a source-phase import.
    let bundled = read(&staging.join("index.js"))?.replace("import source ", "import ");
    write(&staging.join("index.js"), &bundled)?;

    fs::create_dir_all(&options.out).map_err(|e| format!("cannot create {}: {e}", options.out.display()))?;
    for name in ["index.js", "index_bg.wasm"] {
        fs::rename(staging.join(name), options.out.join(name))
            .map_err(|e| format!("cannot move {name} into {}: {e}", options.out.display()))?;
    }
    let _ = fs::remove_dir_all(&staging);
    write(&stamp_path, &stamp)?;
    let size = fs::metadata(options.out.join("index_bg.wasm")).map(|m| m.len()).unwrap_or(0);
    println!("worker-pack: wrote {}/index.js and index_bg.wasm ({size} bytes)", options.out.display());
    Ok(())
}

/// wasm-bindgen names a snippet module in the import object once per `#[wasm_bindgen(module =
/// …)]` block that imports from it, so the same key can appear twice (esbuild then warns of a
/// duplicate key, and `wrangler deploy` repeats the warning). The same key always names the
/// same module (each namespace it is bound to is that module's): every later entry for a key
/// already listed is dropped.
fn dedupe_snippet_imports(glue: &str) -> String {
    let mut seen = std::collections::HashSet::new();
    let mut out = String::with_capacity(glue.len());
    for line in glue.lines() {
        let trimmed = line.trim();
        if let Some(key) = trimmed.strip_prefix("\"./snippets/").and_then(|rest| rest.split_once("\":")) {
            if !seen.insert(key.0.to_string()) {
                continue;
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Builds the crate's library for wasm and returns the path of its `.wasm` file, read from
/// cargo's own report of the artifacts it made.
fn cargo_build(manifest: Option<&Path>) -> Result<PathBuf, String> {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.args([
        "build",
        "--lib",
        "--release",
        "--target",
        "wasm32-unknown-unknown",
        "--message-format=json-render-diagnostics",
    ]);
    match manifest {
        Some(m) => {
            cmd.arg("--manifest-path").arg(m);
        }
        None => {
            cmd.args(["-p", "rulecache-worker"]);
        }
    }
    cmd.stdout(Stdio::piped()).stderr(Stdio::inherit());
    let output = cmd.output().map_err(|e| format!("cannot run cargo: {e}"))?;
    if !output.status.success() {
        return Err(format!("cargo build failed ({})", output.status));
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let mut wasm = None;
    for line in text.lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        if message.get("reason").and_then(|r| r.as_str()) != Some("compiler-artifact") {
            continue;
        }
        let kinds = message.pointer("/target/kind").and_then(|k| k.as_array());
        if !kinds.is_some_and(|k| k.iter().any(|k| k == "cdylib")) {
            continue;
        }
        for file in message.get("filenames").and_then(|f| f.as_array()).into_iter().flatten() {
            if let Some(f) = file.as_str().filter(|f| f.ends_with(".wasm")) {
                wasm = Some(PathBuf::from(f));
            }
        }
    }
    wasm.ok_or_else(|| "cargo built no cdylib .wasm (is the crate a cdylib?)".to_string())
}

/// The module's exported functions (handlers) and classes, read from wasm-bindgen's glue.
fn exports(glue: &str) -> (Vec<String>, Vec<String>) {
    let mut functions = Vec::new();
    let mut classes = Vec::new();
    for line in glue.lines().map(str::trim_start) {
        let name_before = |rest: &str, end: char| rest.split(end).next().map(|n| n.trim().to_string());
        if let Some(rest) =
            line.strip_prefix("export function ").or_else(|| line.strip_prefix("export async function "))
        {
            if let Some(name) = name_before(rest, '(').filter(|n| !SYSTEM_FNS.contains(&n.as_str())) {
                functions.push(name);
            }
        } else if let Some(rest) = line.strip_prefix("export class ") {
            if let Some(name) = name_before(rest, '{') {
                classes.push(name);
            }
        } else if let Some(rest) = line.strip_prefix("export {") {
            // `export { local as name }`
            if let Some((_, name)) = rest.split_once(" as ") {
                if let Some(name) = name_before(name, '}').filter(|n| !SYSTEM_FNS.contains(&n.as_str())) {
                    functions.push(name);
                }
            }
        }
    }
    (functions, classes)
}

/// The entry point's methods: the runtime's event handlers get `(arg, env, ctx)`; any other
/// export is attached as it is.
fn handlers(functions: &[String]) -> String {
    let mut out = String::new();
    for f in functions {
        if ["fetch", "queue", "scheduled", "email", "connect"].contains(&f.as_str()) {
            out.push_str(&format!("entry.{f} = handler(exports.{f});\n"));
        } else {
            out.push_str(&format!("entry.{f} = exports.{f};\n"));
        }
    }
    out
}

fn tool(var: &str, default: &str) -> PathBuf {
    std::env::var_os(var).map(PathBuf::from).unwrap_or_else(|| PathBuf::from(default))
}

fn status(mut cmd: Command, what: &str) -> Result<(), String> {
    let status = cmd.status().map_err(|e| format!("cannot run {what}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{what} failed ({status})"))
    }
}

fn read(path: &Path) -> Result<String, String> {
    fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handlers_and_classes_are_read_from_the_glue() {
        let glue = "export function fetch(req, env, ctx) {\nexport class PurgeLedger {\nexport function __wbg_reset_state() {\nexport { f as other };\n";
        let (functions, classes) = exports(glue);
        assert_eq!(functions, ["fetch", "other"]);
        assert_eq!(classes, ["PurgeLedger"]);
        let h = handlers(&functions);
        assert!(h.contains("entry.fetch = handler(exports.fetch);"));
        assert!(h.contains("entry.other = exports.other;"));
    }
}

#[cfg(test)]
mod dedupe_tests {
    use super::dedupe_snippet_imports;

    #[test]
    fn a_snippet_module_is_listed_once_in_the_import_object() {
        let glue = "const imports = {\n    \"./index_bg.js\": import0,\n    \"./snippets/w-1/js/heads.js\": import1,\n    \"./snippets/w-1/js/profiles.gen.js\": import2,\n    \"./snippets/w-1/js/heads.js\": import3,\n};\n";
        let out = dedupe_snippet_imports(glue);
        assert_eq!(out.matches("heads.js").count(), 1, "{out}");
        assert!(out.contains("import1") && !out.contains("import3") && out.contains("profiles.gen.js"));
        // Nothing else changes.
        assert_eq!(dedupe_snippet_imports("a\nb\n"), "a\nb\n");
    }
}
