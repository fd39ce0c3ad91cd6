//! Scenario tests of the RFC 9111 shared-cache core on a fake clock: each test stores a
//! response at some instant, moves the clock, and checks one behaviour the RFCs describe.
#![allow(clippy::unwrap_used)]

use rulecache::http::{secs, Headers, RequestHead, ResponseHead, Time};
use rulecache::rfc::cache_control::{self, CacheControl};
use rulecache::rfc::cache_status::{CacheStatus, Fwd};
use rulecache::rfc::conditional::{self, Conditional};
use rulecache::rfc::freshness::EdgeStorage;
use rulecache::rfc::freshness::{self, age_header_value, format_http_date, Lifetime, Stored, Verdict};
use rulecache::rfc::hop;
use rulecache::rfc::invalidate;
use rulecache::rfc::revalidate;
use rulecache::rfc::storable::{self, NotStored};
use rulecache::testing::world::{head as resp, request as req};
use rulecache::testing::{XorShift, HEADER_NAMES};

/// The fake clock's origin.
const T: Time = 1_700_000_000_000;
const ORIGIN: EdgeStorage = EdgeStorage::HonourOrigin;

fn s(n: u64) -> Time {
    n * 1000
}

fn date(t: Time) -> String {
    format_http_date(secs(t))
}

fn get(pairs: &[(&str, &str)]) -> RequestHead {
    req("GET", "https://example.org/page", pairs)
}

/// A stored entry, as the engine would keep it.
struct Entry {
    head: ResponseHead,
    request_time: Time,
    response_time: Time,
    storage: EdgeStorage,
    stale_from: Option<Time>,
}

impl Entry {
    fn stored(&self) -> Stored<'_> {
        Stored {
            head: &self.head,
            request_time: self.request_time,
            response_time: self.response_time,
            storage: self.storage,
            stale_from: self.stale_from,
        }
    }

    fn verdict(&self, request: &RequestHead, now: Time) -> Verdict {
        freshness::evaluate(request, &self.stored(), now)
    }

    fn at(&self, now: Time) -> Verdict {
        self.verdict(&get(&[]), now)
    }
}

/// Fetches `r` for `request` (sent at `at`, answered instantly) and stores it if allowed.
fn fetch(request: &RequestHead, r: ResponseHead, at: Time, storage: EdgeStorage) -> Result<Entry, NotStored> {
    storable::check(request, false, &r, storage)?;
    let mut head = r;
    let cc = cache_control::effective(&head.headers).0;
    hop::prepare_for_storage(&mut head.headers, cc.as_ref());
    Ok(Entry { head, request_time: at, response_time: at, storage, stale_from: None })
}

fn store(pairs: &[(&str, &str)]) -> Entry {
    let mut with_date: Vec<(&str, &str)> = pairs.to_vec();
    let d = date(T);
    if !pairs.iter().any(|(n, _)| n.eq_ignore_ascii_case("date")) {
        with_date.push(("date", &d));
    }
    fetch(&get(&[]), resp(200, &with_date), T, ORIGIN).unwrap()
}

fn stale(stale_for: u64, serve_while_revalidate: bool, serve_if_error: bool) -> Verdict {
    Verdict::Stale { stale_for, serve_while_revalidate, serve_if_error, by_request: false }
}

/// A verdict for an entry that is fresh but that the request would not accept as it is.
fn refused_by_request(serve_if_error: bool) -> Verdict {
    Verdict::Stale { stale_for: 0, serve_while_revalidate: false, serve_if_error, by_request: true }
}

// ---- freshness lifetime and age (RFC 9111 §4.2) ----

#[test]
fn max_age_60_is_fresh_at_59s_and_stale_at_61s() {
    let e = store(&[("cache-control", "max-age=60")]);
    assert_eq!(e.at(T + s(59)), Verdict::Fresh { ttl: 1 });
    assert_eq!(e.at(T + s(61)), stale(1, false, false));
}

#[test]
fn fresh_ttl_counts_down_on_the_clock() {
    let e = store(&[("cache-control", "max-age=600")]);
    assert_eq!(e.at(T), Verdict::Fresh { ttl: 600 });
    assert_eq!(e.at(T + s(100)), Verdict::Fresh { ttl: 500 });
    assert_eq!(e.at(T + s(599) + 999), Verdict::Fresh { ttl: 1 });
    assert!(!e.at(T + s(600)).is_fresh());
}

#[test]
fn age_header_from_upstream_counts() {
    // §4.2.3: the Age of an upstream cache is part of the current age.
    let e = store(&[("cache-control", "max-age=60"), ("age", "50")]);
    assert_eq!(e.at(T + s(9)), Verdict::Fresh { ttl: 1 });
    assert!(!e.at(T + s(11)).is_fresh());
    assert_eq!(age_header_value(e.stored().current_age(T + s(5))), "55");
}

#[test]
fn an_old_date_counts_as_apparent_age() {
    let e = store(&[("cache-control", "max-age=60"), ("date", &date(T - s(30)))]);
    assert_eq!(e.at(T + s(29)), Verdict::Fresh { ttl: 1 });
    assert!(!e.at(T + s(31)).is_fresh());
}

#[test]
fn response_delay_counts_towards_age() {
    // The origin took 20 s to answer; the response may have been generated at the start.
    let mut e = store(&[("cache-control", "max-age=60"), ("date", &date(T + s(20)))]);
    e.response_time = T + s(20);
    assert_eq!(e.stored().current_age(T + s(20)), 20);
    assert_eq!(e.at(T + s(50)), Verdict::Fresh { ttl: 10 });
}

#[test]
fn expires_in_the_past_without_max_age_is_stale() {
    let e = store(&[("expires", &date(T - s(3600))), ("last-modified", &date(T - s(86_400)))]);
    assert_eq!(e.stored().lifetime(), Lifetime { secs: 0, heuristic: false });
    assert!(!e.at(T).is_fresh());
}

#[test]
fn expires_in_the_future_is_fresh_until_then() {
    let e = store(&[("expires", &date(T + s(120)))]);
    assert_eq!(e.at(T + s(119)), Verdict::Fresh { ttl: 1 });
    assert!(!e.at(T + s(120)).is_fresh());
}

#[test]
fn expires_zero_means_already_expired() {
    let e = store(&[("expires", "0")]);
    assert!(!e.at(T).is_fresh());
}

#[test]
fn max_age_beats_expires() {
    let e = store(&[("cache-control", "max-age=10"), ("expires", &date(T + s(3600)))]);
    assert!(!e.at(T + s(11)).is_fresh());
}

#[test]
fn s_maxage_beats_max_age_for_a_shared_cache() {
    let e = store(&[("cache-control", "max-age=10, s-maxage=300")]);
    assert_eq!(e.at(T + s(100)), Verdict::Fresh { ttl: 200 });
}

#[test]
fn duplicate_max_age_uses_the_first_occurrence() {
    // §4.2.1: "either the first occurrence should be used or the response should be
    // considered stale".
    let e = store(&[("cache-control", "max-age=600"), ("cache-control", "max-age=60")]);
    assert_eq!(e.at(T + s(100)), Verdict::Fresh { ttl: 500 });
    let e = store(&[("cache-control", "max-age=60, max-age=600")]);
    assert!(!e.at(T + s(100)).is_fresh());
}

#[test]
fn heuristic_freshness_from_last_modified() {
    // Modified 10 hours ago: 10% is one hour.
    let e = store(&[("last-modified", &date(T - s(36_000)))]);
    assert_eq!(e.stored().lifetime(), Lifetime { secs: 3600, heuristic: true });
    assert_eq!(e.at(T + s(3599)), Verdict::Fresh { ttl: 1 });
    assert!(!e.at(T + s(3600)).is_fresh());
}

#[test]
fn no_heuristics_when_freshness_is_explicit() {
    let e = store(&[("cache-control", "max-age=5"), ("last-modified", &date(T - s(36_000)))]);
    assert_eq!(e.stored().lifetime(), Lifetime { secs: 5, heuristic: false });
}

#[test]
fn a_response_with_only_an_etag_is_stored_but_needs_revalidation() {
    let e = store(&[("etag", "\"v1\"")]);
    assert_eq!(e.at(T), stale(0, false, false));
    assert!(revalidate::conditional_headers(&e.head).is_some());
}

// ---- RFC 9213 targeted fields ----

#[test]
fn cdn_cache_control_beats_cache_control() {
    let e = store(&[("cache-control", "max-age=10"), ("cdn-cache-control", "max-age=600")]);
    assert_eq!(e.at(T + s(100)), Verdict::Fresh { ttl: 500 });
}

#[test]
fn cdn_cache_control_lets_the_edge_store_what_browsers_must_not() {
    let e = store(&[("cache-control", "private, no-store"), ("cdn-cache-control", "max-age=60")]);
    assert_eq!(e.at(T + s(30)), Verdict::Fresh { ttl: 30 });
}

#[test]
fn cdn_cache_control_can_forbid_edge_storage() {
    let r = resp(200, &[("cache-control", "public, max-age=600"), ("cdn-cache-control", "no-store")]);
    assert_eq!(fetch(&get(&[]), r, T, ORIGIN).err(), Some(NotStored::NoStore));
}

#[test]
fn cloudflare_cdn_cache_control_beats_cdn_cache_control() {
    let e = store(&[("cdn-cache-control", "max-age=10"), ("cloudflare-cdn-cache-control", "max-age=100")]);
    assert_eq!(e.at(T + s(50)), Verdict::Fresh { ttl: 50 });
}

#[test]
fn an_invalid_targeted_field_is_ignored() {
    let e = store(&[("cache-control", "max-age=60"), ("cdn-cache-control", "max-age=600;;")]);
    assert_eq!(e.at(T), Verdict::Fresh { ttl: 60 });
}

#[test]
fn the_targeted_field_makes_expires_irrelevant() {
    let e = store(&[("expires", &date(T + s(600))), ("cdn-cache-control", "public")]);
    assert!(!e.at(T + s(1)).is_fresh());
}

#[test]
fn stale_while_revalidate_from_the_targeted_field() {
    let e = store(&[("cdn-cache-control", "max-age=10, stale-while-revalidate=20")]);
    assert_eq!(e.at(T + s(25)), stale(15, true, false));
    assert_eq!(e.at(T + s(31)), stale(21, false, false));
}

// ---- serving stale (§4.2.4, RFC 5861) ----

#[test]
fn stale_while_revalidate_serves_within_its_window() {
    let e = store(&[("cache-control", "max-age=60, stale-while-revalidate=30")]);
    assert_eq!(e.at(T + s(61)), stale(1, true, false));
    assert_eq!(e.at(T + s(90)), stale(30, true, false));
    assert_eq!(e.at(T + s(91)), stale(31, false, false));
}

#[test]
fn stale_if_error_serves_within_its_window() {
    let e = store(&[("cache-control", "max-age=60, stale-if-error=600")]);
    assert_eq!(e.at(T + s(300)), stale(240, false, true));
    assert_eq!(e.at(T + s(661)), stale(601, false, false));
}

#[test]
fn must_revalidate_forbids_serving_stale_on_error() {
    let e = store(&[(
        "cache-control",
        "max-age=60, must-revalidate, stale-if-error=600, stale-while-revalidate=60",
    )]);
    assert_eq!(e.at(T + s(70)), stale(10, false, false));
}

#[test]
fn proxy_revalidate_and_s_maxage_forbid_serving_stale() {
    for cc in ["max-age=60, proxy-revalidate, stale-if-error=600", "s-maxage=60, stale-if-error=600"] {
        let e = store(&[("cache-control", cc)]);
        assert_eq!(e.at(T + s(70)), stale(10, false, false), "{cc}");
    }
}

#[test]
fn response_no_cache_always_revalidates() {
    let e = store(&[("cache-control", "max-age=600, no-cache, stale-if-error=60")]);
    assert_eq!(e.at(T + s(1)), stale(0, false, false));
}

#[test]
fn qualified_no_cache_only_strips_the_named_field() {
    let e = store(&[("cache-control", "max-age=600, no-cache=\"x-token\""), ("x-token", "secret")]);
    assert!(e.at(T + s(1)).is_fresh());
    assert!(!e.head.headers.contains("x-token"));
}

// ---- request directives (§5.2.1) ----

#[test]
fn request_no_cache_revalidates_a_fresh_response() {
    let e = store(&[("cache-control", "max-age=600, stale-while-revalidate=60")]);
    let r = get(&[("cache-control", "no-cache")]);
    assert_eq!(e.verdict(&r, T + s(10)), refused_by_request(false));
}

#[test]
fn pragma_no_cache_applies_only_without_request_cache_control() {
    let e = store(&[("cache-control", "max-age=600")]);
    assert!(!e.verdict(&get(&[("pragma", "no-cache")]), T).is_fresh());
    let both = get(&[("pragma", "no-cache"), ("cache-control", "max-stale")]);
    assert!(e.verdict(&both, T).is_fresh());
}

#[test]
fn request_max_age_limits_the_acceptable_age() {
    let e = store(&[("cache-control", "max-age=600")]);
    assert!(e.verdict(&get(&[("cache-control", "max-age=100")]), T + s(100)).is_fresh());
    assert_eq!(e.verdict(&get(&[("cache-control", "max-age=100")]), T + s(101)), refused_by_request(true));
}

#[test]
fn request_min_fresh_needs_enough_lifetime_left() {
    let e = store(&[("cache-control", "max-age=600")]);
    assert!(e.verdict(&get(&[("cache-control", "min-fresh=100")]), T + s(500)).is_fresh());
    assert!(!e.verdict(&get(&[("cache-control", "min-fresh=100")]), T + s(501)).is_fresh());
}

#[test]
fn request_max_stale_accepts_a_stale_response() {
    let e = store(&[("cache-control", "max-age=60")]);
    assert_eq!(e.verdict(&get(&[("cache-control", "max-stale")]), T + s(1000)), stale(940, true, false));
    assert_eq!(e.verdict(&get(&[("cache-control", "max-stale=30")]), T + s(90)), stale(30, true, false));
    assert_eq!(e.verdict(&get(&[("cache-control", "max-stale=30")]), T + s(91)), stale(31, false, false));
}

#[test]
fn request_max_stale_cannot_override_must_revalidate() {
    let e = store(&[("cache-control", "max-age=60, must-revalidate")]);
    assert_eq!(e.verdict(&get(&[("cache-control", "max-stale")]), T + s(70)), stale(10, false, false));
}

#[test]
fn request_stale_if_error_widens_the_error_window() {
    let e = store(&[("cache-control", "max-age=60")]);
    assert_eq!(
        e.verdict(&get(&[("cache-control", "stale-if-error=100")]), T + s(150)),
        stale(90, false, true)
    );
    assert_eq!(e.at(T + s(150)), stale(90, false, false));
}

// ---- the edge policy's storage ----

#[test]
fn policy_ttl_overrides_the_origin() {
    let store_10m = EdgeStorage::Store { ttl: 600, stale_while_revalidate: 60, stale_if_error: 3600 };
    let r = resp(200, &[("cache-control", "max-age=0, must-revalidate")]);
    let e = fetch(&get(&[]), r, T, store_10m).unwrap();
    assert_eq!(e.at(T + s(599)), Verdict::Fresh { ttl: 1 });
    assert_eq!(e.at(T + s(630)), stale(30, true, true));
    assert_eq!(e.at(T + s(700)), stale(100, false, true));
}

#[test]
fn policy_ttl_zero_stores_but_revalidates_every_time() {
    let st = EdgeStorage::Store { ttl: 0, stale_while_revalidate: 0, stale_if_error: 0 };
    let e = fetch(&get(&[]), resp(200, &[("etag", "\"a\"")]), T, st).unwrap();
    assert_eq!(e.at(T), stale(0, false, false));
}

#[test]
fn policy_cannot_store_what_sets_a_cookie() {
    let st = EdgeStorage::Store { ttl: 600, stale_while_revalidate: 0, stale_if_error: 0 };
    let r = resp(200, &[("set-cookie", "session=1")]);
    assert_eq!(fetch(&get(&[]), r, T, st).err(), Some(NotStored::SetCookie));
}

#[test]
fn policy_dont_store_refuses() {
    let r = resp(200, &[("cache-control", "public, max-age=600")]);
    assert_eq!(fetch(&get(&[]), r, T, EdgeStorage::DontStore).err(), Some(NotStored::Policy));
}

// ---- soft purge ----

#[test]
fn a_soft_purge_makes_a_fresh_entry_stale_from_that_instant() {
    let mut e = store(&[("cache-control", "max-age=3600")]);
    e.stale_from = Some(T + s(100));
    assert_eq!(e.at(T + s(99)), Verdict::Fresh { ttl: 1 });
    assert_eq!(e.at(T + s(130)), stale(30, false, false));
}

#[test]
fn a_soft_purged_entry_is_never_served_without_revalidation() {
    // Neither within the response's stale-while-revalidate window nor to a client's
    // max-stale: a purge is the operator saying the stored copy must not be served as is.
    let mut e = store(&[("cache-control", "max-age=3600, stale-while-revalidate=60, stale-if-error=600")]);
    e.stale_from = Some(T + s(100));
    assert_eq!(e.at(T + s(150)), stale(50, false, true));
    for max_stale in ["max-stale", "max-stale=3600"] {
        assert_eq!(e.verdict(&get(&[("cache-control", max_stale)]), T + s(150)), stale(50, false, true));
    }
    // Without the purge the same requests are served stale.
    e.stale_from = None;
    assert_eq!(e.verdict(&get(&[("cache-control", "max-stale")]), T + s(3650)), stale(50, true, true));
}

#[test]
fn a_soft_purge_after_expiry_changes_nothing() {
    let mut e = store(&[("cache-control", "max-age=10")]);
    e.stale_from = Some(T + s(100));
    assert_eq!(e.at(T + s(120)), stale(110, false, false));
}

// ---- storability (§3) ----

#[test]
fn authorization_needs_public_s_maxage_or_must_revalidate() {
    let auth = get(&[("authorization", "Bearer t")]);
    let plain = resp(200, &[("cache-control", "max-age=60")]);
    assert_eq!(fetch(&auth, plain, T, ORIGIN).err(), Some(NotStored::Authorization));
    let public = resp(200, &[("cache-control", "public, max-age=60")]);
    assert!(fetch(&auth, public, T, ORIGIN).is_ok());
}

#[test]
fn cookie_authenticated_requests_are_treated_like_authorization() {
    let plain = resp(200, &[("cache-control", "max-age=60")]);
    assert_eq!(storable::check(&get(&[]), true, &plain, ORIGIN), Err(NotStored::Authorization));
    let shared = resp(200, &[("cache-control", "s-maxage=60")]);
    assert_eq!(storable::check(&get(&[]), true, &shared, ORIGIN), Ok(()));
}

#[test]
fn vary_star_is_never_stored() {
    let r = resp(200, &[("cache-control", "max-age=60"), ("vary", "*")]);
    assert_eq!(fetch(&get(&[]), r, T, ORIGIN).err(), Some(NotStored::VaryStar));
}

#[test]
fn partial_content_is_never_stored() {
    let r = resp(206, &[("cache-control", "max-age=60"), ("content-range", "bytes 0-9/100")]);
    assert_eq!(fetch(&get(&[("range", "bytes=0-9")]), r, T, ORIGIN).err(), Some(NotStored::Partial));
}

#[test]
fn head_is_not_stored_but_is_answered_from_a_stored_get() {
    let r = resp(200, &[("cache-control", "max-age=60")]);
    let head_req = req("HEAD", "https://example.org/page", &[]);
    assert_eq!(storable::check(&head_req, false, &r, ORIGIN), Err(NotStored::Method));
    let e = store(&[("cache-control", "max-age=60")]);
    assert!(e.verdict(&head_req, T + s(1)).is_fresh());
}

#[test]
fn qualified_private_strips_the_field_and_stores_the_rest() {
    let e = store(&[
        ("cache-control", "max-age=60, private=\"x-user\""),
        ("x-user", "alice"),
        ("connection", "close"),
    ]);
    assert!(!e.head.headers.contains("x-user"));
    assert!(!e.head.headers.contains("connection"));
    assert!(e.at(T).is_fresh());
}

#[test]
fn must_understand_with_no_store_stores_understood_statuses() {
    let r = resp(404, &[("cache-control", "max-age=60, no-store, must-understand")]);
    assert!(fetch(&get(&[]), r, T, ORIGIN).is_ok());
}

#[test]
fn not_stored_reasons_appear_in_cache_status() {
    let reason =
        storable::check(&get(&[]), false, &resp(200, &[("cache-control", "private")]), ORIGIN).unwrap_err();
    let status = CacheStatus {
        fwd: Some(Fwd::UriMiss),
        fwd_status: Some(200),
        detail: Some(reason.as_str()),
        ..Default::default()
    };
    assert_eq!(status.to_value("rulecache"), "rulecache; fwd=uri-miss; fwd-status=200; detail=private");
}

// ---- revalidation (§4.3) ----

#[test]
fn revalidation_304_merge_updates_headers_and_keeps_body_validators() {
    let e = store(&[
        ("cache-control", "max-age=60"),
        ("etag", "\"v1\""),
        ("content-type", "text/html"),
        ("content-length", "1234"),
    ]);
    let ours = revalidate::conditional_headers(&e.head).expect("a validator");
    assert_eq!(ours.get("if-none-match"), Some("\"v1\""));

    let later = T + s(100);
    let nm = resp(304, &[("cache-control", "max-age=300"), ("etag", "\"v1\""), ("date", &date(later))]);
    let merged = revalidate::merge_not_modified(&e.head, &nm).unwrap();
    assert_eq!(merged.status, 200);
    assert_eq!(merged.headers.get("etag"), Some("\"v1\""));
    assert_eq!(merged.headers.get("content-length"), Some("1234"));
    assert_eq!(merged.headers.get("cache-control"), Some("max-age=300"));

    let refreshed =
        Entry { head: merged, request_time: later, response_time: later, storage: ORIGIN, stale_from: None };
    assert_eq!(refreshed.at(later + s(100)), Verdict::Fresh { ttl: 200 });
}

#[test]
fn a_304_for_another_representation_does_not_update() {
    let e = store(&[("cache-control", "max-age=60"), ("etag", "\"v1\"")]);
    let nm = resp(304, &[("etag", "\"v2\""), ("cache-control", "max-age=600")]);
    assert_eq!(revalidate::merge_not_modified(&e.head, &nm), None);
}

#[test]
fn a_weak_304_updates_by_last_modified_or_weak_etag() {
    let lm = date(T - s(1000));
    let e = store(&[("cache-control", "max-age=60"), ("etag", "W/\"v1\""), ("last-modified", &lm)]);
    let h = revalidate::conditional_headers(&e.head).unwrap();
    assert_eq!(h.get("if-modified-since"), Some(lm.as_str()));
    assert!(revalidate::merge_not_modified(&e.head, &resp(304, &[("etag", "W/\"v1\"")])).is_some());
    assert!(revalidate::merge_not_modified(&e.head, &resp(304, &[("last-modified", &lm)])).is_some());
}

// ---- client conditionals ----

#[test]
fn weak_etag_comparison_for_if_none_match() {
    let e = store(&[("cache-control", "max-age=60"), ("etag", "W/\"v1\""), ("content-type", "text/html")]);
    let r = get(&[("if-none-match", "\"v1\"")]);
    assert_eq!(conditional::evaluate(&r, &e.head), Conditional::NotModified);
    let nm = conditional::not_modified(&e.head);
    assert_eq!(nm.status, 304);
    assert_eq!(nm.headers.get("etag"), Some("W/\"v1\""));
    assert!(!nm.headers.contains("content-type"));
}

#[test]
fn if_modified_since_against_a_cached_last_modified() {
    let lm = date(T - s(1000));
    let e = store(&[("cache-control", "max-age=60"), ("last-modified", &lm)]);
    assert_eq!(conditional::evaluate(&get(&[("if-modified-since", &lm)]), &e.head), Conditional::NotModified);
    let earlier = date(T - s(2000));
    assert_eq!(conditional::evaluate(&get(&[("if-modified-since", &earlier)]), &e.head), Conditional::None);
}

#[test]
fn if_match_mismatch_is_a_precondition_failure() {
    let e = store(&[("cache-control", "max-age=60"), ("etag", "\"v1\"")]);
    assert_eq!(
        conditional::evaluate(&get(&[("if-match", "\"v0\"")]), &e.head),
        Conditional::PreconditionFailed
    );
}

// ---- invalidation (§4.4) ----

#[test]
fn post_invalidates_location_same_origin_but_not_cross_origin() {
    let post = req("POST", "https://example.org/folder/add", &[]);
    let same = resp(302, &[("location", "/folder/new-item")]);
    let got: Vec<String> = invalidate::targets(&post, &same).into_iter().map(String::from).collect();
    assert_eq!(got, vec!["https://example.org/folder/add", "https://example.org/folder/new-item"]);
    let cross = resp(302, &[("location", "https://other.example/folder/new-item")]);
    let got: Vec<String> = invalidate::targets(&post, &cross).into_iter().map(String::from).collect();
    assert_eq!(got, vec!["https://example.org/folder/add"]);
}

#[test]
fn a_failed_unsafe_request_invalidates_nothing() {
    let put = req("PUT", "https://example.org/doc", &[]);
    assert!(invalidate::targets(&put, &resp(409, &[])).is_empty());
}

// ---- Cache-Status from verdicts ----

fn status_for(v: Verdict) -> CacheStatus {
    match v {
        Verdict::Fresh { ttl } => {
            CacheStatus { hit: true, ttl: i64::try_from(ttl).ok(), ..Default::default() }
        }
        Verdict::Stale { stale_for, serve_while_revalidate: true, .. } => {
            CacheStatus { hit: true, ttl: i64::try_from(stale_for).ok().map(|t| -t), ..Default::default() }
        }
        Verdict::Stale { stale_for, .. } => CacheStatus {
            fwd: Some(Fwd::Stale),
            ttl: i64::try_from(stale_for).ok().map(|t| -t),
            ..Default::default()
        },
    }
}

#[test]
fn cache_status_reports_remaining_and_negative_ttl() {
    let e = store(&[("cache-control", "max-age=400, stale-while-revalidate=100")]);
    assert_eq!(status_for(e.at(T + s(24))).to_value("rulecache"), "rulecache; hit; ttl=376");
    assert_eq!(status_for(e.at(T + s(450))).to_value("rulecache"), "rulecache; hit; ttl=-50");
    assert_eq!(status_for(e.at(T + s(600))).to_value("rulecache"), "rulecache; fwd=stale; ttl=-200");
}

// ---- parsers are total ----

/// A string biased towards the characters these grammars care about, with the odd random
/// Unicode scalar value.
fn string(rng: &mut XorShift) -> String {
    const ALPHABET: &[u8] =
        b"max-age=s-maxage,no-cache private\"\\ W/*?01:;()=,\t9876543210 .GMTSun, Nov 1994:";
    const WORDS: [&str; 8] =
        ["max-age=", "no-cache", "\"", "W/\"", ", ", "?1", "2147483648", "Sun, 06 Nov 1994 08:49:37 GMT"];
    let len = rng.below(40);
    let mut s = String::new();
    for _ in 0..len {
        match rng.below(10) {
            0 => s.push(char::from_u32(u32::try_from(rng.next() % 0x11_0000).unwrap_or(0)).unwrap_or('?')),
            1 => s.push(char::from(u8::try_from(rng.next() % 256).unwrap_or(0))),
            2 => s.push_str(WORDS.get(rng.below(WORDS.len())).copied().unwrap_or("")),
            _ => s.push(char::from(ALPHABET.get(rng.below(ALPHABET.len())).copied().unwrap_or(b'x'))),
        }
    }
    s
}

fn random_headers(rng: &mut XorShift) -> Headers {
    let mut h = Headers::new();
    for _ in 0..rng.below(6) {
        let name = HEADER_NAMES.get(rng.below(HEADER_NAMES.len())).copied().unwrap_or("x");
        h.append(name, string(rng));
    }
    h
}

#[test]
fn parsers_never_panic_on_random_input() {
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let storages = [
        EdgeStorage::HonourOrigin,
        EdgeStorage::DontStore,
        EdgeStorage::Store { ttl: 60, stale_while_revalidate: 10, stale_if_error: 10 },
    ];
    for i in 0..4000u64 {
        let text = string(&mut rng);
        let _ = CacheControl::parse([text.as_str()]);
        let _ = cache_control::delta_seconds(&text);
        let _ = freshness::http_date(&text);
        let _ = conditional::parse_list(&text).count();
        let _ = conditional::EntityTag::parse(&text);
        // A detail is one of the flow's own tokens; odd ones still come out as valid values.
        let detail =
            ["", "anon only", "caf\u{e9}", "\"q\"", "a\\b", "\u{7f}", "no-store"].get(rng.below(7)).copied();
        let _ = CacheStatus { detail, key: Some(text.clone()), ..Default::default() }.to_value(&text);

        let request = RequestHead::new("GET", url_for(&text), random_headers(&mut rng));
        let status = [200u16, 206, 304, 404, 100, 999].get(rng.below(6)).copied().unwrap_or(200);
        let mut response = ResponseHead::new(status, random_headers(&mut rng));
        let _ = cache_control::targeted(&response.headers);
        let storage = storages.get(rng.below(3)).copied().unwrap_or(ORIGIN);
        let _ = storable::check(&request, i % 2 == 0, &response, storage);
        let now = T + rng.next() % s(1_000_000);
        let stored =
            Stored { head: &response, request_time: T, response_time: T, storage, stale_from: Some(now / 2) };
        let _ = freshness::evaluate(&request, &stored, now);
        let _ = conditional::evaluate(&request, &response);
        let _ = revalidate::conditional_headers(&response);
        let nm = ResponseHead::new(304, random_headers(&mut rng));
        let _ = revalidate::merge_not_modified(&response, &nm);
        let post = RequestHead::new("POST", request.url.clone(), Headers::new());
        let _ = invalidate::targets(&post, &response);
        let cc = cache_control::effective(&response.headers).0;
        hop::prepare_for_storage(&mut response.headers, cc.as_ref());
    }
}

fn url_for(text: &str) -> rulecache::http::Url {
    let base = rulecache::http::parse_url("https://example.org/").unwrap();
    rulecache::http::join_url(&base, text)
        .unwrap_or_else(|| rulecache::http::parse_url("https://example.org/x").unwrap())
}
