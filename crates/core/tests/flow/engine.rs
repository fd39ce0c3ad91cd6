//! Scenario tests of the whole request flow (engine + policy + RFC core) on a fake clock, on
//! the one test world (`rulecache::testing::world`: one edge's tiers, a scripted origin).

#![allow(clippy::unwrap_used, clippy::type_complexity)]
use rulecache::http::{RequestHead, Time};
use rulecache::policy::Policy;
use rulecache::storage::meta::{Meta, Purged};
use rulecache::storage::stats::Outcome;
use rulecache::testing::sim::{Exchange, OriginResult};
use rulecache::testing::world::{response as resp, ScriptedOrigin, World, T0};

/// An origin answering from a script that sees the request and its number among the requests
/// for its path.
fn origin(answer: impl Fn(&RequestHead, u32) -> OriginResult + 'static) -> ScriptedOrigin {
    ScriptedOrigin::per_path(move |req, n, _| answer(req, u32::try_from(n).unwrap_or(u32::MAX)))
}

/// The world of these scenarios: the bundled default profile in front of `origin`.
fn world(origin: ScriptedOrigin) -> World {
    World::new(Policy::default_profile(), origin)
}

trait Scenario {
    fn with_policy(self, json: &str) -> Self;
    fn request(&mut self, method: &str, path: &str, headers: &[(&str, &str)], at: Time) -> Exchange;
    fn get(&mut self, path: &str, at: Time) -> Exchange;
}

impl Scenario for World {
    fn with_policy(mut self, json: &str) -> Self {
        self.policy = Policy::from_json(json).unwrap();
        self
    }

    fn request(&mut self, method: &str, path: &str, headers: &[(&str, &str)], at: Time) -> Exchange {
        self.send_at(method, path, headers, at)
    }

    fn get(&mut self, path: &str, at: Time) -> Exchange {
        self.send_at("GET", path, &[], at)
    }
}

fn status(x: &Exchange) -> &str {
    x.header("cache-status").unwrap_or("")
}

#[test]
fn a_fresh_stored_response_is_served_with_age_and_without_the_origin() {
    let mut w = world(origin(|_, n| resp(200, &[("cache-control", "max-age=60")], &format!("v{n}"))));
    let first = w.get("/t/a", T0);
    assert_eq!(first.outcome, Outcome::Miss);
    assert!(status(&first).contains("fwd=uri-miss") && status(&first).contains("stored"));
    let second = w.get("/t/a", T0 + 30_000);
    assert_eq!(second.outcome, Outcome::Hit);
    assert_eq!(second.text(), "v1");
    assert_eq!(second.header("age"), Some("30"));
    assert_eq!(w.origin.calls_to("/t/a"), 1);
    let later = w.get("/t/a", T0 + 61_000);
    assert_eq!(later.text(), "v2", "stale after max-age: fetched again");
}

#[test]
fn a_response_that_sets_a_cookie_or_is_private_is_never_stored() {
    for cc in [("set-cookie", "a=1"), ("cache-control", "private, max-age=60")] {
        let mut w = world(origin(move |_, _| resp(200, &[("cache-control", "max-age=60"), cc], "x")));
        let first = w.get("/t/b", T0);
        assert!(!status(&first).contains("stored"), "{cc:?}: {}", status(&first));
        w.get("/t/b", T0 + 1000);
        assert_eq!(w.origin.calls_to("/t/b"), 2, "{cc:?}");
    }
}

#[test]
fn a_stale_entry_is_revalidated_with_its_validators_and_a_304_refreshes_it() {
    let mut w = world(origin(|req, _| {
        if req.headers.get("if-none-match") == Some("\"e1\"") {
            resp(304, &[("cache-control", "max-age=10"), ("etag", "\"e1\""), ("x-new", "yes")], "")
        } else {
            resp(200, &[("cache-control", "max-age=10"), ("etag", "\"e1\"")], "body-1")
        }
    }));
    w.get("/t/r", T0);
    let x = w.get("/t/r", T0 + 20_000);
    assert_eq!(x.outcome, Outcome::Revalidated304);
    assert_eq!(x.text(), "body-1");
    assert_eq!(x.header("x-new"), Some("yes"), "the 304's fields update the stored ones");
    assert_eq!(w.origin.last().unwrap().headers.get("if-none-match"), Some("\"e1\""));
    let y = w.get("/t/r", T0 + 25_000);
    assert_eq!(y.outcome, Outcome::Hit, "the age was reset by the 304");
}

#[test]
fn the_clients_own_conditionals_are_answered_by_the_edge() {
    let mut w = world(origin(|_, _| resp(200, &[("cache-control", "max-age=60"), ("etag", "\"abc\"")], "x")));
    w.get("/t/c", T0);
    let x = w.request("GET", "/t/c", &[("if-none-match", "W/\"abc\"")], T0 + 1000);
    assert_eq!(x.head.status, 304);
    assert!(x.body.is_empty());
    assert_eq!(w.origin.calls_to("/t/c"), 1);
    // a miss forwards the client's If-None-Match (nothing stored can answer it); an origin
    // that answers 200 all the same has its response stored, and the edge answers the
    // client's conditional from it with a 304
    let y = w.request("GET", "/t/c2", &[("if-none-match", "\"abc\"")], T0);
    assert_eq!(y.head.status, 304);
    assert_eq!(w.origin.last().unwrap().headers.get("if-none-match"), Some("\"abc\""));
    let z = w.get("/t/c2", T0 + 1000);
    assert_eq!((z.outcome, z.text().as_str()), (Outcome::Hit, "x"));
}

#[test]
fn stale_while_revalidate_serves_stale_and_refreshes_in_the_background() {
    let mut w = world(origin(|_, n| {
        resp(
            200,
            &[("cache-control", "max-age=10, stale-while-revalidate=60"), ("etag", &format!("\"{n}\""))],
            &format!("v{n}"),
        )
    }));
    w.get("/t/swr", T0);
    let x = w.get("/t/swr", T0 + 20_000);
    assert_eq!(x.outcome, Outcome::StaleServed);
    assert_eq!(x.text(), "v1");
    assert!(status(&x).contains("stale-while-revalidate"));
    assert_eq!(w.origin.calls_to("/t/swr"), 2, "revalidated in the background");
    let y = w.get("/t/swr", T0 + 21_000);
    assert_eq!(y.text(), "v2");
}

#[test]
fn stale_if_error_serves_stale_when_the_origin_fails_but_not_with_must_revalidate() {
    for (cc, expect_stale) in
        [("max-age=1, stale-if-error=300", true), ("max-age=1, stale-if-error=300, must-revalidate", false)]
    {
        let mut w = world(origin(
            move |_, n| if n == 1 { resp(200, &[("cache-control", cc)], "good") } else { None },
        ));
        w.get("/t/sie", T0);
        let x = w.get("/t/sie", T0 + 10_000);
        if expect_stale {
            assert_eq!(x.text(), "good");
            assert!(status(&x).contains("stale-if-error"));
        } else {
            assert_eq!(x.head.status, 502, "{cc}");
        }
    }
}

#[test]
fn vary_keeps_variants_apart_and_vary_star_is_never_served() {
    let mut w = world(origin(|req, _| {
        let lang = req.headers.get("accept-language").unwrap_or("none").to_string();
        resp(200, &[("cache-control", "max-age=60"), ("vary", "Accept-Language")], &lang)
    }));
    w.request("GET", "/t/v", &[("accept-language", "en")], T0);
    w.request("GET", "/t/v", &[("accept-language", "de")], T0);
    let en = w.request("GET", "/t/v", &[("accept-language", "en")], T0 + 1000);
    let de = w.request("GET", "/t/v", &[("accept-language", "de")], T0 + 1000);
    assert_eq!((en.text().as_str(), de.outcome), ("en", Outcome::Hit));
    assert_eq!(de.text(), "de");

    let mut w = world(origin(|_, _| resp(200, &[("cache-control", "max-age=60"), ("vary", "*")], "x")));
    w.get("/t/star", T0);
    w.get("/t/star", T0 + 1000);
    assert_eq!(w.origin.calls_to("/t/star"), 2);
}

#[test]
fn an_unsafe_request_invalidates_the_target_and_same_origin_location() {
    let mut w = world(origin(|req, _| match req.method.as_str() {
        "POST" => resp(201, &[("location", "/t/other")], ""),
        _ => resp(200, &[("cache-control", "max-age=600")], "x"),
    }));
    w.get("/t/inv", T0);
    w.get("/t/other", T0);
    w.request("POST", "/t/inv", &[], T0 + 1000);
    assert_eq!(w.get("/t/inv", T0 + 2000).outcome, Outcome::Miss);
    assert_eq!(w.get("/t/other", T0 + 2000).outcome, Outcome::Miss);
}

#[test]
fn split_view_never_crosses_audiences_and_logged_in_views_bypass() {
    let mut w = world(origin(|req, _| {
        let who = if req.headers.get("x-anonymous") == Some("1") { "anonymous" } else { "user" };
        resp(200, &[("etag", &format!("\"{who}\"")), ("content-type", "text/html")], who)
    }));
    let a = w.request("GET", "/news", &[("x-anonymous", "0")], T0);
    assert_eq!(a.text(), "anonymous");
    assert_eq!(
        w.origin.last().unwrap().headers.get("x-anonymous"),
        Some("1"),
        "the client's value was replaced"
    );
    assert!(a.header("vary").unwrap_or("").contains("X-Anonymous"));
    assert_eq!(w.request("GET", "/news", &[], T0 + 1000).outcome, Outcome::Hit);
    // logged in, even claiming to be anonymous: its own fresh page, never the cached one
    let u =
        w.request("GET", "/news", &[("cookie", "__ac=YWxpY2U6YWxpY2U="), ("x-anonymous", "1")], T0 + 2000);
    assert_eq!(u.text(), "user");
    assert_eq!(u.outcome, Outcome::Bypass);
    assert!(status(&u).contains("anon-only"));
    assert_eq!(w.origin.last().unwrap().headers.get("x-anonymous"), None);
    // a cookie that only contains the auth cookie's name is anonymous
    let x = w.request("GET", "/news", &[("cookie", "x__ac=1")], T0 + 3000);
    assert_eq!((x.text().as_str(), x.outcome), ("anonymous", Outcome::Hit));
    // an Authorization header authenticates
    let b = w.request("GET", "/news", &[("authorization", "Basic Ym9iOmJvYg==")], T0 + 3000);
    assert_eq!(b.text(), "user");
}

#[test]
fn purges_from_the_ledger_make_misses_or_force_revalidation() {
    let mut w = world(origin(|req, n| {
        if req.headers.contains("if-none-match") {
            resp(304, &[("cache-control", "max-age=600"), ("etag", "\"p\"")], "")
        } else {
            resp(200, &[("cache-control", "max-age=600"), ("etag", "\"p\"")], &format!("v{n}"))
        }
    }));
    w.get("/t/p", T0);
    w.purged =
        Box::new(|m: &Meta| if m.stored_at <= T0 { Purged::Soft { at: T0 + 500 } } else { Purged::No });
    let soft = w.get("/t/p", T0 + 1000);
    assert_eq!(soft.outcome, Outcome::Revalidated304);
    w.purged = Box::new(|m: &Meta| if m.stored_at <= T0 + 1000 { Purged::Hard } else { Purged::No });
    let hard = w.get("/t/p", T0 + 2000);
    assert_eq!(hard.outcome, Outcome::Miss);
    assert!(status(&hard).contains("purged"));
}

#[test]
fn only_if_cached_on_a_miss_is_a_504_and_head_is_served_from_a_stored_get() {
    let mut w = world(origin(|_, _| resp(200, &[("cache-control", "max-age=60")], "body")));
    let x = w.request("GET", "/t/oic", &[("cache-control", "only-if-cached")], T0);
    assert_eq!(x.head.status, 504);
    assert_eq!(w.origin.calls_to("/t/oic"), 0);
    w.get("/t/h", T0);
    let h = w.request("HEAD", "/t/h", &[], T0 + 1000);
    assert_eq!(h.outcome, Outcome::Hit);
    assert!(h.body.is_empty());
}

#[test]
fn policy_operations_set_downstream_headers_and_edge_lifetimes_separately() {
    let mut w = world(origin(|_, _| {
        resp(200, &[("cache-control", "private"), ("last-modified", "Wed, 01 Jan 2025 00:00:00 GMT")], "js")
    }));
    let x = w.get("/++plone++static/++unique++1/app.js", T0);
    let cc = x.header("cache-control").unwrap_or("");
    assert!(cc.contains("public") && cc.contains("max-age=31536000"), "{cc}");
    // the origin said private: the policy does not override that at the edge
    assert!(!status(&x).contains("stored"));
}

#[test]
fn a_page_map_answers_before_any_lookup() {
    let json = Policy::profiles().iter().find(|(id, _)| *id == "with-caching-proxy-splitviews").unwrap().1;
    let mut bundle: serde_json::Value = serde_json::from_str(json).unwrap();
    bundle["pageMap"] = serde_json::json!([
        {"path": "/old", "action": "redirect301", "to": "/new"},
        {"path": "/gone", "action": "gone410"}
    ]);
    let mut w = world(origin(|_, _| resp(200, &[], "x"))).with_policy(&bundle.to_string());
    let r = w.get("/old", T0);
    assert_eq!((r.head.status, r.header("location")), (301, Some("/new")));
    assert_eq!(w.get("/gone", T0).head.status, 410);
    assert_eq!(w.origin.calls_to("/old") + w.origin.calls_to("/gone"), 0);
}

#[test]
fn an_entry_the_ledger_cannot_vouch_for_is_revalidated_first_and_says_so() {
    // stale-while-revalidate would serve it at once: an unverified entry waits for the origin.
    let mut w = world(origin(|req, n| {
        let h = [("cache-control", "max-age=600, stale-while-revalidate=600"), ("etag", "\"u\"")];
        if req.headers.contains("if-none-match") {
            resp(304, &h, "")
        } else {
            resp(200, &h, &format!("v{n}"))
        }
    }));
    w.get("/t/u", T0);
    w.purged =
        Box::new(
            |m: &Meta| {
                if m.request_time <= T0 {
                    Purged::Unverified { before: T0 + 1 }
                } else {
                    Purged::No
                }
            },
        );
    let x = w.get("/t/u", T0 + 20_000);
    assert_eq!(x.outcome, Outcome::Revalidated304);
    assert!(
        status(&x).contains("fwd=stale") && status(&x).contains("detail=ledger-unverified"),
        "{}",
        status(&x)
    );
    assert_eq!(w.origin.calls_to("/t/u"), 2, "revalidated before the answer");
    let y = w.get("/t/u", T0 + 21_000);
    assert_eq!(y.outcome, Outcome::Hit, "revalidated: its request time is now recent");
}

#[test]
fn the_origin_is_given_a_deadline_only_when_a_stale_entry_can_stand_in() {
    let mut w = world(origin(|_, n| {
        resp(200, &[("cache-control", "max-age=10, stale-if-error=600")], &format!("v{n}"))
    }));
    let miss = w.get("/t/deadline", T0);
    assert_eq!(miss.fetch_deadlines, [None], "nothing to fall back on: the origin is waited for");
    let stale = w.get("/t/deadline", T0 + 20_000);
    assert_eq!(stale.fetch_deadlines, [Some(rulecache::storage::tiers::ORIGIN_DEADLINE_MS)]);
    assert_eq!(stale.text(), "v2");

    let mut w = world(origin(|_, n| resp(200, &[("cache-control", "max-age=10")], &format!("v{n}"))));
    w.get("/t/no-fallback", T0);
    let stale = w.get("/t/no-fallback", T0 + 20_000);
    assert_eq!(stale.fetch_deadlines, [None], "a stale entry without stale-if-error cannot stand in");
}

/// A policy whose only way to a ruleset is the origin's trusted hint, with debug headers.
const HINTED: &str = r#"{
  "version": 1, "name": "hinted", "caching": {"debugHeaders": true},
  "rulesets": {"a.first": {}, "b.hinted": {}},
  "rulesetHint": {"header": "X-Cache-Ruleset", "trust": true},
  "operations": {"b.hinted": {"operation": "strongCaching", "parameters": {"maxage": 60, "smaxage": 60}}}
}"#;

#[test]
fn a_hit_keeps_the_ruleset_its_record_names_and_a_record_of_an_undeclared_one_is_unclassified() {
    let mut w = world(origin(|_, _| {
        resp(200, &[("cache-control", "max-age=60"), ("x-cache-ruleset", "b.hinted")], "x")
    }))
    .with_policy(HINTED);
    let first = w.get("/t/h", T0);
    assert_eq!(first.header("x-rulecache-rule"), Some("b.hinted"));
    let hit = w.get("/t/h", T0 + 1_000);
    assert_eq!(hit.outcome, Outcome::Hit);
    // The request names no ruleset; the stored record does, and its operation answers.
    assert_eq!(hit.header("x-rulecache-rule"), Some("b.hinted"));
    assert_eq!(hit.header("x-rulecache-operation"), Some("strongCaching"));
    assert_eq!(hit.ruleset.as_deref(), Some("b.hinted"), "counted under the record's ruleset");
    // A policy that no longer declares it: the entry is served by the default operation, and
    // shown and counted as unclassified.
    w = w.with_policy(
        &HINTED
            .replace("\"b.hinted\": {}", "\"c.other\": {}")
            .replace("\"operations\": {\"b.hinted\"", "\"operations\": {\"c.other\""),
    );
    let later = w.get("/t/h", T0 + 2_000);
    assert_eq!(later.outcome, Outcome::Hit);
    assert_eq!(later.header("x-rulecache-rule"), Some("(default)"));
    assert_eq!(later.header("x-rulecache-operation"), Some("honourOrigin"));
    assert_eq!(later.ruleset, None);
}
