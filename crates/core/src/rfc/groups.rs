//! HTTP Cache Groups (RFC 9875): the groups a response belongs to (`Cache-Groups`) and the
//! groups the response to an unsafe request invalidates (`Cache-Group-Invalidation`).
//!
//! RFC 9875 §2: "The Cache-Groups HTTP response header field is a List of Strings [...]. Each
//! member of the List is a value that identifies a group that the response belongs to." §2.1:
//! "Two responses stored in the same cache are considered to belong to the same group when
//! all of the following conditions are met: 1. They both contain a Cache-Groups response
//! header field that contains the same String (in any position in the List) [...] 2. They both
//! share the same URI origin (per Section 4.3.1 of [HTTP])." The origin condition is kept by
//! the ledger's group target (`purge::ledger::Target::Group`), which names the origin.

use crate::http::{structured, Headers, RequestHead, ResponseHead};

/// The response field naming the groups a response belongs to.
pub const CACHE_GROUPS: &str = "cache-groups";
/// The response field naming the groups a response to an unsafe request invalidates.
pub const CACHE_GROUP_INVALIDATION: &str = "cache-group-invalidation";

/// The most groups one `Cache-Group-Invalidation` invalidates one by one. RFC 9875 §3:
/// "Implementations MUST support at least 32 groups in a field value, with up to at least 32
/// characters in each member." A field naming more is not cut short (that would leave some
/// groups stale): it invalidates the whole origin instead (see [`Invalidated::TooMany`]).
pub const MAX_INVALIDATED_GROUPS: usize = 32;

/// The groups of a response (`Cache-Groups`), at most `max`, in the order listed; empty
/// Strings are left out. A field that is not a valid List of Strings names no group (RFC
/// 9651 §4.2: "If parsing fails [...] the entire field value MUST be ignored").
pub fn groups(headers: &Headers, max: usize) -> Vec<String> {
    let mut out = structured::list_of_strings(headers.get_all(CACHE_GROUPS), max).unwrap_or_default();
    out.retain(|g| !g.is_empty());
    out
}

/// What a response's `Cache-Group-Invalidation` asks of the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalidated {
    /// Nothing: no field, a safe method, or a field that does not parse.
    Nothing,
    /// These groups, of the request's origin.
    Groups(Vec<String>),
    /// More than [`MAX_INVALIDATED_GROUPS`] groups: everything stored for the request's
    /// origin is invalidated (at least what the field asked for).
    TooMany,
}

/// The groups `resp` invalidates, as the answer to `req`.
///
/// RFC 9875 §3: "The Cache-Group-Invalidation header field MUST be ignored on responses to
/// requests that have a safe method (e.g., GET; see Section 9.2.1 of [HTTP])." "A cache that
/// receives a Cache-Group-Invalidation header field on a response to an unsafe request MAY
/// invalidate any stored responses that share groups (per Section 2.1) with any of the listed
/// groups." The RFC sets no condition on the status: the field is honoured on any response
/// the origin sent. "The ordering of members is not significant. Unrecognised Parameters are
/// to be ignored."
pub fn invalidated(req: &RequestHead, resp: &ResponseHead) -> Invalidated {
    if req.is_safe() {
        return Invalidated::Nothing;
    }
    let lines = resp.headers.get_all(CACHE_GROUP_INVALIDATION);
    let Some(mut listed) = structured::list_of_strings(lines, MAX_INVALIDATED_GROUPS + 1) else {
        return Invalidated::Nothing;
    };
    if listed.len() > MAX_INVALIDATED_GROUPS {
        return Invalidated::TooMany;
    }
    listed.retain(|g| !g.is_empty());
    let mut groups: Vec<String> = Vec::with_capacity(listed.len());
    for g in listed {
        if !groups.contains(&g) {
            groups.push(g);
        }
    }
    if groups.is_empty() {
        Invalidated::Nothing
    } else {
        Invalidated::Groups(groups)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn answer(method: &str, status: u16, field: &[&str]) -> Invalidated {
        let req = RequestHead::parse(method, "https://example.org/edit", Headers::new()).unwrap();
        let pairs = field.iter().map(|v| (CACHE_GROUP_INVALIDATION, *v));
        invalidated(&req, &ResponseHead::new(status, Headers::from_pairs(pairs)))
    }

    fn groups_of(list: &[&str]) -> Invalidated {
        Invalidated::Groups(list.iter().map(|s| (*s).to_owned()).collect())
    }

    #[test]
    fn unsafe_methods_invalidate_the_listed_groups_whatever_the_status() {
        let field = [r#""eurovision-results", "australia""#];
        assert_eq!(answer("POST", 200, &field), groups_of(&["eurovision-results", "australia"]));
        assert_eq!(answer("DELETE", 204, &field), groups_of(&["eurovision-results", "australia"]));
        assert_eq!(answer("PATCH", 409, &[r#""a""#, r#""b", "a""#]), groups_of(&["a", "b"]));
        assert_eq!(answer("FROBNICATE", 500, &[r#""x""#]), groups_of(&["x"]));
    }

    #[test]
    fn safe_methods_are_ignored() {
        for method in ["GET", "HEAD", "OPTIONS", "TRACE"] {
            assert_eq!(answer(method, 200, &[r#""news""#]), Invalidated::Nothing, "{method}");
        }
    }

    #[test]
    fn a_malformed_or_empty_field_invalidates_nothing() {
        assert_eq!(answer("POST", 200, &["news"]), Invalidated::Nothing, "a token is not a String");
        assert_eq!(answer("POST", 200, &[r#""news"#]), Invalidated::Nothing);
        assert_eq!(answer("POST", 200, &[r#""""#]), Invalidated::Nothing);
        assert_eq!(answer("POST", 200, &[]), Invalidated::Nothing);
    }

    #[test]
    fn more_than_the_limit_invalidates_the_whole_origin() {
        let at_limit = (0..MAX_INVALIDATED_GROUPS).map(|i| format!("\"g{i}\"")).collect::<Vec<_>>().join(",");
        assert!(
            matches!(answer("POST", 200, &[&at_limit]), Invalidated::Groups(g) if g.len() == MAX_INVALIDATED_GROUPS)
        );
        let over = format!("{at_limit}, \"one-more\"");
        assert_eq!(answer("POST", 200, &[&over]), Invalidated::TooMany);
    }

    #[test]
    fn cache_groups_are_read_with_parameters_ignored() {
        let h =
            Headers::from_pairs([(CACHE_GROUPS, r#""scripts";x=1, "site-wide""#), (CACHE_GROUPS, r#""""#)]);
        assert_eq!(groups(&h, 10), ["scripts", "site-wide"]);
        assert_eq!(groups(&h, 1), ["scripts"]);
        assert!(groups(&Headers::from_pairs([(CACHE_GROUPS, "scripts")]), 10).is_empty());
    }
}
