//! The edge's tiers as the worker applies them, on the native harness (`sim::Edge`): the
//! memory tier's admission, hit-for-pass, the KV fallback, a 304 refreshing every tier that
//! holds the entry (the shared ones only when they gain from it), and the order of a reply's
//! effects.

#![allow(clippy::unwrap_used)]

use rulecache::flow::engine::{BodySource, Flow, Found, Step};
use rulecache::flow::{Effect, Tier};
use rulecache::http::{Headers, RequestHead, ResponseHead, Time};
use rulecache::policy::Policy;
use rulecache::storage::meta::{Meta, Purged};
use rulecache::storage::stats::Outcome;
use rulecache::storage::store::{MemoryStore, Record, Store};
use rulecache::storage::tiers::{MEMORY_MAX_ENTRY, PASS_MS};
use rulecache::testing::sim::{Edge, Exchange, OriginResult, Progress};

const T0: Time = 1_800_000_000_000;

/// Resources under /r/ are strongly cached in memory; under /p/ also persisted in KV.
const POLICY: &str = r#"{
  "version": 1, "name": "tiers",
  "rulesets": {"res": {"title": "r"}, "kept": {"title": "p"}},
  "rules": [
    {"id": "r", "ruleset": "res", "match": {"pathPrefix": "/r/"}},
    {"id": "p", "ruleset": "kept", "match": {"pathPrefix": "/p/"}}
  ],
  "operations": {
    "res": {"operation": "strongCaching", "parameters": {"maxage": 60, "ramCache": true}},
    "kept": {"operation": "strongCaching", "parameters": {"maxage": 60, "persist": true}}
  }
}"#;

fn get(path: &str) -> RequestHead {
    RequestHead::parse("GET", &format!("https://site.example{path}"), Headers::new()).unwrap()
}

fn body_of(len: usize) -> Vec<u8> {
    vec![b'x'; len]
}

fn ok(headers: &[(&str, &str)], body: Vec<u8>) -> OriginResult {
    let mut h = Headers::from_pairs(headers.iter().copied());
    h.set("content-length", body.len().to_string());
    Some((ResponseHead::new(200, h), body))
}

/// The entry `store` holds under `key` (the test fails when it holds none).
fn entry_in(store: &MemoryStore, key: &str) -> Meta {
    match store.get(key) {
        Some((Record::Entry(m), _)) => *m,
        other => panic!("{key}: {other:?}"),
    }
}

fn not_purged(_: &Meta) -> Purged {
    Purged::No
}

fn run(
    edge: &mut Edge,
    policy: &Policy,
    origin: &mut dyn FnMut(&RequestHead) -> OriginResult,
    path: &str,
    at: Time,
) -> Exchange {
    edge.run(policy, origin, get(path), at, &not_purged)
}

#[test]
fn a_small_body_is_kept_in_memory_and_the_next_request_is_served_from_it() {
    let policy = Policy::from_json(POLICY).unwrap();
    let mut edge = Edge::new();
    let mut origin = |_: &RequestHead| ok(&[], body_of(1000));
    assert_eq!(run(&mut edge, &policy, &mut origin, "/r/small", T0).outcome, Outcome::Miss);
    let hit = run(&mut edge, &policy, &mut origin, "/r/small", T0 + 1000);
    assert_eq!(hit.outcome, Outcome::Hit);
    assert_eq!(hit.looked_in, [Tier::Memory], "found in the memory tier: the Cache API was not asked");
    assert_eq!(hit.body.len(), 1000);
}

#[test]
fn a_body_over_the_memory_bound_or_of_unknown_length_goes_to_the_cache_api_only() {
    let policy = Policy::from_json(POLICY).unwrap();
    for (path, len, declared) in [("/r/big", MEMORY_MAX_ENTRY + 1, true), ("/r/unknown", 10, false)] {
        let mut edge = Edge::new();
        let mut origin = |_: &RequestHead| {
            let mut h = Headers::new();
            if declared {
                h.set("content-length", len.to_string());
            }
            Some((ResponseHead::new(200, h), body_of(len)))
        };
        run(&mut edge, &policy, &mut origin, path, T0);
        assert_eq!(edge.isolate.memory.len(), 0, "{path}: not in memory");
        let hit = run(&mut edge, &policy, &mut origin, path, T0 + 1000);
        assert_eq!(hit.outcome, Outcome::Hit, "{path}");
        assert_eq!(hit.looked_in, [Tier::Memory, Tier::Cache], "{path}: served from the Cache API");
        assert_eq!(hit.body.len(), len);
    }
}

#[test]
fn the_memory_tier_stays_within_its_capacity_evicting_the_oldest() {
    let policy = Policy::from_json(POLICY).unwrap();
    let mut edge = Edge::new();
    let mut origin = |_: &RequestHead| ok(&[], body_of(MEMORY_MAX_ENTRY));
    let n = rulecache::storage::tiers::MEMORY_CAPACITY / MEMORY_MAX_ENTRY + 8;
    for i in 0..n {
        run(&mut edge, &policy, &mut origin, &format!("/r/{i}"), T0);
    }
    assert!(edge.isolate.memory.bytes() <= rulecache::storage::tiers::MEMORY_CAPACITY);
    let first = run(&mut edge, &policy, &mut origin, "/r/0", T0 + 1000);
    assert_eq!(first.outcome, Outcome::Hit);
    assert_eq!(first.looked_in, [Tier::Memory, Tier::Cache], "the oldest left memory but not the Cache API");
    let last = run(&mut edge, &policy, &mut origin, &format!("/r/{}", n - 1), T0 + 1000);
    assert_eq!(last.looked_in, [Tier::Memory]);
}

#[test]
fn an_unstorable_url_is_marked_hit_for_pass_and_a_stored_response_clears_the_mark() {
    let policy = Policy::from_json(r#"{"version": 1, "name": "plain"}"#).unwrap();
    let mut edge = Edge::new();
    let cacheable = std::cell::Cell::new(false);
    // Bodies too large for the memory tier: every hit comes from the Cache API.
    let mut origin = |_: &RequestHead| {
        let cc = if cacheable.get() { "max-age=60" } else { "no-store" };
        ok(&[("cache-control", cc)], body_of(MEMORY_MAX_ENTRY + 1))
    };
    let first = run(&mut edge, &policy, &mut origin, "/t/pass", T0);
    assert_eq!(first.looked_in, [Tier::Memory, Tier::Cache]);
    let second = run(&mut edge, &policy, &mut origin, "/t/pass", T0 + 1000);
    assert_eq!(second.looked_in, [Tier::Memory], "marked: the Cache API lookup is skipped");
    assert_eq!(second.outcome, Outcome::Miss);
    // The mark expires.
    let later = run(&mut edge, &policy, &mut origin, "/t/pass", T0 + 1000 + PASS_MS);
    assert_eq!(later.looked_in, [Tier::Memory, Tier::Cache]);
    // A storable response clears it: the next request looks in the Cache API and hits.
    cacheable.set(true);
    run(&mut edge, &policy, &mut origin, "/t/pass", T0 + 2000 + PASS_MS);
    let hit = run(&mut edge, &policy, &mut origin, "/t/pass", T0 + 3000 + PASS_MS);
    assert_eq!(hit.outcome, Outcome::Hit);
    assert_eq!(hit.looked_in, [Tier::Memory, Tier::Cache]);
}

#[test]
fn a_persisted_entry_is_served_from_kv_where_the_location_holds_nothing() {
    let policy = Policy::from_json(POLICY).unwrap();
    let mut here = Edge::new();
    let calls = std::cell::Cell::new(0);
    let mut origin = |_: &RequestHead| {
        calls.set(calls.get() + 1);
        ok(&[], b"kept".to_vec())
    };
    run(&mut here, &policy, &mut origin, "/p/doc", T0);
    assert_eq!(here.kv.len(), 1, "persisted");
    // Another location: its own memory and Cache API, the same KV.
    let mut there = Edge { kv: std::mem::take(&mut here.kv), ..Edge::new() };
    let hit = run(&mut there, &policy, &mut origin, "/p/doc", T0 + 1000);
    assert_eq!(hit.outcome, Outcome::Hit);
    assert_eq!(hit.looked_in, [Tier::Memory, Tier::Cache, Tier::Kv]);
    assert_eq!(hit.text(), "kept");
    assert_eq!(calls.get(), 1, "the origin was asked once, by the first location");
    // Resources that do not persist never look in KV.
    let miss = run(&mut there, &policy, &mut origin, "/r/doc", T0 + 1000);
    assert_eq!(miss.looked_in, [Tier::Memory, Tier::Cache]);
}

#[test]
fn a_304_refreshes_the_entry_in_every_tier_that_holds_it() {
    let policy = Policy::from_json(
        r#"{"version": 1, "name": "refresh",
            "rulesets": {"res": {"title": "r"}},
            "rules": [{"id": "r", "ruleset": "res", "match": {"pathPrefix": "/r/"}}],
            "operations": {"res": {"operation": "strongCaching", "parameters": {"maxage": 10, "ramCache": true, "persist": true}}}}"#,
    )
    .unwrap();
    let mut edge = Edge::new();
    let mut origin = |req: &RequestHead| {
        if req.headers.get("if-none-match") == Some("\"e1\"") {
            let h =
                Headers::from_pairs([("etag", "\"e1\""), ("cache-control", "max-age=10"), ("x-fresh", "2")]);
            return Some((ResponseHead::new(304, h), Vec::new()));
        }
        ok(&[("etag", "\"e1\""), ("cache-control", "max-age=10"), ("x-fresh", "1")], b"body".to_vec())
    };
    run(&mut edge, &policy, &mut origin, "/r/e", T0);
    let revalidated = run(&mut edge, &policy, &mut origin, "/r/e", T0 + 20_000);
    assert_eq!(revalidated.outcome, Outcome::Revalidated304);
    assert_eq!(revalidated.text(), "body");
    let key = edge.cache.keys().next().map(str::to_string).unwrap();
    let in_memory = edge.isolate.memory.peek(&key).map(|(m, _)| (**m).clone()).unwrap();
    let (in_cache, in_kv) = (entry_in(&edge.cache, &key), entry_in(&edge.kv, &key));
    for (tier, meta) in [("memory", &in_memory), ("cache", &in_cache), ("kv", &in_kv)] {
        assert_eq!(meta.head.headers.get("x-fresh"), Some("2"), "{tier} holds the merged head");
        assert_eq!(meta.response_time, T0 + 20_000, "{tier} is fresh again");
    }
    // And it is fresh: served without the origin.
    let hit = run(&mut edge, &policy, &mut origin, "/r/e", T0 + 25_000);
    assert_eq!(hit.outcome, Outcome::Hit);
}

#[test]
fn a_304_leaving_the_entry_stale_on_arrival_rewrites_only_the_memory_copy() {
    // Everything under /h/ honours the origin; the origin answers `max-age=0` and revalidates
    // with 304s that change, in turn, nothing, the lifetime, the stale-if-error window, the
    // Last-Modified date.
    let policy = Policy::from_json(
        r#"{"version": 1, "name": "zero",
            "rulesets": {"h": {"title": "h"}},
            "rules": [{"id": "h", "ruleset": "h", "match": {"pathPrefix": "/h/"}}],
            "operations": {}}"#,
    )
    .unwrap();
    let answers: [&[(&str, &str)]; 4] = [
        &[("etag", "\"e1\""), ("cache-control", "max-age=0")],
        &[("etag", "\"e1\""), ("cache-control", "max-age=60")],
        &[("etag", "\"e1\""), ("cache-control", "max-age=0, stale-if-error=60")],
        &[
            ("etag", "\"e1\""),
            ("cache-control", "max-age=0"),
            ("last-modified", "Tue, 02 Jan 2024 00:00:00 GMT"),
        ],
    ];
    for (i, fields) in answers.iter().enumerate() {
        let mut edge = Edge::new();
        let mut origin = |req: &RequestHead| {
            if req.headers.get("if-none-match").is_some() {
                return Some((
                    ResponseHead::new(304, Headers::from_pairs(fields.iter().copied())),
                    Vec::new(),
                ));
            }
            ok(
                &[
                    ("etag", "\"e1\""),
                    ("cache-control", "max-age=0"),
                    ("last-modified", "Mon, 01 Jan 2024 00:00:00 GMT"),
                ],
                b"body".to_vec(),
            )
        };
        run(&mut edge, &policy, &mut origin, "/h/zero", T0);
        let revalidated = run(&mut edge, &policy, &mut origin, "/h/zero", T0 + 5_000);
        assert_eq!(revalidated.outcome, Outcome::Revalidated304, "answer {i}");
        assert_eq!(revalidated.text(), "body");
        let key = edge.cache.keys().next().map(str::to_string).unwrap();
        let in_cache = entry_in(&edge.cache, &key);
        let rewritten = in_cache.response_time == T0 + 5_000;
        assert_eq!(rewritten, i > 0, "answer {i}: the Cache API copy rewritten only when it gains");
        if let Some((m, _)) = edge.isolate.memory.peek(&key) {
            assert_eq!(m.response_time, T0 + 5_000, "answer {i}: the memory copy is always refreshed");
        }
    }
}

#[test]
fn a_storable_miss_puts_memory_before_the_answer_and_the_rest_after() {
    let policy = Policy::from_json(POLICY).unwrap();
    let (mut flow, step) = Flow::start(&policy, get("/r/order"), T0, false);
    assert!(matches!(step, Step::Lookup { kv: false, .. }));
    let Step::Fetch { .. } = flow.found(&policy, Found::Nothing, Purged::No, T0) else { panic!("fetch") };
    let Step::Respond(mut reply) = flow.origin_response(&policy, ok(&[], body_of(10)).unwrap().0, T0) else {
        panic!("respond")
    };
    let effects = flow.effects(&policy, &mut reply);
    let names: Vec<String> = effects
        .iter()
        .map(|e| match e {
            Effect::Pass { change, .. } => format!("pass {change:?}"),
            Effect::Put { tier, body, .. } => format!("put {tier:?} {body:?}"),
            Effect::Forget { tier, .. } => format!("forget {tier:?}"),
            Effect::Answer => "answer".into(),
            Effect::WriteIndex { .. } => "index".into(),
            Effect::Delete { .. } => "delete".into(),
            Effect::Record(_) => "record".into(),
            Effect::Background(_) => "background".into(),
        })
        .collect();
    assert_eq!(
        names,
        [
            "pass Clear",
            &format!("put Memory {:?}", BodySource::Origin),
            "answer",
            &format!("put Cache {:?}", BodySource::Origin)
        ]
    );
    assert!(reply.store.is_none(), "the store order moved into the effects");
}

#[test]
fn two_misses_for_one_entry_collapse_behind_one_origin_fetch() {
    let policy = Policy::from_json(r#"{"version": 1, "name": "plain"}"#).unwrap();
    let mut edge = Edge::new();
    let calls = std::cell::Cell::new(0);
    let mut origin = |_: &RequestHead| {
        calls.set(calls.get() + 1);
        ok(&[("cache-control", "max-age=60")], b"one".to_vec())
    };
    let mut a = edge.start(&policy, get("/t/collapse"), T0);
    let mut b = edge.start(&policy, get("/t/collapse"), T0);
    assert!(matches!(edge.advance(&policy, &mut a, &mut origin, T0, &not_purged), Progress::Leading));
    assert!(matches!(edge.advance(&policy, &mut b, &mut origin, T0, &not_purged), Progress::Waiting));
    assert!(
        matches!(edge.advance(&policy, &mut b, &mut origin, T0, &not_purged), Progress::Waiting),
        "still in flight"
    );
    let Progress::Done(first) = edge.advance(&policy, &mut a, &mut origin, T0, &not_purged) else {
        panic!("a done")
    };
    assert_eq!(first.outcome, Outcome::Miss);
    let Progress::Done(second) = edge.advance(&policy, &mut b, &mut origin, T0, &not_purged) else {
        panic!("b done")
    };
    assert_eq!(second.outcome, Outcome::Hit, "b was answered from what a stored");
    assert_eq!(second.text(), "one");
    assert_eq!(calls.get(), 1, "one origin fetch for both");
}

#[test]
fn no_collapse_for_a_url_marked_hit_for_pass() {
    let policy = Policy::from_json(r#"{"version": 1, "name": "plain"}"#).unwrap();
    let mut edge = Edge::new();
    let calls = std::cell::Cell::new(0);
    let mut origin = |_: &RequestHead| {
        calls.set(calls.get() + 1);
        ok(&[("cache-control", "no-store")], b"private".to_vec())
    };
    run(&mut edge, &policy, &mut origin, "/t/uncollapsed", T0);
    let mut a = edge.start(&policy, get("/t/uncollapsed"), T0 + 1);
    let mut b = edge.start(&policy, get("/t/uncollapsed"), T0 + 1);
    // Neither waits for the other: each goes to the origin at once.
    assert!(matches!(edge.advance(&policy, &mut a, &mut origin, T0 + 1, &not_purged), Progress::Done(_)));
    assert!(matches!(edge.advance(&policy, &mut b, &mut origin, T0 + 1, &not_purged), Progress::Done(_)));
    assert_eq!(calls.get(), 3);
}

#[test]
fn a_waiter_that_gives_up_looks_again_and_fetches_alone() {
    let policy = Policy::from_json(r#"{"version": 1, "name": "plain"}"#).unwrap();
    let mut edge = Edge::new();
    let calls = std::cell::Cell::new(0);
    let mut origin = |_: &RequestHead| {
        calls.set(calls.get() + 1);
        ok(&[("cache-control", "max-age=60")], format!("v{}", calls.get()).into_bytes())
    };
    let mut a = edge.start(&policy, get("/t/stuck"), T0);
    assert!(matches!(edge.advance(&policy, &mut a, &mut origin, T0, &not_purged), Progress::Leading));
    // a never finishes; a plain run waits as long as it may, then fetches alone.
    let alone = run(&mut edge, &policy, &mut origin, "/t/stuck", T0);
    assert_eq!(alone.outcome, Outcome::Miss);
    assert_eq!(calls.get(), 1);
}

#[test]
fn a_background_304_refreshes_a_persisted_entry_with_its_body_where_only_kv_held_it() {
    // A stale-while-revalidate ruleset that persists: one location stores the page, another
    // holds it only in KV, serves it stale and revalidates it in the background; the origin
    // answers 304. Every tier that takes the refreshed entry takes it with its body.
    let policy = Policy::from_json(
        r#"{"version": 1, "name": "swr-kv",
            "rulesets": {"kept": {"title": "k"}},
            "rules": [{"id": "k", "ruleset": "kept", "match": {"pathPrefix": "/k/"}}],
            "operations": {"kept": {"operation": "strongCaching",
                "parameters": {"maxage": 2, "staleWhileRevalidate": 120, "persist": true}}}}"#,
    )
    .unwrap();
    let page = body_of(2000);
    let calls = std::cell::Cell::new(0);
    let mut origin = |req: &RequestHead| {
        calls.set(calls.get() + 1);
        if req.headers.get("if-none-match") == Some("\"p1\"") {
            let h = Headers::from_pairs([("etag", "\"p1\"")]);
            return Some((ResponseHead::new(304, h), Vec::new()));
        }
        ok(&[("etag", "\"p1\"")], page.clone())
    };
    let mut a = Edge::new();
    run(&mut a, &policy, &mut origin, "/k/page", T0);
    let mut b = Edge { kv: std::mem::take(&mut a.kv), ..Edge::new() };
    let stale = run(&mut b, &policy, &mut origin, "/k/page", T0 + 3000);
    assert_eq!(stale.outcome, Outcome::StaleServed);
    assert_eq!(stale.body.len(), 2000);
    assert_eq!(calls.get(), 2, "the background revalidation asked the origin");
    let key = b.kv.keys().next().map(str::to_string).unwrap();
    let (_, in_kv) = b.kv.get(&key).unwrap();
    assert_eq!(in_kv.len(), 2000, "KV keeps the body");
    assert_eq!(entry_in(&b.kv, &key).response_time, T0 + 3000, "and the refreshed record");
    let hit = run(&mut b, &policy, &mut origin, "/k/page", T0 + 3500);
    assert_eq!((hit.outcome, hit.body.len()), (Outcome::Hit, 2000));
    // A third location, with nothing but KV.
    let mut c = Edge { kv: std::mem::take(&mut b.kv), ..Edge::new() };
    let hit = run(&mut c, &policy, &mut origin, "/k/page", T0 + 4000);
    assert_eq!((hit.outcome, hit.body.len()), (Outcome::Hit, 2000));
}

#[test]
fn a_background_revalidation_of_an_entry_gone_meanwhile_stores_nothing() {
    let policy = Policy::from_json(
        r#"{"version": 1, "name": "swr",
            "rulesets": {"s": {"title": "s"}},
            "rules": [{"id": "s", "ruleset": "s", "match": {"pathPrefix": "/s/"}}],
            "operations": {"s": {"operation": "strongCaching",
                "parameters": {"maxage": 2, "staleWhileRevalidate": 120}}}}"#,
    )
    .unwrap();
    let (flow, step) = Flow::start(&policy, get("/s/x"), T0, false);
    let mut flow = flow;
    let Step::Lookup { key, .. } = step else { panic!("{step:?}") };
    let mut meta = {
        let mut edge = Edge::new();
        let mut origin = |_: &RequestHead| ok(&[("etag", "\"s1\"")], b"s".to_vec());
        run(&mut edge, &policy, &mut origin, "/s/x", T0);
        entry_in(&edge.cache, key.as_str())
    };
    meta.body_len = 1;
    let Step::Respond(mut reply) = flow.found(&policy, Found::Entry(Box::new(meta)), Purged::No, T0 + 3000)
    else {
        panic!("served stale")
    };
    let mut bg = *reply.background.take().expect("a background revalidation");
    // Its first step looks the entry up again; it is gone: the origin is not asked, nothing stored.
    let Step::Lookup { key: again, .. } = bg.background_step() else { panic!("looks up first") };
    assert_eq!(again, key);
    let Step::Respond(mut done) = bg.found(&policy, Found::Nothing, Purged::No, T0 + 3000) else {
        panic!("ends")
    };
    assert!(bg.effects(&policy, &mut done).iter().all(|e| matches!(e, Effect::Answer)));
}

#[test]
fn only_refusals_about_the_resource_mark_a_url_hit_for_pass() {
    // One isolate (x) answers a request whose answer is not stored; another isolate of the
    // same location (y) then stores the page; x's next anonymous visitor must find it in the
    // location's Cache API unless the refusal was about the resource itself.
    let policy = Policy::from_json(POLICY).unwrap();
    let mut origin = |req: &RequestHead| {
        if req.headers.contains("authorization") {
            return ok(&[("cache-control", "private, max-age=60")], b"mine".to_vec());
        }
        match req.url.path() {
            "/h/never" => ok(&[("cache-control", "no-store")], b"never".to_vec()),
            _ => ok(&[("cache-control", "public, max-age=60")], b"page".to_vec()),
        }
    };
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], bool);
    let cases: [Case; 3] = [
        ("/h/client-no-store", &[("cache-control", "no-store")], false),
        ("/h/credentials", &[("authorization", "Bearer someone")], false),
        ("/h/never", &[], true),
    ];
    for (path, headers, marks) in cases {
        let mut x = Edge::new();
        let first = RequestHead::parse(
            "GET",
            &format!("https://site.example{path}"),
            Headers::from_pairs(headers.iter().copied()),
        )
        .unwrap();
        let refused = x.run(&policy, &mut origin, first, T0, &not_purged);
        assert_eq!(refused.outcome, Outcome::Miss, "{path}");
        let mut y = Edge { cache: std::mem::take(&mut x.cache), ..Edge::new() };
        run(&mut y, &policy, &mut origin, path, T0 + 1000);
        x.cache = std::mem::take(&mut y.cache);
        let next = run(&mut x, &policy, &mut origin, path, T0 + 2000);
        if marks {
            assert_eq!(
                next.looked_in,
                [Tier::Memory],
                "{path}: the response refused storage, the URL is passed"
            );
        } else {
            assert_eq!(
                next.looked_in,
                [Tier::Memory, Tier::Cache],
                "{path}: the mark would skip the Cache API"
            );
            assert_eq!(next.outcome, Outcome::Hit, "{path}: anonymous visitors keep their hits");
        }
    }
}

#[test]
fn concurrent_client_forced_revalidations_collapse_behind_one_conditional_request() {
    let policy = Policy::from_json(r#"{"version": 1, "name": "plain"}"#).unwrap();
    let mut edge = Edge::new();
    let calls = std::cell::Cell::new(0);
    let mut origin = |req: &RequestHead| {
        calls.set(calls.get() + 1);
        if req.headers.get("if-none-match") == Some("\"r1\"") {
            let h = Headers::from_pairs([("etag", "\"r1\""), ("cache-control", "max-age=60")]);
            return Some((ResponseHead::new(304, h), Vec::new()));
        }
        ok(&[("etag", "\"r1\""), ("cache-control", "max-age=60")], b"page".to_vec())
    };
    run(&mut edge, &policy, &mut origin, "/t/forced", T0);
    let no_cache = || {
        RequestHead::parse(
            "GET",
            "https://site.example/t/forced",
            Headers::from_pairs([("cache-control", "no-cache")]),
        )
        .unwrap()
    };
    let now = T0 + 1000;
    let mut running: Vec<_> = (0..20).map(|_| edge.start(&policy, no_cache(), now)).collect();
    let (first, rest) = running.split_first_mut().unwrap();
    assert!(matches!(edge.advance(&policy, first, &mut origin, now, &not_purged), Progress::Leading));
    for r in rest.iter_mut() {
        assert!(matches!(edge.advance(&policy, r, &mut origin, now, &not_purged), Progress::Waiting));
    }
    let Progress::Done(led) = edge.advance(&policy, first, &mut origin, now + 5, &not_purged) else {
        panic!()
    };
    assert_eq!(led.outcome, Outcome::Revalidated304);
    for r in rest.iter_mut() {
        let Progress::Done(x) = edge.advance(&policy, r, &mut origin, now + 5, &not_purged) else { panic!() };
        assert_eq!((x.outcome, x.text()), (Outcome::Hit, "page".to_string()));
        assert!(
            x.header("cache-status").is_some_and(|s| s.contains("collapsed")),
            "{:?}",
            x.header("cache-status")
        );
    }
    assert_eq!(calls.get(), 2, "the first fetch and one conditional request for twenty clients");
    // A request arriving after that validation with its own no-cache is validated again.
    run_with(&mut edge, &policy, &mut origin, no_cache(), now + 10);
    assert_eq!(calls.get(), 3);
}

fn run_with(
    edge: &mut Edge,
    policy: &Policy,
    origin: &mut dyn FnMut(&RequestHead) -> OriginResult,
    request: RequestHead,
    at: Time,
) -> Exchange {
    edge.run(policy, origin, request, at, &not_purged)
}

#[test]
fn kv_writes_are_admitted_by_rule_and_capped() {
    let policy = Policy::from_json(POLICY).unwrap();
    let mut origin = |_: &RequestHead| ok(&[], b"kept".to_vec());
    // A query no policy bounds (a cache-busting parameter) never costs a KV write.
    let mut edge = Edge::new();
    for i in 0..5 {
        run(&mut edge, &policy, &mut origin, &format!("/p/doc?bust={i}"), T0);
    }
    assert_eq!(edge.kv.len(), 0, "cache-busting queries were written to KV");
    // Under keepParams the query is the policy's: admitted.
    let bounded = Policy::from_json(
        &POLICY.replace(r#""version": 1,"#, r#""version": 1, "cacheKey": {"keepParams": ["page"]},"#),
    )
    .unwrap();
    run(&mut edge, &bounded, &mut origin, "/p/list?page=2&bust=1", T0);
    assert_eq!(edge.kv.len(), 1);
    // Distinct persisted pages: a burst, then nothing until the budget refills.
    let mut edge = Edge::new();
    for i in 0..50 {
        run(&mut edge, &policy, &mut origin, &format!("/p/page-{i}"), T0);
    }
    assert_eq!(edge.kv.len(), rulecache::storage::tiers::KV_WRITE_BURST as usize);
    assert_eq!(edge.cache.len(), 50, "every page is still kept at the location");
    for i in 50..100 {
        run(&mut edge, &policy, &mut origin, &format!("/p/page-{i}"), T0 + 60_000);
    }
    let refilled = (rulecache::storage::tiers::KV_WRITE_BURST
        + rulecache::storage::tiers::KV_WRITES_PER_MINUTE) as usize;
    assert_eq!(edge.kv.len(), refilled);
}
