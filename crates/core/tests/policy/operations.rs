//! The operations' effects a user sees: downstream headers, edge storage and bypass.
#![allow(clippy::expect_used, clippy::indexing_slicing)] // tests may panic

use rulecache::storage::key::Audience;

use rulecache::policy::decision::{Bypass, ModifyContext};

use rulecache::http::{Headers, RequestHead, ResponseHead};
use rulecache::policy::Policy;
use rulecache::rfc::freshness::EdgeStorage;

/// 2026-01-01T00:00:00Z in milliseconds.
const NOW: u64 = 1_767_225_600_000;
const LAST_MODIFIED: &str = "Thu, 25 Dec 2025 10:00:00 GMT";

/// A policy mapping ruleset `r` to `operation` (a JSON object), split view on or off.
fn policy_with(operation: &str, split_view: bool) -> Policy {
    let text = format!(
        r#"{{"version": 7, "name": "t", "rulesets": {{"r": {{}}, "s": {{}}}},
            "operations": {{"r": {operation}, "s": {{"operation": "strongCaching"}}}},
            "splitView": {{"enabled": {split_view}}}}}"#
    );
    Policy::from_json(&text).unwrap_or_else(|e| panic!("{e:?}"))
}

fn request(headers: &[(&str, &str)]) -> RequestHead {
    RequestHead::parse("GET", "https://example.org/page", Headers::from_pairs(headers.iter().copied()))
        .expect("url")
}

fn origin_response(etag: &str) -> ResponseHead {
    ResponseHead::new(
        200,
        Headers::from_pairs([
            ("content-type", "text/html"),
            ("etag", etag),
            ("last-modified", LAST_MODIFIED),
            ("cache-control", "max-age=0"),
        ]),
    )
}

/// Runs `r`'s operation on a plain 200 response and returns its headers.
fn modified(policy: &Policy, req: &RequestHead, resp: ResponseHead) -> Headers {
    let audience = policy.audience(&req.headers);
    let ctx = ModifyContext {
        request: req,
        audience,
        policy_version: policy.version(),
        split_view_header: policy.split_view_header(),
        now: NOW,
    };
    let mut resp = resp;
    policy.operation_named(Some("r")).modify(&ctx, &mut resp);
    resp.headers
}

fn run(operation: &str) -> Headers {
    modified(&policy_with(operation, false), &request(&[]), origin_response("\"abc\""))
}

const FUTURE_DAY: &str = "Fri, 02 Jan 2026 00:00:00 GMT";
const PAST: &str = "Mon, 04 Jan 2016 00:00:00 GMT";

#[test]
fn strong_caching_is_public_for_a_day_by_default() {
    let h = run(r#"{"operation": "strongCaching"}"#);
    assert_eq!(h.get("cache-control"), Some("max-age=86400, proxy-revalidate, public"));
    assert_eq!(h.get("expires"), Some(FUTURE_DAY));
    assert_eq!(h.get("etag"), Some("\"abc\""), "the origin's ETag passes through");
    assert_eq!(h.get("last-modified"), None, "Last-Modified only with lastModified, as in plone");
    let p = policy_with(r#"{"operation": "strongCaching"}"#, false);
    assert_eq!(
        p.operation_named(Some("r")).storage(),
        EdgeStorage::Store { ttl: 86400, stale_while_revalidate: 0, stale_if_error: 0 }
    );
}

#[test]
fn strong_caching_with_smaxage_and_last_modified() {
    let op = r#"{"operation": "strongCaching", "parameters": {"maxage": 60, "smaxage": 600, "lastModified": true,
                 "staleWhileRevalidate": 30, "staleIfError": 3600}}"#;
    let h = run(op);
    assert_eq!(h.get("cache-control"), Some("max-age=60, s-maxage=600, proxy-revalidate, public"));
    assert_eq!(h.get("expires"), Some("Thu, 01 Jan 2026 00:01:00 GMT"));
    assert_eq!(h.get("last-modified"), Some(LAST_MODIFIED));
    assert_eq!(
        policy_with(op, false).operation_named(Some("r")).storage(),
        EdgeStorage::Store { ttl: 600, stale_while_revalidate: 30, stale_if_error: 3600 }
    );
}

#[test]
fn moderate_caching_keeps_browsers_revalidating_and_the_edge_storing() {
    let op = r#"{"operation": "moderateCaching", "parameters": {"smaxage": 3600, "lastModified": true}}"#;
    let h = run(op);
    assert_eq!(h.get("cache-control"), Some("max-age=0, s-maxage=3600, must-revalidate"));
    assert_eq!(h.get("expires"), Some(PAST));
    assert_eq!(h.get("etag"), Some("\"abc\""));
    assert_eq!(h.get("last-modified"), Some(LAST_MODIFIED));
    let storage = policy_with(op, false).operation_named(Some("r")).storage();
    assert_eq!(storage, EdgeStorage::Store { ttl: 3600, stale_while_revalidate: 0, stale_if_error: 0 });
    let default = policy_with(r#"{"operation": "moderateCaching"}"#, false);
    assert!(matches!(default.operation_named(Some("r")).storage(), EdgeStorage::Store { ttl: 86400, .. }));
}

#[test]
fn weak_caching_is_private_and_revalidated_at_the_edge_every_time() {
    let op = r#"{"operation": "weakCaching", "parameters": {"lastModified": true}}"#;
    let h = run(op);
    assert_eq!(h.get("cache-control"), Some("max-age=0, must-revalidate, private"));
    assert_eq!(h.get("expires"), Some(PAST));
    assert_eq!(h.get("last-modified"), Some(LAST_MODIFIED));
    assert!(matches!(
        policy_with(op, false).operation_named(Some("r")).storage(),
        EdgeStorage::Store { ttl: 0, .. }
    ));
}

#[test]
fn terse_caching_has_plones_defaults() {
    let h = run(r#"{"operation": "terseCaching"}"#);
    assert_eq!(h.get("cache-control"), Some("max-age=10, s-maxage=60, proxy-revalidate, public"));
    assert_eq!(h.get("vary"), Some("Accept"));
}

#[test]
fn no_caching_drops_validators_and_bypasses_the_edge() {
    let h = run(r#"{"operation": "noCaching"}"#);
    assert_eq!(h.get("cache-control"), Some("max-age=0, must-revalidate, private"));
    assert_eq!(h.get("expires"), Some(PAST));
    assert_eq!(h.get("etag"), None);
    assert_eq!(h.get("last-modified"), None);
    let p = policy_with(r#"{"operation": "noCaching"}"#, false);
    let op = p.operation_named(Some("r"));
    assert_eq!(op.storage(), EdgeStorage::DontStore);
    assert_eq!(op.bypass(Audience::Anonymous), Some(Bypass::NoCaching));
    let h = run(r#"{"operation": "noCaching", "parameters": {"noStore": true}}"#);
    assert_eq!(h.get("cache-control"), Some("no-store"));
}

#[test]
fn honour_origin_changes_nothing() {
    let h = run(r#"{"operation": "honourOrigin"}"#);
    assert_eq!(h, origin_response("\"abc\"").headers);
    let p = policy_with(r#"{"operation": "honourOrigin"}"#, false);
    assert_eq!(p.operation_named(Some("r")).storage(), EdgeStorage::HonourOrigin);
    assert_eq!(p.operation_named(Some("r")).bypass(Audience::Authenticated), None);
}

#[test]
fn error_responses_are_left_alone_except_by_no_caching() {
    let p = policy_with(r#"{"operation": "strongCaching"}"#, false);
    let mut resp = origin_response("\"abc\"");
    resp.status = 404;
    let h = modified(&p, &request(&[]), resp.clone());
    assert_eq!(h.get("cache-control"), Some("max-age=0"));
    let p = policy_with(r#"{"operation": "noCaching"}"#, false);
    let h = modified(&p, &request(&[]), resp);
    assert_eq!(h.get("cache-control"), Some("max-age=0, must-revalidate, private"));
}

#[test]
fn chain_runs_every_member_and_the_first_storing_member_decides_storage() {
    let op = r#"{"operation": "chain", "parameters": {"operations": [
        {"operation": "honourOrigin"},
        {"operation": "moderateCaching", "parameters": {"smaxage": 120, "vary": ["Accept"]}},
        "s",
        {"operation": "weakCaching", "parameters": {"ramCache": true}}]}}"#;
    let p = policy_with(op, false);
    let chain = p.operation_named(Some("r"));
    assert_eq!(chain.name(), "chain");
    assert_eq!(chain.chain_names(), vec!["honourOrigin", "moderateCaching", "strongCaching", "weakCaching"]);
    assert!(matches!(chain.storage(), EdgeStorage::Store { ttl: 120, .. }));
    assert!(chain.ram_cache());
    assert_eq!(chain.bypass(Audience::Authenticated), None);
    let h = modified(&p, &request(&[]), origin_response("\"abc\""));
    assert_eq!(
        h.get("cache-control"),
        Some("max-age=0, must-revalidate, private"),
        "the last member writes last"
    );
    assert_eq!(h.get("vary"), Some("Accept"), "earlier members' headers stay");
    let with_no_caching = policy_with(
        r#"{"operation": "chain", "parameters": {"operations": ["s", {"operation": "noCaching"}]}}"#,
        false,
    );
    assert_eq!(
        with_no_caching.operation_named(Some("r")).bypass(Audience::Anonymous),
        Some(Bypass::NoCaching)
    );
    assert!(matches!(
        with_no_caching.operation_named(Some("r")).storage(),
        EdgeStorage::Store { ttl: 86400, .. }
    ));
}

#[test]
fn etag_is_composed_from_components_like_plone() {
    let op = r#"{"operation": "weakCaching", "parameters": {"etags":
        ["origin", "language", "encoding", "lastModified", "policyVersion", "audience", "copy"]}}"#;
    let p = policy_with(op, false);
    let req = request(&[("accept-language", "en-GB, fr;q=0.5"), ("cookie", "__cp=x")]);
    let h = modified(&p, &req, origin_response("\"abc\""));
    assert_eq!(h.get("etag"), Some("\"|abc|en-GB;fr;q=0.5|identity|1766656800|7|anon|1\""));
    let h = modified(&p, &request(&[]), origin_response("W/\"abc\""));
    assert_eq!(h.get("etag"), Some("W/\"|abc||identity|1766656800|7|anon|0\""), "weak stays weak");
}

#[test]
fn userid_component_differs_per_user_and_is_absent_for_anonymous() {
    let p =
        policy_with(r#"{"operation": "weakCaching", "parameters": {"etags": ["userid", "origin"]}}"#, false);
    let anon = modified(&p, &request(&[]), origin_response("\"abc\""));
    assert_eq!(anon.get("etag"), Some("\"|abc\""));
    let alice = modified(&p, &request(&[("cookie", "__ac=alice")]), origin_response("\"abc\""));
    let bob = modified(&p, &request(&[("cookie", "__ac=bob")]), origin_response("\"abc\""));
    let (alice, bob) = (alice.get("etag").unwrap_or(""), bob.get("etag").unwrap_or(""));
    assert_ne!(alice, bob);
    assert!(alice.starts_with("\"|") && alice.ends_with("|abc\"") && alice.len() == "\"||abc\"".len() + 16);
    assert_eq!(
        p.operation_named(Some("r")).bypass(Audience::Authenticated),
        Some(Bypass::AnonOnly),
        "a response naming the user is never shared"
    );
}

#[test]
fn anon_only_keeps_authenticated_requests_private_and_out_of_the_edge() {
    let op = r#"{"operation": "moderateCaching", "parameters": {"smaxage": 3600, "anonOnly": true}}"#;
    let p = policy_with(op, true);
    let r = p.operation_named(Some("r"));
    assert_eq!(r.bypass(Audience::Anonymous), None);
    assert_eq!(r.bypass(Audience::Authenticated), Some(Bypass::AnonOnly));
    let anon = modified(&p, &request(&[]), origin_response("\"abc\""));
    assert_eq!(anon.get("cache-control"), Some("max-age=0, s-maxage=3600, must-revalidate"));
    assert_eq!(anon.get("etag"), Some("\"abc\""));
    let auth = modified(&p, &request(&[("authorization", "Basic eDp5")]), origin_response("\"abc\""));
    assert_eq!(auth.get("cache-control"), Some("max-age=0, must-revalidate, private"));
    assert_eq!(auth.get("etag"), Some(format!("\"|{NOW}\"").as_str()), "plone's anonymousOrRandom");
}

#[test]
fn vary_is_merged_never_replaced() {
    let op = r#"{"operation": "strongCaching", "parameters": {"vary": ["Accept", "accept-encoding"]}}"#;
    let p = policy_with(op, true);
    let mut resp = origin_response("\"abc\"");
    resp.headers.set("vary", "Accept-Encoding");
    let h = modified(&p, &request(&[]), resp.clone());
    assert_eq!(h.get("vary"), Some("Accept-Encoding, Accept, X-Anonymous"));
    let off = policy_with(r#"{"operation": "strongCaching", "parameters": {"splitView": false}}"#, true);
    assert_eq!(modified(&off, &request(&[]), resp.clone()).get("vary"), Some("Accept-Encoding"));
    assert!(!off.operation_named(Some("r")).split_view());
    resp.headers.set("vary", "*");
    assert_eq!(modified(&p, &request(&[]), resp).get("vary"), Some("*"));
    let plone_style =
        policy_with(r#"{"operation": "strongCaching", "parameters": {"vary": "X-Anonymous, Accept"}}"#, true);
    let h = modified(&plone_style, &request(&[]), origin_response("\"abc\""));
    assert_eq!(h.get("vary"), Some("X-Anonymous, Accept"));
}

#[test]
fn edge_flags_are_reported() {
    let op = r#"{"operation": "strongCaching", "parameters": {"ramCache": true, "persist": true, "stripSetCookie": true}}"#;
    let p = policy_with(op, false);
    let r = p.operation_named(Some("r"));
    assert!(r.ram_cache() && r.persist() && r.strip_set_cookie() && r.split_view());
    let s = p.operation_named(Some("s"));
    assert!(!s.ram_cache() && !s.persist() && !s.strip_set_cookie());
}
