//! The R2 media tier on the native harness: what R2 takes (a body of declared length, coded as
//! it travels, its record within R2's metadata limit, within the isolate's write budget), the
//! lookup order (memory, Cache API, R2), serving another location from it, and every purge
//! and invalidation honoured for its copies.

#![allow(clippy::unwrap_used)]

use std::cell::{Cell, RefCell};

use rulecache::flow::Tier;
use rulecache::http::{Headers, RequestHead, ResponseHead, Time};
use rulecache::policy::Policy;
use rulecache::storage::meta::{Meta, Purged};
use rulecache::storage::stats::Outcome;
use rulecache::storage::store::{Record, Store};
use rulecache::storage::tiers::{self, R2_WRITES_PER_MINUTE, R2_WRITE_BURST, STORAGE_SECS};
use rulecache::testing::sim::{Edge, Exchange, OriginResult};

const T0: Time = 1_800_000_000_000;

/// Media under /media/ is kept in R2; pages under /p/ are not.
const POLICY: &str = r#"{
  "version": 1, "name": "media",
  "rulesets": {"media": {"title": "m"}, "page": {"title": "p"}},
  "rules": [
    {"id": "m", "ruleset": "media", "match": {"pathPrefix": "/media/"}},
    {"id": "p", "ruleset": "page", "match": {"pathPrefix": "/p/"}}
  ],
  "operations": {
    "media": {"operation": "strongCaching", "parameters": {"maxage": 60, "globalTier": "r2"}},
    "page": {"operation": "strongCaching", "parameters": {"maxage": 60}}
  }
}"#;

/// Larger than the memory tier takes, as media are.
const LEN: usize = tiers::MEMORY_MAX_ENTRY * 4;

fn request(method: &str, path: &str) -> RequestHead {
    RequestHead::parse(method, &format!("https://site.example{path}"), Headers::new()).unwrap()
}

fn media(headers: &[(&str, &str)]) -> OriginResult {
    let mut h = Headers::from_pairs([("etag", "\"v1\"")]);
    for (n, v) in headers {
        h.set(n, *v);
    }
    if h.get("content-length").is_none() && !headers.iter().any(|(n, _)| *n == "x-no-length") {
        h.set("content-length", LEN.to_string());
    }
    Some((ResponseHead::new(200, h), vec![b'm'; LEN]))
}

fn run(
    edge: &mut Edge,
    policy: &Policy,
    origin: &mut dyn FnMut(&RequestHead) -> OriginResult,
    path: &str,
    at: Time,
) -> Exchange {
    edge.run(policy, origin, request("GET", path), at, &|_: &Meta| Purged::No)
}

/// Another location: its own isolate and Cache API, the same R2 bucket.
fn elsewhere(edge: &mut Edge) -> Edge {
    Edge { r2: std::mem::take(&mut edge.r2), ..Edge::new() }
}

#[test]
fn a_large_body_is_kept_in_r2_and_served_from_it_at_another_location() {
    let policy = Policy::from_json(POLICY).unwrap();
    let calls = Cell::new(0);
    let mut origin = |_: &RequestHead| {
        calls.set(calls.get() + 1);
        media(&[("content-type", "video/mp4")])
    };
    let mut a = Edge::new();
    assert_eq!(run(&mut a, &policy, &mut origin, "/media/film.mp4", T0).outcome, Outcome::Miss);
    assert_eq!(a.r2.len(), 1, "kept in R2");
    let key = a.r2.keys().next().unwrap().to_string();
    match a.r2.get(&key) {
        Some((Record::Entry(meta), body)) => {
            assert_eq!(meta.body_len, LEN as u64, "the record holds the body's length");
            assert_eq!(body.len(), LEN);
        }
        other => panic!("{other:?}"),
    }
    let mut b = elsewhere(&mut a);
    let hit = run(&mut b, &policy, &mut origin, "/media/film.mp4", T0 + 1000);
    assert_eq!(hit.outcome, Outcome::Hit);
    assert_eq!(hit.looked_in, [Tier::Memory, Tier::Cache, Tier::R2], "memory, then the Cache API, then R2");
    assert_eq!(hit.body.len(), LEN);
    assert_eq!(hit.header("content-type"), Some("video/mp4"), "served with its stored record");
    assert_eq!(calls.get(), 1, "the origin was asked once, by the first location");
    // Rulesets without the tier never look in R2.
    let page = run(&mut b, &policy, &mut origin, "/p/page", T0 + 1000);
    assert_eq!(page.looked_in, [Tier::Memory, Tier::Cache]);
    assert_eq!(b.r2.len(), 1, "a page is not written to R2");
}

#[test]
fn r2_takes_only_bodies_of_declared_length_as_they_travel() {
    let policy = Policy::from_json(POLICY).unwrap();
    let too_big = (tiers::R2_MAX_OBJECT + 1).to_string();
    let long_field = "v".repeat(tiers::R2_MAX_METADATA);
    let refused: [(&str, Vec<(&str, &str)>); 4] = [
        // R2 takes a stream only of a length known in advance.
        ("no length", vec![("x-no-length", "1")]),
        // The runtime decodes a coded body: what arrives is not what Content-Length counted.
        ("coded", vec![("content-encoding", "gzip")]),
        ("over R2's single upload", vec![("content-length", too_big.as_str())]),
        ("a record over R2's metadata limit", vec![("x-long", long_field.as_str())]),
    ];
    for (why, headers) in refused {
        let mut edge = Edge::new();
        let mut origin = |_: &RequestHead| media(&headers);
        let first = run(&mut edge, &policy, &mut origin, "/media/f", T0);
        assert_eq!(first.outcome, Outcome::Miss, "{why}");
        assert_eq!(edge.r2.len(), 0, "{why}: written to R2");
    }
    // `identity` is no coding at all.
    let mut edge = Edge::new();
    let mut origin = |_: &RequestHead| media(&[("content-encoding", "identity")]);
    run(&mut edge, &policy, &mut origin, "/media/f", T0);
    assert_eq!(edge.r2.len(), 1);
    // A name longer than R2 takes.
    let mut edge = Edge::new();
    let long_path = format!("/media/{}", "n".repeat(tiers::R2_MAX_KEY));
    run(&mut edge, &policy, &mut origin, &long_path, T0);
    assert_eq!(edge.r2.len(), 0, "an object name over R2's limit");
    assert_eq!(edge.cache.len(), 1, "kept at the location");
    // A query the policy does not bound (a cache-busting parameter) never costs a write.
    let mut edge = Edge::new();
    let mut origin = |_: &RequestHead| media(&[]);
    for i in 0..3 {
        run(&mut edge, &policy, &mut origin, &format!("/media/f?bust={i}"), T0);
    }
    assert_eq!(edge.r2.len(), 0);
}

#[test]
fn r2_writes_are_capped_per_isolate_and_refill() {
    let policy = Policy::from_json(POLICY).unwrap();
    let mut origin = |_: &RequestHead| media(&[]);
    let mut edge = Edge::new();
    for i in 0..50 {
        run(&mut edge, &policy, &mut origin, &format!("/media/{i}"), T0);
    }
    assert_eq!(edge.r2.len(), R2_WRITE_BURST as usize);
    assert_eq!(edge.cache.len(), 50, "every object is still kept at the location");
    for i in 50..100 {
        run(&mut edge, &policy, &mut origin, &format!("/media/{i}"), T0 + 60_000);
    }
    assert_eq!(edge.r2.len(), (R2_WRITE_BURST + R2_WRITES_PER_MINUTE) as usize);
}

#[test]
fn a_hard_purge_makes_the_r2_copy_a_miss_and_a_soft_one_revalidates_it() {
    let policy = Policy::from_json(POLICY).unwrap();
    let conditional = RefCell::new(Vec::new());
    let mut origin = |req: &RequestHead| {
        conditional.borrow_mut().push(req.headers.get("if-none-match").map(str::to_string));
        match req.headers.get("if-none-match") {
            Some(_) => Some((ResponseHead::new(304, Headers::from_pairs([("etag", "\"v1\"")])), Vec::new())),
            None => media(&[]),
        }
    };
    let mut a = Edge::new();
    run(&mut a, &policy, &mut origin, "/media/f", T0);
    // A purge the ledger recorded after the copy was stored, seen at another location.
    let hard = |m: &Meta| if m.request_time <= T0 { Purged::Hard } else { Purged::No };
    let mut b = elsewhere(&mut a);
    let refetched = b.run(&policy, &mut origin, request("GET", "/media/f"), T0 + 1000, &hard);
    assert_eq!(refetched.outcome, Outcome::Miss, "hard-purged: fetched again");
    assert_eq!(conditional.borrow().last(), Some(&None), "unconditionally");
    assert_eq!(refetched.body.len(), LEN);
    let soft =
        |m: &Meta| if m.request_time <= T0 + 1000 { Purged::Soft { at: T0 + 1500 } } else { Purged::No };
    let mut c = elsewhere(&mut b);
    let revalidated = c.run(&policy, &mut origin, request("GET", "/media/f"), T0 + 2000, &soft);
    assert_eq!(conditional.borrow().last(), Some(&Some("\"v1\"".to_string())), "soft-purged: revalidated");
    assert_eq!(revalidated.head.status, 200);
    assert_eq!(revalidated.body.len(), LEN, "the R2 copy's body served after the 304");
}

#[test]
fn an_unsafe_request_invalidates_the_r2_copy() {
    let policy = Policy::from_json(POLICY).unwrap();
    let mut origin = |req: &RequestHead| match req.method.as_str() {
        "POST" => Some((ResponseHead::new(204, Headers::new()), Vec::new())),
        _ => media(&[]),
    };
    let mut edge = Edge::new();
    run(&mut edge, &policy, &mut origin, "/media/f", T0);
    assert_eq!(edge.r2.len(), 1);
    // RFC 9111 §4.4: "A cache MUST invalidate the target URI ... when it receives a
    // non-error status code in response to an unsafe request method".
    edge.run(&policy, &mut origin, request("POST", "/media/f"), T0 + 1000, &|_: &Meta| Purged::No);
    assert_eq!(edge.r2.len(), 0, "the R2 copy was deleted");
}

#[test]
fn an_r2_copy_past_the_storage_horizon_is_not_served() {
    let policy = Policy::from_json(POLICY).unwrap();
    let calls = Cell::new(0);
    let mut origin = |_: &RequestHead| {
        calls.set(calls.get() + 1);
        media(&[])
    };
    let mut a = Edge::new();
    run(&mut a, &policy, &mut origin, "/media/f", T0);
    let mut b = elsewhere(&mut a);
    let later = T0 + STORAGE_SECS * 1000 + 1;
    let exchange = run(&mut b, &policy, &mut origin, "/media/f", later);
    assert_eq!(exchange.outcome, Outcome::Miss, "the ledger's records of it may be gone");
    assert_eq!(calls.get(), 2);
}

#[test]
fn global_tier_is_validated_with_the_path_of_the_mistake() {
    let bundle = |params: &str| {
        format!(
            r#"{{"version": 1, "name": "x", "rulesets": {{"m": {{"title": "m"}}}},
                "operations": {{"m": {{"operation": "{params}}}}}}}"#
        )
    };
    let errors = |params: &str| -> Vec<String> {
        Policy::from_json(&bundle(params)).err().unwrap_or_default().iter().map(ToString::to_string).collect()
    };
    assert_eq!(
        errors(r#"strongCaching", "parameters": {"globalTier": "s3"}"#),
        vec![
            r#"/operations/m/parameters/globalTier: unknown global tier "s3"; the tiers are "kv" (Workers KV, values up to 25 MiB) and "r2" (R2, for large bodies)"#
        ]
    );
    assert_eq!(
        errors(r#"strongCaching", "parameters": {"globalTier": true}"#),
        vec![r#"/operations/m/parameters/globalTier: expected "kv" or "r2", found a boolean"#]
    );
    assert_eq!(
        errors(r#"weakCaching", "parameters": {"globalTier": "r2"}"#),
        vec![
            r#"/operations/m/parameters/globalTier: the parameter "globalTier" does not apply to weakCaching"#
        ]
    );
    let kv = Policy::from_json(&bundle(r#"strongCaching", "parameters": {"globalTier": "kv"}"#)).unwrap();
    let r2 = Policy::from_json(&bundle(r#"strongCaching", "parameters": {"globalTier": "r2"}"#)).unwrap();
    let op = |p: &Policy| {
        let o = p.operation_named(Some("m"));
        Some((o.persist(), o.r2()))
    };
    assert_eq!(op(&kv), Some((true, false)), "kv: as persist");
    assert_eq!(op(&r2), Some((false, true)));
}
