//! The demo site: a few CMS pages, resources and feeds, the login flow, the `/t/` test
//! surface and the `/__origin/` control endpoints.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use super::http::{is_field_value, is_token, Body, Outcome, Request, Response};

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

/// A 16×16 checkered PNG.
const LOGO_PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00,
    0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x10, 0x08, 0x02, 0x00, 0x00, 0x00, 0x90, 0x91, 0x68, 0x36, 0x00,
    0x00, 0x00, 0x22, 0x49, 0x44, 0x41, 0x54, 0x78, 0xda, 0x63, 0x90, 0xcf, 0xdf, 0x0a, 0x47, 0xff, 0x91,
    0x00, 0x2e, 0x71, 0x86, 0x41, 0xa8, 0x81, 0x18, 0x45, 0xc8, 0xe2, 0x83, 0x51, 0xc3, 0x68, 0x3c, 0x0c,
    0x0a, 0x0d, 0x00, 0xe8, 0xd0, 0x20, 0x1f, 0x66, 0x62, 0x0c, 0xf1, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

/// A one-page PDF.
const REPORT_PDF: &[u8] = concat!(
    "%PDF-1.4\n",
    "1 0 obj\n",
    "<< /Type /Catalog /Pages 2 0 R >>\n",
    "endobj\n",
    "2 0 obj\n",
    "<< /Type /Pages /Kids [3 0 R] /Count 1 >>\n",
    "endobj\n",
    "3 0 obj\n",
    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 144] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>\n",
    "endobj\n",
    "4 0 obj\n",
    "<< /Length 55 >>\n",
    "stream\n",
    "BT /F1 18 Tf 36 90 Td (Demo CMS quarterly report) Tj ET\n",
    "endstream\n",
    "endobj\n",
    "5 0 obj\n",
    "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>\n",
    "endobj\n",
    "xref\n",
    "0 6\n",
    "0000000000 65535 f \n",
    "0000000009 00000 n \n",
    "0000000058 00000 n \n",
    "0000000115 00000 n \n",
    "0000000241 00000 n \n",
    "0000000346 00000 n \n",
    "trailer\n",
    "<< /Size 6 /Root 1 0 R >>\n",
    "startxref\n",
    "416\n",
    "%%EOF\n",
)
.as_bytes();

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

// ---------------------------------------------------------------------------------------------
// codecs

/// Base64 as credentials arrive in practice: the standard or the URL-safe alphabet, padded or
/// not, trailing bits ignored.
const LENIENT: base64::engine::GeneralPurposeConfig = base64::engine::GeneralPurposeConfig::new()
    .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent)
    .with_decode_allow_trailing_bits(true);
const STANDARD_LENIENT: base64::engine::GeneralPurpose =
    base64::engine::GeneralPurpose::new(&base64::alphabet::STANDARD, LENIENT);
const URL_SAFE_LENIENT: base64::engine::GeneralPurpose =
    base64::engine::GeneralPurpose::new(&base64::alphabet::URL_SAFE, LENIENT);

pub fn base64_encode(input: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(input)
}

pub fn base64_decode(input: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    STANDARD_LENIENT.decode(input).or_else(|_| URL_SAFE_LENIENT.decode(input)).ok()
}

/// `%XX` escapes decoded (a `+` stays a `+`), as cookie values carry them.
fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// Query (or form body) parameters, in order.
pub struct Params(Vec<(String, String)>);

impl Params {
    /// `application/x-www-form-urlencoded` pairs; with `plus_is_space` false a `+` stays
    /// literal (the control endpoints take paths such as `/++resource++demo/style.css`).
    pub fn parse(query: &str, plus_is_space: bool) -> Self {
        let query: Cow<str> =
            if plus_is_space { Cow::Borrowed(query) } else { Cow::Owned(query.replace('+', "%2B")) };
        Params(
            form_urlencoded::parse(query.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect(),
        )
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    fn flag(&self, name: &str) -> bool {
        self.get(name).is_some_and(|v| matches!(v, "1" | "true" | "yes" | ""))
    }
}

/// One entity-tag of an `If-None-Match` list: (weak, opaque-tag including quotes).
fn parse_etag_list(value: &str) -> Option<Vec<(bool, &str)>> {
    let mut tags = Vec::new();
    let mut rest = value.trim();
    while !rest.is_empty() {
        rest = rest.trim_start_matches([',', ' ', '\t']);
        if rest.is_empty() {
            break;
        }
        let (weak, after) = match rest.strip_prefix("W/") {
            Some(r) => (true, r),
            None => (false, rest),
        };
        let inner = after.strip_prefix('"')?;
        let end = inner.find('"')?;
        let tag = after.get(..end + 2)?;
        tags.push((weak, tag));
        rest = after.get(end + 2..)?;
    }
    Some(tags)
}

fn opaque(etag: &str) -> &str {
    etag.trim().strip_prefix("W/").unwrap_or(etag.trim())
}

/// RFC 9110 §13.1.2: `If-None-Match` uses the weak comparison function.
pub fn if_none_match_matches(header: &str, current: Option<&str>) -> bool {
    if header.trim() == "*" {
        return current.is_some();
    }
    let Some(current) = current else { return false };
    let current = opaque(current);
    match parse_etag_list(header) {
        Some(tags) => tags.iter().any(|(_, tag)| *tag == current),
        None => false,
    }
}

/// RFC 9110 §13.2.2: evaluate `If-None-Match`, else `If-Modified-Since`, for GET/HEAD.
fn not_modified(req: &Request, etag: Option<&str>, last_modified: Option<u64>) -> bool {
    if req.method != "GET" && req.method != "HEAD" {
        return false;
    }
    let inm: Vec<&str> = req.headers_named("if-none-match").collect();
    if !inm.is_empty() {
        return if_none_match_matches(&inm.join(", "), etag);
    }
    match (req.header("if-modified-since").and_then(parse_http_date), last_modified) {
        (Some(since), Some(lm)) => lm <= since,
        _ => false,
    }
}

/// Turn a 200 into the 304 it would be: same header fields, no content.
fn into_304(mut resp: Response) -> Response {
    resp.status = 304;
    resp.remove_header("Content-Type");
    resp.body = Body::Empty;
    resp
}

fn user_from_credentials(decoded: &[u8]) -> Option<&'static str> {
    let text = std::str::from_utf8(decoded).ok()?;
    let (name, password) = text.split_once(':')?;
    USERS.iter().copied().find(|u| *u == name && *u == password)
}

/// The logged-in user: a valid `__ac` cookie, or HTTP Basic credentials.
pub fn user_of(req: &Request) -> Option<&'static str> {
    for cookies in req.headers_named("cookie") {
        for pair in cookies.split(';') {
            let Some((name, value)) = pair.trim().split_once('=') else { continue };
            if name.trim() != "__ac" {
                continue;
            }
            let value = percent_decode(value.trim().trim_matches('"'));
            if let Some(user) = base64_decode(&value).and_then(|d| user_from_credentials(&d)) {
                return Some(user);
            }
        }
    }
    let auth = req.header("authorization")?;
    let (scheme, creds) = auth.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    base64_decode(creds.trim()).and_then(|d| user_from_credentials(&d))
}

fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
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

    fn not_found(&self, ctx: &Ctx) -> Response {
        let body = ctx.page(
            "Page not found",
            &format!("<p>There is nothing at <code>{}</code>.</p>", html_escape(&ctx.req.path)),
            "status=404",
        );
        Response::text(404, HTML, body)
    }

    fn page(&self, ctx: &Ctx, key: &str) -> Response {
        let version = self.version(key);
        let (title, ruleset, main) = match key {
            "/news" => (
                "News",
                "plone.content.folderView",
                "<ul class=\"listing\">\n<li><a href=\"/news/item-1\">Edge caching arrives</a></li>\n\
                 <li><a href=\"/news/item-2\">Purge on publish</a></li>\n</ul>\n\
                 <p><a href=\"/news/RSS\">RSS feed</a></p>"
                    .to_string(),
            ),
            "/news/item-1" => (
                "Edge caching arrives",
                "plone.content.itemView",
                "<p>Pages are now served from the edge; logged-in views stay private.</p>".to_string(),
            ),
            "/news/item-2" => (
                "Purge on publish",
                "plone.content.itemView",
                "<p>Publishing a page purges its URLs everywhere within seconds.</p>".to_string(),
            ),
            _ => (
                "Welcome to Demo CMS",
                "plone.content.itemView",
                "<p>This small site stands in for a CMS behind the edge cache.</p>".to_string(),
            ),
        };
        let personal = match ctx.user {
            Some(u) => format!("\n<p class=\"personal\">Hello, {u}. You may edit this page.</p>"),
            None => String::new(),
        };
        let body = ctx.page(
            title,
            &format!("{main}\n<p class=\"version\">Revision {version}.</p>{personal}"),
            &format!("path={} version={version}", html_escape(&ctx.req.path)),
        );
        let etag = format!("\"v{version}-{}\"", ctx.user.unwrap_or("anon"));
        versioned(ctx, Response::text(200, HTML, body).header("X-Cache-Ruleset", ruleset), etag, version)
    }

    fn login(&self, ctx: &Ctx) -> Response {
        let req = ctx.req;
        match req.method.as_str() {
            "GET" | "HEAD" => {
                let came_from = Params::parse(&req.query, true).get("came_from").unwrap_or("/").to_string();
                let body = ctx.page(
                    "Log in",
                    &format!(
                        "<form method=\"post\" action=\"/login\">\n\
                         <input type=\"hidden\" name=\"came_from\" value=\"{}\">\n\
                         <label>User name <input name=\"__ac_name\"></label>\n\
                         <label>Password <input type=\"password\" name=\"__ac_password\"></label>\n\
                         <button type=\"submit\">Log in</button>\n</form>\n\
                         <p>Demo users: {} (the password is the user name).</p>",
                        html_escape(&came_from),
                        USERS.join(", ")
                    ),
                    "path=/login",
                );
                Response::text(200, HTML, body)
            }
            "POST" => {
                let form = Params::parse(&String::from_utf8_lossy(&req.body), true);
                let name = form.get("__ac_name").unwrap_or_default();
                let password = form.get("__ac_password").unwrap_or_default();
                let user = USERS.iter().copied().find(|u| *u == name && *u == password);
                let Some(user) = user else {
                    let body = ctx.page(
                        "Login failed",
                        "<p>Wrong user name or password. <a href=\"/login\">Try again</a>.</p>",
                        "path=/login",
                    );
                    return Response::text(403, HTML, body).header("Cache-Control", "no-store");
                };
                let target = form
                    .get("came_from")
                    .filter(|c| c.starts_with('/') && !c.starts_with("//") && is_field_value(c))
                    .unwrap_or("/");
                let cookie = base64_encode(format!("{user}:{user}").as_bytes());
                Response::text(302, TEXT, format!("logged in as {user}\n"))
                    .header("Location", target)
                    .header("Set-Cookie", format!("__ac={cookie}; Path=/; HttpOnly"))
                    .header("Cache-Control", "no-store")
            }
            _ => method_not_allowed("GET, HEAD, POST"),
        }
    }

    fn control(&self, req: &Request) -> Response {
        // `+` stays literal here: paths such as `/++resource++demo/style.css` are passed as is.
        let params = Params::parse(&req.query, false);
        let json_resp = |status: u16, v: Value| Response::text(status, JSON, format!("{v}\n"));
        let bad = |msg: &str| json_resp(400, json!({ "error": msg }));
        let post = req.method == "POST";
        match req.path.as_str() {
            "/__origin/hits" => {
                if !is_get_or_head(req) {
                    return method_not_allowed("GET, HEAD");
                }
                let state = self.lock();
                let c = |c: &Counter| (c.hits, c.conditional, c.not_modified);
                if let Some(path) = params.get("path") {
                    let (hits, conditional, not_modified) =
                        state.counters.get(path).map(c).unwrap_or_default();
                    json_resp(
                        200,
                        json!({"path": path, "hits": hits, "conditional": conditional, "not_modified": not_modified}),
                    )
                } else if let Some(prefix) = params.get("prefix") {
                    let (mut hits, mut conditional, mut not_modified) = (0u64, 0u64, 0u64);
                    for counter in
                        state.counters.iter().filter(|(p, _)| p.starts_with(prefix)).map(|(_, v)| v)
                    {
                        hits += counter.hits;
                        conditional += counter.conditional;
                        not_modified += counter.not_modified;
                    }
                    json_resp(
                        200,
                        json!({"prefix": prefix, "hits": hits, "conditional": conditional, "not_modified": not_modified}),
                    )
                } else {
                    let all: serde_json::Map<String, Value> = state
                        .counters
                        .iter()
                        .map(|(p, v)| {
                            (
                                p.clone(),
                                json!({"hits": v.hits, "conditional": v.conditional, "not_modified": v.not_modified}),
                            )
                        })
                        .collect();
                    json_resp(200, json!({ "paths": all }))
                }
            }
            "/__origin/bump" => {
                if !post {
                    return method_not_allowed("POST");
                }
                let Some(path) = params.get("path") else { return bad("path is required") };
                let key = version_key(path);
                let mut state = self.lock();
                let v = state.versions.entry(key.clone()).or_insert(1);
                *v = v.saturating_add(1);
                json_resp(200, json!({"path": key, "version": *v}))
            }
            "/__origin/override" => {
                if !post {
                    return method_not_allowed("POST");
                }
                let Some(path) = params.get("path") else { return bad("path is required") };
                if params.flag("clear") {
                    self.lock().overrides.remove(path);
                    return json_resp(200, json!({"path": path, "override": null}));
                }
                let mut o = Override { drop: params.flag("drop"), ..Override::default() };
                if let Some(s) = params.get("status") {
                    match s.parse::<u16>() {
                        Ok(s) if (200..=599).contains(&s) => o.status = Some(s),
                        _ => return bad("status must be 200..599"),
                    }
                }
                if let Some(d) = params.get("delay_ms") {
                    match d.parse::<u64>() {
                        Ok(d) => o.delay_ms = d.min(MAX_DELAY_MS),
                        Err(_) => return bad("delay_ms must be a number"),
                    }
                }
                if o.status.is_none() && !o.drop && o.delay_ms == 0 {
                    return bad("give status=N, drop=1, delay_ms=N or clear=1");
                }
                self.lock().overrides.insert(path.to_string(), o);
                json_resp(
                    200,
                    json!({"path": path, "override": {"status": o.status, "drop": o.drop, "delay_ms": o.delay_ms}}),
                )
            }
            "/__origin/reset" => {
                if !post {
                    return method_not_allowed("POST");
                }
                *self.lock() = State::default();
                json_resp(200, json!({"reset": true}))
            }
            _ => json_resp(404, json!({"error": "unknown control endpoint"})),
        }
    }
}

fn logout() -> Response {
    Response::text(302, TEXT, "logged out\n")
        .header("Location", "/")
        .header("Set-Cookie", "__ac=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly")
        .header("Cache-Control", "no-store")
}

fn set_cookie(ctx: &Ctx) -> Response {
    let body = ctx.page(
        "Cookie set",
        "<p>This response sets a cookie and claims to be public: a shared cache must not store it.</p>",
        "path=/set-cookie",
    );
    Response::text(200, HTML, body)
        .header("Set-Cookie", "visited=1; Path=/")
        .header("Cache-Control", "public, max-age=60")
}

fn slow(ctx: &Ctx) -> Response {
    let ms = Params::parse(&ctx.req.query, true)
        .get("ms")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(1000)
        .min(MAX_DELAY_MS);
    thread::sleep(Duration::from_millis(ms));
    Response::text(200, TEXT, format!("slow: slept {ms} ms path=/slow hit={}\n{}\n", ctx.hit, ctx.marker()))
        .header("Cache-Control", "public, max-age=60")
}

fn error(ctx: &Ctx) -> Response {
    let status = Params::parse(&ctx.req.query, true)
        .get("status")
        .and_then(|v| v.trim().parse::<u16>().ok())
        .filter(|s| (500..=599).contains(s))
        .unwrap_or(500);
    Response::text(status, TEXT, format!("error: status {status} hit={}\n{}\n", ctx.hit, ctx.marker()))
}

fn feed(path: &str, version: u32, hit: u64) -> String {
    let base = if path == "/RSS" { "" } else { "/news" };
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<!-- version={version} hit={hit} -->\n\
         <rss version=\"2.0\">\n<channel>\n<title>Demo CMS news</title>\n<link>/news</link>\n\
         <description>News from the demo site (feed {path}, revision {version})</description>\n\
         <item><title>Edge caching arrives</title><link>/news/item-1</link></item>\n\
         <item><title>Purge on publish</title><link>/news/item-2</link></item>\n\
         <!-- base={base} -->\n</channel>\n</rss>\n"
    )
}

/// Adds the validators of content `version` (ETag, Last-Modified) and answers the request's
/// conditional headers with a 304 when they match.
fn versioned(ctx: &Ctx, resp: Response, etag: String, version: u32) -> Response {
    let lm = content_last_modified(version);
    let resp = resp
        .header("ETag", etag.clone())
        .header("Last-Modified", http_date(lm))
        .header("X-Origin-Version", version.to_string());
    if not_modified(ctx.req, Some(&etag), Some(lm)) {
        into_304(resp)
    } else {
        resp
    }
}

fn stable_resource(path: &str, version: u32, hit: u64) -> Option<Response> {
    let rest = path.strip_prefix("/++plone++static/++unique++")?;
    let (stamp, file) = rest.split_once('/')?;
    if stamp.is_empty() || file.is_empty() {
        return None;
    }
    let ext = file.rsplit_once('.').map(|(_, e)| e).unwrap_or_default();
    let (ct, body) = match ext {
        "js" => (
            "application/javascript; charset=utf-8",
            format!(
                "/* stable resource {stamp}/{file} version={version} hit={hit} */\n\
                 document.documentElement.dataset.app = \"demo\";\n"
            ),
        ),
        "css" => (
            "text/css; charset=utf-8",
            format!("/* stable resource {stamp}/{file} version={version} hit={hit} */\nmain {{ padding: 1rem; }}\n"),
        ),
        "json" => ("application/json", format!("{}\n", json!({"stamp": stamp, "file": file, "version": version, "hit": hit}))),
        _ => (TEXT, format!("stable resource {stamp}/{file} version={version} hit={hit}\n")),
    };
    Some(Response::text(200, ct, body).header("X-Cache-Ruleset", "plone.stableResource"))
}

/// `/t/…`: a response built from query parameters.
fn test_surface(ctx: &Ctx) -> Response {
    let req = ctx.req;
    let p = Params::parse(&req.query, true);
    let bad = |msg: String| Response::text(400, TEXT, format!("bad test parameter: {msg}\n"));

    let status = match p.get("status") {
        None => 200,
        Some(s) => match s.trim().parse::<u16>() {
            Ok(s) if (200..=599).contains(&s) => s,
            _ => return bad(format!("status={s}")),
        },
    };
    let mut resp = Response::new(status);
    let echo = p.flag("echo");
    let default_ct = if echo { JSON } else { TEXT };
    resp.push_header("Content-Type", p.get("ct").unwrap_or(default_ct));

    let mut etag = None;
    let mut last_modified = None;
    for (param, header) in [
        ("cc", "Cache-Control"),
        ("cdn", "CDN-Cache-Control"),
        ("etag", "ETag"),
        ("vary", "Vary"),
        ("location", "Location"),
    ] {
        for value in p.all(param) {
            resp.push_header(header, value);
            if param == "etag" {
                etag = Some(value.to_string());
            }
        }
    }
    for (param, header) in [("lm", "Last-Modified"), ("date", "Date"), ("expires", "Expires")] {
        if let Some(value) = p.get(param) {
            let Some(secs) = parse_time_param(value) else {
                if param == "expires" {
                    // Invalid Expires values are legal test input (they mean "already expired").
                    resp.push_header(header, value);
                    continue;
                }
                return bad(format!("{param}={value}"));
            };
            resp.push_header(header, http_date(secs));
            if param == "lm" {
                last_modified = Some(secs);
            }
        }
    }
    for h in p.all("h") {
        let Some((name, value)) = h.split_once(':') else { return bad(format!("h={h}")) };
        let name = name.trim();
        // `Connection` may name extra hop-by-hop fields, but never `close`/`keep-alive`: the
        // connection's own persistence stays the server's business.
        let persistence = name.eq_ignore_ascii_case("connection")
            && value
                .split(',')
                .any(|o| ["close", "keep-alive"].iter().any(|f| o.trim().eq_ignore_ascii_case(f)));
        if !is_token(name)
            || persistence
            || ["content-length", "transfer-encoding"].iter().any(|f| name.eq_ignore_ascii_case(f))
        {
            return bad(format!("h={h}"));
        }
        resp.push_header(name, value.trim());
    }
    if let Some((name, value)) = resp.headers.iter().find(|(_, v)| !is_field_value(v)) {
        return bad(format!("{name} value {value:?}"));
    }

    let number = |name: &str, cap: u64| -> Result<u64, Response> {
        match p.get(name) {
            None => Ok(0),
            Some(v) => v.trim().parse::<u64>().map(|n| n.min(cap)).map_err(|_| bad(format!("{name}={v}"))),
        }
    };
    let delay = match number("delay_ms", MAX_DELAY_MS) {
        Ok(d) => d,
        Err(r) => return r,
    };
    let chunk_delay = match number("chunk_delay_ms", 10_000) {
        Ok(d) => d,
        Err(r) => return r,
    };
    let bytes = match p.get("bytes") {
        None => None,
        Some(_) => match number("bytes", MAX_GENERATED) {
            Ok(n) => Some(n),
            Err(r) => return r,
        },
    };

    let has_request_body = matches!(req.method.as_str(), "POST" | "PUT" | "PATCH" | "DELETE");
    resp.body = if echo {
        Body::Bytes(format!("{}\n", echo_json(req)).into_bytes())
    } else if let Some(len) = bytes {
        Body::Generated { len, chunk_delay: Duration::from_millis(chunk_delay), chunked: p.flag("chunked") }
    } else if let Some(body) = p.get("body") {
        Body::Bytes(body.as_bytes().to_vec())
    } else {
        // HEAD describes the GET body, so its Content-Length is the one a GET would have.
        let method = if req.is_head() { "GET" } else { req.method.as_str() };
        let mut text =
            format!("demo-origin {method} {} hit={}\n{}\n", req.path, ctx.hit, ctx.marker()).into_bytes();
        if has_request_body {
            text.extend_from_slice(format!("request-body-length={}\n", req.body.len()).as_bytes());
            if req.body.len() <= ECHO_BODY_LIMIT {
                text.extend_from_slice(&req.body);
            }
        }
        Body::Bytes(text)
    };

    if delay > 0 {
        thread::sleep(Duration::from_millis(delay));
    }
    if status == 200
        && (etag.is_some() || last_modified.is_some())
        && not_modified(req, etag.as_deref(), last_modified)
    {
        return into_304(resp);
    }
    resp
}

fn echo_json(req: &Request) -> Value {
    let mut headers = serde_json::Map::new();
    for (name, value) in &req.headers {
        let joined: Cow<str> = match headers.get(name).and_then(Value::as_str) {
            Some(prev) => {
                let sep = if name == "cookie" { "; " } else { ", " };
                Cow::Owned(format!("{prev}{sep}{value}"))
            }
            None => Cow::Borrowed(value.as_str()),
        };
        headers.insert(name.clone(), Value::String(joined.into_owned()));
    }
    let list: Vec<Value> = req.headers.iter().map(|(n, v)| json!([n, v])).collect();
    let mut v = json!({
        "method": req.method,
        "target": req.target,
        "path": req.path,
        "query": req.query,
        "version": format!("HTTP/1.{}", req.minor),
        "headers": headers,
        "header_list": list,
        "body_length": req.body.len(),
    });
    if req.body.len() <= ECHO_BODY_LIMIT {
        if let Some(obj) = v.as_object_mut() {
            obj.insert("body".into(), Value::String(String::from_utf8_lossy(&req.body).into_owned()));
        }
    }
    v
}
