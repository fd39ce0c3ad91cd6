//! Conformance of the whole request flow as an RFC 9111 shared cache, scenario by scenario.
//!
//! Each test plays a short exchange against a scripted origin on a fake clock: the origin
//! answers with the headers a behaviour depends on, the clock moves, and the next request
//! shows whether the stored response was reused ("cached": the origin was not asked),
//! forwarded ("not cached"), or revalidated (the origin saw a conditional request). The
//! groups follow the areas of the RFCs: freshness, Cache-Control parsing, Expires,
//! heuristics, status codes, Vary, storing header fields, 304 updates, invalidation,
//! conditional requests, response and request directives, serving stale, targeted fields
//! (RFC 9213) and the remaining requirements on Age, Date and cache keys.
//!
//! The policy used is one without rules: every response is handled as its origin says.
//! `conformance_default.rs` beside it runs this very file again under the shipped default profile
//! (split views on, debug headers on, rulesets for Plone's resources): every scenario here
//! uses URLs that profile leaves to the origin (`honourOrigin`), so each must pass there too.

#![allow(clippy::unwrap_used, clippy::type_complexity)]

use rulecache::http::{secs, RequestHead, Time};
use rulecache::policy::Policy;
use rulecache::rfc::freshness::format_http_date;
use rulecache::storage::stats::Outcome;
use rulecache::testing::sim::{Exchange, OriginResult};
use rulecache::testing::world::{self, ScriptedOrigin, World, T0};

/// The policy the scenarios run under: one with no rules, or the shipped default profile when
/// this file is compiled as a module of `conformance_default.rs`. Either way the scenarios'
/// own request fields (`Foo`, `Bar`, `Baz`, `Abc`, `Other`) are declared as fields the origin
/// negotiates on (`cacheKey.trustedHeaders`), so they are forwarded from a URL's first
/// request as §4.1's scenarios assume. Undeclared, a field outside the forwarded set reaches
/// the origin only once a stored `Vary` names it (the key is what is forwarded; see
/// `trust.rs`, `an_undeclared_field_reaches_the_origin_only_once_a_stored_vary_names_it`).
#[allow(clippy::indexing_slicing)] // a JSON object the test builds
fn policy_under_test() -> Policy {
    let mut bundle: serde_json::Value = if module_path!().contains("::conformance_default") {
        serde_json::from_str(Policy::profile_text("with-caching-proxy-splitviews").unwrap()).unwrap()
    } else {
        serde_json::json!({"version": 1, "name": "conformance"})
    };
    bundle["cacheKey"]["trustedHeaders"] = serde_json::json!(["Foo", "Bar", "Baz", "Abc", "Other"]);
    Policy::from_json(&bundle.to_string()).unwrap()
}

/// An HTTP-date `offset` seconds from `now`.
fn at(now: Time, offset: i64) -> String {
    format_http_date(secs(now).saturating_add_signed(offset))
}

/// A response with `headers` and a small body (Content-Length set).
fn answer(status: u16, headers: &[(&str, &str)], body: &str) -> OriginResult {
    world::response(status, headers, body)
}

fn ok(headers: &[(&str, &str)]) -> OriginResult {
    answer(200, headers, "body")
}

/// The test world under its conformance name: the policy under test, one edge, the scripted
/// origin and the clock.
struct Cache(World);

impl Cache {
    /// A cache in front of `answer`, with the policy under test (see [`policy_under_test`]).
    fn new(answer: impl Fn(&RequestHead, usize, Time) -> OriginResult + 'static) -> Self {
        Cache(
            World::new(policy_under_test(), ScriptedOrigin::in_order(answer))
                .with_site("https://origin.example"),
        )
    }

    /// A cache whose origin always answers `status` with `headers` (dates relative to the
    /// clock written as `Date`/`Expires`/`Last-Modified` offsets by the caller's closure).
    fn always(headers: impl Fn(Time) -> Vec<(String, String)> + 'static) -> Self {
        Cache::new(move |_, _, now| {
            let h = headers(now);
            let pairs: Vec<(&str, &str)> = h.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
            ok(&pairs)
        })
    }

    fn send(&mut self, method: &str, path: &str, headers: &[(&str, &str)]) -> Exchange {
        self.0.send(method, path, headers)
    }

    fn get(&mut self, headers: &[(&str, &str)]) -> Exchange {
        self.send("GET", "/r", headers)
    }

    fn pause(&mut self, secs: u64) {
        self.0.advance(secs * 1000);
    }

    fn hits(&self) -> usize {
        self.0.origin.calls()
    }

    fn last_request(&self) -> RequestHead {
        self.0.origin.last().unwrap()
    }

    /// Stores the first response, waits `pause` seconds, and tells whether the second request
    /// (with `headers`) was answered without the origin.
    fn reused_after(&mut self, pause: u64, headers: &[(&str, &str)]) -> bool {
        self.get(&[]);
        assert_eq!(self.hits(), 1);
        self.pause(pause);
        self.get(headers);
        self.hits() == 1
    }
}

/// Pairs with owned values, for origins that compute dates.
fn hv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
}

/// Whether a response with these (fixed) headers is reused 3 seconds later.
fn reused(pairs: &'static [(&'static str, &'static str)]) -> bool {
    Cache::always(move |_| hv(pairs)).reused_after(3, &[])
}

/// Whether a response with these headers, where `Date`, `Expires` and `Last-Modified` may be
/// given as offsets in seconds from the response time ("@-10"), is reused after `pause`.
fn reused_rel(pairs: &'static [(&'static str, &'static str)], pause: u64) -> bool {
    Cache::always(move |now| {
        pairs
            .iter()
            .map(|(n, v)| {
                let v = match v.strip_prefix('@') {
                    Some(off) => at(now, off.parse().unwrap()),
                    None => v.to_string(),
                };
                (n.to_string(), v)
            })
            .collect()
    })
    .reused_after(pause, &[])
}

// --- Freshness from Cache-Control (RFC 9111 §4.2.1, §5.2.2.1, §5.2.2.10) -----------------

#[test]
fn max_age_makes_a_response_reusable_while_fresh() {
    // §4.2.1: "If the max-age response directive is present, use its value".
    assert!(reused(&[("cache-control", "max-age=3600")]));
    assert!(reused(&[("cache-control", "MaX-aGe=3600")]), "directive names are case-insensitive");
    assert!(reused(&[("cache-control", "foobar, max-age=3600")]), "unknown extensions are ignored");
    assert!(reused(&[("cache-control", "max-age=003600")]), "delta-seconds is 1*DIGIT");
}

#[test]
fn max_age_as_a_quoted_string_is_honoured() {
    // §5.2: "recipients ought to accept both forms, even if a specific form is required".
    assert!(reused(&[("cache-control", "max-age=\"3600\"")]));
}

#[test]
fn max_age_inside_an_extensions_quoted_string_is_not_a_directive() {
    // §5.2: cache-directive = token [ "=" ( token / quoted-string ) ]: text inside a
    // quoted-string is an argument, not a directive.
    assert!(!reused(&[("cache-control", "extension=\"max-age=3600\", max-age=1")]));
    assert!(!reused(&[("cache-control", "max-age=1, extension=\"max-age=3600\"")]));
    assert!(!reused(&[("cache-control", "extension=\"max-age=3600\", max-age=\"1\"")]));
    assert!(!reused(&[("cache-control", "max-age=\"1\", extension=\"max-age=3600\"")]));
}

#[test]
fn malformed_max_age_values_do_not_make_a_response_fresh() {
    // §1.2.2: "If a cache receives a delta-seconds value [...] that it cannot parse, the
    // value is invalid"; §4.2.1: an invalid freshness value makes the response stale.
    for cc in ["max-age='3600'", "max-age=a100", "max-age=100a", "max-age=-100", "max-age=0"] {
        let cc: &'static str = cc;
        assert!(!Cache::always(move |_| hv(&[("cache-control", cc)])).reused_after(3, &[]), "{cc}");
    }
}

#[test]
fn whitespace_around_the_equals_sign_is_not_a_max_age() {
    // §5.2: cache-directive = token [ "=" ( token / quoted-string ) ]: no whitespace is
    // allowed around "=", so "max-age =100" and "max-age= 100" are not max-age directives.
    assert!(!reused(&[("cache-control", "max-age =100")]));
    assert!(!reused(&[("cache-control", "max-age= 100")]));
}

#[test]
fn huge_max_age_values_are_clamped_not_rejected() {
    // §1.2.2: "If a cache receives a delta-seconds value greater than the greatest integer it
    // can represent, or if any of its subsequent calculations overflows, the cache MUST
    // consider the value to be 2147483648 (2^31)".
    for cc in ["max-age=2147483647", "max-age=2147483648", "max-age=2147483649", "max-age=99999999999"] {
        let cc: &'static str = cc;
        assert!(Cache::always(move |_| hv(&[("cache-control", cc)])).reused_after(3, &[]), "{cc}");
    }
}

#[test]
fn a_response_becomes_stale_when_max_age_runs_out() {
    // §4.2: "A fresh response is one whose age has not yet exceeded its freshness lifetime."
    assert!(!reused(&[("cache-control", "max-age=2"), ("template-a", "1")]));
}

#[test]
fn an_old_date_counts_towards_the_age() {
    // §4.2.3: apparent_age = max(0, response_time - date_value).
    assert!(!reused_rel(&[("date", "@-7200"), ("cache-control", "max-age=3600")], 3));
}

#[test]
fn an_age_beyond_max_age_makes_the_response_stale() {
    // §4.2.3: corrected_age_value = age_value + response_delay.
    assert!(!reused_rel(&[("date", "@0"), ("cache-control", "max-age=10"), ("age", "15")], 3));
}

#[test]
fn max_age_takes_precedence_over_expires() {
    // §5.3: "If a response includes a Cache-Control header field with the max-age directive,
    // a recipient MUST ignore the Expires header field."
    assert!(reused_rel(&[("cache-control", "max-age=3600"), ("expires", "@-10000"), ("date", "@0")], 3));
    assert!(reused_rel(&[("cache-control", "max-age=3600"), ("expires", "0"), ("date", "@0")], 3));
    assert!(!reused_rel(&[("expires", "@10000"), ("cache-control", "max-age=0"), ("date", "@0")], 3));
}

#[test]
fn s_maxage_overrides_max_age_for_a_shared_cache() {
    // §4.2.1: "If the cache is shared and the s-maxage response directive is present, use its
    // value"; §5.2.2.10: "the maximum age specified by this directive overrides the maximum
    // age specified by either the max-age directive or the Expires header field".
    assert!(reused(&[("cache-control", "s-maxage=3600")]));
    assert!(!reused(&[("cache-control", "max-age=3600, s-maxage=1")]));
    assert!(!reused(&[("cache-control", "s-maxage=1, max-age=3600")]));
    assert!(!reused(&[("cache-control", "max-age=3600"), ("cache-control", "s-maxage=1")]));
    assert!(reused(&[("cache-control", "max-age=1, s-maxage=3600")]));
    assert!(reused_rel(&[("expires", "@-10"), ("cache-control", "max-age=0, s-maxage=3600")], 3));
}

// --- Expires (RFC 9111 §5.3) --------------------------------------------------------------

#[test]
fn a_future_expires_is_fresh_a_past_or_present_one_is_not() {
    // §4.2.1: freshness_lifetime = Expires - Date.
    assert!(reused_rel(&[("expires", "@2592000"), ("date", "@0")], 3));
    assert!(!reused_rel(&[("expires", "@-2592000"), ("date", "@0")], 3));
    assert!(!reused_rel(&[("expires", "@0"), ("date", "@0")], 0));
    assert!(!reused_rel(&[("expires", "@300"), ("date", "@400")], 3));
}

#[test]
fn invalid_expires_dates_mean_already_expired() {
    // §5.3: "A cache recipient MUST interpret invalid date formats, especially the value "0",
    // as representing a time in the past (i.e., "already expired")."
    for e in [
        "0",
        "Thu, 18 Aug 2050 02:01:18 UTC",
        "Thu, 18 Aug 50 02:01:18 GMT",
        "Thu 18 Aug 2050 02:01:18 GMT",
        "Thu, 18  Aug  2050 02:01:18 GMT",
        "Thu, 18-Aug-2050 02:01:18 GMT",
        "Thu, 18 Aug 2050 02.01.18 GMT",
        "Thu, 18 Aug 2050 2:01:18 GMT",
    ] {
        let e: &'static str = e;
        let mut c = Cache::always(move |now| hv(&[("expires", e), ("date", &at(now, 0))]));
        assert!(!c.reused_after(3, &[]), "{e}");
    }
}

#[test]
fn an_expires_in_the_wrong_case_is_still_read() {
    // RFC 9110 §5.6.7: "Recipients of timestamp values are encouraged to be robust in parsing
    // timestamps unless otherwise restricted by the field definition."
    for e in
        ["THU, 18 Aug 2050 02:01:18 GMT", "Thu, 18 AUG 2050 02:01:18 GMT", "Thu, 18 Aug 2050 02:01:18 gMT"]
    {
        let e: &'static str = e;
        let mut c = Cache::always(move |now| hv(&[("expires", e), ("date", &at(now, 0))]));
        assert!(c.reused_after(3, &[]), "{e}");
    }
}

#[test]
fn expires_counts_from_the_receipt_time_when_date_is_invalid() {
    // §4.2.1: "using the time the message was received if it is not present" (an invalid
    // Date is as if absent, RFC 9110 §6.6.1).
    assert!(reused_rel(&[("date", "foo"), ("expires", "@10")], 0));
}

#[test]
fn an_age_beyond_expires_minus_date_makes_the_response_stale() {
    // §4.2.3: corrected_initial_age = max(apparent_age, corrected_age_value).
    assert!(!reused_rel(&[("date", "@-10"), ("expires", "@10"), ("age", "25")], 0));
    assert!(!reused_rel(&[("date", "@10"), ("expires", "@20"), ("age", "15")], 0));
}

// --- Age parsing (RFC 9111 §5.1) ------------------------------------------------------------

#[test]
fn an_unparsable_age_is_ignored() {
    // §5.1: Age = delta-seconds; "If a cache receives a delta-seconds value [...] that it
    // cannot parse, the value is invalid" (§1.2.2).
    for age in ["abc", "-7200", "7200.0"] {
        let age: &'static str = age;
        let mut c = Cache::always(move |now| {
            hv(&[("date", &at(now, 0)), ("cache-control", "max-age=3600"), ("age", age)])
        });
        assert!(c.reused_after(3, &[]), "{age}");
    }
}

#[test]
fn a_valid_old_age_makes_the_response_stale() {
    let mut c = Cache::always(|now| {
        hv(&[("date", &at(now, 0)), ("cache-control", "max-age=3600"), ("age", "7200"), ("age", "7200")])
    });
    assert!(!c.reused_after(3, &[]));
}

// --- Heuristic freshness (RFC 9111 §4.2.2, RFC 9110 §15.1) ---------------------------------

fn heuristic(status: u16, extra: Option<(&'static str, &'static str)>) -> bool {
    let mut c = Cache::new(move |_, _, now| {
        let lm = at(now, -86_400);
        let d = at(now, 0);
        let mut h = vec![("last-modified", lm.as_str()), ("date", d.as_str())];
        h.extend(extra);
        answer(status, &h, "x")
    });
    c.reused_after(0, &[])
}

#[test]
fn heuristically_cacheable_statuses_are_reused_with_last_modified() {
    // §4.2.2: "a cache MAY assign a heuristic expiration time when an explicit time is not
    // specified" for status codes "defined as heuristically cacheable".
    for status in [200, 203, 204, 404, 405, 410, 414, 501] {
        assert!(heuristic(status, None), "{status}");
    }
}

#[test]
fn other_statuses_get_no_heuristic_lifetime() {
    // §4.2.2: "Since origin servers do not always provide explicit expiration times, a cache
    // MAY assign a heuristic expiration time" only to heuristically cacheable responses.
    for status in [201, 202, 403, 502, 503, 504, 599] {
        assert!(!heuristic(status, None), "{status}");
    }
}

#[test]
fn public_makes_an_unknown_status_heuristically_cacheable() {
    // §4.2.2: heuristics apply to responses "marked as explicitly cacheable (e.g., with a
    // public response directive)".
    assert!(heuristic(599, Some(("cache-control", "public"))));
}

// --- Status codes with explicit freshness (RFC 9111 §3) ----------------------------------

const STATUSES: [u16; 18] =
    [200, 203, 204, 299, 301, 302, 303, 307, 308, 400, 404, 410, 499, 500, 502, 503, 504, 599];

#[test]
fn any_final_status_with_explicit_freshness_is_reused_while_fresh() {
    // §3: a response may be stored if "the response status code is final" and it "contains
    // [...] a max-age response directive" or "an Expires header field".
    for status in STATUSES {
        let mut c = Cache::new(move |_, _, now| {
            let (e, lm, d) = (at(now, 100_000), at(now, 0), at(now, 0));
            let h = [
                ("expires", e.as_str()),
                ("cache-control", "max-age=100000"),
                ("last-modified", &lm),
                ("date", &d),
            ];
            answer(status, &h, if status == 204 { "" } else { "x" })
        });
        assert!(c.reused_after(0, &[]), "{status}");
        assert_eq!(c.get(&[]).head.status, status);
    }
}

#[test]
fn any_status_already_stale_is_not_reused() {
    // §4.2: "A fresh response is one whose age has not yet exceeded its freshness lifetime."
    for status in STATUSES {
        let mut c = Cache::new(move |_, _, now| {
            let (e, lm, d) = (at(now, -5000), at(now, -100_000), at(now, 0));
            answer(status, &[("expires", &e), ("last-modified", &lm), ("date", &d)], "x")
        });
        assert!(!c.reused_after(0, &[]), "{status}");
    }
}

// --- Vary (RFC 9111 §4.1) ----------------------------------------------------------------

fn vary_cache(vary: &'static [&'static str]) -> Cache {
    Cache::new(move |req, n, now| {
        let (lm, d) = (at(now, -3000), at(now, 0));
        let mut h =
            vec![("cache-control", "max-age=5000"), ("last-modified", lm.as_str()), ("date", d.as_str())];
        h.extend(vary.iter().map(|v| ("vary", *v)));
        let _ = req;
        answer(200, &h, &format!("v{n}"))
    })
}

/// Sends `first` then `second` (request headers) and tells whether the second was reused.
fn vary_reused(vary: &'static [&'static str], first: &[(&str, &str)], second: &[(&str, &str)]) -> bool {
    let mut c = vary_cache(vary);
    c.get(first);
    c.get(second);
    c.hits() == 1
}

#[test]
fn a_vary_response_is_reused_only_when_the_selecting_fields_match() {
    // §4.1: "When a cache receives a request that can be satisfied by a stored response that
    // includes a Vary header field, it MUST NOT use that stored response without revalidation
    // unless all the presented request header fields nominated by that Vary field value match
    // those fields in the original request".
    assert!(vary_reused(&["Foo"], &[("foo", "1")], &[("foo", "1")]));
    assert!(!vary_reused(&["Foo"], &[("foo", "1")], &[("foo", "2")]));
    assert!(!vary_reused(&["Foo"], &[], &[("foo", "1")]), "stored request lacked the field");
    assert!(!vary_reused(&["Foo"], &[("foo", "1")], &[]), "presented request lacks the field");
    assert!(vary_reused(&["Foo"], &[("foo", "1"), ("other", "2")], &[("foo", "1"), ("other", "3")]));
}

#[test]
fn multi_field_vary_needs_every_field_to_match() {
    let two: &[(&str, &str)] = &[("foo", "1"), ("bar", "abc")];
    assert!(vary_reused(&["Foo, Bar"], two, two));
    assert!(!vary_reused(&["Foo, Bar"], two, &[("foo", "2"), ("bar", "abc")]));
    assert!(!vary_reused(&["Foo, Bar"], &[("foo", "1")], &[]));
    let three: &[(&str, &str)] = &[("foo", "1"), ("bar", "abc"), ("baz", "789")];
    assert!(vary_reused(&["Foo, Bar, Baz"], three, three));
    assert!(!vary_reused(&["Foo, Bar, Baz"], three, &[("foo", "2"), ("bar", "abc"), ("baz", "789")]));
    assert!(!vary_reused(&["Foo, Bar, Baz"], three, &[("foo", "1"), ("baz", "789"), ("bar", "abcde")]));
    // §4.1: "If (after any normalization that might take place) a header field is absent from
    // a request, it can only match another request if it is also absent there."
    let omit: &[(&str, &str)] = &[("foo", "1"), ("baz", "789")];
    assert!(vary_reused(&["Foo, Bar, Baz"], omit, omit));
}

#[test]
fn two_variants_of_one_url_are_kept_side_by_side() {
    let mut c = vary_cache(&["Foo"]);
    assert_eq!(c.get(&[("foo", "1")]).text(), "v1");
    assert_eq!(c.get(&[("foo", "2")]).text(), "v2");
    let again = c.get(&[("foo", "1")]);
    assert_eq!((again.text().as_str(), c.hits()), ("v1", 2));
}

#[test]
fn vary_star_never_matches() {
    // §4.1: "A stored response with a Vary header field value containing a member "*" always
    // fails to match."
    let req: &[(&str, &str)] = &[("foo", "1"), ("baz", "789")];
    for vary in [&["*"][..], &["*, *"], &["*", "*"], &[", *"], &["", "*"], &["*, Foo"], &["Foo, *"]] {
        let vary: &'static [&'static str] = vary;
        assert!(!vary_reused(vary, req, req), "{vary:?}");
    }
}

#[test]
fn selecting_field_values_are_normalised() {
    // §4.1: fields match after "adding or removing whitespace, where allowed in the header
    // field's syntax", "combining multiple header field lines with the same field name" and
    // "normalizing both header values in a way that is known to have identical semantics".
    assert!(vary_reused(&["Foo"], &[("foo", "1,2")], &[("foo", " 1, 2 ")]));
    assert!(vary_reused(&["Foo"], &[("foo", "1, 2")], &[("foo", "1"), ("foo", "2")]));
    let en_de: &[(&str, &str)] = &[("accept-language", "en, de")];
    assert!(vary_reused(&["Accept-Language"], en_de, &[("accept-language", "eN, De")]));
    assert!(vary_reused(&["Accept-Language"], en_de, &[("accept-language", " en ,   de")]));
}

// --- Storing header fields (RFC 9111 §3.1) -----------------------------------------------

fn stored_headers(extra: &'static [(&'static str, &'static str)]) -> Exchange {
    let mut c = Cache::always(move |now| {
        let mut h = hv(&[("date", &at(now, 0)), ("cache-control", "max-age=3600")]);
        h.extend(hv(extra));
        h
    });
    c.get(&[]);
    c.pause(3);
    let x = c.get(&[]);
    assert_eq!((x.outcome, c.hits()), (Outcome::Hit, 1));
    x
}

#[test]
fn fields_named_by_connection_are_not_stored() {
    // §3.1: the cache "MUST NOT store [...] the Connection header field and any fields it
    // lists" (RFC 9110 §7.6.1).
    let x = stored_headers(&[("connection", "a, b"), ("a", "1"), ("b", "2"), ("c", "3")]);
    assert_eq!(x.header("c"), Some("3"));
    assert!(x.header("a").is_none() && x.header("b").is_none() && x.header("connection").is_none());
}

#[test]
fn end_to_end_fields_are_stored_and_served() {
    // §3.1: "the cache MUST store all received response header fields", with the exceptions
    // below.
    const FIELDS: &[(&str, &str)] = &[
        ("test-header", "x"),
        ("x-test-header", "x"),
        ("content-foo", "x"),
        ("x-content-foo", "x"),
        ("content-type", "text/plain"),
        ("content-location", "/foo"),
        ("content-security-policy", "default-src 'self'"),
        ("clear-site-data", "cache"),
        ("etag", "\"abcdef\""),
        ("x-frame-options", "deny"),
        ("x-xss-protection", "1"),
        ("public-key-pins", "x"),
    ];
    let x = stored_headers(FIELDS);
    for &(n, v) in FIELDS {
        assert_eq!(x.header(n), Some(v), "{n}");
    }
}

#[test]
fn proxy_specific_and_hop_by_hop_fields_are_not_stored() {
    // §3.1: "Header fields that are specific to the proxy that a cache uses when forwarding a
    // request MUST NOT be stored [...] Effectively, this is limited to Proxy-Authenticate
    // (Section 11.7.1 of [HTTP]), Proxy-Authentication-Info (Section 11.7.3 of [HTTP]), and
    // Proxy-Authorization (Section 11.7.2 of [HTTP])."
    let x = stored_headers(&[
        ("keep-alive", "timeout=5"),
        ("proxy-authenticate", "Basic"),
        ("proxy-authentication-info", "x"),
        ("proxy-authorization", "Basic x"),
        ("proxy-connection", "keep-alive"),
        ("te", "trailers"),
        ("upgrade", "h2c"),
    ]);
    for n in [
        "keep-alive",
        "proxy-authenticate",
        "proxy-authentication-info",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "upgrade",
    ] {
        assert!(x.header(n).is_none(), "{n}");
    }
}

// --- Freshening with a 304 (RFC 9111 §4.3.4, §3.2) ---------------------------------------

const LM1: &str = "Wed, 01 Jan 2020 00:00:00 GMT";

#[test]
fn a_304_that_omits_a_stored_field_keeps_it() {
    // §3.2: "the cache MUST add each header field in the provided response to the stored
    // response, replacing field values that are already present": fields it lacks remain.
    let mut c = Cache::new(|req, n, now| {
        if n == 1 {
            ok(&[
                ("cache-control", "max-age=2"),
                ("last-modified", LM1),
                ("date", &at(now, 0)),
                ("test-header", "A"),
            ])
        } else {
            assert_eq!(req.headers.get("if-modified-since"), Some(LM1));
            answer(304, &[("last-modified", LM1), ("date", &at(now, 0))], "")
        }
    });
    c.get(&[]);
    c.pause(3);
    let x = c.get(&[]);
    assert_eq!((c.hits(), x.head.status, x.header("test-header")), (2, 200, Some("A")));
}

/// A field stored with `a`, then revalidated by a 304 carrying `b`: what the revalidated and
/// the following cached response say.
fn after_304(name: &'static str, a: &'static str, b: &'static str) -> (Option<String>, Option<String>) {
    let mut c = Cache::new(move |req, n, now| {
        let value = if n == 1 { a } else { b };
        let mut h = vec![("date".to_string(), at(now, 0)), (name.to_string(), value.to_string())];
        if name != "cache-control" {
            h.push(("cache-control".into(), "max-age=2".into()));
        }
        h.push(("etag".into(), "\"e1\"".into()));
        let pairs: Vec<(&str, &str)> = h.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        if n == 1 {
            answer(200, &pairs, "hello")
        } else {
            assert_eq!(req.headers.get("if-none-match"), Some("\"e1\""));
            answer(304, &pairs, "")
        }
    });
    c.get(&[]);
    c.pause(3);
    let revalidated = c.get(&[]);
    assert_eq!((c.hits(), revalidated.outcome), (2, Outcome::Revalidated304));
    let cached = c.get(&[]);
    assert_eq!((c.hits(), cached.outcome), (2, Outcome::Hit), "{name}: fresh again after the 304");
    (revalidated.header(name).map(str::to_string), cached.header(name).map(str::to_string))
}

#[test]
fn a_304_updates_the_stored_fields_it_carries() {
    // §4.3.4: "the cache [...] MUST use other header fields provided in the 304 (Not Modified)
    // response to replace all instances of the corresponding header fields in the stored
    // response."
    for name in ["test-header", "x-test-header", "content-foo", "x-content-foo"] {
        let b = Some("B".to_string());
        assert_eq!(after_304(name, "A", "B"), (b.clone(), b), "{name}");
    }
    let long = Some("max-age=3600".to_string());
    assert_eq!(after_304("cache-control", "max-age=1", "max-age=3600"), (long.clone(), long));
}

#[test]
fn a_304_never_changes_the_stored_content_length() {
    // §3.2: "Caches MUST NOT update [...] the Content-Length header field" (the stored body
    // keeps its length).
    let five = Some("5".to_string());
    assert_eq!(after_304("content-length", "5", "10"), (five.clone(), five));
}

// --- Invalidation (RFC 9111 §4.4) --------------------------------------------------------

fn invalidation(method: &str, status: u16) -> bool {
    let mut c = Cache::new(move |req, _, now| {
        if req.method == "GET" {
            ok(&[("cache-control", "max-age=100000"), ("date", &at(now, 0))])
        } else {
            answer(status, &[], "done")
        }
    });
    c.get(&[]);
    c.send(method, "/r", &[("content-type", "text/plain")]);
    let before = c.hits();
    c.get(&[]);
    c.hits() > before
}

#[test]
fn unsafe_methods_invalidate_the_target_uri_on_success() {
    // §4.4: "A cache MUST invalidate the target URI [...] when it receives a non-error status
    // code in response to an unsafe request method (including methods whose safety is
    // unknown)."
    for m in ["POST", "PUT", "DELETE", "MKCOL"] {
        assert!(invalidation(m, 200), "{m}");
    }
}

#[test]
fn failed_unsafe_requests_do_not_invalidate() {
    // §4.4: "Here, a "non-error response" is one with a 2xx (Successful) or 3xx (Redirection)
    // status code."
    for m in ["POST", "PUT", "DELETE", "MKCOL"] {
        assert!(!invalidation(m, 500), "{m}");
    }
}

#[test]
fn location_and_content_location_are_invalidated_too() {
    // §4.4: "the URI(s) in the Location and Content-Location response header fields (if
    // present) are candidates for invalidation", same origin only.
    for m in ["POST", "PUT", "DELETE", "MKCOL"] {
        let mut c = Cache::new(|req, _, now| {
            if req.method == "GET" {
                ok(&[("cache-control", "max-age=100000"), ("date", &at(now, 0))])
            } else {
                answer(200, &[("location", "/loc"), ("content-location", "/cl")], "done")
            }
        });
        c.send("GET", "/loc", &[]);
        c.send("GET", "/cl", &[]);
        c.send(m, "/r", &[]);
        c.send("GET", "/loc", &[]);
        c.send("GET", "/cl", &[]);
        assert_eq!(c.hits(), 5, "{m}");
    }
}

// --- Conditional requests answered by the cache (RFC 9111 §4.3.2) -------------------------

fn fresh_with(extra: &'static [(&'static str, &'static str)]) -> Cache {
    let mut c = Cache::always(move |now| {
        let mut h = hv(&[("cache-control", "max-age=100000"), ("date", &at(now, 0))]);
        h.extend(hv(extra));
        h
    });
    c.get(&[]);
    c
}

#[test]
fn if_none_match_is_answered_with_304_from_a_fresh_response() {
    // §4.3.2: "A cache MUST evaluate the conditional [...] If-None-Match"; RFC 9110 §15.4.5:
    // the 304 carries ETag.
    for (etag, inm) in [
        ("\"abcdef\"", "\"abcdef\""),
        ("W/\"abcdef\"", "W/\"abcdef\""),
        ("\"abcdef\"", "\"abcdef\", \"1234\", \"5678\""),
        ("\"abcdef\"", "\"1234\", \"abcdef\", \"5678\""),
        ("\"abcdef\"", "\"1234\", \"5678\", \"abcdef\""),
    ] {
        let pairs: &'static [(&'static str, &'static str)] = Box::leak(Box::new([("etag", etag)]));
        let mut c = fresh_with(pairs);
        let x = c.get(&[("if-none-match", inm)]);
        assert_eq!((x.head.status, c.hits(), x.header("etag")), (304, 1, Some(etag)), "{inm}");
    }
}

#[test]
fn if_none_match_takes_precedence_over_if_modified_since() {
    // RFC 9110 §13.1.3: "A recipient MUST ignore If-Modified-Since if the request contains an
    // If-None-Match header field".
    let mut c = Cache::always(|now| {
        hv(&[
            ("cache-control", "max-age=100000"),
            ("date", &at(now, 0)),
            ("last-modified", &at(now, -5000)),
            ("etag", "\"abcdef\""),
        ])
    });
    c.get(&[]);
    let ims = at(T0, -6000);
    let x = c.get(&[("if-none-match", "\"abcdef\""), ("if-modified-since", &ims)]);
    assert_eq!((x.head.status, c.hits()), (304, 1));
}

#[test]
fn if_modified_since_is_answered_from_last_modified() {
    // §4.3.2: a cache evaluates If-Modified-Since against the stored Last-Modified.
    let mut c = Cache::always(|now| {
        hv(&[("cache-control", "max-age=100000"), ("last-modified", &at(now, -3000)), ("date", &at(now, 0))])
    });
    c.get(&[]);
    c.pause(3);
    for ims in [at(T0, -3000), at(T0, -2000)] {
        let x = c.get(&[("if-modified-since", &ims)]);
        assert_eq!((x.head.status, c.hits()), (304, 1), "{ims}");
    }
    // The same instant as an RFC 850 date (RFC 9110 §5.6.7: recipients MUST accept it).
    let rfc850 = httpdate_rfc850(secs(T0) - 3000);
    let x = c.get(&[("if-modified-since", &rfc850)]);
    assert_eq!((x.head.status, c.hits()), (304, 1), "{rfc850}");
}

/// An RFC 850 date ("Sunday, 06-Nov-94 08:49:37 GMT") for `t` seconds since the epoch.
fn httpdate_rfc850(t: u64) -> String {
    let imf = format_http_date(t); // "Sun, 06 Nov 1994 08:49:37 GMT"
    let day = match &imf[..3] {
        "Mon" => "Monday",
        "Tue" => "Tuesday",
        "Wed" => "Wednesday",
        "Thu" => "Thursday",
        "Fri" => "Friday",
        "Sat" => "Saturday",
        _ => "Sunday",
    };
    format!("{day}, {}-{}-{} {}", &imf[5..7], &imf[8..11], &imf[14..16], &imf[17..])
}

#[test]
fn if_modified_since_without_last_modified_is_answered_from_date() {
    // §4.3.2: "the cache SHOULD use the [...] Last-Modified field value [...]; if no
    // Last-Modified is present, [...] the Date field value of the stored response" stands in.
    let mut c = Cache::always(|now| hv(&[("cache-control", "max-age=10000"), ("date", &at(now, 0))]));
    c.get(&[]);
    c.pause(3);
    let ims = at(T0, 1);
    let x = c.get(&[("if-modified-since", &ims)]);
    assert_eq!((x.head.status, c.hits()), (304, 1));
    let before = at(T0, -3000);
    let x = c.get(&[("if-modified-since", &before)]);
    assert_eq!((x.head.status, c.hits()), (200, 1), "stored after the given date");
}

#[test]
fn a_stale_response_is_validated_then_the_clients_conditional_answered() {
    // §4.3.1: the cache sends its own validator; §4.3.2 then answers the client's condition.
    let mut c = Cache::new(|req, n, now| {
        let lm = at(T0, -3000);
        if n == 1 {
            ok(&[("cache-control", "max-age=2"), ("last-modified", &lm), ("date", &at(now, 0))])
        } else {
            assert_eq!(req.headers.get("if-modified-since"), Some(lm.as_str()));
            answer(304, &[("cache-control", "max-age=2"), ("last-modified", &lm), ("date", &at(now, 0))], "")
        }
    });
    c.get(&[]);
    c.pause(3);
    let ims = at(T0, -3000);
    let x = c.get(&[("if-modified-since", &ims)]);
    assert_eq!((x.head.status, c.hits()), (304, 2));
}

#[test]
fn generated_validation_requests_carry_the_validator_and_the_varying_fields() {
    // §4.3.1: "When generating a conditional request for validation, a cache [...] MUST send
    // the relevant entity tag [...] and, if the stored response's Vary lists fields, the
    // request's selecting header fields" (it sends the presented request's fields).
    for etag in ["\"abcdef\"", "W/\"abcdef\""] {
        let mut c = Cache::new(move |req, n, now| {
            let d = at(now, 0);
            let h = [("cache-control", "max-age=2"), ("etag", etag), ("date", d.as_str()), ("vary", "Abc")];
            if n == 1 {
                ok(&h)
            } else {
                assert_eq!(req.headers.get("if-none-match"), Some(etag));
                answer(304, &h, "")
            }
        });
        c.get(&[("abc", "123")]);
        c.pause(3);
        let x = c.get(&[("abc", "123")]);
        assert_eq!((x.outcome, c.hits()), (Outcome::Revalidated304, 2));
        assert_eq!(c.last_request().headers.get("abc"), Some("123"));
    }
}

// --- Response directives (RFC 9111 §5.2.2) -----------------------------------------------

#[test]
fn private_and_no_store_responses_are_not_reused() {
    // §5.2.2.7: "a shared cache MUST NOT store the response"; §5.2.2.5: "a cache MUST NOT
    // store any part of either the immediate request or any response to it".
    assert!(!reused(&[("cache-control", "private, max-age=3600")]));
    assert!(!reused(&[("cache-control", "no-store")]));
    assert!(!reused(&[("cache-control", "No-StOrE")]));
    assert!(!reused_rel(
        &[("cache-control", "max-age=10000, no-store"), ("expires", "@10000"), ("date", "@0")],
        0
    ));
}

#[test]
fn a_later_no_store_response_leaves_the_stored_one_in_place() {
    for second in ["no-store", "no-store, max-age=0"] {
        let second: &'static str = second;
        let mut c = Cache::new(move |_, n, now| {
            let d = at(now, 0);
            if n == 1 {
                ok(&[("cache-control", "max-age=10000"), ("date", &d), ("a", "1")])
            } else {
                ok(&[("cache-control", second), ("date", &d), ("a", "2")])
            }
        });
        c.get(&[]);
        c.pause(3);
        let x = c.get(&[]);
        assert_eq!(x.header("a"), Some("1"));
    }
}

#[test]
fn no_cache_responses_are_stored_but_always_revalidated() {
    // §5.2.2.4: no-cache "indicates that the response MUST NOT be used to satisfy any other
    // request without forwarding it for validation and receiving a successful response".
    for cc in ["no-cache", "max-age=10000, no-cache", "max-age=10000, No-CaChE"] {
        let cc: &'static str = cc;
        let mut c = Cache::new(move |req, n, now| {
            let h = [("cache-control", cc), ("etag", "\"abcd\""), ("date", &at(now, 0))];
            if n > 1 && req.headers.get("if-none-match") == Some("\"abcd\"") {
                answer(304, &h, "")
            } else {
                ok(&h)
            }
        });
        c.get(&[]);
        let x = c.get(&[]);
        assert_eq!((c.hits(), x.outcome), (2, Outcome::Revalidated304), "{cc}");
    }
}

#[test]
fn fields_named_by_a_qualified_no_cache_are_not_served_from_the_cache() {
    // §5.2.2.4: "the specified field name(s) MUST NOT be sent in the response to a subsequent
    // request without successful revalidation with the origin server".
    let x = stored_headers(&[("cache-control", "no-cache=\"a, b\""), ("a", "1"), ("b", "2"), ("c", "3")]);
    assert_eq!(x.header("c"), Some("3"));
    assert!(x.header("a").is_none() && x.header("b").is_none());
}

#[test]
fn must_revalidate_allows_fresh_reuse_and_forces_validation_when_stale() {
    // §5.2.2.2: "once the response has become stale, a cache MUST NOT reuse that response to
    // satisfy another request until it has been successfully validated by the origin".
    let mut c = Cache::new(|req, n, _| {
        let h = [("cache-control", "max-age=2, must-revalidate"), ("etag", "\"abcd\"")];
        if n > 1 && req.headers.get("if-none-match") == Some("\"abcd\"") {
            answer(304, &h, "")
        } else {
            ok(&h)
        }
    });
    c.get(&[]);
    c.get(&[]);
    assert_eq!(c.hits(), 1);
    c.pause(3);
    let x = c.get(&[]);
    assert_eq!((c.hits(), x.outcome), (2, Outcome::Revalidated304));
}

#[test]
fn must_understand_with_a_known_status_overrides_no_store() {
    // §5.2.2.3: "a cache that understands and conforms to the requirements of a response's
    // status code [...] MAY store it even if no-store is present".
    assert!(reused(&[("cache-control", "must-understand, no-store, max-age=3600")]));
    let mut c = Cache::new(|_, _, _| {
        answer(299, &[("cache-control", "must-understand, no-store, max-age=3600")], "x")
    });
    assert!(!c.reused_after(3, &[]), "a status it does not understand is not stored");
}

// --- Request directives (RFC 9111 §5.2.1) -------------------------------------------------

fn fresh_template() -> Cache {
    Cache::always(|now| {
        hv(&[
            ("expires", &at(now, 100_000)),
            ("cache-control", "max-age=100000"),
            ("last-modified", &at(now, 0)),
            ("date", &at(now, 0)),
        ])
    })
}

#[test]
fn request_max_age_and_min_fresh_are_honoured() {
    // §5.2.1.1: max-age "indicates that the client prefers a response whose age is less than
    // or equal to the specified number of seconds"; §5.2.1.3 min-fresh.
    assert!(!fresh_template().reused_after(3, &[("cache-control", "max-age=0")]));
    assert!(!fresh_template().reused_after(3, &[("cache-control", "max-age=1")]));
    let mut aged = Cache::always(|_| hv(&[("cache-control", "max-age=3600"), ("age", "1800")]));
    assert!(!aged.reused_after(0, &[("cache-control", "max-age=600")]));
    let mut short = Cache::always(|_| hv(&[("cache-control", "max-age=1500")]));
    assert!(!short.reused_after(0, &[("cache-control", "min-fresh=2000")]));
    let mut aged = Cache::always(|_| hv(&[("cache-control", "max-age=1500"), ("age", "1000")]));
    assert!(!aged.reused_after(0, &[("cache-control", "min-fresh=1000")]));
}

#[test]
fn request_max_stale_accepts_a_stale_response() {
    // §5.2.1.2: max-stale "indicates that the client will accept a response that has exceeded
    // its freshness lifetime".
    let mut c = Cache::always(|_| hv(&[("cache-control", "max-age=1")]));
    assert!(c.reused_after(3, &[("cache-control", "max-stale=1000")]));
    let mut aged = Cache::always(|_| hv(&[("cache-control", "max-age=1500"), ("age", "2000")]));
    assert!(aged.reused_after(0, &[("cache-control", "max-stale=1000")]));
}

#[test]
fn request_no_cache_validates_the_stored_response() {
    // §5.2.1.4: "the client prefers a stored response not be used to satisfy the request
    // without successful validation on the origin server".
    let mut c = Cache::always(|now| {
        hv(&[("cache-control", "max-age=3600"), ("last-modified", &at(now, -10_000)), ("date", &at(now, 0))])
    });
    c.get(&[]);
    c.get(&[("cache-control", "no-cache")]);
    assert_eq!(c.hits(), 2);
    assert!(c.last_request().headers.contains("if-modified-since"));
    let mut c = Cache::always(|_| hv(&[("cache-control", "max-age=3600"), ("etag", "\"abc\"")]));
    c.get(&[]);
    let x = c.get(&[("cache-control", "no-cache")]);
    assert_eq!(c.last_request().headers.get("if-none-match"), Some("\"abc\""));
    // RFC 9211 §2.2: "request: The cache was able to select a fresh response for the request,
    // but the request's semantics (e.g., Cache-Control request directives) did not allow its
    // use."
    assert!(
        x.header("cache-status").is_some_and(|cs| cs.contains("fwd=request")),
        "{:?}",
        x.header("cache-status")
    );
    c.pause(4000);
    let x = c.get(&[]);
    assert!(
        x.header("cache-status").is_some_and(|cs| cs.contains("fwd=stale")),
        "{:?}",
        x.header("cache-status")
    );
}

#[test]
fn only_if_cached_without_a_stored_response_is_a_504() {
    // §5.2.1.7: "respond using a stored response [...] or respond with a 504 (Gateway
    // Timeout) status code".
    let mut c = fresh_template();
    let x = c.get(&[("cache-control", "only-if-cached")]);
    assert_eq!((x.head.status, c.hits()), (504, 0));
}

// --- Serving stale (RFC 9111 §4.2.4, RFC 5861) -------------------------------------------

#[test]
fn stale_while_revalidate_serves_stale_then_the_window_closes() {
    // RFC 5861 §3: within the window "caches MAY serve the response in question stale, but
    // MUST attempt to revalidate it while doing so".
    let mut c = Cache::new(|_, n, _| {
        if n == 1 {
            ok(&[("cache-control", "max-age=1, stale-while-revalidate=4"), ("etag", "\"abc\"")])
        } else {
            ok(&[("cache-control", "no-cache"), ("etag", "\"def\"")])
        }
    });
    c.get(&[]);
    c.pause(3);
    let x = c.get(&[]);
    assert_eq!(x.outcome, Outcome::StaleServed);
    assert_eq!(c.hits(), 2, "revalidated in the background");
    c.pause(3);
    c.get(&[]);
    assert_eq!(c.hits(), 3);
}

#[test]
fn stale_if_error_serves_stale_when_the_origin_fails() {
    // RFC 5861 §4: "the stale response MAY be used to satisfy the request".
    let mut c = Cache::new(|_, n, _| {
        (n == 1).then(|| ok(&[("cache-control", "max-age=2, stale-if-error=60")])).flatten()
    });
    c.get(&[]);
    c.pause(3);
    let x = c.get(&[]);
    assert_eq!((x.head.status, x.outcome), (200, Outcome::StaleServed));
}

#[test]
fn directives_that_forbid_stale_are_honoured_when_the_origin_fails() {
    // §4.2.4: "A cache MUST NOT generate a stale response if it is prohibited by an explicit
    // in-protocol directive (e.g., by a no-cache response directive, a must-revalidate
    // response directive, or an applicable s-maxage or proxy-revalidate response directive".
    for cc in ["must-revalidate", "proxy-revalidate", "no-cache", "s-maxage=2"] {
        let cc: &'static str = cc;
        let mut c = Cache::new(move |_, n, _| {
            let v = format!("max-age=2, {cc}, stale-if-error=60");
            (n == 1).then(|| ok(&[("cache-control", &v)])).flatten()
        });
        c.get(&[]);
        c.pause(3);
        let x = c.get(&[]);
        assert_ne!(x.outcome, Outcome::StaleServed, "{cc}");
        assert!(x.head.status >= 500, "{cc}");
    }
}

// --- Targeted cache control (RFC 9213) ---------------------------------------------------

#[test]
fn cdn_cache_control_sets_the_lifetime_for_this_cache() {
    // RFC 9213 §2.2: the cache "MUST ignore the Cache-Control and Expires header fields in
    // that response".
    assert!(reused(&[("cdn-cache-control", "max-age=3600")]));
    assert!(reused(&[("cdn-cache-control", "max-age=2147483648")]));
    assert!(reused(&[("cdn-cache-control", "max-age=99999999999")]));
    assert!(reused(&[("cdn-cache-control", "foobar, max-age=3600")]));
    assert!(!reused_rel(&[("date", "@0"), ("cdn-cache-control", "max-age=3600"), ("age", "7200")], 3));
    assert!(!reused(&[("cdn-cache-control", "max-age=0")]));
    assert!(reused_rel(&[("cdn-cache-control", "max-age=3600"), ("expires", "@-10000"), ("date", "@0")], 3));
    assert!(reused_rel(&[("cdn-cache-control", "max-age=3600"), ("expires", "0"), ("date", "@0")], 3));
    assert!(!reused_rel(&[("cdn-cache-control", "max-age=0"), ("expires", "@10000"), ("date", "@0")], 3));
    assert!(reused(&[("cache-control", "max-age=1"), ("cdn-cache-control", "max-age=3600")]));
    assert!(!reused(&[("cache-control", "max-age=3600"), ("cdn-cache-control", "max-age=1")]));
    assert!(reused(&[("cache-control", "no-store"), ("cdn-cache-control", "max-age=10000")]));
}

#[test]
fn cdn_cache_control_directives_restrict_this_cache() {
    for cdn in ["private", "no-cache", "no-store"] {
        let cdn: &'static str = cdn;
        let mut c = Cache::always(move |now| {
            hv(&[
                ("cdn-cache-control", cdn),
                ("cache-control", "max-age=10000"),
                ("expires", &at(now, 10_000)),
                ("date", &at(now, 0)),
            ])
        });
        assert!(!c.reused_after(0, &[]), "{cdn}");
    }
}

#[test]
fn an_invalid_cdn_cache_control_is_ignored() {
    // RFC 9213 §2.1: "If a targeted field in a given response is empty, or a parsing error is
    // encountered, that field MUST be ignored by the cache".
    assert!(!reused(&[("cdn-cache-control", "max-age=10000, &&&&&"), ("cache-control", "no-store")]));
    assert!(!reused(&[("cdn-cache-control", "max-age=\"10000\""), ("cache-control", "no-store")]));
}

// --- Authorization (RFC 9111 §3.5) -------------------------------------------------------

#[test]
fn a_response_to_an_authorized_request_is_not_shared() {
    // §3.5: "A shared cache MUST NOT use a cached response to a request with an Authorization
    // header field [...] to satisfy any subsequent request unless the response contains a
    // Cache-Control field with a response directive [...] that allows it to be stored by a
    // shared cache".
    let mut c = Cache::always(|now| hv(&[("expires", &at(now, 2_592_000)), ("date", &at(now, 0))]));
    c.get(&[("authorization", "FOO")]);
    assert_eq!(c.last_request().headers.get("authorization"), Some("FOO"));
    c.pause(3);
    c.get(&[]);
    assert_eq!(c.hits(), 2);
}

// --- Age, Date and cache keys (RFC 9111 §5.1, §4, RFC 9110 §6.6.1) ------------------------

#[test]
fn a_response_from_the_cache_carries_its_current_age() {
    // §5.1: "A cache SHOULD send an Age header field in every response"; §4.2.3 computes it.
    let mut c = fresh_template();
    c.get(&[]);
    c.pause(3);
    assert_eq!(c.get(&[]).header("age"), Some("3"));
    let mut c =
        Cache::always(|now| hv(&[("expires", &at(now, 2_592_000)), ("date", &at(now, 0)), ("age", "30")]));
    c.get(&[]);
    c.pause(3);
    assert_eq!(c.get(&[]).header("age"), Some("33"));
    let mut c =
        Cache::always(|now| hv(&[("cache-control", "max-age=100000"), ("date", &at(now, 0)), ("age", "30")]));
    c.get(&[]);
    c.pause(3);
    assert_eq!(c.get(&[]).header("age"), Some("33"));
}

#[test]
fn date_and_expires_are_served_as_stored() {
    // RFC 9110 §6.6.1: Date is the origin's; the cache does not rewrite it.
    let mut c = Cache::always(|now| hv(&[("expires", &at(now, 2_592_000)), ("date", &at(now, 0))]));
    c.get(&[]);
    c.pause(3);
    let x = c.get(&[]);
    assert_eq!(x.header("date"), Some(at(T0, 0).as_str()));
    assert_eq!(x.header("expires"), Some(at(T0, 2_592_000).as_str()));
}

#[test]
fn the_query_is_part_of_the_cache_key() {
    // §2: "The "cache key" is [...] the target URI".
    let mut c = fresh_template();
    c.send("GET", "/r?test=1", &[]);
    c.send("GET", "/r?test=2", &[]);
    assert_eq!(c.hits(), 2);
    c.send("GET", "/r?test=1", &[]);
    assert_eq!(c.hits(), 2);
}

#[test]
fn a_cookie_in_the_request_does_not_prevent_reuse() {
    let mut c = fresh_template();
    assert!(c.reused_after(0, &[("cookie", "a=b")]));
}

#[test]
fn content_disposition_does_not_prevent_reuse() {
    let mut c = Cache::always(|now| {
        hv(&[
            ("last-modified", &at(now, -100_000)),
            ("date", &at(now, 0)),
            ("content-disposition", "attachment; filename=example.txt"),
        ])
    });
    assert!(c.reused_after(0, &[]));
}

#[test]
fn head_is_answered_from_a_stored_get() {
    // RFC 9110 §9.3.2: a HEAD response is the GET response without content; RFC 9111 §4: a
    // stored GET response can satisfy HEAD.
    let mut c = fresh_template();
    c.get(&[]);
    let x = c.send("HEAD", "/r", &[]);
    assert_eq!((c.hits(), x.outcome, x.body.len()), (1, Outcome::Hit, 0));
}

// --- Partial content from a stored complete response (RFC 9110 §14, RFC 9111 §3.3) --------

/// A cache whose origin answers every GET with the whole of `body`, fresh for an hour, and a
/// `Range` request with the 206 an origin would send.
fn whole_body(body: &'static str) -> Cache {
    Cache::new(move |req, _, now| {
        let date = at(now, 0);
        let lm = at(now, -3600);
        let common =
            [("cache-control", "max-age=3600"), ("etag", "\"v1\""), ("date", &date), ("last-modified", &lm)];
        match req.headers.get("range") {
            Some(_) => {
                let mut h = common.to_vec();
                let range = format!("bytes 0-0/{}", body.len());
                h.push(("content-range", &range));
                answer(206, &h, body.get(..1).unwrap_or_default())
            }
            None => answer(200, &common, body),
        }
    })
}

#[test]
fn a_smaller_range_is_cut_from_a_stored_complete_response() {
    // RFC 9110 §14.1.1: int-range, open int-range and suffix-range, each served from storage.
    for (range, text, content_range) in [
        ("bytes=0-1", "01", "bytes 0-1/11"),
        ("bytes=1-", "1234567890", "bytes 1-10/11"),
        ("bytes=-1", "0", "bytes 10-10/11"),
        ("bytes=3-999", "34567890", "bytes 3-10/11"),
    ] {
        let mut c = whole_body("01234567890");
        c.get(&[]);
        let x = c.get(&[("range", range)]);
        assert_eq!(c.hits(), 1, "{range}: served from storage");
        assert_eq!(x.head.status, 206, "{range}");
        assert_eq!(x.text(), text, "{range}");
        assert_eq!(x.header("content-range"), Some(content_range), "{range}");
        assert_eq!(x.header("content-length"), Some(text.len().to_string().as_str()), "{range}");
        assert_eq!(x.outcome, Outcome::Hit, "{range}");
    }
}

#[test]
fn an_unsatisfiable_range_gets_416_with_the_length() {
    // RFC 9110 §15.5.17: "a server generating a 416 (Range Not Satisfiable) response to a
    // byte-range request SHOULD generate a Content-Range header field specifying the current
    // length of the selected representation".
    let mut c = whole_body("01234567890");
    c.get(&[]);
    let x = c.get(&[("range", "bytes=20-")]);
    assert_eq!((c.hits(), x.head.status, x.header("content-range")), (1, 416, Some("bytes */11")));
    assert!(x.body.is_empty());
}

#[test]
fn several_ranges_or_a_bad_range_get_the_whole_stored_response() {
    // RFC 9110 §14.2: "A server MAY ignore the Range header field."
    for range in ["bytes=0-1,4-5", "bytes=5-2", "lines=1-2"] {
        let mut c = whole_body("01234567890");
        c.get(&[]);
        let x = c.get(&[("range", range)]);
        assert_eq!((c.hits(), x.head.status, x.text().as_str()), (1, 200, "01234567890"), "{range}");
    }
}

#[test]
fn if_range_decides_between_the_range_and_the_whole() {
    // RFC 9110 §13.1.5: a matching validator lets the Range apply; otherwise the server "MUST
    // ignore the Range header field".
    let mut c = whole_body("01234567890");
    c.get(&[]);
    let x = c.get(&[("range", "bytes=0-1"), ("if-range", "\"v1\"")]);
    assert_eq!((x.head.status, x.text().as_str()), (206, "01"));
    let x = c.get(&[("range", "bytes=0-1"), ("if-range", "\"v0\"")]);
    assert_eq!((x.head.status, x.text().as_str()), (200, "01234567890"));
    assert_eq!(c.hits(), 1);
}

#[test]
fn a_range_miss_is_forwarded_with_its_range_and_not_stored() {
    // RFC 9111 §3: a 206 is only stored by a cache that can combine partial content.
    let mut c = whole_body("01234567890");
    let x = c.get(&[("range", "bytes=0-0"), ("if-range", "\"v1\"")]);
    assert_eq!(x.head.status, 206);
    assert_eq!(c.last_request().headers.get("range"), Some("bytes=0-0"));
    assert_eq!(c.last_request().headers.get("if-range"), Some("\"v1\""));
    c.get(&[("range", "bytes=0-0")]);
    assert_eq!(c.hits(), 2, "the 206 was not stored");
    // The whole response is stored by a plain GET; ranges are then cut from it.
    c.get(&[]);
    let x = c.get(&[("range", "bytes=0-0")]);
    assert_eq!((c.hits(), x.text().as_str()), (3, "0"));
}

#[test]
fn a_stale_entry_is_revalidated_whole_before_a_range_is_cut() {
    // The conditional request for the stored response carries no Range: a 304 refreshes the
    // whole stored response, from which the range is then served.
    let mut c = Cache::new(|req, n, now| {
        let date = at(now, 0);
        if n > 1 && req.headers.get("if-none-match") == Some("\"v1\"") {
            return answer(304, &[("cache-control", "max-age=1"), ("etag", "\"v1\""), ("date", &date)], "");
        }
        answer(200, &[("cache-control", "max-age=1"), ("etag", "\"v1\""), ("date", &date)], "abcdef")
    });
    c.get(&[]);
    c.pause(5);
    let x = c.get(&[("range", "bytes=2-3")]);
    assert_eq!(c.hits(), 2);
    assert_eq!(c.last_request().headers.get("range"), None);
    assert_eq!((x.head.status, x.text().as_str(), x.outcome), (206, "cd", Outcome::Revalidated304));
}

// --- Responses left to the origin are passed on as the origin sent them -------------------

#[test]
fn the_origins_vary_reaches_the_client_unchanged() {
    // RFC 9111 §4.1: clients and downstream caches select stored responses by the Vary the
    // origin sent. A policy that leaves a response to the origin keeps any split view in its
    // own key and never advertises it.
    let mut c = vary_cache(&["Foo"]);
    let miss = c.get(&[("foo", "1")]);
    let hit = c.get(&[("foo", "1")]);
    assert_eq!((miss.header("vary"), hit.header("vary")), (Some("Foo"), Some("Foo")));
    assert_eq!(hit.outcome, Outcome::Hit);
    let mut c = fresh_with(&[]);
    let (miss, hit) = (c.get(&[]), c.get(&[]));
    assert_eq!((miss.header("vary"), hit.header("vary")), (None, None));
}

// --- A 304 without validators (RFC 9111 §4.3.4) -------------------------------------------

#[test]
fn a_304_without_validators_freshens_the_entry_it_was_asked_about() {
    // §4.3.4: a 304 that carries no validator identifies the stored response for update when
    // it is the only one; this cache validates exactly one per conditional request.
    for validator in [("etag", "\"abcd\""), ("last-modified", "Mon, 01 Jan 2024 00:00:00 GMT")] {
        let mut c = Cache::new(move |_, n, now| {
            let date = at(now, 0);
            if n == 1 {
                answer(200, &[("cache-control", "max-age=1"), validator, ("date", &date)], "stored")
            } else {
                answer(304, &[("cache-control", "max-age=3600"), ("date", &date), ("x-new", "1")], "")
            }
        });
        c.get(&[]);
        c.pause(5);
        let x = c.get(&[]);
        let sent = c.last_request();
        assert!(sent.headers.contains("if-none-match") || sent.headers.contains("if-modified-since"));
        assert_eq!(
            (c.hits(), x.outcome, x.head.status, x.text().as_str()),
            (2, Outcome::Revalidated304, 200, "stored")
        );
        assert_eq!(x.header("x-new"), Some("1"), "the 304's fields update the entry");
        let again = c.get(&[]);
        assert_eq!((c.hits(), again.outcome), (2, Outcome::Hit), "{validator:?}: fresh for an hour now");
    }
}

// --- Origin responses the cache cannot pass on -------------------------------------------

/// The `detail` of our `Cache-Status` member.
fn detail(x: &Exchange) -> String {
    let cs = x.header("cache-status").unwrap_or("");
    cs.split(';').find_map(|p| p.trim().strip_prefix("detail=")).unwrap_or("").trim_matches('"').to_string()
}

#[test]
fn an_origin_status_outside_200_to_599_is_a_502_that_keeps_the_stored_entry() {
    // RFC 9110 §15: "Values outside the range 100..599 are invalid"; a 1xx is interim and
    // cannot be the final answer. None of them can be passed on: the client gets a 502 that
    // says why, and the stored entry is neither replaced nor removed.
    for (odd, why) in [
        (999, "origin-invalid-status"),
        (600, "origin-invalid-status"),
        (0, "origin-invalid-status"),
        (102, "origin-interim-response"),
        (103, "origin-interim-response"),
        (199, "origin-interim-response"),
    ] {
        let mut c = Cache::new(move |_, n, now| {
            let h = [("cache-control", "max-age=1"), ("etag", "\"e\""), ("date", &at(now, 0))];
            match n {
                1 => answer(200, &h, "stored"),
                2 | 3 => answer(odd, &[("cache-control", "max-age=600")], "odd"),
                _ => answer(304, &h, ""),
            }
        });
        c.get(&[]);
        c.pause(5);
        let x = c.get(&[]);
        assert_eq!((x.head.status, detail(&x).as_str()), (502, why), "{odd}");
        assert!(x.header("cache-status").unwrap_or("").contains(&format!("fwd-status={odd}")), "{odd}");
        // On a miss too.
        let other = c.send("GET", "/other", &[]);
        assert_eq!((other.head.status, detail(&other).as_str()), (502, why), "{odd}");
        // The stored entry is still there: the next revalidation's 304 freshens it.
        let y = c.get(&[]);
        assert_eq!((y.outcome, y.text().as_str()), (Outcome::Revalidated304, "stored"), "{odd}");
    }
}

#[test]
fn an_odd_status_may_be_stood_in_for_by_a_stale_entry() {
    // RFC 5861 §4: stale-if-error applies "when an error is encountered"; a status the cache
    // cannot pass on is one.
    let mut c = Cache::new(|_, n, now| {
        let h = [("cache-control", "max-age=1, stale-if-error=600"), ("date", &at(now, 0))];
        if n == 1 {
            answer(200, &h, "stored")
        } else {
            answer(999, &[], "")
        }
    });
    c.get(&[]);
    c.pause(5);
    let x = c.get(&[]);
    assert_eq!((x.head.status, x.text().as_str(), x.outcome), (200, "stored", Outcome::StaleServed));
}

#[test]
fn a_method_the_runtime_cannot_send_is_a_501_without_asking_the_origin() {
    use rulecache::flow::engine::is_forwardable_method;
    for m in ["M-SEARCH", "BREW", "CONNECT", "LINK", "MKCALENDAR"] {
        let mut c = Cache::new(|_, _, _| answer(200, &[("cache-control", "max-age=600")], "x"));
        let x = c.send(m, "/r", &[]);
        assert_eq!(x.head.status, 501, "{m}");
        let cs = x.head.headers.get("cache-status").unwrap_or_default().to_string();
        assert!(cs.contains("detail=method-not-forwardable"), "{m}: {cs}");
        assert_eq!(c.hits(), 0, "{m}: the origin is never asked");
    }
    for m in ["GET", "QUERY", "PROPFIND", "Propfind", "MSEARCH", "BAN"] {
        assert!(is_forwardable_method(m), "{m}");
    }
}

// --- Unknown and extension methods (RFC 9111 §4.4) ----------------------------------------

#[test]
fn extension_methods_are_forwarded_as_sent_and_invalidate_on_success() {
    // §4.4: "A cache MUST invalidate the target URI [...] when it receives a non-error status
    // code in response to an unsafe request method (including methods whose safety is
    // unknown)." PROPFIND, REPORT and SEARCH are defined safe elsewhere, but this cache does
    // not know them.
    for m in ["PROPFIND", "REPORT", "SEARCH", "MSEARCH", "MKCOL", "QUERY"] {
        assert!(invalidation(m, 207), "{m}");
        let mut c = Cache::new(|_, _, _| answer(207, &[("cache-control", "max-age=600")], "<multistatus/>"));
        let x = c.send(m, "/r", &[("depth", "1")]);
        let seen = c.last_request();
        assert_eq!((seen.method.as_str(), seen.headers.get("depth")), (m, Some("1")));
        assert_eq!((x.head.status, x.text().as_str()), (207, "<multistatus/>"));
        c.send(m, "/r", &[]);
        assert_eq!(c.hits(), 2, "{m}: never answered from storage");
    }
}

// --- Content-Length of stored responses --------------------------------------------------

#[test]
fn a_stored_response_keeps_its_content_length_also_after_a_304() {
    let mut c = Cache::new(|_, n, now| {
        let h = [("cache-control", "max-age=1"), ("etag", "\"e\""), ("date", &at(now, 0))];
        if n == 1 {
            answer(200, &h, "twelve bytes")
        } else {
            answer(304, &h, "")
        }
    });
    c.get(&[]);
    let hit = c.get(&[]);
    c.pause(5);
    let revalidated = c.get(&[]);
    let after = c.get(&[]);
    for x in [&hit, &revalidated, &after] {
        assert_eq!(x.header("content-length"), Some("12"), "{:?}", x.outcome);
    }
    assert_eq!(
        (hit.outcome, revalidated.outcome, after.outcome),
        (Outcome::Hit, Outcome::Revalidated304, Outcome::Hit)
    );
}

// --- A list-valued Age (RFC 9111 §5.1) ----------------------------------------------------

#[test]
fn a_list_valued_age_uses_its_first_member() {
    // §5.1: "a cache encountering a message with a list-based Age field value SHOULD use the
    // first member of the field value, discarding subsequent ones."
    let one_line: &[(&str, &str)] = &[("cache-control", "max-age=3600"), ("age", "7200, 0")];
    let two_lines: &[(&str, &str)] = &[("cache-control", "max-age=3600"), ("age", "7200"), ("age", "0")];
    for pairs in [one_line, two_lines] {
        let pairs: Vec<(String, String)> = hv(pairs);
        assert!(!Cache::always(move |_| pairs.clone()).reused_after(3, &[]));
    }
    // The first member young: fresh.
    let young = hv(&[("cache-control", "max-age=3600"), ("age", "10, 7200")]);
    assert!(Cache::always(move |_| young.clone()).reused_after(3, &[]));
}

// --- HEAD (RFC 9111 §4.3.5) --------------------------------------------------------------

#[test]
fn a_head_miss_is_fetched_as_a_get_and_stored() {
    let mut c = Cache::always(|now| {
        hv(&[("cache-control", "max-age=3600"), ("etag", "\"e\""), ("date", &at(now, 0))])
    });
    let head = c.send("HEAD", "/r", &[]);
    assert_eq!(c.last_request().method, "GET");
    assert_eq!((head.head.status, head.body.len()), (200, 0));
    assert_eq!(head.header("content-length"), Some("4"));
    let get = c.get(&[]);
    assert_eq!((c.hits(), get.outcome, get.text().as_str()), (1, Outcome::Hit, "body"));
    let again = c.send("HEAD", "/r", &[]);
    assert_eq!((c.hits(), again.outcome, again.body.len()), (1, Outcome::Hit, 0));
}

/// A cache holding a GET response (`Template-A: 1`, ETag "e1", 4 bytes, max-age=1), stale,
/// whose origin answers a HEAD with `head_answer`.
fn stale_then_head(head_answer: &'static [(&'static str, &'static str)]) -> Cache {
    let mut c = Cache::new(move |req, _, now| {
        let date = at(now, 0);
        if req.method == "HEAD" {
            let mut h = vec![("date", date.as_str())];
            h.extend_from_slice(head_answer);
            answer(200, &h, "body")
        } else {
            answer(
                200,
                &[("cache-control", "max-age=1"), ("etag", "\"e1\""), ("template-a", "1"), ("date", &date)],
                "body",
            )
        }
    });
    c.get(&[]);
    c.pause(5);
    c
}

#[test]
fn a_head_on_a_stale_entry_is_sent_as_a_head_and_its_200_updates_the_stored_get() {
    // §4.3.5: "When a cache makes an inbound HEAD request for a target URI and receives a 200
    // (OK) response, the cache SHOULD update or invalidate each of its stored GET responses
    // that could have been chosen for that request."
    let mut c =
        stale_then_head(&[("cache-control", "max-age=1000"), ("etag", "\"e1\""), ("template-a", "2")]);
    let head = c.send("HEAD", "/r", &[]);
    assert_eq!(c.last_request().method, "HEAD");
    assert_eq!(c.last_request().headers.get("if-none-match"), Some("\"e1\""));
    assert_eq!((head.head.status, head.body.len(), head.header("template-a")), (200, 0, Some("2")));
    let get = c.get(&[]);
    assert_eq!((c.hits(), get.outcome, get.text().as_str()), (2, Outcome::Hit, "body"));
    assert_eq!(get.header("template-a"), Some("2"), "the stored fields are updated");
}

#[test]
fn a_head_200_without_validators_keeps_the_stored_fields_it_omits() {
    let mut c = stale_then_head(&[("cache-control", "max-age=1000")]);
    c.send("HEAD", "/r", &[]);
    let get = c.get(&[]);
    assert_eq!((c.hits(), get.outcome, get.header("template-a")), (2, Outcome::Hit, Some("1")));
}

#[test]
fn a_head_200_that_does_not_match_makes_the_stored_get_stale() {
    // §4.3.5: "otherwise, the cache SHOULD consider the stored response to be stale."
    for mismatch in [
        &[("cache-control", "max-age=1000"), ("etag", "\"e2\"")][..],
        &[("cache-control", "max-age=1000"), ("content-length", "99")],
    ] {
        let mismatch: &'static [(&'static str, &'static str)] = mismatch;
        let mut c = stale_then_head(mismatch);
        let head = c.send("HEAD", "/r", &[]);
        assert_eq!((head.head.status, head.body.len()), (200, 0));
        c.get(&[]);
        assert_eq!((c.hits(), c.last_request().method.as_str()), (3, "GET"), "{mismatch:?}");
    }
}

// --- Freshness odds and ends ---------------------------------------------------------------

#[test]
fn decimal_max_age_values_are_invalid() {
    // §1.2.2: delta-seconds = 1*DIGIT; "3600.0" cannot be parsed, so the response is stale.
    for cc in ["max-age=3600.0", "max-age=3600.5", "max-age=100a", "max-age=a100"] {
        let pairs = hv(&[("cache-control", cc)]);
        assert!(!Cache::always(move |_| pairs.clone()).reused_after(3, &[]), "{cc}");
    }
}

#[test]
fn a_duplicated_max_age_uses_its_first_occurrence() {
    // §4.2.1: "When there is more than one value present for a given directive (e.g., [...]
    // multiple Cache-Control: max-age directives), either the first occurrence should be used
    // or the response should be considered stale."
    assert!(reused(&[("cache-control", "max-age=1800, max-age=1")]));
    assert!(reused(&[("cache-control", "max-age=1800"), ("cache-control", "max-age=1")]));
    assert!(!reused(&[("cache-control", "max-age=1, max-age=1800")]));
    assert!(!reused(&[("cache-control", "max-age=1"), ("cache-control", "max-age=1800")]));
}

#[test]
fn expires_in_asctime_format_is_read() {
    // RFC 9110 §5.6.7: "A recipient that parses a timestamp value in an HTTP header field MUST
    // accept all three HTTP-date formats" (asctime among them).
    let mut c = Cache::always(|now| {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(rulecache::http::secs(now) + 3600);
        let imf = rulecache::rfc::freshness::format_http_date(rulecache::http::secs(now) + 3600);
        let _ = t;
        // "Sun, 06 Nov 1994 08:49:37 GMT" → "Sun Nov  6 08:49:37 1994"
        let p: Vec<&str> = imf.split(' ').collect();
        let day: u32 = p[1].parse().unwrap();
        let asctime = format!("{} {} {:>2} {} {}", &p[0][..3], p[2], day, p[4], p[3]);
        hv(&[("date", &at(now, 0)), ("expires", &asctime)])
    });
    assert!(c.reused_after(3, &[]));
}

#[test]
fn a_last_modified_only_response_gets_a_heuristic_lifetime() {
    // §4.2.2: a cache may assign a heuristic expiration time (10% of the time since
    // Last-Modified here) to a response without explicit freshness.
    assert!(reused_rel(&[("date", "@0"), ("last-modified", "@-100000")], 600));
    assert!(!reused_rel(&[("date", "@0"), ("last-modified", "@-100000")], 20_000));
}

#[test]
fn cdn_cache_control_directive_names_are_case_insensitive() {
    // RFC 9111 §5.2: "Cache directives are identified by a token, to be compared
    // case-insensitively"; RFC 9213 §2.1 reuses them.
    assert!(reused(&[("cdn-cache-control", "Max-Age=3600"), ("cache-control", "no-store")]));
    assert!(!reused(&[("cdn-cache-control", "No-Store"), ("cache-control", "max-age=3600")]));
    assert!(reused(&[("cdn-cache-control", "MAX-AGE=3600")]));
}

#[test]
fn a_clients_if_none_match_is_forwarded_on_a_miss() {
    // Nothing stored answers it, so the origin does (RFC 9110 §13.2.1): its 304 reaches the
    // client and is not stored; a 200 is stored as on any miss.
    let mut c = Cache::new(|req, _, now| {
        let h = [("cache-control", "max-age=3600"), ("etag", "\"abcdef\""), ("date", &at(now, 0))];
        if req.headers.get("if-none-match") == Some("\"abcdef\"") {
            answer(304, &h, "")
        } else {
            answer(200, &h, "body")
        }
    });
    let x = c.get(&[("if-none-match", "\"abcdef\"")]);
    assert_eq!(c.last_request().headers.get("if-none-match"), Some("\"abcdef\""));
    assert_eq!((x.head.status, x.body.len()), (304, 0));
    let full = c.get(&[]);
    assert_eq!(
        (c.hits(), full.head.status, full.text().as_str()),
        (2, 200, "body"),
        "the 304 was not stored"
    );
    let cached = c.get(&[("if-none-match", "\"abcdef\"")]);
    assert_eq!((c.hits(), cached.head.status), (2, 304), "answered from storage now");
    // A client validator that does not match gets the origin's 200, stored.
    let mut c = Cache::always(|now| {
        hv(&[("cache-control", "max-age=3600"), ("etag", "\"now\""), ("date", &at(now, 0))])
    });
    let x = c.get(&[("if-none-match", "\"old\"")]);
    assert_eq!(c.last_request().headers.get("if-none-match"), Some("\"old\""));
    assert_eq!(x.head.status, 200);
    assert_eq!((c.get(&[]).outcome, c.hits()), (Outcome::Hit, 1));
}

#[test]
fn entity_tags_with_obs_text_are_compared_and_sent_as_they_are() {
    // RFC 9110 §8.8.3: etagc = %x21 / %x23-7E / obs-text.
    const TAG: &str = "\"\u{80}abc\u{ff}\"";
    let mut c = Cache::new(|req, n, now| {
        let h = [("cache-control", "max-age=1"), ("etag", TAG), ("date", &at(now, 0))];
        if n > 1 && req.headers.get("if-none-match") == Some(TAG) {
            answer(304, &h, "")
        } else {
            answer(200, &h, "body")
        }
    });
    c.get(&[]);
    let x = c.get(&[("if-none-match", TAG)]);
    assert_eq!((x.head.status, c.hits()), (304, 1));
    c.pause(5);
    let y = c.get(&[]);
    assert_eq!(c.last_request().headers.get("if-none-match"), Some(TAG));
    assert_eq!((y.outcome, y.head.status), (Outcome::Revalidated304, 200));
}
