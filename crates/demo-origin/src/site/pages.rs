//! The CMS pages, resources, files and feeds, and the login flow.

use super::*;

/// A 16×16 checkered PNG.
pub(super) const LOGO_PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00,
    0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x10, 0x08, 0x02, 0x00, 0x00, 0x00, 0x90, 0x91, 0x68, 0x36, 0x00,
    0x00, 0x00, 0x22, 0x49, 0x44, 0x41, 0x54, 0x78, 0xda, 0x63, 0x90, 0xcf, 0xdf, 0x0a, 0x47, 0xff, 0x91,
    0x00, 0x2e, 0x71, 0x86, 0x41, 0xa8, 0x81, 0x18, 0x45, 0xc8, 0xe2, 0x83, 0x51, 0xc3, 0x68, 0x3c, 0x0c,
    0x0a, 0x0d, 0x00, 0xe8, 0xd0, 0x20, 0x1f, 0x66, 0x62, 0x0c, 0xf1, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

/// A one-page PDF.
pub(super) const REPORT_PDF: &[u8] = concat!(
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

impl Site {
    pub(super) fn not_found(&self, ctx: &Ctx) -> Response {
        let body = ctx.page(
            "Page not found",
            &format!("<p>There is nothing at <code>{}</code>.</p>", html_escape(&ctx.req.path)),
            "status=404",
        );
        Response::text(404, HTML, body)
    }

    pub(super) fn page(&self, ctx: &Ctx, key: &str) -> Response {
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

    pub(super) fn login(&self, ctx: &Ctx) -> Response {
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
}

pub(super) fn logout() -> Response {
    Response::text(302, TEXT, "logged out\n")
        .header("Location", "/")
        .header("Set-Cookie", "__ac=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly")
        .header("Cache-Control", "no-store")
}

pub(super) fn set_cookie(ctx: &Ctx) -> Response {
    let body = ctx.page(
        "Cookie set",
        "<p>This response sets a cookie and claims to be public: a shared cache must not store it.</p>",
        "path=/set-cookie",
    );
    Response::text(200, HTML, body)
        .header("Set-Cookie", "visited=1; Path=/")
        .header("Cache-Control", "public, max-age=60")
}

pub(super) fn slow(ctx: &Ctx) -> Response {
    let ms = Params::parse(&ctx.req.query, true)
        .get("ms")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(1000)
        .min(MAX_DELAY_MS);
    thread::sleep(Duration::from_millis(ms));
    Response::text(200, TEXT, format!("slow: slept {ms} ms path=/slow hit={}\n{}\n", ctx.hit, ctx.marker()))
        .header("Cache-Control", "public, max-age=60")
}

pub(super) fn error(ctx: &Ctx) -> Response {
    let status = Params::parse(&ctx.req.query, true)
        .get("status")
        .and_then(|v| v.trim().parse::<u16>().ok())
        .filter(|s| (500..=599).contains(s))
        .unwrap_or(500);
    Response::text(status, TEXT, format!("error: status {status} hit={}\n{}\n", ctx.hit, ctx.marker()))
}

pub(super) fn feed(path: &str, version: u32, hit: u64) -> String {
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

pub(super) fn stable_resource(path: &str, version: u32, hit: u64) -> Option<Response> {
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
