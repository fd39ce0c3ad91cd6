//! `demo-origin`: a small CMS-like HTTP/1.1 origin server, put behind the edge cache by the
//! run command, the integration tests and the load benchmark.
//!
//! Usage: `demo-origin [--port 8788] [--host 127.0.0.1] [--exit-on-stdin-close]`. Port 0
//! picks a free port. When ready it prints exactly one line to stdout:
//! `demo-origin listening on http://127.0.0.1:PORT`.
//!
//! # Audience markers
//!
//! Every HTML page, and every default `/t/` body, names its audience and user in one exact
//! marker:
//!
//! - anonymous: `<body data-audience="anonymous" data-user="">`
//! - logged in: `<body data-audience="authenticated" data-user="alice">`
//!
//! A user is logged in by the `__ac` cookie (base64 of `user:password`, set by `POST /login`
//! with `__ac_name`/`__ac_password`) or by HTTP Basic credentials. Demo users: alice, bob,
//! carol, dave, erin; each password is the user name. Every response carries
//! `X-Origin-Saw-Anonymous: <the X-Anonymous request header, or "absent">`, and every counted
//! response `X-Origin-Hit: N` (this path's hit count, this request included).
//!
//! # Site
//!
//! - `/`, `/front-page`, `/news/item-1`, `/news/item-2` (also with `/view` or a trailing
//!   slash): document views, hint `X-Cache-Ruleset: plone.content.itemView`; `/` shows the
//!   front page and shares its content version.
//! - `/news`: folder listing (`plone.content.folderView`); `/RSS`, `/news/RSS`: feeds
//!   (`plone.content.feed`); `/images/logo.png`, `/files/report.pdf` (`plone.content.file`);
//!   `/++resource++demo/style.css` (`plone.resource`);
//!   `/++plone++static/++unique++<stamp>/<file>` (`plone.stableResource`).
//! - Pages: strong ETag `"v<version>-<user or anon>"` (other resources `"v<version>"`),
//!   `Last-Modified` fixed per version (2025-01-01T00:00:00Z plus `version` hours), 304 for a
//!   matching `If-None-Match` (weak comparison, `*`, lists) or, without `If-None-Match`,
//!   `If-Modified-Since`. Pages send no `Cache-Control`. Bodies carry the version and the
//!   per-path hit counter (`hit=N`); header `X-Origin-Version: N`.
//! - `/login` (GET form, POST sets `__ac` and redirects 302; 403 on a wrong password),
//!   `/logout` (302, clears `__ac`), `/set-cookie` (sets `visited=1` with
//!   `Cache-Control: public, max-age=60`), `/slow?ms=N` (cap 30 s, `public, max-age=60`),
//!   `/error` (500) and `/error?status=5xx`.
//!
//! # Test surface: `/t/<anything>`
//!
//! Query parameters (form-decoded: `+` is a space): `status`, `cc` (Cache-Control), `cdn`
//! (CDN-Cache-Control), `h=Name:value` (repeatable), `etag` (as given), `lm` and `date` and
//! `expires` (HTTP-date, or `-N`/`+N` seconds from now; a Date is always sent), `body`,
//! `ct` (default text/plain), `vary`, `location`, `delay_ms` (cap 30 s), `bytes=N` (N bytes
//! of a pattern written in 16 KiB pieces, cap 64 MiB; with `chunk_delay_ms=N` between pieces
//! and `chunked=1` for chunked transfer coding), `echo=1` (a JSON description of the request:
//! method, target, path, query, version, headers (lower-cased names), header_list,
//! body_length, body when ≤ 64 KiB). The default body is
//! `demo-origin <METHOD> <path> hit=N\n<marker>\n`, followed for POST/PUT/PATCH/DELETE by
//! `request-body-length=N\n` and the request body itself when ≤ 64 KiB. With `etag`/`lm`
//! and status 200, conditional GET/HEAD requests that match get 304.
//!
//! # Control: `/__origin/…` (not counted; `+` in `path` stays literal)
//!
//! - `POST /__origin/bump?path=/front-page`: next content version (new ETag, Last-Modified).
//! - `POST /__origin/override?path=/t/x&status=503` (or `&drop=1`: close the connection
//!   without answering; or `&delay_ms=N`); `&clear=1` removes it.
//! - `GET /__origin/hits?path=/t/x` →
//!   `{"path":"/t/x","hits":N,"conditional":M,"not_modified":K}`; `?prefix=/t/ns/` sums
//!   (`"prefix"` instead of `"path"`); no parameter lists every path.
//! - `POST /__origin/reset`: forget counters, versions and overrides.
//!
//! Request bodies up to 8 MiB (413 beyond); malformed requests get 400.

mod http;
mod site;
#[cfg(test)]
mod tests;

const HELP: &str = "\
demo-origin: a small CMS-like origin server for trying the edge cache

usage: demo-origin [--port 8788] [--host 127.0.0.1] [--exit-on-stdin-close]
  --port N                 port to listen on (0 picks a free one; default 8788)
  --host ADDR              address to bind (default 127.0.0.1)
  --exit-on-stdin-close    exit when standard input reaches end of file

what to try (demo users alice, bob, carol, dave, erin; password = name):
  curl -i http://127.0.0.1:8788/front-page
  curl -i -H 'If-None-Match: \"v1-anon\"' http://127.0.0.1:8788/front-page
  curl -i -d '__ac_name=alice&__ac_password=alice' http://127.0.0.1:8788/login
  curl -i -b '__ac=YWxpY2U6YWxpY2U=' http://127.0.0.1:8788/front-page
  curl -i 'http://127.0.0.1:8788/t/demo?cc=public,+max-age=60&etag=\"x1\"&h=Cache-Tag:news'
  curl -i 'http://127.0.0.1:8788/t/demo?echo=1'
  curl -X POST 'http://127.0.0.1:8788/__origin/bump?path=/front-page'
  curl -X POST 'http://127.0.0.1:8788/__origin/override?path=/t/x&status=503'
  curl 'http://127.0.0.1:8788/__origin/hits?path=/front-page'

Every HTML page names its audience in one marker:
  <body data-audience=\"anonymous\" data-user=\"\">
  <body data-audience=\"authenticated\" data-user=\"alice\">
";

fn main() {
    use std::io::{Read, Write};
    use std::sync::Arc;

    let mut host = "127.0.0.1".to_string();
    let mut port: u16 = 8788;
    let mut exit_on_stdin_close = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        match flag.as_str() {
            "--help" | "-h" => {
                print!("{HELP}");
                return;
            }
            "--exit-on-stdin-close" => exit_on_stdin_close = true,
            "--port" | "--host" => {
                let Some(value) = inline.or_else(|| args.next()) else {
                    eprintln!("demo-origin: {flag} needs a value (see --help)");
                    std::process::exit(2);
                };
                if flag == "--host" {
                    host = value;
                } else if let Ok(p) = value.parse() {
                    port = p;
                } else {
                    eprintln!("demo-origin: bad port {value:?}");
                    std::process::exit(2);
                }
            }
            other => {
                eprintln!("demo-origin: unknown argument {other:?} (see --help)");
                std::process::exit(2);
            }
        }
    }

    let site = Arc::new(site::Site::new());
    let (addr, handle) = match http::start(&host, port, site) {
        Ok(started) => started,
        Err(e) => {
            eprintln!("demo-origin: cannot listen on {host}:{port}: {e}");
            std::process::exit(1);
        }
    };
    if exit_on_stdin_close {
        std::thread::spawn(|| {
            let mut sink = [0u8; 1024];
            let mut stdin = std::io::stdin();
            while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
            std::process::exit(0);
        });
    }
    let mut out = std::io::stdout();
    let _ = writeln!(out, "demo-origin listening on http://{addr}");
    let _ = out.flush();
    let _ = handle.join();
}
