//! Trust, natively: nothing is shared between users or audiences that must not be, no error is
//! kept as the page, and the origin is sent exactly what the key holds. Each scenario is an
//! attack that worked before these rules (see the threat model in the README); the same
//! attacks run against the real worker in `tests/integration/adversarial.test.mjs`.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use rulecache::flow::engine::{Flow, Found, Step};
use rulecache::http::{Headers, RequestHead, Time};
use rulecache::policy::Policy;
use rulecache::storage::meta::Purged;
use rulecache::storage::stats::Outcome;
use rulecache::testing::sim::{Exchange, OriginResult};
use rulecache::testing::world::{response as resp, ScriptedOrigin, World, T0};
const SEC: Time = 1000;

/// Who the origin (parsing like Zope) sees: the user named by a `__ac=valid-<user>` cookie.
fn origin_user(req: &RequestHead) -> String {
    let joined = req.headers.get_all("cookie").collect::<Vec<_>>().join(", ");
    rulecache::testing::cookie_parsers::zope(&joined)
        .into_iter()
        .find(|(n, _)| n == "__ac")
        .and_then(|(_, v)| v.strip_prefix("valid-").map(str::to_string))
        .unwrap_or_else(|| "anonymous".to_string())
}

/// The bundled default profile in front of `answer` (requests numbered in order), on the one
/// test world.
trait Scenario: Sized {
    fn new(answer: impl Fn(&RequestHead, usize) -> OriginResult + 'static) -> Self;
    fn with_policy(self, edit: impl FnOnce(&mut serde_json::Value)) -> Self;
    fn request(&mut self, path: &str, headers: &[(&str, &str)], at: Time) -> Exchange;
    fn origin_calls(&self) -> usize;
    fn last_seen(&self) -> RequestHead;
}

impl Scenario for World {
    fn new(answer: impl Fn(&RequestHead, usize) -> OriginResult + 'static) -> Self {
        World::new(Policy::default_profile(), ScriptedOrigin::in_order(move |r, n, _| answer(r, n)))
    }

    fn with_policy(mut self, edit: impl FnOnce(&mut serde_json::Value)) -> Self {
        let text =
            Policy::profiles().iter().find(|(id, _)| *id == "with-caching-proxy-splitviews").unwrap().1;
        let mut v: serde_json::Value = serde_json::from_str(text).unwrap();
        edit(&mut v);
        self.policy = Policy::from_json(&v.to_string()).unwrap();
        self
    }

    fn request(&mut self, path: &str, headers: &[(&str, &str)], at: Time) -> Exchange {
        self.send_at("GET", path, headers, at)
    }

    fn origin_calls(&self) -> usize {
        self.origin.calls()
    }

    fn last_seen(&self) -> RequestHead {
        self.origin.last().unwrap()
    }
}

fn cache_status(x: &Exchange) -> &str {
    x.header("cache-status").unwrap_or("")
}

/// A Plone-like file: the body names the user the origin saw; logged-in copies carry no
/// shared-cache permission unless `shared_cc` says otherwise.
fn file_origin(shared_cc: &'static str) -> impl Fn(&RequestHead, usize) -> OriginResult {
    move |req, n| {
        let user = origin_user(req);
        let cc = if user == "anonymous" { "max-age=0, s-maxage=86400, must-revalidate" } else { shared_cc };
        resp(200, &[("cache-control", cc), ("content-type", "application/pdf")], &format!("{user} #{n}"))
    }
}

#[test]
fn a_logged_in_users_file_is_not_served_to_a_junk_cookie() {
    let mut w = <World as Scenario>::new(file_origin("max-age=0"));
    let editor = w.request("/docs/report.pdf", &[("cookie", "__ac=valid-editor")], T0);
    assert_eq!(editor.text(), "editor #1");
    assert!(
        cache_status(&editor).contains("detail=authorization")
            || cache_status(&editor).contains("detail=authenticated"),
        "{}",
        cache_status(&editor)
    );
    let attacker = w.request("/docs/report.pdf", &[("cookie", "__ac=x")], T0 + SEC);
    assert_eq!(attacker.text(), "anonymous #2", "the junk cookie reached the origin");
}

#[test]
fn shared_among_logged_in_users_only_when_origin_and_policy_both_say_so() {
    // The origin marks it shareable, the policy does not: not stored.
    let mut w = <World as Scenario>::new(file_origin("max-age=0, s-maxage=86400, must-revalidate"));
    w.request("/docs/a.pdf", &[("cookie", "__ac=valid-alice")], T0);
    let bob = w.request("/docs/a.pdf", &[("cookie", "__ac=valid-bob")], T0 + SEC);
    assert_eq!(bob.text(), "bob #2");
    // The policy allows it, the origin does not mark it: not stored.
    let share = |v: &mut serde_json::Value| {
        v["operations"]["plone.content.file"]["parameters"]["shareAuthenticated"] = true.into();
    };
    let mut w = <World as Scenario>::new(file_origin("max-age=0")).with_policy(share);
    w.request("/docs/a.pdf", &[("cookie", "__ac=valid-alice")], T0);
    let bob = w.request("/docs/a.pdf", &[("cookie", "__ac=valid-bob")], T0 + SEC);
    assert_eq!(bob.text(), "bob #2");
    // Both: shared among logged-in users, never with anonymous visitors, and private downstream.
    let mut w = <World as Scenario>::new(file_origin("max-age=0, s-maxage=86400, must-revalidate"))
        .with_policy(share);
    let alice = w.request("/docs/a.pdf", &[("cookie", "__ac=valid-alice")], T0);
    let bob = w.request("/docs/a.pdf", &[("cookie", "__ac=valid-bob")], T0 + SEC);
    assert_eq!(bob.outcome, Outcome::Hit);
    assert_eq!(bob.text(), "alice #1");
    let anon = w.request("/docs/a.pdf", &[], T0 + 2 * SEC);
    assert_eq!(anon.text(), "anonymous #2");
    for x in [&alice, &bob] {
        let cc = x.header("cache-control").unwrap_or("");
        assert!(cc.contains("private") && !cc.contains("s-maxage") && !cc.contains("public"), "{cc}");
    }
}

#[test]
fn responses_to_authenticated_requests_never_carry_public_or_s_maxage_downstream() {
    // plone.resource (strongCaching) sends `public` to everybody; not to a logged-in user.
    let mut w = <World as Scenario>::new(|_, _| {
        resp(200, &[("content-type", "text/css"), ("cdn-cache-control", "max-age=60")], "body{}")
    });
    let x = w.request("/theme/site.css", &[("cookie", "__ac=valid-alice")], T0);
    let cc = x.header("cache-control").unwrap_or("");
    assert!(cc.contains("private") && !cc.contains("public") && !cc.contains("s-maxage"), "{cc}");
    assert_eq!(x.header("cdn-cache-control"), None);
    let anon = w.request("/theme/site.css", &[], T0);
    assert!(anon.header("cache-control").unwrap_or("").contains("public"));
}

#[test]
fn a_page_requested_under_a_static_extension_is_not_stored_as_a_file() {
    // Web cache deception: /@@personal-information/x.css answered with the member's page.
    let mut w = <World as Scenario>::new(|req, n| {
        let user = origin_user(req);
        resp(
            200,
            &[("content-type", "text/html; charset=utf-8"), ("cache-control", "max-age=0, s-maxage=60")],
            &format!("page of {user} #{n}"),
        )
    });
    let victim = w.request("/@@personal-information/x.css", &[], T0);
    assert!(cache_status(&victim).contains("detail=content-type"), "{}", cache_status(&victim));
    let next = w.request("/@@personal-information/x.css", &[], T0 + SEC);
    assert_eq!(next.text(), "page of anonymous #2");
    // A real stylesheet is stored.
    let mut w =
        <World as Scenario>::new(|_, n| resp(200, &[("content-type", "text/css")], &format!("css {n}")));
    w.request("/site.css", &[], T0);
    assert_eq!(w.request("/site.css", &[], T0 + SEC).outcome, Outcome::Hit);
}

#[test]
fn error_statuses_are_not_kept_as_the_page() {
    // CPDoS: one request with 130 headers makes the origin answer 431.
    for status in [400, 403, 431, 500, 502, 503] {
        let mut w = <World as Scenario>::new(move |_, n| {
            if n == 1 {
                resp(status, &[("content-type", "text/plain")], "error")
            } else {
                resp(200, &[("content-type", "text/css")], "ok")
            }
        });
        let first = w.request("/theme/a.css", &[], T0);
        assert_eq!(first.head.status, status);
        assert!(!cache_status(&first).contains("stored"), "{status}: {}", cache_status(&first));
        assert_eq!(w.request("/theme/a.css", &[], T0 + SEC).text(), "ok", "{status} was served again");
    }
}

#[test]
fn not_found_is_kept_only_briefly() {
    let mut w =
        <World as Scenario>::new(|_, n| resp(404, &[("content-type", "text/css")], &format!("missing {n}")))
            .with_policy(|v| v["caching"]["notFoundTtl"] = 5.into());
    w.request("/theme/gone.css", &[], T0);
    assert_eq!(w.request("/theme/gone.css", &[], T0 + 4 * SEC).outcome, Outcome::Hit);
    assert_eq!(
        w.request("/theme/gone.css", &[], T0 + 6 * SEC).text(),
        "missing 2",
        "a 404 outlived notFoundTtl"
    );
}

#[test]
fn a_server_error_while_revalidating_keeps_the_stored_entry() {
    // honourOrigin: a 503 with explicit freshness does not replace a stale entry.
    let mut w = <World as Scenario>::new(|req, n| match n {
        1 => resp(200, &[("cache-control", "max-age=10"), ("etag", "\"v1\"")], "v1"),
        2 => resp(503, &[("cache-control", "max-age=3600")], "down"),
        _ if req.headers.get("if-none-match") == Some("\"v1\"") => {
            resp(304, &[("cache-control", "max-age=10"), ("etag", "\"v1\"")], "")
        }
        _ => resp(200, &[("cache-control", "max-age=10")], "refetched"),
    });
    w.request("/page", &[], T0);
    let failed = w.request("/page", &[], T0 + 20 * SEC);
    assert_eq!(failed.head.status, 503);
    let after = w.request("/page", &[], T0 + 21 * SEC);
    assert_eq!(after.outcome, Outcome::Revalidated304, "the entry was lost: {}", cache_status(&after));
    assert_eq!(after.text(), "v1");
}

#[test]
fn a_304_that_forbids_storing_ends_the_entry() {
    let mut w = <World as Scenario>::new(|_, n| match n {
        1 => resp(200, &[("cache-control", "max-age=10"), ("etag", "\"v1\"")], "v1"),
        2 => resp(304, &[("cache-control", "no-store"), ("etag", "\"v1\"")], ""),
        _ => resp(200, &[("cache-control", "no-store")], "fresh"),
    });
    w.request("/page", &[], T0);
    let merged = w.request("/page", &[], T0 + 20 * SEC);
    assert_eq!(merged.text(), "v1");
    assert!(!cache_status(&merged).contains("stored"), "{}", cache_status(&merged));
    assert_eq!(w.request("/page", &[], T0 + 21 * SEC).text(), "fresh");
}

#[test]
fn the_origin_is_sent_exactly_what_is_keyed() {
    let mut w = <World as Scenario>::new(|_, _| resp(200, &[("cache-control", "max-age=60")], "x"));
    w.request(
        "/page?b=2&utm_source=x&a=1&utm_x=1;callback=evil",
        &[
            ("cookie", "_ga=1; __ac=; statusmessages_x=1, tracking=2"),
            ("x-forwarded-host", "evil.example"),
            ("forwarded", "host=evil.example"),
            ("x-original-url", "/admin"),
            ("x-rewrite-url", "/admin"),
            ("x-http-method-override", "DELETE"),
            ("accept-encoding", "gzip, deflate, br;q=0.5"),
        ],
        T0,
    );
    let sent = w.last_seen();
    assert_eq!(sent.url.query(), Some("b=2&a=1"), "dropped and cloaked parameters were forwarded");
    for h in ["forwarded", "x-original-url", "x-rewrite-url", "x-http-method-override"] {
        assert!(!sent.headers.contains(h), "{h} was forwarded");
    }
    assert_eq!(sent.headers.get("x-forwarded-host"), Some("site.example"), "the edge's, not the client's");
    assert_eq!(sent.headers.get("cookie"), Some("__ac="), "unnamed cookies were forwarded");
    assert_eq!(sent.headers.get("accept-encoding"), Some("gzip"));
    // A header the policy adds is forwarded; the keep-list keeps a cookie.
    let mut w = <World as Scenario>::new(|_, _| resp(200, &[("cache-control", "max-age=60")], "x"))
        .with_policy(|v| {
            v["cacheKey"]["trustedHeaders"] = serde_json::json!(["X-Theme"]);
            v["cacheKey"]["keepCookies"] = serde_json::json!(["_ZopeId"]);
        });
    w.request("/page", &[("x-theme", "dark"), ("cookie", "_ZopeId=\"z\"; _ga=1")], T0);
    let sent = w.last_seen();
    assert_eq!(sent.headers.get("x-theme"), Some("dark"));
    assert_eq!(sent.headers.get("cookie"), Some("_ZopeId=\"z\""));
}

#[test]
fn an_operations_vary_is_part_of_the_key() {
    // plone.content.dynamic (terseCaching) declares `vary: Accept`; the origin does not.
    let mut w = <World as Scenario>::new(|req, _| {
        let json = req.headers.get("accept").is_some_and(|a| a.contains("json"));
        let (ct, body) = if json { ("application/json", "{}") } else { ("text/html", "<html>") };
        resp(200, &[("content-type", ct), ("cache-control", "max-age=60")], body)
    })
    .with_policy(|v| {
        v["operations"]["plone.content.dynamic"]["parameters"]["smaxage"] = 60.into();
    });
    w.request("/@search", &[("accept", "application/json")], T0);
    let html = w.request("/@search", &[("accept", "text/html")], T0 + SEC);
    assert_eq!(html.text(), "<html>");
    let json = w.request("/@search", &[("accept", "application/json")], T0 + 2 * SEC);
    assert_eq!(json.outcome, Outcome::Hit);
    assert_eq!(json.text(), "{}");
}

#[test]
fn a_login_hidden_behind_a_quoted_cookie_is_still_a_login() {
    // ZPublisher ends `a="1"` at the comma and reads `__ac` after it.
    let mut w = <World as Scenario>::new(|req, n| {
        let user = origin_user(req);
        resp(200, &[("cache-control", "max-age=0, s-maxage=3600, must-revalidate")], &format!("{user} {n}"))
    });
    let member = w.request("/news", &[("cookie", "a=\"1\", __ac=valid-alice")], T0);
    assert_eq!(member.text(), "alice 1");
    assert!(cache_status(&member).contains("fwd=bypass"), "{}", cache_status(&member));
    let anon = w.request("/news", &[], T0 + SEC);
    assert_eq!(anon.text(), "anonymous 2");
}

#[test]
fn the_admin_secret_is_never_forwarded() {
    let policy = Policy::default_profile();
    let req = RequestHead::parse(
        "GET",
        "https://site.example/news",
        Headers::from_pairs([("authorization", "Bearer the-secret"), ("x-rulecache-signature", "v1=00")]),
    )
    .unwrap();
    let (mut flow, step) = Flow::start(&policy, req, T0, true);
    let step = match step {
        Step::Lookup { .. } => flow.found(&policy, Found::Nothing, Purged::No, T0),
        other => other,
    };
    let Step::Fetch { request, .. } = step else { panic!("expected a fetch") };
    assert!(!request.headers.contains("authorization"));
    assert!(!request.headers.contains("x-rulecache-signature"));
    assert_eq!(request.headers.get("x-anonymous"), Some("1"), "the debug viewer sees the anonymous page");
}

#[test]
fn cache_tags_and_keys_need_the_secret() {
    let mut w = <World as Scenario>::new(|_, _| {
        resp(200, &[("cache-control", "max-age=60"), ("cache-tag", "secret-tag")], "x")
    })
    .with_policy(|v| v["caching"]["debugHeaders"] = true.into());
    let x = w.request("/page", &[], T0);
    assert_eq!(x.header("cache-tag"), None);
    assert!(!cache_status(&x).contains("key="), "{}", cache_status(&x));
    assert!(x.header("x-rulecache-operation").is_some(), "debugHeaders still names the operation");
    let _ = w.origin_calls();
}

// ---- A client's request never decides a shared entry's fate ----

/// `/p/…` is kept 10 s by policy, varies on the audience, and keeps anonymous answers that
/// the origin marks `private` (as Plone's weakCaching does); `/h/…` honours the origin.
fn shared_state_world(answer: impl Fn(&RequestHead, usize) -> OriginResult + 'static) -> World {
    let policy = Policy::from_json(
        r#"{"version": 1, "name": "shared-state",
            "rulesets": {"page": {"title": "p"}},
            "rules": [{"id": "p", "ruleset": "page", "match": {"pathPrefix": "/p/"}}],
            "splitView": {"enabled": true, "header": "X-Anonymous", "authCookies": ["__ac"],
                          "authCookiePrefixes": ["__ac_"], "authorizationHeader": true},
            "operations": {"page": {"operation": "moderateCaching",
                "parameters": {"smaxage": 10, "anonOnly": true, "storeAnonymousPrivate": true}}}}"#,
    )
    .unwrap();
    World::new(policy, ScriptedOrigin::in_order(move |r, n, _| answer(r, n)))
}

/// An origin with validators: a 304 to a matching `If-None-Match`, else the page `v1 #n`.
fn validating_origin(cc: &'static str) -> impl Fn(&RequestHead, usize) -> OriginResult {
    move |req, n| {
        if req.headers.get("if-none-match") == Some("\"v1\"") {
            return Some((
                rulecache::http::ResponseHead::new(
                    304,
                    Headers::from_pairs([("etag", "\"v1\""), ("cache-control", cc)]),
                ),
                Vec::new(),
            ));
        }
        resp(
            200,
            &[("etag", "\"v1\""), ("cache-control", cc), ("content-type", "text/html")],
            &format!("v1 #{n}"),
        )
    }
}

#[test]
fn a_clients_no_store_revalidation_leaves_the_shared_entry_in_place() {
    let mut w = World::new(
        Policy::default_profile(),
        ScriptedOrigin::in_order(|r, n, _| validating_origin("max-age=60")(r, n)),
    );
    assert_eq!(w.request("/h/page", &[], T0).text(), "v1 #1");
    // RFC 9111 §5.2.1.5: no-store says "do not store", not "delete what is stored".
    let own = w.request("/h/page", &[("cache-control", "no-cache, no-store")], T0 + SEC);
    assert_eq!(own.text(), "v1 #1", "the client gets the validated copy");
    assert_eq!(w.origin_calls(), 2, "it was revalidated");
    let next = w.request("/h/page", &[], T0 + 2 * SEC);
    assert_eq!((next.outcome, next.text()), (Outcome::Hit, "v1 #1".to_string()), "{}", cache_status(&next));
    assert_eq!(w.origin_calls(), 2);
}

#[test]
fn a_cookie_that_mentions_a_login_does_not_delete_the_anonymous_copy() {
    // Plone marks anonymous views `private`; the policy keeps them for anonymous visitors. A
    // request whose cookie text names the auth cookie inside another one (`x__ac=1`) is
    // anonymous to the edge but not proven anonymous to the origin: its 304 does not refresh
    // the shared copy, and does not delete it either.
    let mut w = shared_state_world(validating_origin("private, max-age=0"));
    assert_eq!(w.request("/p/doc", &[], T0).text(), "v1 #1");
    let stale = T0 + 11 * SEC;
    let junk = w.request("/p/doc", &[("cookie", "x__ac=1")], stale);
    assert_eq!(junk.text(), "v1 #1");
    assert_eq!(w.origin_calls(), 2, "revalidated for the junk-cookie request");
    let clean = w.request("/p/doc", &[], stale + SEC);
    assert_eq!(w.origin_calls(), 3, "the next clean request revalidates the same entry");
    assert_eq!(clean.text(), "v1 #1", "{}", cache_status(&clean));
    assert_eq!(clean.outcome, Outcome::Revalidated304, "{}", cache_status(&clean));
}

#[test]
fn a_head_with_no_cache_does_not_delete_an_entry_it_cannot_compare() {
    // Stored without validators; the HEAD's 200 carries an ETag: nothing to compare, so
    // nothing is concluded (RFC 9111 §4.3.5) and the GET copy stays.
    let mut w = World::new(
        Policy::default_profile(),
        ScriptedOrigin::in_order(|req, n, _| {
            let mut h = vec![("cache-control", "max-age=60"), ("content-type", "text/html")];
            if req.method.as_str() == "HEAD" {
                h.push(("etag", "\"h\""));
            }
            resp(200, &h, &format!("page #{n}"))
        }),
    );
    assert_eq!(w.request("/h/plain", &[], T0).text(), "page #1");
    let head = w.send_at("HEAD", "/h/plain", &[("cache-control", "no-cache")], T0 + SEC);
    assert_eq!(head.head.status, 200);
    let next = w.request("/h/plain", &[], T0 + 2 * SEC);
    assert_eq!((next.outcome, next.text()), (Outcome::Hit, "page #1".to_string()), "{}", cache_status(&next));
}

#[test]
fn a_304_that_brings_a_new_vary_drops_the_entry_it_validated() {
    // The copy rendered for `en` was stored without Vary; the origin now varies on
    // Accept-Language and validates it for an `en` request: the entry keyed without the
    // language must go, or `fr` would be served the `en` page.
    let mut w = World::new(
        Policy::default_profile(),
        ScriptedOrigin::in_order(|req, n, _| {
            let lang = req.headers.get("accept-language").unwrap_or("en").to_string();
            if n > 1 && req.headers.get("if-none-match") == Some("\"en\"") {
                let h = Headers::from_pairs([
                    ("etag", "\"en\""),
                    ("vary", "Accept-Language"),
                    ("cache-control", "max-age=60"),
                ]);
                return Some((rulecache::http::ResponseHead::new(304, h), Vec::new()));
            }
            let vary = if n > 1 { "Accept-Language" } else { "Origin" };
            resp(
                200,
                &[("etag", &format!("\"{lang}\"")), ("vary", vary), ("cache-control", "max-age=60")],
                &lang,
            )
        }),
    );
    assert_eq!(w.request("/h/lang", &[("accept-language", "en")], T0).text(), "en");
    let en = w.request("/h/lang", &[("accept-language", "en"), ("cache-control", "no-cache")], T0 + SEC);
    assert_eq!(en.text(), "en");
    assert!(cache_status(&en).contains("vary-changed"), "{}", cache_status(&en));
    let fr = w.request("/h/lang", &[("accept-language", "fr")], T0 + 2 * SEC);
    assert_eq!(fr.text(), "fr", "{}", cache_status(&fr));
}

// ---- The key is what is forwarded ----

/// Every field of the forwarding family the second attack round found echoed by origins, and
/// spellings no list would name.
const FORWARDING_FAMILY: &[(&str, &str)] = &[
    ("x-forwarded-port", "8443"),
    ("x-forwarded-prefix", "/evil"),
    ("x-forwarded-scheme", "http"),
    ("x-forwarded-ssl", "off"),
    ("x-forwarded-proto", "http"),
    ("x-forwarded-protocol", "http"),
    ("x-forwarded-uri", "/evil"),
    ("x-forwarded-path", "/evil"),
    ("x-forwarded-host", "evil.example"),
    ("front-end-https", "off"),
    ("x-url-scheme", "http"),
    ("x-original-host", "evil.example"),
    ("x-original-uri", "/evil"),
    ("x-script-name", "/evil"),
    ("script_name", "/evil"),
    ("x_forwarded_host", "evil.example"),
    ("x-real-ip", "10.6.6.6"),
    ("forwarded", "for=10.6.6.6;proto=http;host=evil.example"),
    ("x-forwarded-for", "10.6.6.6"),
];

#[test]
fn no_forwarding_field_of_the_client_reaches_the_origin_and_the_edge_sets_its_own() {
    for bypassed in [false, true] {
        let mut w = <World as Scenario>::new(|_, _| resp(200, &[("cache-control", "max-age=60")], "x"));
        let method = if bypassed { "POST" } else { "GET" };
        w.send_at(method, "/page", FORWARDING_FAMILY, T0);
        let sent = w.last_seen();
        for (name, _) in FORWARDING_FAMILY {
            let value = sent.headers.get(name);
            assert!(
                value.is_none_or(|v| !v.contains("evil")
                    && !v.contains("10.6.6.6")
                    && v != "http"
                    && v != "off"),
                "{name}: {value:?}"
            );
        }
        assert_eq!(sent.headers.get("x-forwarded-proto"), Some("https"), "the scheme asked for");
        assert_eq!(sent.headers.get("x-forwarded-host"), Some("site.example"), "the host asked for");
    }
}

#[test]
fn a_storable_request_forwards_only_what_is_keyed_or_safe() {
    let mut w = <World as Scenario>::new(|_, _| resp(200, &[("cache-control", "max-age=60")], "x"));
    w.request(
        "/page",
        &[
            ("accept", "text/html"),
            ("accept-language", "fr"),
            ("user-agent", "Mozilla/5.0"),
            ("x-requested-with", "XMLHttpRequest"),
            ("x-debug", "1"),
            ("cf-ipcountry", "FR"),
            ("sec-ch-ua-mobile", "?0"),
        ],
        T0,
    );
    let sent = w.last_seen();
    for kept in ["accept", "accept-language", "user-agent", "sec-ch-ua-mobile", "accept-encoding"] {
        assert!(sent.headers.contains(kept), "{kept} was not forwarded");
    }
    for dropped in ["x-requested-with", "x-debug", "cf-ipcountry"] {
        assert!(!sent.headers.contains(dropped), "{dropped} reached the origin unkeyed");
    }
    // A request that bypasses the cache is forwarded as sent (its answer is never stored).
    w.send_at("POST", "/page", &[("x-requested-with", "XMLHttpRequest")], T0 + SEC);
    assert_eq!(w.last_seen().headers.get("x-requested-with"), Some("XMLHttpRequest"));
}

#[test]
fn an_undeclared_field_reaches_the_origin_only_once_a_stored_vary_names_it() {
    // The origin varies on X-Theme. The first request's field is not forwarded, so its answer
    // is keyed as if the field were absent; once the URL's Vary is known the field is
    // forwarded and keyed, and each variant holds what the origin rendered for it.
    let mut w = <World as Scenario>::new(|req, _| {
        let theme = req.headers.get("x-theme").unwrap_or("plain").to_string();
        resp(200, &[("cache-control", "max-age=60"), ("vary", "X-Theme")], &theme)
    });
    assert_eq!(w.request("/themed", &[("x-theme", "evil")], T0).text(), "plain");
    let clean = w.request("/themed", &[], T0 + SEC);
    assert_eq!((clean.outcome, clean.text()), (Outcome::Hit, "plain".to_string()));
    assert_eq!(w.request("/themed", &[("x-theme", "dark")], T0 + 2 * SEC).text(), "dark");
    let again = w.request("/themed", &[("x-theme", "dark")], T0 + 3 * SEC);
    assert_eq!((again.outcome, again.text()), (Outcome::Hit, "dark".to_string()));
    assert_eq!(w.request("/themed", &[], T0 + 4 * SEC).text(), "plain");
}

#[test]
fn the_path_is_asked_for_classified_and_keyed_in_one_spelling() {
    // `/a/%6Eews` and `/a/news` share one key: the origin is asked for the key's spelling, so
    // a router that matches the raw path can never put its answer for one under the other.
    let mut w = <World as Scenario>::new(|req, _| {
        let body = if req.url.path() == "/a/news" { "news" } else { "not found" };
        resp(200, &[("cache-control", "max-age=60"), ("content-type", "text/css")], body)
    });
    assert_eq!(w.request("/a/%6Eews", &[], T0).text(), "news");
    assert_eq!(w.last_seen().url.path(), "/a/news");
    let plain = w.request("/a/news", &[], T0 + SEC);
    assert_eq!((plain.outcome, plain.text()), (Outcome::Hit, "news".to_string()));
    // Classification reads the same path: an escaped dot is an extension.
    let policy = w.policy.clone();
    let (flow, _) = Flow::start(
        &policy,
        rulecache::testing::world::request("GET", "https://site.example/x%2Ecss", &[]),
        T0,
        false,
    );
    let (plain, _) = Flow::start(
        &policy,
        rulecache::testing::world::request("GET", "https://site.example/x.css", &[]),
        T0,
        false,
    );
    assert_eq!(flow.ruleset(), plain.ruleset());
    assert_eq!(flow.client().url.path(), "/x.css");
}

// ---- Credentials in the query string ----

#[test]
fn credentials_in_the_query_string_make_the_request_authenticated() {
    // PAS reads __ac_name/__ac_password (and Zope's request.get reads __ac) from the form,
    // which the query string is part of: such a request renders a member's page.
    let mut w = <World as Scenario>::new(|req, n| {
        // As an origin reads its form: decoded, either separator, names in any case.
        let decoded = rulecache::policy::audience::percent_decode(req.url.query().unwrap_or("")).to_ascii_lowercase();
        let member = decoded.split(['&', ';']).any(|p| p.starts_with("__ac"));
        let (cc, who) = if member { ("private", "alice") } else { ("max-age=0, s-maxage=3600, must-revalidate", "anonymous") };
        resp(200, &[("cache-control", cc), ("content-type", "text/html")], &format!("{who} #{n}"))
    })
    .with_policy(|v| {
        v["rules"] = serde_json::json!([{ "id": "doc", "ruleset": "plone.content.itemView", "match": { "pathPrefix": "/doc" } }]);
    });
    for query in [
        "__ac_name=alice&__ac_password=secret",
        "__ac=dGlja2V0",
        "__ac_name:string=alice&__ac_password:string=secret",
        "%5F%5Fac_name=alice",
        "x=1;__AC_PASSWORD=secret",
    ] {
        let member = w.request(&format!("/doc?{query}"), &[], T0);
        assert!(member.text().starts_with("alice"), "{query}");
        assert!(!cache_status(&member).contains("stored"), "{query}: {}", cache_status(&member));
        assert_eq!(w.last_seen().headers.get("x-anonymous"), None, "{query}: sent as anonymous");
    }
    // A parameter that only contains the name is anonymous.
    let x = w.request("/doc?x__ac_name=1", &[], T0);
    assert!(x.text().starts_with("anonymous"));
}

#[test]
fn made_up_variant_values_never_evict_the_variants_that_serve_hits() {
    let mut w = <World as Scenario>::new(|req, _| {
        let lang = req.headers.get("accept-language").unwrap_or("none").to_string();
        resp(200, &[("cache-control", "max-age=600"), ("vary", "Accept-Language")], &lang)
    });
    for lang in ["en", "de"] {
        w.request("/page", &[("accept-language", lang)], T0);
    }
    let calls = w.origin_calls();
    for i in 0..200 {
        let junk = format!("x-{i}");
        let x = w.request("/page", &[("accept-language", &junk)], T0 + SEC);
        assert_eq!(x.text(), junk);
    }
    assert_eq!(w.origin_calls(), calls + 200);
    for lang in ["en", "de"] {
        let hit = w.request("/page", &[("accept-language", lang)], T0 + 2 * SEC);
        assert_eq!((hit.outcome, hit.text()), (Outcome::Hit, lang.to_string()), "{}", cache_status(&hit));
    }
    // Past the index's room, a made-up value is answered and not stored.
    let refused = w.request("/page", &[("accept-language", "x-1000")], T0 + 3 * SEC);
    assert!(cache_status(&refused).contains("variant-budget"), "{}", cache_status(&refused));
    // Once the flood's copies are no longer fresh, a new variant takes one of their places.
    let later = T0 + 700 * SEC;
    let fr = w.request("/page", &[("accept-language", "fr")], later);
    assert!(cache_status(&fr).contains("stored"), "{}", cache_status(&fr));
    let again = w.request("/page", &[("accept-language", "fr")], later + SEC);
    assert_eq!(again.outcome, Outcome::Hit);
}
