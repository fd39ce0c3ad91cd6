//! Tests that start the origin on port 0 and speak HTTP/1.1 to it over a `TcpStream`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use super::http;
use super::site::codecs::{base64_decode, base64_encode, Params};
use super::site::conditional::if_none_match_matches;
use super::site::Site;

const ANON: &str = "<body data-audience=\"anonymous\" data-user=\"\">";

#[allow(clippy::disallowed_methods)]
fn now() -> std::time::SystemTime {
    std::time::SystemTime::now()
}

fn start() -> SocketAddr {
    let (addr, _handle) = http::start("127.0.0.1", 0, Arc::new(Site::new())).expect("bind");
    addr
}

struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    fn headers_named(&self, name: &str) -> Vec<&str> {
        self.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).collect()
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("json body")
    }
}

struct Conn(BufReader<TcpStream>);

impl Conn {
    fn open(addr: SocketAddr) -> Conn {
        let s = TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        Conn(BufReader::new(s))
    }

    fn send(&mut self, raw: &[u8]) {
        self.0.get_mut().write_all(raw).unwrap();
    }

    /// Read one response; `None` when the server closed the connection first.
    fn read(&mut self, head_request: bool) -> Option<Resp> {
        let mut line = String::new();
        if self.0.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let status: u16 = line.split(' ').nth(1)?.parse().ok()?;
        let mut headers = Vec::new();
        loop {
            line.clear();
            self.0.read_line(&mut line).unwrap();
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            let (n, v) = l.split_once(':').unwrap();
            headers.push((n.to_string(), v.trim().to_string()));
        }
        let mut resp = Resp { status, headers, body: Vec::new() };
        if head_request || status < 200 || status == 304 || status == 204 {
            return Some(resp);
        }
        if resp.header("transfer-encoding") == Some("chunked") {
            loop {
                line.clear();
                self.0.read_line(&mut line).unwrap();
                let size = usize::from_str_radix(line.trim(), 16).unwrap();
                let mut chunk = vec![0; size + 2];
                self.0.read_exact(&mut chunk).unwrap();
                if size == 0 {
                    break;
                }
                resp.body.extend_from_slice(&chunk[..size]);
            }
        } else if let Some(len) = resp.header("content-length") {
            let mut body = vec![0; len.parse().unwrap()];
            self.0.read_exact(&mut body).unwrap();
            resp.body = body;
        } else {
            self.0.read_to_end(&mut resp.body).unwrap();
        }
        Some(resp)
    }

    fn request(&mut self, method: &str, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
        let mut raw = format!("{method} {target} HTTP/1.1\r\nHost: origin.test\r\n");
        for (n, v) in headers {
            raw.push_str(&format!("{n}: {v}\r\n"));
        }
        if !body.is_empty() {
            raw.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        raw.push_str("\r\n");
        let mut bytes = raw.into_bytes();
        bytes.extend_from_slice(body);
        self.send(&bytes);
        self.read(method == "HEAD").expect("a response")
    }
}

fn req(addr: SocketAddr, method: &str, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
    Conn::open(addr).request(method, target, headers, body)
}

fn get(addr: SocketAddr, target: &str, headers: &[(&str, &str)]) -> Resp {
    req(addr, "GET", target, headers, b"")
}

fn post(addr: SocketAddr, target: &str) -> Resp {
    req(addr, "POST", target, &[], b"")
}

fn hits(addr: SocketAddr, query: &str) -> serde_json::Value {
    get(addr, &format!("/__origin/hits?{query}"), &[]).json()
}

#[test]
fn page_answers_if_none_match_with_304() {
    let addr = start();
    let first = get(addr, "/front-page", &[]);
    assert_eq!(first.status, 200);
    assert_eq!(first.header("etag"), Some("\"v1-anon\""));
    assert_eq!(first.header("x-cache-ruleset"), Some("plone.content.itemView"));
    assert_eq!(first.header("cache-control"), None);
    assert_eq!(first.header("last-modified"), Some("Wed, 01 Jan 2025 01:00:00 GMT"));
    assert!(first.text().contains(ANON));
    assert_eq!(first.text().matches("<body ").count(), 1);
    assert!(first.text().contains("version=1 hit=1"));

    for inm in ["\"v1-anon\"", "W/\"v1-anon\"", "\"other\", W/\"v1-anon\"", "*"] {
        let r = get(addr, "/front-page", &[("If-None-Match", inm)]);
        assert_eq!(r.status, 304, "{inm}");
        assert!(r.body.is_empty());
        assert_eq!(r.header("etag"), Some("\"v1-anon\""));
        assert_eq!(r.header("content-length"), None);
    }
    let miss = get(addr, "/front-page", &[("If-None-Match", "\"v0-anon\"")]);
    assert_eq!(miss.status, 200);
    // If-None-Match wins over If-Modified-Since.
    let both = get(
        addr,
        "/front-page",
        &[("If-None-Match", "\"nope\""), ("If-Modified-Since", "Wed, 01 Jan 2025 01:00:00 GMT")],
    );
    assert_eq!(both.status, 200);

    let h = hits(addr, "path=/front-page");
    assert_eq!(h, serde_json::json!({"path": "/front-page", "hits": 7, "conditional": 6, "not_modified": 4}));
}

#[test]
fn page_answers_if_modified_since_with_304() {
    let addr = start();
    let same = get(addr, "/news/item-1", &[("If-Modified-Since", "Wed, 01 Jan 2025 01:00:00 GMT")]);
    assert_eq!(same.status, 304);
    let later = get(addr, "/news/item-1", &[("If-Modified-Since", "Thu, 02 Jan 2025 00:00:00 GMT")]);
    assert_eq!(later.status, 304);
    let earlier = get(addr, "/news/item-1", &[("If-Modified-Since", "Wed, 01 Jan 2025 00:59:59 GMT")]);
    assert_eq!(earlier.status, 200);
    let garbage = get(addr, "/news/item-1", &[("If-Modified-Since", "yesterday-ish")]);
    assert_eq!(garbage.status, 200);
    assert_eq!(hits(addr, "path=/news/item-1")["not_modified"], 2);
}

#[test]
fn bump_changes_version_etag_and_last_modified() {
    let addr = start();
    let before = get(addr, "/", &[]);
    assert_eq!(before.header("etag"), Some("\"v1-anon\""));
    let bumped = post(addr, "/__origin/bump?path=/front-page");
    assert_eq!(bumped.json(), serde_json::json!({"path": "/front-page", "version": 2}));
    for path in ["/", "/front-page", "/front-page/view"] {
        let after = get(addr, path, &[("If-None-Match", "\"v1-anon\"")]);
        assert_eq!(after.status, 200, "{path}");
        assert_eq!(after.header("etag"), Some("\"v2-anon\""));
        assert_eq!(after.header("last-modified"), Some("Wed, 01 Jan 2025 02:00:00 GMT"));
        assert!(after.text().contains("version=2"));
    }
    // Other content keeps its version.
    assert_eq!(get(addr, "/news", &[]).header("etag"), Some("\"v1-anon\""));
    // Non-page resources are bumped by their path, `+` kept literal.
    post(addr, "/__origin/bump?path=/++resource++demo/style.css");
    let css = get(addr, "/++resource++demo/style.css", &[]);
    assert_eq!(css.header("etag"), Some("\"v2\""));
    assert!(css.text().contains("version=2"));
}

#[test]
fn login_cookie_gives_user_view() {
    let addr = start();
    let form = get(addr, "/login", &[]);
    assert_eq!(form.status, 200);
    assert!(form.text().contains("name=\"__ac_name\""));

    let login = req(
        addr,
        "POST",
        "/login",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        b"__ac_name=alice&__ac_password=alice",
    );
    assert_eq!(login.status, 302);
    assert_eq!(login.header("location"), Some("/"));
    let cookie = login.header("set-cookie").unwrap();
    assert_eq!(cookie, "__ac=YWxpY2U6YWxpY2U=; Path=/; HttpOnly");
    let pair = cookie.split(';').next().unwrap();

    let page = get(addr, "/", &[("Cookie", &format!("theme=dark; {pair}"))]);
    assert_eq!(page.status, 200);
    assert!(page.text().contains("<body data-audience=\"authenticated\" data-user=\"alice\">"));
    assert!(!page.text().contains(ANON));
    assert_eq!(page.header("etag"), Some("\"v1-alice\""));
    assert_eq!(page.header("cache-control"), None);
    let not_mod = get(addr, "/", &[("Cookie", pair), ("If-None-Match", "\"v1-alice\"")]);
    assert_eq!(not_mod.status, 304);
    // The anonymous validator does not match the user's view.
    assert_eq!(get(addr, "/", &[("Cookie", pair), ("If-None-Match", "\"v1-anon\"")]).status, 200);

    let basic = get(addr, "/news", &[("Authorization", &format!("Basic {}", base64_encode(b"bob:bob")))]);
    assert!(basic.text().contains("data-user=\"bob\""));

    let wrong = req(addr, "POST", "/login", &[], b"__ac_name=alice&__ac_password=bob");
    assert_eq!(wrong.status, 403);
    assert!(wrong.text().contains(ANON));
    assert_eq!(wrong.header("set-cookie"), None);

    let forged = get(addr, "/", &[("Cookie", &format!("__ac={}", base64_encode(b"alice:nope")))]);
    assert!(forged.text().contains(ANON));

    let logout = get(addr, "/logout", &[("Cookie", pair)]);
    assert_eq!(logout.status, 302);
    assert!(logout.header("set-cookie").unwrap().starts_with("__ac=; Path=/; Max-Age=0"));
}

#[test]
fn x_anonymous_is_reported() {
    let addr = start();
    assert_eq!(get(addr, "/news", &[]).header("x-origin-saw-anonymous"), Some("absent"));
    assert_eq!(get(addr, "/news", &[("X-Anonymous", "1")]).header("x-origin-saw-anonymous"), Some("1"));
    assert_eq!(get(addr, "/t/x", &[("X-Anonymous", "0")]).header("x-origin-saw-anonymous"), Some("0"));
}

#[test]
fn counters_by_path_and_prefix_and_reset() {
    let addr = start();
    get(addr, "/t/ns/a?x=1", &[]);
    get(addr, "/t/ns/a?x=2", &[]);
    get(addr, "/t/ns/b", &[("If-Modified-Since", "Wed, 01 Jan 2025 00:00:00 GMT")]);
    get(addr, "/t/other", &[]);
    let etag = get(addr, "/t/ns/c?etag=%22e%22", &[("If-None-Match", "\"e\"")]);
    assert_eq!(etag.status, 304);
    assert_eq!(
        hits(addr, "path=/t/ns/a"),
        serde_json::json!({"path": "/t/ns/a", "hits": 2, "conditional": 0, "not_modified": 0})
    );
    assert_eq!(
        hits(addr, "prefix=/t/ns/"),
        serde_json::json!({"prefix": "/t/ns/", "hits": 4, "conditional": 2, "not_modified": 1})
    );
    assert_eq!(hits(addr, "path=/never")["hits"], 0);
    // Control requests are not counted.
    assert!(hits(addr, "").get("paths").unwrap().get("/__origin/hits").is_none());
    assert_eq!(get(addr, "/t/ns/a", &[]).header("x-origin-hit"), Some("3"));

    assert_eq!(post(addr, "/__origin/reset").status, 200);
    assert_eq!(hits(addr, "prefix=/")["hits"], 0);
    assert_eq!(get(addr, "/__origin/reset", &[]).status, 405);
}

#[test]
fn overrides_answer_status_and_drop_connections() {
    let addr = start();
    assert_eq!(post(addr, "/__origin/override?path=/t/x&status=503").status, 200);
    let r = get(addr, "/t/x?cc=max-age=60", &[]);
    assert_eq!(r.status, 503);
    assert_eq!(get(addr, "/t/y", &[]).status, 200);
    post(addr, "/__origin/override?path=/t/x&clear=1");
    assert_eq!(get(addr, "/t/x", &[]).status, 200);

    post(addr, "/__origin/override?path=/t/down&drop=1");
    let mut conn = Conn::open(addr);
    conn.send(b"GET /t/down HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(conn.read(false).is_none(), "dropped without an answer");
    assert_eq!(hits(addr, "path=/t/down")["hits"], 1);
    post(addr, "/__origin/override?path=/t/down&clear=1");
    assert_eq!(get(addr, "/t/down", &[]).status, 200);

    assert_eq!(post(addr, "/__origin/override?path=/t/x").status, 400);
    assert_eq!(post(addr, "/__origin/override?path=/t/x&status=99").status, 400);
}

#[test]
fn test_surface_headers_and_statuses() {
    let addr = start();
    let r = get(
        addr,
        "/t/p?status=201&cc=public,+max-age=60&cdn=max-age=600&h=Cache-Tag:a,b&h=X-Extra:%20two&vary=Accept&location=/there&ct=text/html&date=-30",
        &[],
    );
    assert_eq!(r.status, 201);
    assert_eq!(r.header("cache-control"), Some("public, max-age=60"));
    assert_eq!(r.header("cdn-cache-control"), Some("max-age=600"));
    assert_eq!(r.header("cache-tag"), Some("a,b"));
    assert_eq!(r.header("x-extra"), Some("two"));
    assert_eq!(r.header("vary"), Some("Accept"));
    assert_eq!(r.header("location"), Some("/there"));
    assert_eq!(r.header("content-type"), Some("text/html"));
    assert_eq!(r.headers_named("date").len(), 1);
    let date = httpdate::parse_http_date(r.header("date").unwrap()).unwrap();
    let age = now().duration_since(date).unwrap().as_secs();
    assert!((29..=40).contains(&age), "date is about 30 s ago: {age}");

    let default = get(addr, "/t/p", &[]);
    assert_eq!(default.status, 200);
    assert_eq!(default.text(), format!("demo-origin GET /t/p hit=2\n{ANON}\n"));
    assert_eq!(default.header("content-type"), Some("text/plain; charset=utf-8"));
    assert!(default.header("date").is_some());
    assert_eq!(default.header("etag"), None);

    assert_eq!(get(addr, "/t/p?body=hello+world", &[]).text(), "hello world");
    assert_eq!(get(addr, "/t/p?status=404", &[]).status, 404);
    assert_eq!(get(addr, "/t/p?status=204", &[]).status, 204);
    assert_eq!(get(addr, "/t/p?status=abc", &[]).status, 400);
    assert_eq!(get(addr, "/t/p?status=100", &[]).status, 400);
    assert_eq!(get(addr, "/t/p?h=X-Evil:a%0d%0aSet-Cookie:x=1", &[]).status, 400);
    assert_eq!(get(addr, "/t/p?h=Content-Length:5", &[]).status, 400);
    assert_eq!(get(addr, "/t/p?lm=not-a-date", &[]).status, 400);
}

#[test]
fn test_surface_conditionals() {
    let addr = start();
    let weak = get(addr, "/t/c?etag=W/%22x1%22", &[("If-None-Match", "\"x1\"")]);
    assert_eq!(weak.status, 304);
    assert_eq!(weak.header("etag"), Some("W/\"x1\""));
    assert_eq!(get(addr, "/t/c?etag=%22x1%22", &[("If-None-Match", "\"x2\"")]).status, 200);

    let lm = get(addr, "/t/c?lm=-100&cc=max-age=5", &[]);
    let stamp = lm.header("last-modified").unwrap().to_string();
    let since = get(addr, "/t/c?lm=-100&cc=max-age=5", &[("If-Modified-Since", &stamp)]);
    assert_eq!(since.status, 304);
    assert_eq!(since.header("cache-control"), Some("max-age=5"));
    assert!(since.body.is_empty());
    let old = get(addr, "/t/c?lm=-100", &[("If-Modified-Since", "Mon, 01 Jan 2024 00:00:00 GMT")]);
    assert_eq!(old.status, 200);
    // Without validators there is nothing to compare: always 200.
    assert_eq!(get(addr, "/t/c", &[("If-None-Match", "*")]).status, 200);
    // Only a 200 becomes a 304.
    assert_eq!(get(addr, "/t/c?status=404&etag=%22x%22", &[("If-None-Match", "\"x\"")]).status, 404);
    // Unsafe methods are not answered with 304.
    assert_eq!(req(addr, "POST", "/t/c?etag=%22x%22", &[("If-None-Match", "\"x\"")], b"").status, 200);
}

#[test]
fn test_surface_bodies_echo_head_and_bytes() {
    let addr = start();
    let echo = req(addr, "PUT", "/t/e?echo=1&a=b", &[("X-Custom", "one"), ("x-custom", "two")], b"payload");
    let v = echo.json();
    assert_eq!(echo.header("content-type"), Some("application/json"));
    assert_eq!(v["method"], "PUT");
    assert_eq!(v["path"], "/t/e");
    assert_eq!(v["query"], "echo=1&a=b");
    assert_eq!(v["headers"]["x-custom"], "one, two");
    assert_eq!(v["headers"]["host"], "origin.test");
    assert_eq!(v["body_length"], 7);
    assert_eq!(v["body"], "payload");

    let posted = req(addr, "POST", "/t/b", &[], b"form=data");
    assert_eq!(
        posted.text(),
        format!("demo-origin POST /t/b hit=1\n{ANON}\nrequest-body-length=9\nform=data")
    );
    let big = vec![b'z'; 70 * 1024];
    let posted = req(addr, "PATCH", "/t/b", &[], &big);
    assert!(posted.text().ends_with("request-body-length=71680\n"));

    let get_len = get(addr, "/t/h?cc=max-age=1", &[]).body.len();
    let head = req(addr, "HEAD", "/t/h?cc=max-age=1", &[], b"");
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some(get_len.to_string().as_str()));
    assert!(head.body.is_empty());

    let bytes = get(addr, "/t/big?bytes=100000", &[]);
    assert_eq!(bytes.body.len(), 100_000);
    assert_eq!(bytes.header("content-length"), Some("100000"));
    let chunked = get(addr, "/t/big?bytes=40000&chunked=1&chunk_delay_ms=1", &[]);
    assert_eq!(chunked.header("transfer-encoding"), Some("chunked"));
    assert_eq!(chunked.body, bytes.body[..40_000]);
    let head = req(addr, "HEAD", "/t/big?bytes=123456", &[], b"");
    assert_eq!(head.header("content-length"), Some("123456"));
}

#[test]
fn resources_feeds_and_files() {
    let addr = start();
    for (path, ruleset, ct) in [
        ("/news", "plone.content.folderView", "text/html; charset=utf-8"),
        ("/news/item-2", "plone.content.itemView", "text/html; charset=utf-8"),
        ("/RSS", "plone.content.feed", "application/rss+xml; charset=utf-8"),
        ("/news/RSS", "plone.content.feed", "application/rss+xml; charset=utf-8"),
        ("/images/logo.png", "plone.content.file", "image/png"),
        ("/files/report.pdf", "plone.content.file", "application/pdf"),
        ("/++resource++demo/style.css", "plone.resource", "text/css; charset=utf-8"),
        (
            "/++plone++static/++unique++2026-01-01/app.js",
            "plone.stableResource",
            "application/javascript; charset=utf-8",
        ),
    ] {
        let r = get(addr, path, &[]);
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.header("x-cache-ruleset"), Some(ruleset), "{path}");
        assert_eq!(r.header("content-type"), Some(ct), "{path}");
        assert!(r.header("etag").is_some() && r.header("last-modified").is_some(), "{path}");
        assert_eq!(r.header("cache-control"), None, "{path}");
    }
    assert!(get(addr, "/images/logo.png", &[]).body.starts_with(b"\x89PNG\r\n\x1a\n"));
    assert!(get(addr, "/files/report.pdf", &[]).body.starts_with(b"%PDF-1.4"));
    let missing = get(addr, "/nothing-here", &[]);
    assert_eq!(missing.status, 404);
    assert!(missing.text().contains(ANON));
    assert_eq!(get(addr, "/++plone++static/++unique++x/", &[]).status, 404);
    assert_eq!(req(addr, "POST", "/front-page", &[], b"x=1").status, 405);

    let sc = get(addr, "/set-cookie", &[]);
    assert_eq!(sc.header("set-cookie"), Some("visited=1; Path=/"));
    assert_eq!(sc.header("cache-control"), Some("public, max-age=60"));
    let slow = get(addr, "/slow?ms=20", &[]);
    assert_eq!((slow.status, slow.header("cache-control")), (200, Some("public, max-age=60")));
    assert_eq!(get(addr, "/error", &[]).status, 500);
    assert_eq!(get(addr, "/error?status=503", &[]).status, 503);
    assert_eq!(get(addr, "/error?status=404", &[]).status, 500);
}

#[test]
fn keep_alive_serves_many_requests_on_one_connection() {
    let addr = start();
    let mut conn = Conn::open(addr);
    for i in 1..=5 {
        let r = conn.request("GET", "/t/ka", &[], b"");
        assert_eq!(r.status, 200);
        assert_eq!(r.header("connection"), None);
        assert!(r.text().contains(&format!("hit={i}")));
    }
    let r = conn.request("POST", "/t/ka", &[], b"body on a kept-alive connection");
    assert!(r.text().ends_with("body on a kept-alive connection"));
    assert_eq!(conn.request("HEAD", "/front-page", &[], b"").status, 200);
    assert_eq!(conn.request("GET", "/front-page", &[("If-None-Match", "*")], b"").status, 304);

    // Pipelined: three requests in one write, three answers in order.
    conn.send(b"GET /t/pipe/1 HTTP/1.1\r\nHost: x\r\n\r\nGET /t/pipe/2 HTTP/1.1\r\nHost: x\r\n\r\nGET /t/pipe/3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    for i in 1..=3 {
        let r = conn.read(false).unwrap();
        assert!(r.text().starts_with(&format!("demo-origin GET /t/pipe/{i} ")));
        assert_eq!(r.header("connection"), if i == 3 { Some("close") } else { None });
    }
    assert!(conn.read(false).is_none(), "closed after Connection: close");

    // HTTP/1.0 closes unless asked to keep alive.
    let mut old = Conn::open(addr);
    old.send(b"GET /t/old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_eq!(old.read(false).unwrap().header("connection"), Some("keep-alive"));
    old.send(b"GET /t/old HTTP/1.0\r\n\r\n");
    assert_ne!(old.read(false).unwrap().header("connection"), Some("keep-alive"));
    assert!(old.read(false).is_none());
}

#[test]
fn chunked_request_bodies_and_expect_continue() {
    let addr = start();
    let mut conn = Conn::open(addr);
    conn.send(b"POST /t/chunk?echo=1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n");
    let v = conn.read(false).unwrap().json();
    assert_eq!(v["body"], "hello world");
    assert_eq!(v["body_length"], 11);

    conn.send(b"PUT /t/expect HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n");
    let interim = conn.read(false).unwrap();
    assert_eq!(interim.status, 100);
    conn.send(b"abc");
    let r = conn.read(false).unwrap();
    assert!(r.text().ends_with("request-body-length=3\nabc"));
}

/// The status of the answer to `raw`, after which the server closes the connection.
fn raw_status(addr: SocketAddr, raw: &[u8]) -> Option<u16> {
    let mut conn = Conn::open(addr);
    conn.send(raw);
    let r = conn.read(false)?;
    assert!(conn.read(false).is_none(), "closed after {}", r.status);
    Some(r.status)
}

#[test]
fn malformed_requests_get_400() {
    let addr = start();
    for raw in [
        &b"garbage\r\n\r\n"[..],
        b"GET /a b HTTP/1.1\r\n\r\n",
        b"GET relative HTTP/1.1\r\n\r\n",
        b"G\xffT / HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nNoColon\r\n\r\n",
        b"GET / HTTP/1.1\r\nX: a\r\n folded\r\n\r\n",
        b"POST /t/x HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
        b"POST /t/x HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        b"POST /t/x HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
        b"POST /t/x HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
        b"POST /t/x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"POST /t/x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXY0\r\n\r\n",
    ] {
        assert_eq!(raw_status(addr, raw), Some(400), "{}", String::from_utf8_lossy(raw));
    }
    assert_eq!(raw_status(addr, b"GET / HTTP/2.0\r\n\r\n"), Some(400));
    // Transfer-Encoding wins over Content-Length (RFC 9112 §6.3, rule 3): the chunked body is
    // read and the length ignored.
    let mut conn = Conn::open(addr);
    conn.send(b"POST /t/te?echo=1 HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n");
    assert_eq!(conn.read(false).unwrap().json()["body"], "ok");
    assert_eq!(raw_status(addr, b"POST /t/x HTTP/1.1\r\nContent-Length: 9000000\r\n\r\n"), Some(413));
    let huge = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(200_000));
    assert_eq!(raw_status(addr, huge.as_bytes()), Some(431));
    // A truncated request gets no answer but does not disturb the server.
    let mut conn = Conn::open(addr);
    conn.send(b"GET / HTTP/1.1\r\nHost: x\r\n");
    conn.0.get_mut().shutdown(std::net::Shutdown::Write).unwrap();
    assert!(conn.read(false).is_none());
    assert_eq!(get(addr, "/t/still-up", &[]).status, 200);
    // Absolute-form targets are accepted.
    assert_eq!(
        raw_status(addr, b"GET http://origin.test/t/abs?x=1 HTTP/1.1\r\nConnection: close\r\n\r\n"),
        Some(200)
    );
}

#[test]
fn codecs_do_not_panic() {
    assert_eq!(base64_encode(b"alice:alice"), "YWxpY2U6YWxpY2U=");
    for s in ["", "a", "ab", "abc", "abcd", "bob:bob"] {
        assert_eq!(base64_decode(&base64_encode(s.as_bytes())).unwrap(), s.as_bytes());
    }
    assert_eq!(base64_decode("!!"), None);
    assert!(if_none_match_matches("\"a\", W/\"b\"", Some("\"b\"")));
    assert!(if_none_match_matches("W/\"b\"", Some("W/\"b\"")));
    assert!(!if_none_match_matches("\"a\"", Some("\"b\"")));
    assert!(!if_none_match_matches("*", None));
    for odd in ["\"", "W/", "W/\"", "\"a", ",,,", "a\"b\"", "\u{e9}\"x\""] {
        assert!(!if_none_match_matches(odd, Some("\"x\"")), "{odd}");
    }
    let p = Params::parse("a=1&b=%41+%zz&&c&a=2", true);
    assert_eq!(p.get("a"), Some("1"));
    assert_eq!(p.get("b"), Some("A %zz"));
    assert_eq!(p.get("c"), Some(""));
    assert_eq!(Params::parse("path=/++x++/y", false).get("path"), Some("/++x++/y"));
}
