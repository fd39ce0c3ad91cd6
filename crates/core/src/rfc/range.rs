//! Byte ranges (RFC 9110 §14) answered from a stored complete response.
//!
//! A request with `Range` goes through the cache like any GET. When it is answered from a
//! stored `200` whose length is known, the answer is the `206` (or `416`) RFC 9110 describes,
//! cut from the stored body; a miss is forwarded with its `Range` untouched and nothing is
//! stored (a `206` is never stored, RFC 9111 §3.3 is not implemented).

use crate::http::{RequestHead, ResponseHead};
use crate::rfc::conditional::EntityTag;
use crate::rfc::freshness::http_date;

/// One byte range as the client asked for it (RFC 9110 §14.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spec {
    /// `int-range = first-pos "-" [ last-pos ]`
    FromTo(u64, Option<u64>),
    /// `suffix-range = "-" suffix-length`
    Suffix(u64),
}

/// How a range request is answered from a stored response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// The whole stored response (no usable `Range`, a failed `If-Range`, several ranges, an
    /// encoded or unknown-length body).
    Full,
    /// `206 Partial Content`: bytes `start..=end` of `len`.
    Partial { start: u64, end: u64, len: u64 },
    /// `416 Range Not Satisfiable` for a representation of `len` bytes.
    Unsatisfiable { len: u64 },
}

/// Parses a `Range` field value holding exactly one byte range. `None` for anything else:
/// another unit, several ranges, or invalid syntax.
///
/// RFC 9110 §14.2: "A server MAY ignore the Range header field." §14.1: "range units are
/// compared case-insensitively". §14.1.1: "A range with a last-pos less than first-pos is
/// invalid" (an invalid ranges-specifier is ignored as well, §14.2).
pub fn parse(value: &str) -> Option<Spec> {
    let (unit, set) = value.trim().split_once('=')?;
    if !unit.eq_ignore_ascii_case("bytes") || set.contains(',') {
        return None;
    }
    let (first, last) = set.split_once('-')?;
    let digits = |s: &str| -> Option<u64> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    if first.is_empty() {
        return digits(last).map(Spec::Suffix);
    }
    let first = digits(first)?;
    if last.is_empty() {
        return Some(Spec::FromTo(first, None));
    }
    let last = digits(last)?;
    (last >= first).then_some(Spec::FromTo(first, Some(last)))
}

/// Resolves `spec` against a representation of `len` bytes: the inclusive byte positions, or
/// `None` when it is not satisfiable.
///
/// RFC 9110 §14.1.1: "An int-range is satisfiable if the first-pos is less than the current
/// length of the selected representation. If the last-pos value is absent, or if the value is
/// greater than or equal to the current length of the representation data, the byte range is
/// interpreted as the remainder of the representation." "A suffix-range is satisfiable if
/// the suffix-length is not zero. [...] If the selected representation is shorter than the
/// specified suffix-length, the entire representation is used."
pub fn resolve(spec: Spec, len: u64) -> Option<(u64, u64)> {
    if len == 0 {
        return None;
    }
    match spec {
        Spec::FromTo(first, _) if first >= len => None,
        Spec::FromTo(first, last) => Some((first, last.map_or(len - 1, |l| l.min(len - 1)))),
        Spec::Suffix(0) => None,
        Spec::Suffix(n) => Some((len - n.min(len), len - 1)),
    }
}

/// Whether the client's `If-Range` lets its `Range` apply to `stored`.
///
/// RFC 9110 §13.1.5: "If the validator given in the If-Range header field matches the current
/// validator for the selected representation of the target resource, then the server SHOULD
/// process the Range header field as requested. If the validator does not match, then the
/// server MUST ignore the Range header field." An entity tag matches by the strong comparison;
/// an HTTP-date when it "is an exact match of the Last-Modified value" and that
/// Last-Modified is a strong validator (§8.8.2.2: at least one second before the `Date`).
pub fn if_range_holds(value: &str, stored: &ResponseHead) -> bool {
    let value = value.trim();
    if value.starts_with('"') || value.starts_with("W/") {
        let (Some(wanted), Some(current)) =
            (EntityTag::parse(value), stored.headers.get("etag").and_then(EntityTag::parse))
        else {
            return false;
        };
        return wanted.strong_eq(&current);
    }
    let (Some(since), Some(lm), Some(date)) = (
        http_date(value),
        stored.headers.get("last-modified").and_then(http_date),
        stored.headers.get("date").and_then(http_date),
    ) else {
        return false;
    };
    since == lm && date > lm
}

/// How to answer `req` from the stored `head` whose body is `body_len` bytes (`None` when not
/// known).
pub fn answer(req: &RequestHead, head: &ResponseHead, body_len: Option<u64>) -> Answer {
    // RFC 9110 §14.2: "A server MUST ignore a Range header field received with a request
    // method that is unrecognized or for which range handling is not defined. For this
    // specification, GET is the only method for which range handling is defined."
    if head.status != 200 || !req.method.is_get_or_head() {
        return Answer::Full;
    }
    let Some(spec) = req.headers.get("range").and_then(parse) else { return Answer::Full };
    // Ranges count bytes of the representation as stored; a coded body may be decoded by the
    // runtime on its way out, so only identity bodies are cut.
    if head.headers.get("content-encoding").is_some_and(|c| !c.trim().eq_ignore_ascii_case("identity")) {
        return Answer::Full;
    }
    if let Some(cond) = req.headers.get("if-range") {
        if !if_range_holds(cond, head) {
            return Answer::Full;
        }
    }
    let Some(len) = body_len else { return Answer::Full };
    match resolve(spec, len) {
        Some((start, end)) => Answer::Partial { start, end, len },
        None => Answer::Unsatisfiable { len },
    }
}

/// Turns the stored `200` head into the `206` or `416` head of `answer`.
///
/// RFC 9110 §15.3.7: "A server generating a 206 response MUST generate [...] a Content-Range
/// header field [...] describing what range of the selected representation is enclosed".
/// §15.5.17: "a server generating a 416 (Range Not Satisfiable) response to a byte-range
/// request SHOULD generate a Content-Range header field specifying the current length of the
/// selected representation".
pub fn apply(head: &mut ResponseHead, answer: Answer) {
    match answer {
        Answer::Full => {}
        Answer::Partial { start, end, len } => {
            head.status = 206;
            head.headers.set("content-range", format!("bytes {start}-{end}/{len}"));
            head.headers.set("content-length", (end - start + 1).to_string());
        }
        Answer::Unsatisfiable { len } => {
            head.status = 416;
            head.headers.set("content-range", format!("bytes */{len}"));
            head.headers.set("content-length", "0");
        }
    }
}

/// Bytes `start..=end` of `body` when `range` names them (empty when they lie outside it),
/// else all of it.
pub fn cut(body: &[u8], range: Option<(u64, u64)>) -> &[u8] {
    let Some((start, end)) = range else { return body };
    usize::try_from(start)
        .ok()
        .zip(usize::try_from(end).ok())
        .and_then(|(s, e)| body.get(s..=e))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Headers;

    fn stored(pairs: &[(&str, &str)]) -> ResponseHead {
        ResponseHead::new(200, Headers::from_pairs(pairs.iter().copied()))
    }

    fn get(pairs: &[(&str, &str)]) -> RequestHead {
        RequestHead::parse("GET", "https://example.org/f", Headers::from_pairs(pairs.iter().copied()))
            .unwrap_or_else(|| unreachable!())
    }

    #[test]
    fn one_byte_range_is_parsed_and_anything_else_ignored() {
        assert_eq!(parse("bytes=0-1"), Some(Spec::FromTo(0, Some(1))));
        assert_eq!(parse("BYTES=5-"), Some(Spec::FromTo(5, None)));
        assert_eq!(parse(" bytes=-3 "), Some(Spec::Suffix(3)));
        for bad in [
            "bytes=2-1",
            "bytes=0-1,4-5",
            "items=0-1",
            "bytes=-",
            "bytes=a-b",
            "bytes=+1-2",
            "bytes 0-1",
            "bytes=99999999999999999999999-",
            "",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn ranges_resolve_against_the_length() {
        assert_eq!(resolve(Spec::FromTo(0, Some(1)), 11), Some((0, 1)));
        assert_eq!(resolve(Spec::FromTo(1, None), 11), Some((1, 10)));
        assert_eq!(resolve(Spec::FromTo(3, Some(500)), 11), Some((3, 10)));
        assert_eq!(resolve(Spec::Suffix(1), 11), Some((10, 10)));
        assert_eq!(resolve(Spec::Suffix(50), 11), Some((0, 10)));
        assert_eq!(resolve(Spec::FromTo(11, None), 11), None);
        assert_eq!(resolve(Spec::Suffix(0), 11), None);
        assert_eq!(resolve(Spec::FromTo(0, None), 0), None);
    }

    #[test]
    fn if_range_needs_a_strong_match() {
        let h = stored(&[
            ("etag", "\"a\""),
            ("last-modified", "Sun, 06 Nov 1994 08:49:37 GMT"),
            ("date", "Sun, 06 Nov 1994 09:00:00 GMT"),
        ]);
        assert!(if_range_holds("\"a\"", &h));
        assert!(!if_range_holds("W/\"a\"", &h));
        assert!(!if_range_holds("\"b\"", &h));
        assert!(if_range_holds("Sun, 06 Nov 1994 08:49:37 GMT", &h));
        assert!(!if_range_holds("Sun, 06 Nov 1994 08:49:38 GMT", &h));
        assert!(!if_range_holds("junk", &h));
        // A Last-Modified as recent as the Date is only a weak validator.
        let weak = stored(&[
            ("last-modified", "Sun, 06 Nov 1994 08:49:37 GMT"),
            ("date", "Sun, 06 Nov 1994 08:49:37 GMT"),
        ]);
        assert!(!if_range_holds("Sun, 06 Nov 1994 08:49:37 GMT", &weak));
    }

    #[test]
    fn answers_follow_the_request_and_the_stored_body() {
        let h = stored(&[("etag", "\"a\"")]);
        assert_eq!(
            answer(&get(&[("range", "bytes=0-1")]), &h, Some(11)),
            Answer::Partial { start: 0, end: 1, len: 11 }
        );
        assert_eq!(answer(&get(&[("range", "bytes=20-")]), &h, Some(11)), Answer::Unsatisfiable { len: 11 });
        assert_eq!(answer(&get(&[("range", "bytes=0-1")]), &h, None), Answer::Full);
        assert_eq!(
            answer(&get(&[("range", "bytes=0-1"), ("if-range", "\"b\"")]), &h, Some(11)),
            Answer::Full
        );
        assert_eq!(answer(&get(&[]), &h, Some(11)), Answer::Full);
        let gz = stored(&[("content-encoding", "gzip")]);
        assert_eq!(answer(&get(&[("range", "bytes=0-1")]), &gz, Some(11)), Answer::Full);
        let mut head = h.clone();
        apply(&mut head, Answer::Partial { start: 2, end: 4, len: 11 });
        assert_eq!(head.status, 206);
        assert_eq!(head.headers.get("content-range"), Some("bytes 2-4/11"));
        assert_eq!(head.headers.get("content-length"), Some("3"));
    }
}
