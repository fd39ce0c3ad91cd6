//! Revalidating a stored response with the origin (RFC 9111 §4.3): the conditional request
//! we send, and the update of the stored response by a 304.

use crate::http::{Headers, ResponseHead};
use crate::rfc::cache_control;
use crate::rfc::conditional::EntityTag;
use crate::rfc::freshness::http_date;
use crate::rfc::hop;

/// The fields to send to validate `stored` (RFC 9111 §4.3.1); None when it has no validator.
///
/// "When generating a conditional request for validation, a cache [...] MUST send the
/// relevant entity tags (using If-None-Match) if the entity-tag was provided in the stored
/// response(s) being validated" and "SHOULD send the Last-Modified value (using
/// If-Modified-Since) if the request is not for a subrange, a single stored response is being
/// validated, and that response contains a Last-Modified value."
pub fn conditional_headers(stored: &ResponseHead) -> Option<Headers> {
    let mut h = Headers::new();
    if let Some(etag) = stored.headers.get("etag") {
        if EntityTag::parse(etag).is_some() {
            h.set("if-none-match", etag.trim());
        }
    }
    if let Some(lm) = stored.headers.get("last-modified") {
        if http_date(lm).is_some() {
            h.set("if-modified-since", lm.trim());
        }
    }
    (!h.is_empty()).then_some(h)
}

/// Does the 304 `not_modified` select `stored` for update? (RFC 9111 §4.3.4)
fn selects(stored: &ResponseHead, not_modified: &ResponseHead) -> bool {
    let stored_etag = stored.headers.get("etag").and_then(EntityTag::parse);
    let new_etag = not_modified.headers.get("etag").and_then(EntityTag::parse);
    let stored_lm = stored.headers.get_all("last-modified").find_map(http_date);
    let new_lm = not_modified.headers.get_all("last-modified").find_map(http_date);
    match (new_etag, new_lm) {
        // "If the new response contains one or more strong validators [...] All the stored
        // responses with one of those same strong validators are identified for update."
        (Some(new), _) if !new.weak => stored_etag.is_some_and(|s| s.strong_eq(&new)),
        // "If the new response contains no strong validators but does contain one or more
        // weak validators, and those validators correspond to one of the cache's stored
        // responses, then the most recent of those matching stored responses is identified"
        (Some(new), _) => stored_etag.is_some_and(|s| s.weak_eq(&new)),
        (None, Some(lm)) => stored_lm == Some(lm),
        // "If the new response does not include any form of validator (such as where a client
        // generates an If-Modified-Since request from a source other than the Last-Modified
        // response header field), and there is only one stored response, and that stored
        // response also lacks a validator, then that stored response is identified for
        // update." This cache validates exactly one stored response per conditional request
        // (§4.3.1), with that response's own validators, so a 304 carrying none (RFC 9110
        // §15.4.5 says the server "SHOULD" send them, and many do not) can only be about the
        // response it asked about: it freshens that one rather than forcing a refetch.
        (None, None) => true,
    }
}

/// Fields of a 304 never copied into the stored response: those the stored body depends on
/// or that are per message (RFC 9111 §3.2: "The Content-Length header field" and fields
/// "that the cache's stored response depends upon"), and `Set-Cookie`, which a shared cache
/// never stores. Hop-by-hop fields are removed as well (§3.1).
pub const NOT_UPDATED: [&str; 5] =
    ["content-length", "content-encoding", "content-range", "transfer-encoding", "set-cookie"];

/// Merges a 304 into the stored response it validates (RFC 9111 §4.3.3, §4.3.4).
///
/// None when `not_modified` is not a 304 or does not select `stored` (validators differ):
/// the caller then refetches without conditions. Otherwise the stored status is kept and
/// every field of the 304 replaces the stored field of that name, except [`NOT_UPDATED`]
/// and hop-by-hop fields; the fields named by a qualified `private`/`no-cache` of the result
/// are dropped as on first storage.
///
/// §3.2: "the cache MUST add each header field in the provided response to the stored
/// response, replacing field values that are already present".
pub fn merge_not_modified(stored: &ResponseHead, not_modified: &ResponseHead) -> Option<ResponseHead> {
    if not_modified.status != 304 || !selects(stored, not_modified) {
        return None;
    }
    Some(merge_fields(stored, not_modified))
}

/// Updates a stored GET response with the `200` to a HEAD request for it (RFC 9111 §4.3.5).
///
/// "For each of the stored responses that could have been chosen, if the stored response and
/// HEAD response have matching values for any received validator fields (ETag and
/// Last-Modified) and, if the HEAD response has a Content-Length header field, the value of
/// Content-Length matches that of the stored response, the cache SHOULD update the stored
/// response as described below; otherwise, the cache SHOULD consider the stored response to
/// be stale." And: "If a cache updates a stored response with the metadata provided in a
/// HEAD response, the cache MUST use the header fields provided in the HEAD response to update
/// the stored response (see Section 3.2)." None when they do not match.
pub fn merge_head(stored: &ResponseHead, head: &ResponseHead) -> Option<ResponseHead> {
    match compare_head(stored, head) {
        HeadComparison::Matches(merged) => Some(merged),
        HeadComparison::Differs | HeadComparison::Incomparable => None,
    }
}

/// What a 200 to a HEAD says of the stored GET response (RFC 9111 §4.3.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeadComparison {
    /// Every validator field and `Content-Length` the HEAD response has matches the stored
    /// one: the stored response updated with the HEAD response's fields.
    Matches(ResponseHead),
    /// A field both have differs: the response itself says the stored one is outdated.
    Differs,
    /// The HEAD response has a field the stored response lacks, so nothing can be compared:
    /// neither an update nor evidence of a change. The stored response is left as it is (a
    /// request must not decide a shared entry's fate on what the cache happens not to know).
    Incomparable,
}

/// Compares a 200 to a HEAD with the stored GET response, field by field (`ETag`,
/// `Last-Modified`, `Content-Length`; see [`merge_head`]).
pub fn compare_head(stored: &ResponseHead, head: &ResponseHead) -> HeadComparison {
    if head.status != 200 {
        return HeadComparison::Incomparable;
    }
    let mut incomparable = false;
    let mut differs = false;
    let mut judge = |pair: Option<bool>| match pair {
        None => incomparable = true,
        Some(same) => differs |= !same,
    };
    if let Some(new) = head.headers.get("etag") {
        judge(stored.headers.get("etag").map(|old| {
            let (new, old) = (EntityTag::parse(new), EntityTag::parse(old));
            new.zip(old).is_some_and(|(n, o)| n.strong_eq(&o) || (n.weak && n.weak_eq(&o)))
        }));
    }
    if let Some(new) = head.headers.get_all("last-modified").find_map(http_date) {
        judge(stored.headers.get_all("last-modified").find_map(http_date).map(|old| old == new));
    }
    let length = |h: &ResponseHead| h.headers.get("content-length").map(|v| v.trim().to_string());
    if let Some(new) = length(head) {
        judge(length(stored).map(|old| old == new));
    }
    if differs {
        HeadComparison::Differs
    } else if incomparable {
        HeadComparison::Incomparable
    } else {
        HeadComparison::Matches(merge_fields(stored, head))
    }
}

/// The stored response with the fields of `update` (a 304, or a 200 to a HEAD) merged in.
fn merge_fields(stored: &ResponseHead, update_head: &ResponseHead) -> ResponseHead {
    let mut update = update_head.headers.clone();
    hop::strip_hop_by_hop(&mut update);
    update.retain(|name, _| !NOT_UPDATED.iter().any(|n| n.eq_ignore_ascii_case(name)));

    let mut headers = stored.headers.clone();
    let mut replaced: Vec<&str> = Vec::new();
    for (name, _) in update.iter() {
        if !replaced.contains(&name) {
            headers.remove(name);
            replaced.push(name);
        }
    }
    for (name, value) in update.iter() {
        headers.append(name, value);
    }
    let cc = cache_control::effective(&headers).0;
    hop::prepare_for_storage(&mut headers, cc.as_ref());
    ResponseHead::new(stored.status, headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LM: &str = "Sun, 06 Nov 1994 08:49:37 GMT";

    fn head(status: u16, pairs: &[(&str, &str)]) -> ResponseHead {
        ResponseHead::new(status, Headers::from_pairs(pairs.iter().copied()))
    }

    #[test]
    fn conditional_headers_from_validators() {
        let h = conditional_headers(&head(200, &[("etag", "W/\"a\""), ("last-modified", LM)]));
        let h = h.unwrap_or_default();
        assert_eq!(h.get("if-none-match"), Some("W/\"a\""));
        assert_eq!(h.get("if-modified-since"), Some(LM));
        assert_eq!(conditional_headers(&head(200, &[("last-modified", "garbage")])), None);
        assert_eq!(conditional_headers(&head(200, &[])), None);
    }

    #[test]
    fn selection_by_strong_weak_and_last_modified() {
        let stored = head(200, &[("etag", "\"a\""), ("last-modified", LM)]);
        assert!(merge_not_modified(&stored, &head(304, &[("etag", "\"a\"")])).is_some());
        assert!(merge_not_modified(&stored, &head(304, &[("etag", "\"b\"")])).is_none());
        assert!(merge_not_modified(&stored, &head(304, &[("etag", "W/\"a\"")])).is_some());
        assert!(merge_not_modified(&stored, &head(304, &[("last-modified", LM)])).is_some());
        // A 304 without validators answers the one stored response it was asked about.
        assert!(merge_not_modified(&stored, &head(304, &[])).is_some());
        let weak = head(200, &[("etag", "W/\"a\"")]);
        assert!(merge_not_modified(&weak, &head(304, &[("etag", "\"a\"")])).is_none());
        assert!(merge_not_modified(&head(200, &[]), &head(304, &[])).is_some());
        assert!(merge_not_modified(&stored, &head(200, &[("etag", "\"a\"")])).is_none());
    }

    #[test]
    fn merge_replaces_fields_but_not_content_length_or_hop_by_hop() {
        let stored = head(
            200,
            &[
                ("etag", "\"a\""),
                ("cache-control", "max-age=60"),
                ("content-length", "100"),
                ("content-type", "text/html"),
                ("x-multi", "1"),
                ("x-multi", "2"),
            ],
        );
        let nm = head(
            304,
            &[
                ("etag", "\"a\""),
                ("cache-control", "max-age=600"),
                ("content-length", "0"),
                ("connection", "x-hop"),
                ("x-hop", "1"),
                ("x-multi", "3"),
                ("set-cookie", "s=1"),
            ],
        );
        let merged = merge_not_modified(&stored, &nm).unwrap_or_else(|| head(0, &[]));
        assert_eq!(merged.status, 200);
        assert_eq!(merged.headers.get("cache-control"), Some("max-age=600"));
        assert_eq!(merged.headers.get("content-length"), Some("100"));
        assert_eq!(merged.headers.get("content-type"), Some("text/html"));
        assert_eq!(merged.headers.get_all("x-multi").collect::<Vec<_>>(), vec!["3"]);
        assert!(!merged.headers.contains("x-hop") && !merged.headers.contains("connection"));
        assert!(!merged.headers.contains("set-cookie"));
    }
}
