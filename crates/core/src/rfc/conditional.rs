//! The client's conditional request against the response we would serve (RFC 9110 §13).
//!
//! Separate from `revalidate`, which is about *our* conditional requests to the origin.

use crate::http::{Headers, RequestHead, ResponseHead};
use crate::rfc::freshness::http_date;

/// An entity tag (RFC 9110 §8.8.3): `entity-tag = [ weak ] opaque-tag`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntityTag<'a> {
    /// True for `W/"…"`.
    pub weak: bool,
    /// The tag without its quotes.
    pub opaque: &'a str,
}

impl<'a> EntityTag<'a> {
    /// Parses one entity tag. Tolerant: an unquoted value is taken as a strong tag.
    pub fn parse(value: &'a str) -> Option<EntityTag<'a>> {
        let mut tags = parse_list(value);
        let first = tags.next()?;
        tags.next().is_none().then_some(first)
    }

    /// RFC 9110 §8.8.3.2: "Strong comparison: two entity tags are equivalent if both are not
    /// weak and their opaque-tags match character-by-character."
    pub fn strong_eq(&self, other: &EntityTag) -> bool {
        !self.weak && !other.weak && self.opaque == other.opaque
    }

    /// RFC 9110 §8.8.3.2: "Weak comparison: two entity tags are equivalent if their
    /// opaque-tags match character-by-character, regardless of either or both being tagged as
    /// "weak"."
    pub fn weak_eq(&self, other: &EntityTag) -> bool {
        self.opaque == other.opaque
    }
}

/// The entity tags of an `If-Match` / `If-None-Match` style list (`*` is not an entity tag
/// and is skipped; see [`is_star`]). Tolerant of unquoted tags and stray separators.
pub fn parse_list(value: &str) -> impl Iterator<Item = EntityTag<'_>> {
    let mut rest = value;
    std::iter::from_fn(move || loop {
        rest = rest.trim_start_matches(|c: char| c == ',' || c.is_ascii_whitespace());
        if rest.is_empty() {
            return None;
        }
        let (weak, r) = match rest.strip_prefix("W/") {
            Some(r) => (true, r),
            None => (false, rest),
        };
        if let Some(r) = r.strip_prefix('"') {
            // etagc excludes DQUOTE, so the tag ends at the next one.
            let (opaque, after) = r.split_once('"')?;
            rest = after;
            return Some(EntityTag { weak, opaque });
        }
        let (item, after) = r.split_once(',').unwrap_or((r, ""));
        rest = after;
        let item = item.trim();
        if !item.is_empty() && item != "*" {
            return Some(EntityTag { weak, opaque: item });
        }
    })
}

/// True when the list is `*`.
pub fn is_star(value: &str) -> bool {
    value.split(',').any(|v| v.trim() == "*")
}

/// The outcome of evaluating the client's preconditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conditional {
    /// No precondition applies or all passed: serve the response.
    None,
    /// Answer 304 (see [`not_modified`]).
    NotModified,
    /// Answer 412.
    PreconditionFailed,
}

/// A date-valued precondition: one field line holding a valid HTTP-date.
///
/// RFC 9110 §13.1.3: "A recipient MUST ignore the If-Modified-Since header field if the
/// received field value is not a valid HTTP-date, the field value has more than one member".
fn single_date(h: &Headers, name: &str) -> Option<u64> {
    let mut values = h.get_all(name);
    let first = values.next()?;
    if values.next().is_some() {
        return None;
    }
    http_date(first)
}

/// Evaluates the client's preconditions against `served` in the order of RFC 9110 §13.2.2.
///
/// Only a 200 response is subject to them (the cache answers preconditions only for what it
/// would serve with 200; anything else passes through), and only GET and HEAD requests (the
/// cache answers nothing else).
pub fn evaluate(req: &RequestHead, served: &ResponseHead) -> Conditional {
    evaluate_dated(req, served, false)
}

/// [`evaluate`] for a response served from the cache's store: a stored response without
/// `Last-Modified` is dated by its `Date` for `If-Modified-Since`.
///
/// RFC 9111 §4.3.2: "A cache recipient SHOULD generate a 304 (Not Modified) response [...] if
/// one of the following cases is true: 1) the selected stored response has a Last-Modified
/// field value that is earlier than or equal to the conditional timestamp; 2) no
/// Last-Modified field is present in the selected stored response, but it has a Date field
/// value that is earlier than or equal to the conditional timestamp".
pub fn evaluate_stored(req: &RequestHead, served: &ResponseHead) -> Conditional {
    evaluate_dated(req, served, true)
}

fn evaluate_dated(req: &RequestHead, served: &ResponseHead, date_stands_in: bool) -> Conditional {
    if served.status != 200 || !req.is_get_or_head() {
        return Conditional::None;
    }
    let h = &req.headers;
    // Every precondition field (RFC 9110 §13.1) is named `If-…`: a request without one, as
    // most are, has nothing to evaluate, and the stored validators need not be parsed.
    if !h.has_name_starting_with("if-") {
        return Conditional::None;
    }
    let etag = served.headers.get("etag").and_then(EntityTag::parse);
    let last_modified = served.headers.get_all("last-modified").find_map(http_date);
    let modified_for_ims = if date_stands_in && !served.headers.contains("last-modified") {
        served.headers.get_all("date").find_map(http_date)
    } else {
        last_modified
    };

    // §13.2.2 step 1: "When recipient is the origin server and If-Match is present, evaluate
    // the If-Match precondition: if true, continue to step 3; if false, respond 412".
    if let Some(if_match) = h.get_joined("if-match") {
        // §13.1.1: "An origin server MUST use the strong comparison function when comparing
        // entity tags for If-Match"; "*" matches any current representation.
        let matched =
            is_star(&if_match) || etag.is_some_and(|e| parse_list(&if_match).any(|t| t.strong_eq(&e)));
        if !matched {
            return Conditional::PreconditionFailed;
        }
    } else if let Some(since) = single_date(h, "if-unmodified-since") {
        // Step 2: "if false, respond 412". §13.1.4: false when "the selected representation's
        // last modification date is [not] earlier or equal to the date provided".
        if last_modified.is_some_and(|lm| lm > since) {
            return Conditional::PreconditionFailed;
        }
    }

    // Step 3: "When If-None-Match is present, evaluate the If-None-Match precondition: [...] if
    // false for GET/HEAD, respond 304 (Not Modified)". §13.1.2: "A recipient MUST use the weak
    // comparison function when comparing entity tags for If-None-Match".
    if let Some(if_none_match) = h.get_joined("if-none-match") {
        let matched = is_star(&if_none_match)
            || etag.is_some_and(|e| parse_list(&if_none_match).any(|t| t.weak_eq(&e)));
        return if matched { Conditional::NotModified } else { Conditional::None };
    }

    // Step 4: "When the method is GET or HEAD, If-None-Match is not present, and
    // If-Modified-Since is present, evaluate the If-Modified-Since precondition: [...] if false,
    // respond 304". §13.1.3: false when "the selected representation's last modification date
    // is earlier or equal to the date provided in the field value".
    if let (Some(since), Some(lm)) = (single_date(h, "if-modified-since"), modified_for_ims) {
        if lm <= since {
            return Conditional::NotModified;
        }
    }
    Conditional::None
}

/// The fields a 304 carries (RFC 9110 §15.4.5): "Content-Location, Date, ETag, and Vary;
/// Cache-Control and Expires", plus `Last-Modified` and `Age` when present.
pub const NOT_MODIFIED_FIELDS: [&str; 8] =
    ["cache-control", "content-location", "date", "etag", "expires", "vary", "last-modified", "age"];

/// The 304 (Not Modified) answer for `served`: the fields of [`NOT_MODIFIED_FIELDS`] that
/// `served` has, in its order, and no content fields.
///
/// RFC 9110 §15.4.5: "the server SHOULD NOT generate representation metadata other than the
/// above listed fields unless said metadata exists for the purpose of guiding cache updates".
pub fn not_modified(served: &ResponseHead) -> ResponseHead {
    let mut headers = served.headers.clone();
    headers.retain(|name, _| NOT_MODIFIED_FIELDS.iter().any(|f| f.eq_ignore_ascii_case(name)));
    ResponseHead::new(304, headers)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn req(method: &str, pairs: &[(&str, &str)]) -> RequestHead {
        RequestHead::parse(method, "https://example.org/", Headers::from_pairs(pairs.iter().copied()))
            .unwrap()
    }

    const LM: &str = "Sun, 06 Nov 1994 08:49:37 GMT";
    const BEFORE: &str = "Sun, 06 Nov 1994 08:49:36 GMT";
    const AFTER: &str = "Sun, 06 Nov 1994 08:49:38 GMT";

    fn served() -> ResponseHead {
        ResponseHead::new(
            200,
            Headers::from_pairs([("etag", "W/\"v1\""), ("last-modified", LM), ("content-type", "text/html")]),
        )
    }

    fn strong() -> ResponseHead {
        ResponseHead::new(200, Headers::from_pairs([("etag", "\"v1\""), ("last-modified", LM)]))
    }

    #[test]
    fn entity_tag_lists() {
        let tags: Vec<_> = parse_list(r#" "a", W/"b,c" ,, d, *"#).collect();
        assert_eq!(
            tags,
            vec![
                EntityTag { weak: false, opaque: "a" },
                EntityTag { weak: true, opaque: "b,c" },
                EntityTag { weak: false, opaque: "d" }
            ]
        );
        assert_eq!(parse_list("\"unterminated").count(), 0);
        assert_eq!(EntityTag::parse("\"a\", \"b\""), None);
        assert!(is_star(" * "));
    }

    #[test]
    fn comparison_functions() {
        let w = EntityTag { weak: true, opaque: "1" };
        let s = EntityTag { weak: false, opaque: "1" };
        assert!(s.strong_eq(&s) && !w.strong_eq(&s) && !w.strong_eq(&w));
        assert!(w.weak_eq(&s) && w.weak_eq(&w));
    }

    #[test]
    fn if_none_match_uses_weak_comparison() {
        assert_eq!(
            evaluate(&req("GET", &[("if-none-match", "\"v1\"")]), &served()),
            Conditional::NotModified
        );
        assert_eq!(
            evaluate(&req("HEAD", &[("if-none-match", "\"x\", W/\"v1\"")]), &served()),
            Conditional::NotModified
        );
        assert_eq!(evaluate(&req("GET", &[("if-none-match", "\"v2\"")]), &served()), Conditional::None);
        assert_eq!(evaluate(&req("GET", &[("if-none-match", "*")]), &served()), Conditional::NotModified);
    }

    #[test]
    fn if_none_match_takes_precedence_over_if_modified_since() {
        let r = req("GET", &[("if-none-match", "\"v2\""), ("if-modified-since", AFTER)]);
        assert_eq!(evaluate(&r, &served()), Conditional::None);
    }

    #[test]
    fn if_modified_since() {
        assert_eq!(evaluate(&req("GET", &[("if-modified-since", LM)]), &served()), Conditional::NotModified);
        assert_eq!(
            evaluate(&req("GET", &[("if-modified-since", AFTER)]), &served()),
            Conditional::NotModified
        );
        assert_eq!(evaluate(&req("GET", &[("if-modified-since", BEFORE)]), &served()), Conditional::None);
        assert_eq!(
            evaluate(&req("GET", &[("if-modified-since", "yesterday")]), &served()),
            Conditional::None
        );
        let two = req("GET", &[("if-modified-since", LM), ("if-modified-since", LM)]);
        assert_eq!(evaluate(&two, &served()), Conditional::None);
    }

    #[test]
    fn if_match_uses_strong_comparison() {
        assert_eq!(evaluate(&req("GET", &[("if-match", "\"v1\"")]), &strong()), Conditional::None);
        assert_eq!(
            evaluate(&req("GET", &[("if-match", "\"v1\"")]), &served()),
            Conditional::PreconditionFailed
        );
        assert_eq!(evaluate(&req("GET", &[("if-match", "*")]), &served()), Conditional::None);
        assert_eq!(
            evaluate(&req("GET", &[("if-match", "\"v2\"")]), &strong()),
            Conditional::PreconditionFailed
        );
    }

    #[test]
    fn if_unmodified_since_fails_when_modified_later() {
        assert_eq!(
            evaluate(&req("GET", &[("if-unmodified-since", BEFORE)]), &strong()),
            Conditional::PreconditionFailed
        );
        assert_eq!(evaluate(&req("GET", &[("if-unmodified-since", LM)]), &strong()), Conditional::None);
        // Ignored when If-Match is present.
        let r = req("GET", &[("if-match", "\"v1\""), ("if-unmodified-since", BEFORE)]);
        assert_eq!(evaluate(&r, &strong()), Conditional::None);
    }

    #[test]
    fn only_200_responses_to_get_or_head_are_evaluated() {
        let mut s = strong();
        s.status = 404;
        assert_eq!(evaluate(&req("GET", &[("if-none-match", "*")]), &s), Conditional::None);
        assert_eq!(evaluate(&req("POST", &[("if-none-match", "*")]), &strong()), Conditional::None);
    }

    #[test]
    fn not_modified_keeps_only_the_listed_fields() {
        let s = ResponseHead::new(
            200,
            Headers::from_pairs([
                ("content-type", "text/html"),
                ("etag", "\"a\""),
                ("content-length", "10"),
                ("cache-control", "max-age=5"),
                ("vary", "accept-encoding"),
                ("age", "3"),
                ("x-other", "1"),
            ]),
        );
        let nm = not_modified(&s);
        assert_eq!(nm.status, 304);
        let names: Vec<_> = nm.headers.iter().map(|(n, _)| n).collect();
        assert_eq!(names, vec!["etag", "cache-control", "vary", "age"]);
    }
}
