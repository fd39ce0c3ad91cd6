//! The Plone 6 and Django profiles against origins that answer as the real applications do
//! (headers as measured on Plone 6.2.2 with plone.app.caching 5.0.0, and on Django), on the
//! one test world and its fake clock. The runtime proof against the real applications is in
//! `tests/e2e/`.

#![allow(clippy::unwrap_used, clippy::type_complexity)]

use rulecache::http::{Headers, RequestHead, Time};
use rulecache::policy::Policy;
use rulecache::storage::stats::Outcome;
use rulecache::testing::sim::{Exchange, OriginResult};
use rulecache::testing::world::{response as resp, ScriptedOrigin, World, T0};

/// A bundled profile in front of an origin that answers as the real application does, on the
/// one test world.
trait Scenario: Sized {
    fn new(profile: &str, answer: impl Fn(&RequestHead) -> OriginResult + 'static) -> Self;
    fn get(&mut self, path: &str, headers: &[(&str, &str)], at: Time) -> Exchange;
    fn origin_hits(&self) -> u32;
}

impl Scenario for World {
    fn new(profile: &str, answer: impl Fn(&RequestHead) -> OriginResult + 'static) -> Self {
        let policy = Policy::bundled(profile).unwrap();
        World::new(policy, ScriptedOrigin::in_order(move |r, _, _| answer(r)))
            .with_site("https://www.example.org")
    }

    fn get(&mut self, path: &str, headers: &[(&str, &str)], at: Time) -> Exchange {
        self.send_at("GET", path, headers, at)
    }

    fn origin_hits(&self) -> u32 {
        u32::try_from(self.origin.calls()).unwrap_or(u32::MAX)
    }
}

/// Plone's weakCaching answer for an item view: `private` for everybody, the user in the
/// ETag, its own `X-Cache-Rule` hint.
fn plone_view(req: &RequestHead) -> OriginResult {
    let anonymous = req.headers.get("x-anonymous") == Some("1");
    let who = if anonymous { "" } else { "member1" };
    let etag = format!("\"|{who}|24|en|Plone Default|0|1796166762.49\"");
    let body = if anonymous { "public page" } else { "page for member1" };
    resp(
        200,
        &[
            ("content-type", "text/html;charset=utf-8"),
            ("cache-control", "max-age=0, must-revalidate, private"),
            ("expires", "Sat, 03 Dec 2016 23:13:14 GMT"),
            ("etag", &etag),
            ("x-cache-rule", "plone.content.itemView"),
            ("x-cache-operation", "plone.app.caching.weakCaching"),
        ],
        body,
    )
}

#[test]
fn plone6_keeps_anonymous_views_that_plone_calls_private_wherever_the_site_is_mounted() {
    for path in ["/Plone/doc1", "/doc1", "/Plone/folder1/item1", "/folder1"] {
        let mut w = <World as Scenario>::new("plone6-splitviews", plone_view);
        let first = w.get(path, &[], T0);
        assert_eq!(first.outcome, Outcome::Miss, "{path}");
        assert_eq!(first.ruleset.as_deref(), Some("plone.content.itemView"), "{path}");
        assert!(first.header("cache-status").unwrap().contains("stored"), "{path}: {:?}", first.head);
        // downstream: moderateCaching's headers, not the origin's private
        assert_eq!(first.header("cache-control"), Some("max-age=0, s-maxage=3600, must-revalidate"));
        let second = w.get(path, &[], T0 + 1000);
        assert_eq!((second.outcome, second.text().as_str()), (Outcome::Hit, "public page"), "{path}");
        assert_eq!(w.origin_hits(), 1);
        // still fresh just before the policy's smaxage, not after
        assert_eq!(w.get(path, &[], T0 + 3_599_000).outcome, Outcome::Hit);
        assert_ne!(w.get(path, &[], T0 + 3_601_000).outcome, Outcome::Hit);
    }
}

/// Plone down (the offload benchmark's outage): a copy kept past its lifetime stands in for
/// up to a day instead of a 502, as the grace of Plone's Varnish configuration does while its
/// backend is sick; past that day, and for members (who bypass), the error shows. RFC 9111
/// §4.2.4 allows a stale response "in accordance with an out-of-band contract": the profile's
/// `staleIfError`.
#[test]
fn plone6_serves_a_kept_copy_for_a_day_while_plone_is_down_and_members_get_the_error() {
    let down = std::rc::Rc::new(std::cell::Cell::new(false));
    let origin_down = down.clone();
    let mut w =
        <World as Scenario>::new(
            "plone6-splitviews",
            move |req| {
                if origin_down.get() {
                    None
                } else {
                    plone_view(req)
                }
            },
        );
    assert_eq!(w.get("/Plone/doc1", &[], T0).outcome, Outcome::Miss);
    down.set(true);
    // past the policy's s-maxage of 3600 s
    let during = w.get("/Plone/doc1", &[], T0 + 3_700_000);
    assert_eq!(
        (during.head.status, during.outcome, during.text().as_str()),
        (200, Outcome::StaleServed, "public page")
    );
    assert!(during.header("cache-status").unwrap().contains("stale-if-error"), "{:?}", during.head);
    let member = w.get("/Plone/doc1", &[("cookie", "__ac=\"bWVtYmVyMQ==\"")], T0 + 3_700_000);
    assert_eq!(member.head.status, 502);
    // a day past the lifetime, nothing stands in
    let later = w.get("/Plone/doc1", &[], T0 + (3600 + 86_400 + 60) * 1000);
    assert_eq!(later.head.status, 502);
    down.set(false);
    let back = w.get("/Plone/doc1", &[], T0 + (3600 + 86_400 + 61) * 1000);
    assert_eq!((back.head.status, back.text().as_str()), (200, "public page"));
}

#[test]
fn plone6_logged_in_members_bypass_with_either_login_cookie_and_never_get_the_anonymous_copy() {
    let mut w = <World as Scenario>::new("plone6-splitviews", plone_view);
    assert_eq!(w.get("/Plone/doc1", &[], T0).text(), "public page");
    for cookie in ["__ac=\"bWVtYmVyMQ==\"", "auth_token=eyJhbGciOi.x.y", "I18N_LANGUAGE=\"en\"; __ac=abc"] {
        let m = w.get("/Plone/doc1", &[("cookie", cookie)], T0 + 1000);
        assert_eq!(m.text(), "page for member1", "{cookie}");
        assert_ne!(m.outcome, Outcome::Hit, "{cookie}");
        assert_eq!(m.header("cache-control"), Some("max-age=0, must-revalidate, private"), "{cookie}");
    }
    // and nothing of theirs was kept: anonymous still gets the anonymous copy
    let a = w.get("/Plone/doc1", &[], T0 + 2000);
    assert_eq!((a.outcome, a.text().as_str()), (Outcome::Hit, "public page"));
}

#[test]
fn plone6_never_keeps_a_page_for_a_cookie_zope_may_read_as_a_login() {
    // Zope ends a quoted cookie value at `,`: to Plone this is a login, to the edge one cookie.
    let mut w = <World as Scenario>::new("plone6-splitviews", |req| {
        let mut r = plone_view(req);
        let zope_sees_login = req.headers.get("cookie").is_some_and(|c| c.contains("__ac="));
        if let (Some((head, body)), true) = (r.as_mut(), zope_sees_login) {
            head.headers.set("etag", "\"|member1|24|en\"");
            *body = b"page for member1".to_vec();
        }
        r
    });
    for cookie in ["a=\"1, __ac=bWVtYmVyMQ==\"", "a=1,__ac=bWVtYmVyMQ==", "x=\"__ac_name=y\""] {
        let odd = w.get("/Plone/doc1", &[("cookie", cookie)], T0);
        assert!(!odd.header("cache-status").unwrap().contains("stored"), "{cookie}");
        let a = w.get("/Plone/doc1", &[], T0 + 1000);
        assert_eq!(a.text(), "public page", "{cookie}");
    }
    // with Authorization under a policy that does not count it, nothing private is kept either
    let mut p: serde_json::Value =
        serde_json::from_str(Policy::profiles().iter().find(|(id, _)| *id == "plone6-splitviews").unwrap().1)
            .unwrap();
    p["splitView"]["authorizationHeader"] = serde_json::Value::Bool(false);
    let mut w = <World as Scenario>::new("plone6-splitviews", plone_view);
    w.policy = Policy::from_json(&p.to_string()).unwrap();
    let basic = w.get("/Plone/doc1", &[("authorization", "Basic bWVtYmVyMTpwdw==")], T0);
    assert!(!basic.header("cache-status").unwrap().contains("stored"));
}

#[test]
fn plone6_status_messages_bypass_and_a_private_answer_to_other_statuses_is_not_kept() {
    let mut w = <World as Scenario>::new("plone6-splitviews", plone_view);
    w.get("/Plone/doc1", &[], T0);
    let s = w.get("/Plone/doc1", &[("cookie", "statusmessages=\"BAFDaGFuZ2VzIHNhdmVkLmluZm8=\"")], T0 + 1000);
    assert_eq!(s.outcome, Outcome::Bypass);
    assert!(s.header("cache-status").unwrap().contains("cache-stop"));

    let mut w = <World as Scenario>::new("plone6-splitviews", |_| {
        resp(
            404,
            &[
                ("cache-control", "max-age=0, must-revalidate, private"),
                ("x-cache-rule", "plone.content.itemView"),
            ],
            "not found",
        )
    });
    w.get("/Plone/missing", &[], T0);
    assert_ne!(w.get("/Plone/missing", &[], T0 + 1000).outcome, Outcome::Hit);
    assert_eq!(w.origin_hits(), 2);
}

#[test]
fn a_private_answer_stays_private_without_the_explicit_parameter() {
    // The classic split-view profile, the same Plone answer: nothing is stored.
    let mut w = <World as Scenario>::new("with-caching-proxy-splitviews", |req| {
        let mut r = plone_view(req);
        if let Some((head, _)) = r.as_mut() {
            head.headers.set("x-cache-ruleset", "plone.content.itemView");
        }
        r
    });
    w.get("/Plone/doc1", &[], T0);
    let again = w.get("/Plone/doc1", &[], T0 + 1000);
    assert_ne!(again.outcome, Outcome::Hit);
    assert!(again.header("cache-status").unwrap().contains("detail=private"));
}

#[test]
fn store_anonymous_private_needs_anon_only_and_does_not_apply_to_honour_origin() {
    let bundle = |params: &str| {
        format!(
            r#"{{"version":1,"name":"t","rulesets":{{"r":{{}}}},
                "operations":{{"r":{{"operation":"moderateCaching","parameters":{params}}}}}}}"#
        )
    };
    let errors = Policy::from_json(&bundle(r#"{"storeAnonymousPrivate":true}"#)).unwrap_err();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].path, "/operations/r/parameters/storeAnonymousPrivate");
    assert!(errors[0].message.contains("anonOnly"), "{}", errors[0].message);
    assert!(Policy::from_json(&bundle(r#"{"storeAnonymousPrivate":true,"anonOnly":true}"#)).is_ok());
    let honour = r#"{"version":1,"name":"t","rulesets":{"r":{}},
        "operations":{"r":{"operation":"honourOrigin","parameters":{"storeAnonymousPrivate":true}}}}"#;
    assert!(Policy::from_json(honour).is_err());
}

/// Plone's answer for a theme resource (strongCaching): `public` to everybody, logged in or
/// not; `private` only where the test asks for it.
fn plone_resource(private: bool) -> impl Fn(&RequestHead) -> OriginResult {
    move |_req| {
        let cc = if private { "max-age=86400, private" } else { "max-age=86400, proxy-revalidate, public" };
        resp(
            200,
            &[
                ("content-type", "text/css"),
                ("cache-control", cc),
                ("last-modified", "Sat, 03 Dec 2016 23:13:14 GMT"),
                ("x-cache-rule", "plone.resource"),
            ],
            "body { color: black }",
        )
    }
}

/// Members' requests for theme resources (a fifth of what a logged-in visitor asks for in the
/// offload benchmark) are served from one copy shared by every logged-in visitor, as Plone
/// answers them `public`; an answer Plone marks `private` is still never kept, and the
/// anonymous copy stays apart.
#[test]
fn plone6_shares_public_theme_resources_between_logged_in_visitors_only_when_plone_says_public() {
    let css = "/Plone/++plone++static/plone.min.css";
    let mut w = <World as Scenario>::new("plone6-splitviews", plone_resource(false));
    let first = w.get(css, &[("cookie", "__ac=\"bWVtYmVyMQ==\"")], T0);
    assert_eq!(first.outcome, Outcome::Miss);
    assert!(first.header("cache-status").unwrap().contains("stored"), "{:?}", first.head);
    let other = w.get(css, &[("cookie", "__ac=\"bWVtYmVyMg==\"")], T0 + 1000);
    assert_eq!(other.outcome, Outcome::Hit);
    // downstream the member's copy is private (split-view: never public for a logged-in answer)
    assert!(other.header("cache-control").unwrap().contains("private"), "{:?}", other.head);
    assert_eq!(w.origin_hits(), 1);
    // the anonymous copy is its own
    assert_eq!(w.get(css, &[], T0 + 2000).outcome, Outcome::Miss);
    assert_eq!(w.origin_hits(), 2);

    let mut w = <World as Scenario>::new("plone6-splitviews", plone_resource(true));
    w.get(css, &[("cookie", "__ac=\"bWVtYmVyMQ==\"")], T0);
    assert_ne!(w.get(css, &[("cookie", "__ac=\"bWVtYmVyMg==\"")], T0 + 1000).outcome, Outcome::Hit);
    assert_eq!(w.origin_hits(), 2);
    // and a member's page view still bypasses
    let mut w = <World as Scenario>::new("plone6-splitviews", plone_view);
    let page = w.get("/Plone/doc1", &[("cookie", "__ac=\"bWVtYmVyMQ==\"")], T0);
    assert_eq!(page.text(), "page for member1");
    assert_ne!(w.get("/Plone/doc1", &[("cookie", "__ac=\"bWVtYmVyMQ==\"")], T0 + 1000).outcome, Outcome::Hit);
}

#[test]
fn plone6_classifies_by_the_origin_hint_and_keeps_the_static_rules() {
    let p = Policy::bundled("plone6-splitviews").unwrap();
    assert_eq!(p.ruleset_hint_header(), Some("x-cache-rule"));
    let get =
        |path: &str| RequestHead::parse("GET", &format!("https://x.example{path}"), Headers::new()).unwrap();
    let ruleset = |path: &str| p.classify_request(&get(path)).map(|c| c.ruleset.to_string());
    assert_eq!(ruleset("/Plone/++plone++static/plone.js").as_deref(), Some("plone.resource"));
    assert_eq!(ruleset("/Plone/doc1/@@images/image-800-1f3c.jpeg").as_deref(), Some("plone.stableResource"));
    assert_eq!(ruleset("/Plone/news"), None, "views are left to X-Cache-Rule");
    assert_eq!(ruleset("/news"), None);
}

/// Django's answer for an anonymous cache_page view: Vary: Cookie from SessionMiddleware.
fn django_page(req: &RequestHead) -> OriginResult {
    let cookies = req.headers.get("cookie").unwrap_or("");
    if cookies.contains("sessionid=") {
        return resp(200, &[("vary", "Cookie"), ("content-type", "text/html")], "hello member");
    }
    resp(
        200,
        &[("cache-control", "max-age=60"), ("vary", "Cookie"), ("content-type", "text/html")],
        "hello anonymous",
    )
}

#[test]
fn django_vary_cookie_is_keyed_on_the_session_and_language_cookies_only() {
    let mut w = <World as Scenario>::new("django", django_page);
    assert_eq!(w.get("/", &[], T0).outcome, Outcome::Miss);
    // analytics and csrftoken do not split the anonymous copy
    for cookie in ["_ga=GA1.2.3", "csrftoken=abc123; _ga=1", "csrftoken=zzz"] {
        let a = w.get("/", &[("cookie", cookie)], T0 + 1000);
        assert_eq!((a.outcome, a.text().as_str()), (Outcome::Hit, "hello anonymous"), "{cookie}");
    }
    // a language cookie is its own variant
    assert_eq!(w.get("/", &[("cookie", "django_language=fr")], T0 + 1000).outcome, Outcome::Miss);
    // a quoted or comma-bearing Cookie is keyed whole: servers split those differently
    assert_eq!(w.get("/", &[("cookie", "a=\"1, b=2\"")], T0 + 1000).outcome, Outcome::Miss);
    // logged in: its own page every time, never stored
    for _ in 0..2 {
        let m = w.get("/", &[("cookie", "sessionid=s3ss10n; csrftoken=abc")], T0 + 2000);
        assert_eq!(m.text(), "hello member");
        assert_ne!(m.outcome, Outcome::Hit);
    }
    // cache_page's max-age is the edge lifetime
    assert_ne!(w.get("/", &[], T0 + 61_000).outcome, Outcome::Hit);
}

#[test]
fn django_messages_bypass_and_hashed_statics_are_kept() {
    let mut w = <World as Scenario>::new("django", |req| {
        if req.url.path().starts_with("/static/") {
            return resp(200, &[("cache-control", "max-age=315360000, public, immutable")], "css");
        }
        django_page(req)
    });
    w.get("/", &[], T0);
    let m = w.get("/", &[("cookie", "messages=W1siX19qc29uX21lc3NhZ2UiXV0:1x")], T0 + 1000);
    assert_eq!(m.outcome, Outcome::Bypass);
    w.get("/static/app.3f2a1b4c5d6e.css", &[], T0);
    let s = w.get("/static/app.3f2a1b4c5d6e.css", &[], T0 + 300 * 86_400_000);
    assert_eq!((s.outcome, s.ruleset.as_deref()), (Outcome::Hit, Some("django.static")));
}
