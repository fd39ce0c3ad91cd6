//! Freshness of a stored response for this shared cache: RFC 9111 §4.2 (lifetime, age,
//! heuristics), §4.2.4 (serving stale), §5.2.1 (request directives) and RFC 5861
//! (`stale-while-revalidate`, `stale-if-error`).
//!
//! Every function takes the time as a parameter. Times are [`Time`] (milliseconds); ages and
//! lifetimes are whole seconds, as in the RFC.

use serde::{Deserialize, Serialize};

use crate::http::{secs, Headers, RequestHead, ResponseHead, Time};
use crate::rfc::cache_control::{self, delta_seconds, CacheControl, MaxStale, DELTA_SECONDS_MAX};

/// How the edge stores a response, as decided by an operation of the policy (the lifetime it
/// gives is read here). Separate from the headers the operation sends downstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EdgeStorage {
    /// Behave as an RFC 9111 shared cache on the origin's own headers (targeted
    /// `CDN-Cache-Control` first). The default for unclassified requests.
    HonourOrigin,
    /// Keep the response fresh at the edge for `ttl` seconds whatever the origin's
    /// Cache-Control says (a `ttl` of 0 means: store, but revalidate before every use).
    /// Responses that must never be shared (Set-Cookie, `private`, `no-store`, non-final or
    /// partial statuses) are still not stored.
    Store { ttl: u64, stale_while_revalidate: u64, stale_if_error: u64 },
    /// Keep it out of the edge cache.
    DontStore,
}

/// The longest heuristic freshness lifetime we assign: 24 hours.
///
/// RFC 9111 §4.2.2 suggests "no more than some fraction of the interval since that time. A
/// typical setting of this fraction might be 10%." It sets no cap; we cap at one day, the
/// point past which RFC 7234 required a warning, so that a years-old `Last-Modified` does not
/// pin a page at the edge for months.
pub const HEURISTIC_MAX_SECS: u64 = 86_400;

/// The fraction of (Date − Last-Modified) used as a heuristic lifetime: 1/10.
pub const HEURISTIC_DIVISOR: u64 = 10;

/// Status codes that are heuristically cacheable (RFC 9110 §15.1): "200, 203, 204, 206, 300,
/// 301, 308, 404, 405, 410, 414, and 501".
pub const HEURISTICALLY_CACHEABLE: [u16; 12] = [200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501];

/// True when `status` is heuristically cacheable.
pub fn is_heuristically_cacheable(status: u16) -> bool {
    HEURISTICALLY_CACHEABLE.contains(&status)
}

/// Parses an HTTP-date (RFC 9110 §5.6.7: IMF-fixdate, RFC 850 or asctime) into whole seconds
/// since the Unix epoch. None when it is not a valid date (or is before 1970).
///
/// RFC 9110 §5.6.7 makes HTTP-date case-sensitive, but also says: "Recipients of timestamp
/// values are encouraged to be robust in parsing timestamps unless otherwise restricted by
/// the field definition." A date whose only fault is the case of its day name, month name or
/// `GMT` (`THU, 18 AUG 2050 02:01:18 gmt`) is read as the date it spells.
pub fn http_date(value: &str) -> Option<u64> {
    let value = value.trim();
    if let Some(secs) = crate::http::date::parse_imf_fixdate(value) {
        return Some(secs);
    }
    let t = match httpdate::parse_http_date(value) {
        Ok(t) => t,
        Err(_) => {
            let canonical = canonical_date_case(value)?;
            httpdate::parse_http_date(&canonical).ok()?
        }
    };
    t.duration_since(std::time::UNIX_EPOCH).ok().map(|d| d.as_secs())
}

/// `value` with each run of letters written as the date formats spell it (`Thu`, `Aug`,
/// `Thursday`, `GMT`); None when that changes nothing or the value is not ASCII.
fn canonical_date_case(value: &str) -> Option<String> {
    if !value.is_ascii() {
        return None;
    }
    let mut out = String::with_capacity(value.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if word.eq_ignore_ascii_case("gmt") {
            out.push_str("GMT");
        } else {
            for (i, c) in word.chars().enumerate() {
                out.push(if i == 0 { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() });
            }
        }
        word.clear();
    };
    for c in value.chars() {
        if c.is_ascii_alphabetic() {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    (out != value).then_some(out)
}

/// Formats whole seconds since the epoch as an IMF-fixdate (the one formatter, in `http::date`).
pub use crate::http::date::format as format_http_date;

/// The first valid `Date` of a response, in seconds.
pub fn date_value(h: &Headers) -> Option<u64> {
    h.get_all("date").find_map(http_date)
}

/// The `Age` value (RFC 9111 §5.1), in seconds; 0 when there is none or it is invalid.
///
/// §5.1: "Although it is defined as a singleton header field, a cache encountering a message
/// with a list-based Age field value SHOULD use the first member of the field value,
/// discarding subsequent ones." `Age: 7200, 0` and two lines `Age: 7200` / `Age: 0` are both
/// 7200. A first member that is not a delta-seconds makes the field invalid: "If a cache
/// receives a delta-seconds value [...] that it cannot parse, the value is invalid"
/// (§1.2.2), and it is ignored.
pub fn age_value(h: &Headers) -> u64 {
    h.get_all("age")
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .find(|m| !m.is_empty())
        .and_then(delta_seconds)
        .unwrap_or(0)
}

/// The value of the `Age` header field to send for a response of this age.
///
/// RFC 9111 §5.1: "If a cache receives a value larger than the largest positive integer it
/// can represent, or if any of its age calculations overflows, it MUST transmit an Age header
/// field with a value of 2147483648 (2^31)."
pub fn age_header_value(age_secs: u64) -> String {
    age_secs.min(DELTA_SECONDS_MAX).to_string()
}

/// A freshness lifetime in seconds, and whether it was guessed (§4.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetime {
    pub secs: u64,
    pub heuristic: bool,
}

impl Lifetime {
    const fn explicit(secs: u64) -> Self {
        Lifetime { secs, heuristic: false }
    }
}

/// `Expires − Date` (§4.2.1), or None when the response has no `Expires`.
///
/// RFC 9111 §5.3: "A cache recipient MUST interpret invalid date formats, especially the value
/// "0", as representing a time in the past (i.e., "already expired")." Several `Expires`
/// lines with different values are treated as stale too (§4.2.1).
fn expires_lifetime(h: &Headers, response_time: Time) -> Option<u64> {
    let mut values = h.get_all("expires").map(http_date);
    let first = values.next()?;
    let expires = match first {
        Some(e) if values.all(|v| v == Some(e)) => e,
        _ => return Some(0),
    };
    // "using the time the message was received if it is not present" (§4.2.1).
    let date = date_value(h).unwrap_or(secs(response_time));
    Some(expires.saturating_sub(date))
}

/// §4.2.2: "If the response has a Last-Modified header field [...], caches are encouraged to
/// use a heuristic expiration value that is no more than some fraction of the interval since
/// that time." Capped at [`HEURISTIC_MAX_SECS`].
fn heuristic_lifetime(head: &ResponseHead, cc: Option<&CacheControl>, response_time: Time) -> Option<u64> {
    // §4.2.2: heuristics only on responses "whose status codes are defined as heuristically
    // cacheable" and on those "marked as explicitly cacheable (e.g., with a public response
    // directive)".
    let public = cc.is_some_and(|c| c.public);
    if !is_heuristically_cacheable(head.status) && !public {
        return None;
    }
    let last_modified = head.headers.get_all("last-modified").find_map(http_date)?;
    let date = date_value(&head.headers).unwrap_or(secs(response_time));
    Some((date.saturating_sub(last_modified) / HEURISTIC_DIVISOR).min(HEURISTIC_MAX_SECS))
}

/// The freshness lifetime of a response for this shared cache (RFC 9111 §4.2.1).
///
/// `EdgeStorage::Store { ttl, .. }` overrides the origin with `ttl`; `DontStore` gives 0.
/// Otherwise, in order: the RFC 9213 targeted field (when present, `Cache-Control` and
/// `Expires` are ignored), `s-maxage`, `max-age`, `Expires − Date`, then a heuristic.
/// `response_time` stands in for a missing `Date`.
pub fn lifetime(head: &ResponseHead, storage: EdgeStorage, response_time: Time) -> Lifetime {
    match storage {
        EdgeStorage::Store { ttl, .. } => Lifetime::explicit(ttl),
        EdgeStorage::DontStore => Lifetime::explicit(0),
        EdgeStorage::HonourOrigin => {
            origin_lifetime(head, &cache_control::effective(&head.headers), response_time)
        }
    }
}

/// The lifetime the origin's own fields give `head`, `effective` being its directives
/// ([`cache_control::effective`]).
fn origin_lifetime(
    head: &ResponseHead,
    (cc, is_targeted): &(Option<CacheControl>, bool),
    response_time: Time,
) -> Lifetime {
    if let Some(c) = cc {
        // §4.2.1: "If the cache is shared and the s-maxage response directive is present, use
        // its value, or [...] If the max-age response directive is present, use its value".
        if let Some(s) = c.s_maxage.or(c.max_age) {
            return Lifetime::explicit(s);
        }
    }
    if !*is_targeted {
        if let Some(s) = expires_lifetime(&head.headers, response_time) {
            return Lifetime::explicit(s);
        }
    }
    match heuristic_lifetime(head, cc.as_ref(), response_time) {
        Some(s) => Lifetime { secs: s, heuristic: true },
        None => Lifetime::explicit(0),
    }
}

/// The current age of a stored response in seconds, exactly as RFC 9111 §4.2.3 computes it:
///
/// ```text
/// apparent_age = max(0, response_time - date_value);
/// response_delay = response_time - request_time;
/// corrected_age_value = age_value + response_delay;
/// corrected_initial_age = max(apparent_age, corrected_age_value);
/// resident_time = now - response_time;
/// current_age = corrected_initial_age + resident_time;
/// ```
///
/// `request_time` is when the request that produced the stored response was sent,
/// `response_time` when the response was received. A missing `Date` gives an apparent age
/// of 0. The result is rounded down to whole seconds.
pub fn current_age(head: &ResponseHead, request_time: Time, response_time: Time, now: Time) -> u64 {
    let apparent_age =
        date_value(&head.headers).map_or(0, |d| response_time.saturating_sub(d.saturating_mul(1000)));
    let response_delay = response_time.saturating_sub(request_time);
    let corrected_age_value = age_value(&head.headers).saturating_mul(1000).saturating_add(response_delay);
    let corrected_initial_age = apparent_age.max(corrected_age_value);
    let resident_time = now.saturating_sub(response_time);
    corrected_initial_age.saturating_add(resident_time) / 1000
}

/// A stored response and what freshness needs to know about it.
#[derive(Debug, Clone, Copy)]
pub struct Stored<'a> {
    /// The stored head (as prepared for storage).
    pub head: &'a ResponseHead,
    /// When the request that fetched it was sent.
    pub request_time: Time,
    /// When its response was received.
    pub response_time: Time,
    /// How the policy said to store it.
    pub storage: EdgeStorage,
    /// A soft purge marks the entry stale from this instant.
    pub stale_from: Option<Time>,
}

impl Stored<'_> {
    /// See [`lifetime`].
    pub fn lifetime(&self) -> Lifetime {
        lifetime(self.head, self.storage, self.response_time)
    }

    /// See [`current_age`].
    pub fn current_age(&self, now: Time) -> u64 {
        current_age(self.head, self.request_time, self.response_time, now)
    }
}

/// Whether a stored response may be used for a request, now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Serve it; it stays fresh for `ttl` more seconds.
    Fresh { ttl: u64 },
    /// It must be revalidated before use. `stale_for` is how long it has been stale (0 when it
    /// is still fresh but the request or the response demands revalidation).
    Stale {
        stale_for: u64,
        /// It may be served now while it is revalidated in the background
        /// (`stale-while-revalidate`, or a request `max-stale` that accepts it).
        serve_while_revalidate: bool,
        /// It may be served if revalidation fails (`stale-if-error`).
        serve_if_error: bool,
        /// It would be fresh, but the request's own directives (`no-cache`, `max-age`,
        /// `min-fresh`) did not allow its use (RFC 9211 §2.2 `fwd=request`).
        by_request: bool,
    },
}

impl Verdict {
    /// True for [`Verdict::Fresh`].
    pub fn is_fresh(&self) -> bool {
        matches!(self, Verdict::Fresh { .. })
    }
}

/// What the stored response allows, as seen by this shared cache.
struct ResponseRules {
    /// Unqualified `no-cache`: "MUST NOT be used to satisfy any other request without
    /// forwarding it for validation and receiving a successful response" (§5.2.2.4).
    always_revalidate: bool,
    /// §4.2.4: "A cache MUST NOT generate a stale response if it is prohibited by an explicit
    /// in-protocol directive (e.g., by a no-cache response directive, a must-revalidate
    /// response directive, or an applicable s-maxage or proxy-revalidate response directive".
    forbids_stale: bool,
    stale_while_revalidate: u64,
    stale_if_error: u64,
}

/// Whether `stored` may ever be served stale (a `stale-while-revalidate` or `stale-if-error`
/// window, the response's or the policy's, that nothing forbids).
pub fn may_serve_stale(stored: &Stored) -> bool {
    let rules = response_rules(stored, &origin_directives(stored));
    !rules.forbids_stale && (rules.stale_while_revalidate > 0 || rules.stale_if_error > 0)
}

/// The stored response's own directives ([`cache_control::effective`]), when the policy's
/// storage does not replace them: parsed once for each decision that reads them.
fn origin_directives(stored: &Stored) -> (Option<CacheControl>, bool) {
    match stored.storage {
        EdgeStorage::Store { .. } => (None, false),
        EdgeStorage::DontStore | EdgeStorage::HonourOrigin => cache_control::effective(&stored.head.headers),
    }
}

/// `effective`: [`origin_directives`] of `stored`.
fn response_rules(stored: &Stored, effective: &(Option<CacheControl>, bool)) -> ResponseRules {
    match stored.storage {
        // The policy's lifetime and windows replace the origin's directives.
        EdgeStorage::Store { stale_while_revalidate, stale_if_error, .. } => ResponseRules {
            always_revalidate: false,
            forbids_stale: false,
            stale_while_revalidate,
            stale_if_error,
        },
        EdgeStorage::DontStore | EdgeStorage::HonourOrigin => {
            let default = CacheControl::default();
            let cc = effective.0.as_ref().unwrap_or(&default);
            ResponseRules {
                always_revalidate: cc.no_cache_all(),
                // §5.2.2.10: s-maxage "incorporates the semantics of the proxy-revalidate
                // response directive" for a shared cache.
                forbids_stale: cc.no_cache_all()
                    || cc.must_revalidate
                    || cc.proxy_revalidate
                    || cc.s_maxage.is_some(),
                stale_while_revalidate: cc.stale_while_revalidate.unwrap_or(0),
                stale_if_error: cc.stale_if_error.unwrap_or(0),
            }
        }
    }
}

/// The request's cache directives.
///
/// RFC 9111 §5.4: "When the Cache-Control header field is also present and understood in a
/// request, Pragma is ignored." Otherwise `Pragma: no-cache` means `Cache-Control: no-cache`.
pub fn request_directives(req: &RequestHead) -> CacheControl {
    match CacheControl::from_headers(&req.headers, "cache-control") {
        Some(cc) => cc,
        None => {
            let pragma_no_cache = req.headers.list("pragma").any(|p| p.eq_ignore_ascii_case("no-cache"));
            CacheControl {
                no_cache: pragma_no_cache.then_some(cache_control::FieldScope::All),
                ..CacheControl::default()
            }
        }
    }
}

/// The age (seconds) at which the entry stops being fresh: its lifetime, or earlier when a
/// soft purge marks it stale from `stale_from`.
fn expiry_age(lifetime: u64, age: u64, stale_from: Option<Time>, now: Time) -> u64 {
    match stale_from {
        None => lifetime,
        Some(sf) => {
            let age_at_purge = i128::from(age) - (i128::from(now) - i128::from(sf)).div_euclid(1000);
            let age_at_purge = u64::try_from(age_at_purge.max(0)).unwrap_or(u64::MAX);
            lifetime.min(age_at_purge)
        }
    }
}

fn within(stale_for: u64, window: u64) -> bool {
    window > 0 && stale_for <= window
}

/// Decides whether `stored` may satisfy `req` at `now` (RFC 9111 §4.2, §4.2.4, §5.2.1;
/// RFC 5861).
///
/// - Request `no-cache` (or `Pragma: no-cache` without a request Cache-Control), a request
///   `max-age` exceeded by the age, or a `min-fresh` the remaining lifetime does not cover
///   all demand revalidation; then nothing is served while revalidating, and after a failed
///   revalidation only within the `stale-if-error` window (for request `no-cache`: only the
///   request's own `stale-if-error`).
/// - A response `no-cache` (unqualified) always demands revalidation.
/// - A response `must-revalidate`, `proxy-revalidate` or `s-maxage` forbids serving it stale
///   at all (with `EdgeStorage::Store` the policy's windows apply instead).
/// - Once stale, it may be served while revalidating within `stale-while-revalidate`
///   (response or policy), or when the request's `max-stale` accepts it; and on error within
///   the larger of the response's (or policy's) and the request's `stale-if-error`.
/// - `stale_from` (soft purge) ends freshness at that instant and the entry is never served
///   again without revalidation; the `stale-if-error` window counts from then.
pub fn evaluate(req: &RequestHead, stored: &Stored, now: Time) -> Verdict {
    let age = stored.current_age(now);
    let effective = origin_directives(stored);
    let lifetime = match stored.storage {
        EdgeStorage::HonourOrigin => origin_lifetime(stored.head, &effective, stored.response_time),
        storage => lifetime(stored.head, storage, stored.response_time),
    };
    let expiry = expiry_age(lifetime.secs, age, stored.stale_from, now);
    let rules = response_rules(stored, &effective);
    let rcc = request_directives(req);

    let remaining = expiry.saturating_sub(age);
    let stale_for = age.saturating_sub(expiry);
    let naturally_fresh = age < expiry;
    // §5.2.1.4: no-cache "indicates that the client prefers a stored response not be used to
    // satisfy the request without successful validation on the origin server."
    let request_no_cache = rcc.no_cache.is_some();
    // §5.2.1.1: max-age "indicates that the client prefers a response whose age is less than
    // or equal to the specified number of seconds."
    let too_old = rcc.max_age.is_some_and(|m| age > m);
    // §5.2.1.3: min-fresh "indicates that the client prefers a response whose freshness
    // lifetime is no less than its current age plus the specified time in seconds".
    let not_fresh_enough = rcc.min_fresh.is_some_and(|m| remaining < m);
    let request_demands = request_no_cache || too_old || not_fresh_enough;

    if naturally_fresh && !rules.always_revalidate && !request_demands {
        return Verdict::Fresh { ttl: remaining };
    }

    let may_be_stale = !rules.forbids_stale;
    let error_window = if request_no_cache {
        rcc.stale_if_error.unwrap_or(0)
    } else {
        rules.stale_if_error.max(rcc.stale_if_error.unwrap_or(0))
    };
    // §5.2.1.2: max-stale "indicates that the client will accept a response that has exceeded
    // its freshness lifetime".
    let client_accepts_stale = match rcc.max_stale {
        Some(MaxStale::Any) => !naturally_fresh,
        Some(MaxStale::Secs(n)) => !naturally_fresh && stale_for <= n,
        None => false,
    };
    // A purge (soft, or a ledger that could not be consulted) ends freshness at `stale_from`:
    // the entry is never served again without a revalidation, neither while revalidating nor
    // to a client's `max-stale` (an origin error may still have it stand in, below).
    let purged = stored.stale_from.is_some();
    let serve_while_revalidate = may_be_stale
        && !purged
        && !request_demands
        && (client_accepts_stale || (!naturally_fresh && within(stale_for, rules.stale_while_revalidate)));
    // A response still fresh may stand in for a failed revalidation the request asked for,
    // unless the request said no-cache.
    let serve_if_error =
        may_be_stale && ((naturally_fresh && !request_no_cache) || within(stale_for, error_window));
    let by_request = naturally_fresh && !rules.always_revalidate;
    Verdict::Stale { stale_for, serve_while_revalidate, serve_if_error, by_request }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Time = 1_700_000_000_000;

    fn head(pairs: &[(&str, &str)]) -> ResponseHead {
        ResponseHead::new(200, Headers::from_pairs(pairs.iter().copied()))
    }

    fn date(secs_since_epoch: u64) -> String {
        format_http_date(secs_since_epoch)
    }

    fn life(h: &ResponseHead) -> Lifetime {
        lifetime(h, EdgeStorage::HonourOrigin, T0)
    }

    #[test]
    fn s_maxage_then_max_age_then_expires() {
        let now = secs(T0);
        let e = date(now + 300);
        let d = date(now);
        assert_eq!(life(&head(&[("cache-control", "max-age=60, s-maxage=90"), ("expires", &e)])).secs, 90);
        assert_eq!(life(&head(&[("cache-control", "max-age=60"), ("expires", &e)])).secs, 60);
        assert_eq!(life(&head(&[("date", &d), ("expires", &e)])).secs, 300);
    }

    #[test]
    fn expires_without_date_counts_from_the_response_time() {
        let e = date(secs(T0) + 100);
        assert_eq!(life(&head(&[("expires", &e)])), Lifetime { secs: 100, heuristic: false });
    }

    #[test]
    fn invalid_or_conflicting_expires_means_already_expired() {
        let lm = date(secs(T0) - 100_000);
        assert_eq!(life(&head(&[("expires", "0"), ("last-modified", &lm)])), Lifetime::explicit(0));
        let a = date(secs(T0) + 10);
        let b = date(secs(T0) + 20);
        assert_eq!(life(&head(&[("expires", &a), ("expires", &b)])).secs, 0);
    }

    #[test]
    fn heuristic_is_ten_percent_capped_at_a_day() {
        let d = date(secs(T0));
        let lm = date(secs(T0) - 1000);
        assert_eq!(
            life(&head(&[("date", &d), ("last-modified", &lm)])),
            Lifetime { secs: 100, heuristic: true }
        );
        let old = date(secs(T0) - 100 * 86_400);
        assert_eq!(life(&head(&[("date", &d), ("last-modified", &old)])).secs, HEURISTIC_MAX_SECS);
    }

    #[test]
    fn heuristic_needs_a_cacheable_status_or_public() {
        let lm = date(secs(T0) - 1000);
        let mut h = head(&[("last-modified", &lm)]);
        h.status = 302;
        assert_eq!(life(&h), Lifetime::explicit(0));
        h.headers.append("cache-control", "public");
        assert_eq!(life(&h), Lifetime { secs: 100, heuristic: true });
    }

    #[test]
    fn policy_ttl_overrides_the_origin() {
        let h = head(&[("cache-control", "max-age=5")]);
        let store = EdgeStorage::Store { ttl: 900, stale_while_revalidate: 0, stale_if_error: 0 };
        assert_eq!(lifetime(&h, store, T0).secs, 900);
        assert_eq!(lifetime(&h, EdgeStorage::DontStore, T0).secs, 0);
    }

    #[test]
    fn current_age_follows_section_4_2_3() {
        // Date 10 s before the response arrived; Age 3; request took 2 s; resident 5 s.
        let h = head(&[("date", &date(secs(T0) - 10)), ("age", "3")]);
        assert_eq!(current_age(&h, T0 - 2000, T0, T0 + 5000), 15);
        // corrected_age_value wins when larger: Age 30 + delay 2.
        let h = head(&[("date", &date(secs(T0))), ("age", "30")]);
        assert_eq!(current_age(&h, T0 - 2000, T0, T0 + 5000), 37);
        // Date in the future (clock skew) gives no negative age; bad Age is ignored.
        let h = head(&[("date", &date(secs(T0) + 100)), ("age", "x")]);
        assert_eq!(current_age(&h, T0, T0, T0 + 1000), 1);
    }

    #[test]
    fn age_header_is_capped() {
        assert_eq!(age_header_value(42), "42");
        assert_eq!(age_header_value(u64::MAX), "2147483648");
    }

    #[test]
    fn http_dates_in_the_three_formats() {
        assert_eq!(http_date("Sun, 06 Nov 1994 08:49:37 GMT"), Some(784_111_777));
        assert_eq!(http_date("Sunday, 06-Nov-94 08:49:37 GMT"), Some(784_111_777));
        assert_eq!(http_date("Sun Nov  6 08:49:37 1994"), Some(784_111_777));
        assert_eq!(http_date("0"), None);
    }

    #[test]
    fn http_dates_in_the_wrong_case_are_read() {
        for v in [
            "SUN, 06 NOV 1994 08:49:37 GMT",
            "sun, 06 nov 1994 08:49:37 gmt",
            "SUNDAY, 06-nov-94 08:49:37 GMT",
        ] {
            assert_eq!(http_date(v), Some(784_111_777), "{v}");
        }
        for v in ["Sun, 06 Nov 1994 08:49:37 UTC", "Sün, 06 Nov 1994 08:49:37 GMT", "", "gmt"] {
            assert_eq!(http_date(v), None, "{v}");
        }
    }

    #[test]
    fn expiry_age_with_a_soft_purge() {
        assert_eq!(expiry_age(100, 50, None, T0), 100);
        // Purged 20 s ago at age 30.
        assert_eq!(expiry_age(100, 50, Some(T0 - 20_000), T0), 30);
        // A purge scheduled 10 s ahead ends freshness at age 60.
        assert_eq!(expiry_age(100, 50, Some(T0 + 10_000), T0), 60);
    }
}
