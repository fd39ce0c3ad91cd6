//! The demo site: a few CMS pages, resources and feeds, the login flow, the `/t/` test
//! surface and the `/__origin/` control endpoints.
//!
//! Here: the shared state (counters, versions, overrides), the dispatch of a request and the
//! page template; [`pages`] (content, files, feeds, login), [`test_surface`] (`/t/`),
//! [`control`] (`/__origin/`), [`conditional`] (validators, 304s) and [`codecs`] (forms,
//! Base64 credentials, the logged-in user).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use super::http::{is_field_value, is_token, Body, Outcome, Request, Response};

pub mod codecs;
pub mod conditional;
mod control;
mod pages;
mod test_surface;

use codecs::*;
use conditional::*;
use pages::*;
use test_surface::*;

/// Demo users; each one's password is its name.
pub const USERS: [&str; 5] = ["alice", "bob", "carol", "dave", "erin"];

/// `Last-Modified` of content version `v` is this instant plus `v` hours (2025-01-01T00:00:00Z).
const CONTENT_EPOCH: u64 = 1_735_689_600;
const MAX_DELAY_MS: u64 = 30_000;
const MAX_GENERATED: u64 = 64 * 1024 * 1024;
const ECHO_BODY_LIMIT: usize = 64 * 1024;

const HTML: &str = "text/html; charset=utf-8";
const TEXT: &str = "text/plain; charset=utf-8";
const JSON: &str = "application/json";

#[derive(Debug, Default, Clone, Copy)]
struct Counter {
    hits: u64,
    conditional: u64,
    not_modified: u64,
}

#[derive(Debug, Default, Clone, Copy)]
struct Override {
    status: Option<u16>,
    drop: bool,
    delay_ms: u64,
}

#[derive(Default)]
struct State {
    counters: HashMap<String, Counter>,
    versions: HashMap<String, u32>,
    overrides: HashMap<String, Override>,
}

/// Shared state of one running origin.
#[derive(Default)]
pub struct Site {
    state: Mutex<State>,
}

/// The demo origin reads the real clock (it is not part of the sans-I/O core).
#[allow(clippy::disallowed_methods)]
fn now() -> SystemTime {
    SystemTime::now()
}

fn now_secs() -> u64 {
    now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

fn http_date(secs: u64) -> String {
    httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(secs))
}

fn parse_http_date(s: &str) -> Option<u64> {
    let t = httpdate::parse_http_date(s.trim()).ok()?;
    t.duration_since(UNIX_EPOCH).ok().map(|d| d.as_secs())
}

/// `-N` / `+N` seconds relative to now, or an HTTP-date.
fn parse_time_param(s: &str) -> Option<u64> {
    let now = now_secs();
    if let Some(n) = s.strip_prefix('-') {
        return n.trim().parse::<u64>().ok().map(|n| now.saturating_sub(n));
    }
    if let Some(n) = s.strip_prefix('+').or_else(|| s.strip_prefix(' ')) {
        // A `+` in a form-encoded query arrives as a space.
        if let Ok(n) = n.trim().parse::<u64>() {
            return Some(now.saturating_add(n));
        }
    }
    parse_http_date(s)
}

fn content_last_modified(version: u32) -> u64 {
    CONTENT_EPOCH + u64::from(version) * 3600
}

/// The audience marker every HTML page (and every default `/t/` body) carries.
pub fn marker(user: Option<&str>) -> String {
    match user {
        Some(u) => format!("<body data-audience=\"authenticated\" data-user=\"{u}\">"),
        None => "<body data-audience=\"anonymous\" data-user=\"\">".to_string(),
    }
}

/// What a request handler knows.
struct Ctx<'a> {
    req: &'a Request,
    hit: u64,
    user: Option<&'static str>,
}

impl Ctx<'_> {
    fn marker(&self) -> String {
        marker(self.user)
    }

    fn page(&self, title: &str, main: &str, meta: &str) -> String {
        let nav_user = match self.user {
            Some(u) => {
                format!("<span class=\"user\">Logged in as {u}</span> <a href=\"/logout\">Log out</a>")
            }
            None => "<a href=\"/login\">Log in</a>".to_string(),
        };
        format!(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <title>{title} — Demo CMS</title>\n\
             <link rel=\"stylesheet\" href=\"/++resource++demo/style.css\">\n\
             <link rel=\"alternate\" type=\"application/rss+xml\" href=\"/RSS\">\n\
             <script src=\"/++plone++static/++unique++2026-01-01/app.js\"></script>\n\
             </head>\n{marker}\n\
             <header><a href=\"/\"><img src=\"/images/logo.png\" alt=\"Demo CMS\" width=\"16\" height=\"16\"></a>\n\
             <nav><a href=\"/\">Home</a> <a href=\"/news\">News</a> <a href=\"/files/report.pdf\">Report</a> {nav_user}</nav></header>\n\
             <main>\n<h1>{title}</h1>\n{main}\n</main>\n\
             <footer><p id=\"origin-meta\">{meta} hit={hit}</p></footer>\n</body>\n</html>\n",
            title = html_escape(title),
            marker = self.marker(),
            hit = self.hit,
        )
    }
}

fn method_not_allowed(allow: &str) -> Response {
    Response::text(405, TEXT, "method not allowed\n").header("Allow", allow)
}

fn is_get_or_head(req: &Request) -> bool {
    req.method == "GET" || req.method == "HEAD"
}

/// The content pages: canonical key, title, ruleset hint.
fn page_for(path: &str) -> Option<&'static str> {
    let p = path.strip_suffix("/view").unwrap_or(path);
    let p = if p.len() > 1 { p.strip_suffix('/').unwrap_or(p) } else { p };
    match p {
        "" | "/" | "/front-page" => Some("/front-page"),
        "/news" => Some("/news"),
        "/news/item-1" => Some("/news/item-1"),
        "/news/item-2" => Some("/news/item-2"),
        _ => None,
    }
}

/// The key content versions are kept under: pages by canonical path, others by path.
fn version_key(path: &str) -> String {
    page_for(path).map(str::to_string).unwrap_or_else(|| path.to_string())
}

impl Site {
    pub fn new() -> Self {
        Site::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn version(&self, key: &str) -> u32 {
        self.lock().versions.get(key).copied().unwrap_or(1)
    }

    /// Headers every response gets.
    pub fn decorate_error(&self, resp: &mut Response) {
        if !resp.has_header("Date") {
            resp.push_header("Date", http_date(now_secs()));
        }
        resp.push_header("Server", "demo-origin");
    }

    pub fn handle(&self, req: &Request) -> Outcome {
        if req.path == "/__origin" || req.path.starts_with("/__origin/") {
            let mut resp = self.control(req);
            resp.push_header("Cache-Control", "no-store");
            self.decorate(req, &mut resp);
            return Outcome::Respond(resp);
        }
        let conditional = req.header("if-none-match").is_some() || req.header("if-modified-since").is_some();
        let (hit, over) = {
            let mut state = self.lock();
            let c = state.counters.entry(req.path.clone()).or_default();
            c.hits += 1;
            if conditional {
                c.conditional += 1;
            }
            let hit = c.hits;
            (hit, state.overrides.get(&req.path).copied())
        };
        let ctx = Ctx { req, hit, user: user_of(req) };
        let over = over.unwrap_or_default();
        if over.drop {
            return Outcome::Drop;
        }
        if over.delay_ms > 0 {
            thread::sleep(Duration::from_millis(over.delay_ms.min(MAX_DELAY_MS)));
        }
        let mut resp = match over.status {
            Some(status) => Response::text(
                status,
                TEXT,
                format!("override: status {status} for {} hit={hit}\n{}\n", req.path, ctx.marker()),
            ),
            None => self.route(&ctx),
        };
        resp.push_header("X-Origin-Hit", hit.to_string());
        self.decorate(req, &mut resp);
        if resp.status == 304 {
            let mut state = self.lock();
            state.counters.entry(req.path.clone()).or_default().not_modified += 1;
        }
        Outcome::Respond(resp)
    }

    fn decorate(&self, req: &Request, resp: &mut Response) {
        self.decorate_error(resp);
        resp.push_header("X-Origin-Saw-Anonymous", req.header("x-anonymous").unwrap_or("absent"));
    }

    fn route(&self, ctx: &Ctx) -> Response {
        let path = ctx.req.path.as_str();
        match path {
            "/login" => return self.login(ctx),
            "/logout" => return logout(),
            "/set-cookie" => return set_cookie(ctx),
            "/slow" => return slow(ctx),
            "/error" => return error(ctx),
            _ => {}
        }
        if path.starts_with("/t/") {
            return test_surface(ctx);
        }
        if ctx.req.method == "OPTIONS" {
            return Response::new(204).header("Allow", "GET, HEAD, OPTIONS");
        }
        if !is_get_or_head(ctx.req) {
            return method_not_allowed("GET, HEAD, OPTIONS");
        }
        if let Some(key) = page_for(path) {
            return self.page(ctx, key);
        }
        let version = self.version(path);
        let resp = match path {
            "/RSS" | "/news/RSS" => {
                let body = feed(path, version, ctx.hit);
                Response::text(200, "application/rss+xml; charset=utf-8", body)
                    .header("X-Cache-Ruleset", "plone.content.feed")
            }
            "/images/logo.png" => {
                let mut r = Response::new(200).header("Content-Type", "image/png");
                r.body = Body::Static(LOGO_PNG);
                r.header("X-Cache-Ruleset", "plone.content.file")
            }
            "/files/report.pdf" => {
                let mut r = Response::new(200)
                    .header("Content-Type", "application/pdf")
                    .header("Content-Disposition", "inline; filename=\"report.pdf\"");
                r.body = Body::Static(REPORT_PDF);
                r.header("X-Cache-Ruleset", "plone.content.file")
            }
            "/++resource++demo/style.css" => Response::text(
                200,
                "text/css; charset=utf-8",
                format!(
                    "/* demo style version={version} hit={} */\n\
                     body {{ font-family: sans-serif; margin: 2rem auto; max-width: 40rem; }}\n\
                     header nav a {{ margin-right: 1rem; }}\n",
                    ctx.hit
                ),
            )
            .header("X-Cache-Ruleset", "plone.resource"),
            p if p.starts_with("/++plone++static/++unique++") => match stable_resource(p, version, ctx.hit) {
                Some(r) => r,
                None => return self.not_found(ctx),
            },
            _ => return self.not_found(ctx),
        };
        versioned(ctx, resp, format!("\"v{version}\""), version)
    }
}
