//! Invalidation after an unsafe request (RFC 9111 §4.4).

use crate::http::{RequestHead, ResponseHead};

/// The URLs whose stored responses must be invalidated after `resp` answered `req`.
///
/// RFC 9111 §4.4: "A cache MUST invalidate the target URI (Section 7.1 of \[HTTP\]) when it
/// receives a non-error status code in response to an unsafe request method (including
/// methods whose safety is unknown)." "A cache MAY invalidate other URIs [...] In particular,
/// the URI(s) in the Location and Content-Location response header fields (if present) are
/// candidates for invalidation". "However, a cache MUST NOT trigger an invalidation under
/// these conditions if the origin (Section 4.3.1 of \[HTTP\]) of the URI to be invalidated
/// differs from that of the target URI". "Here, a "non-error response" is one with a 2xx
/// (Successful) or 3xx (Redirection) status code."
///
/// `Location` and `Content-Location` are resolved against the request URL; fragments are
/// dropped; the result has no duplicates and starts with the target URI.
pub fn targets(req: &RequestHead, resp: &ResponseHead) -> Vec<crate::http::Url> {
    if req.is_safe() || !(200..400).contains(&resp.status) {
        return Vec::new();
    }
    let mut target = req.url.clone();
    target.set_fragment(None);
    let origin = target.origin();
    let mut out = vec![target];
    for field in ["location", "content-location"] {
        let Some(value) = resp.headers.get(field) else { continue };
        let Some(mut url) = crate::http::join_url(&req.url, value.trim()) else { continue };
        url.set_fragment(None);
        if url.origin() == origin && !out.contains(&url) {
            out.push(url);
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::http::Headers;

    fn run(method: &str, status: u16, pairs: &[(&str, &str)]) -> Vec<String> {
        let req = RequestHead::parse(method, "https://example.org/folder/item#x", Headers::new()).unwrap();
        let resp = ResponseHead::new(status, Headers::from_pairs(pairs.iter().copied()));
        targets(&req, &resp).into_iter().map(String::from).collect()
    }

    #[test]
    fn unsafe_methods_with_non_error_status_invalidate_the_target() {
        assert_eq!(run("POST", 200, &[]), vec!["https://example.org/folder/item"]);
        assert_eq!(run("DELETE", 302, &[]), vec!["https://example.org/folder/item"]);
        assert_eq!(run("FROBNICATE", 204, &[]), vec!["https://example.org/folder/item"]);
    }

    #[test]
    fn safe_methods_and_errors_invalidate_nothing() {
        assert!(run("GET", 200, &[("location", "/x")]).is_empty());
        assert!(run("HEAD", 200, &[]).is_empty());
        assert!(run("POST", 404, &[]).is_empty());
        assert!(run("PUT", 500, &[]).is_empty());
    }

    #[test]
    fn same_origin_location_and_content_location_are_included() {
        let got =
            run("POST", 201, &[("location", "new"), ("content-location", "https://example.org/other#frag")]);
        assert_eq!(
            got,
            vec![
                "https://example.org/folder/item",
                "https://example.org/folder/new",
                "https://example.org/other"
            ]
        );
    }

    #[test]
    fn cross_origin_locations_are_not() {
        let got = run(
            "POST",
            303,
            &[("location", "https://evil.example/folder/item"), ("content-location", "http://example.org/x")],
        );
        assert_eq!(got, vec!["https://example.org/folder/item"]);
        assert_eq!(run("PUT", 200, &[("location", "/folder/item")]), vec!["https://example.org/folder/item"]);
    }
}
