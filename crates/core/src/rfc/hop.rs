//! Hop-by-hop header fields and the fields a shared cache must not keep.

use crate::http::{is_listed, Headers};
use crate::rfc::cache_control::CacheControl;

/// Connection-specific fields removed by every intermediary, whether or not `Connection`
/// lists them (RFC 9110 §7.6.1, plus the legacy `Keep-Alive` and `Proxy-Connection`, and the
/// hop-by-hop authentication fields of RFC 9110 §11.7.1-§11.7.3).
///
/// RFC 9111 §3.1: "Header fields that are specific to the proxy that a cache uses when
/// forwarding a request MUST NOT be stored [...] Effectively, this is limited to
/// Proxy-Authenticate (Section 11.7.1 of [HTTP]), Proxy-Authentication-Info (Section 11.7.3 of
/// [HTTP]), and Proxy-Authorization (Section 11.7.2 of [HTTP])."
pub const HOP_BY_HOP: [&str; 10] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "transfer-encoding",
    "upgrade",
    "trailer",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-authentication-info",
];

/// True when the stored (lower-case) field name `name` is always hop-by-hop.
pub fn is_hop_by_hop(name: &str) -> bool {
    is_listed(name, &HOP_BY_HOP)
}

/// The field names listed in `Connection` (lower-cased).
fn connection_options(h: &Headers) -> Vec<String> {
    h.list("connection").map(str::to_ascii_lowercase).collect()
}

/// Removes the hop-by-hop fields.
///
/// RFC 9110 §7.6.1: "Intermediaries MUST parse a received Connection header field before a
/// message is forwarded and, for each connection-option in this field, remove any header or
/// trailer field(s) from the message with the same name as the connection-option, and then
/// remove the Connection header field itself (or replace it with the intermediary's own
/// control options for the forwarded message)."
pub fn strip_hop_by_hop(h: &mut Headers) {
    let named = connection_options(h);
    h.retain(|name, _| !is_hop_by_hop(name) && !named.iter().any(|n| n == name));
}

/// Removes what a shared cache must not store: the hop-by-hop fields and the fields named by
/// a qualified `private` or `no-cache` directive of `cc` (the directives that govern this
/// cache, see [`crate::rfc::cache_control::effective`]).
///
/// RFC 9111 §5.2.2.7: "If a qualified private response directive is present, [...] a shared
/// cache MUST NOT store the specified field names(s), whereas it MAY store the remainder of
/// the response message."
///
/// RFC 9111 §5.2.2.4: "If a qualified no-cache response directive is present, [...] the
/// specified field name(s) MUST NOT be sent in the response to a subsequent request without
/// successful revalidation with the origin server." We comply by never storing those fields:
/// a response served from the cache then never carries them, and one that was revalidated
/// carries them only if the origin sends them again.
pub fn prepare_for_storage(h: &mut Headers, cc: Option<&CacheControl>) {
    strip_hop_by_hop(h);
    let Some(cc) = cc else { return };
    for scope in [&cc.private, &cc.no_cache].into_iter().flatten() {
        for name in scope.fields() {
            h.remove(name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_name_lists_compared_exactly_are_lower_case() {
        // `http::is_listed` compares stored (lower-case) names with these without folding case
        // (the lists of the layers above are checked in `flow`).
        for name in HOP_BY_HOP {
            assert_eq!(name, name.to_ascii_lowercase());
        }
        let mut h = Headers::new();
        h.append("Proxy-Authorization", "x");
        h.append("TE", "trailers");
        h.append("Accept", "*/*");
        strip_hop_by_hop(&mut h);
        assert_eq!(names(&h), ["accept"], "fields sent in any case are stripped");
    }

    fn names(h: &Headers) -> Vec<&str> {
        h.iter().map(|(n, _)| n).collect()
    }

    #[test]
    fn strips_fixed_and_connection_listed_fields() {
        let mut h = Headers::from_pairs([
            ("Connection", "close, X-Secret , keep-alive"),
            ("Keep-Alive", "timeout=5"),
            ("Transfer-Encoding", "chunked"),
            ("TE", "trailers"),
            ("Upgrade", "h2c"),
            ("Trailer", "x"),
            ("Proxy-Authenticate", "Basic"),
            ("Proxy-Authorization", "Basic xyz"),
            ("Proxy-Authentication-Info", "nextnonce=\"x\""),
            ("Proxy-Connection", "keep-alive"),
            ("X-Secret", "1"),
            ("Content-Type", "text/html"),
            ("ETag", "\"a\""),
        ]);
        strip_hop_by_hop(&mut h);
        assert_eq!(names(&h), vec!["content-type", "etag"]);
    }

    #[test]
    fn storage_drops_fields_named_by_private_and_no_cache() {
        let mut h = Headers::from_pairs([
            ("Cache-Control", "max-age=60, private=\"X-User\", no-cache=\"set-cookie\""),
            ("X-User", "bob"),
            ("Set-Cookie", "a=b"),
            ("Connection", "close"),
            ("Content-Type", "text/html"),
        ]);
        let cc = CacheControl::from_headers(&h, "cache-control");
        prepare_for_storage(&mut h, cc.as_ref());
        assert_eq!(names(&h), vec!["cache-control", "content-type"]);
    }

    #[test]
    fn storage_without_directives_only_strips_hop_by_hop() {
        let mut h = Headers::from_pairs([("Upgrade", "x"), ("X-User", "bob")]);
        prepare_for_storage(&mut h, None);
        assert_eq!(names(&h), vec!["x-user"]);
    }
}
