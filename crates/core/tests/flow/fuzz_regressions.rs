//! Inputs found by the fuzz targets in `fuzz/` (see the README, "Fuzzing"), kept as tests.
//!
//! A URL whose host has a label of an upper-case ASCII letter and a non-ASCII character
//! (`https://Bücher.example/`, or `https://&VԞ` as the fuzzer found it) reached a
//! `debug_assert!` in `idna_adapter` 1.0.0, the ASCII-only IDNA back end, which expects ASCII
//! to be lower-cased before it is called. Such hosts are now refused before the URL parser
//! sees them (`http::parse_url`, `http::join_url`): these tests run in every build.

use rulecache::http::{Headers, RequestHead, ResponseHead};
use rulecache::policy::Policy;
use rulecache::purge::request::PurgeRequest;
use rulecache::storage::meta::{Meta, Purged};
use rulecache::storage::store::MemoryStore;
use rulecache::testing::sim;

/// As the `purge_request` target found it (minimised).
const FOUND: &str = "https://&V\u{51e}";
/// The same fault in a name someone might write.
const BUCHER: &str = "https://B\u{fc}cher.example";
/// The same host percent-escaped (the URL parser decodes escapes in hosts).
const ESCAPED: &str = "https://B%C3%BCcher.example";

#[test]
fn a_purge_url_with_a_mixed_case_non_ascii_host_is_refused() {
    for url in [FOUND, BUCHER, ESCAPED] {
        let req = PurgeRequest::from_purge_method(url, &Headers::new());
        assert!(!req.problems().is_empty(), "{url}");
    }

    let body = format!(r#"{{"urls": ["{FOUND}/a"], "prefixes": ["{BUCHER}/"]}}"#);
    let problems = PurgeRequest::from_json(body.as_bytes()).err().unwrap_or_default();
    assert_eq!(problems.len(), 2, "{problems:?}");
}

#[test]
fn a_location_with_a_mixed_case_non_ascii_host_does_not_stop_the_flow() {
    // An unsafe method's response invalidates the URLs in Location and Content-Location
    // (RFC 9111 §4.4), joined to the request URL.
    let policy = Policy::default_profile();
    let mut store = MemoryStore::new();
    let mut origin = |_: &RequestHead| {
        let h = Headers::from_pairs([
            ("location", "//B\u{fc}cher.example/x"),
            ("content-location", "//&V\u{51e}/y"),
            ("content-length", "0"),
        ]);
        Some((ResponseHead::new(201, h), Vec::new()))
    };
    let purged: &dyn Fn(&Meta) -> Purged = &|_| Purged::No;
    let req = RequestHead::parse("POST", "https://origin.example/form", Headers::new());
    let Some(req) = req else { panic!("a valid request URL") };
    let ex = sim::run(&policy, &mut store, &mut origin, req, 1_800_000_000_000, purged);
    assert_eq!(ex.head.status, 201);
}
