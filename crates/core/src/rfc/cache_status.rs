//! The `Cache-Status` response header field (RFC 9211).

use crate::rfc::cache_control::is_tchar;

/// Why the cache forwarded the request (RFC 9211 §2.2 `fwd`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fwd {
    /// "The cache was configured to not handle this request."
    Bypass,
    /// "The request method's semantics require the request to be forwarded."
    Method,
    /// "The cache did not contain any responses that matched the request URI."
    UriMiss,
    /// "The cache contained a response that matched the request URI, but it could not select
    /// a response based upon this request's header fields and stored Vary header fields."
    VaryMiss,
    /// "The cache did not contain any responses that could be used to satisfy this request"
    /// (when the cache cannot tell which of the above applies).
    Miss,
    /// "The cache was able to select a fresh response for the request, but the request's
    /// semantics (e.g., Cache-Control request directives) did not allow its use."
    Request,
    /// "The cache was able to select a response for the request, but it was stale."
    Stale,
    /// "The cache was able to select a partial response for the request, but it did not
    /// contain all of the requested ranges".
    Partial,
}

impl Fwd {
    /// The token of RFC 9211 §2.2.
    pub fn as_str(self) -> &'static str {
        match self {
            Fwd::Bypass => "bypass",
            Fwd::Method => "method",
            Fwd::UriMiss => "uri-miss",
            Fwd::VaryMiss => "vary-miss",
            Fwd::Miss => "miss",
            Fwd::Request => "request",
            Fwd::Stale => "stale",
            Fwd::Partial => "partial",
        }
    }
}

/// One cache's entry in `Cache-Status` (RFC 9211 §2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheStatus {
    /// "The request was satisfied by the cache".
    pub hit: bool,
    /// Why the request went forward, if it did.
    pub fwd: Option<Fwd>,
    /// "The status code that the next-hop server sent in its response".
    pub fwd_status: Option<u16>,
    /// "The response was stored in the cache".
    pub stored: bool,
    /// "The request was collapsed with another request".
    pub collapsed: bool,
    /// "The response's remaining freshness lifetime", negative when stale.
    pub ttl: Option<i64>,
    /// "A representation of the cache key used for the response".
    pub key: Option<String>,
    /// "Implementation-specific information".
    pub detail: Option<&'static str>,
}

/// True when `s` is an `sf-token` (RFC 8941 §3.3.4): `( ALPHA / "*" ) *( tchar / ":" / "/" )`.
fn is_sf_token(s: &str) -> bool {
    let mut bytes = s.bytes();
    match bytes.next() {
        Some(b) if b.is_ascii_alphabetic() || b == b'*' => {
            bytes.all(|b| is_tchar(b) || b == b':' || b == b'/')
        }
        _ => false,
    }
}

/// Appends `s` as an `sf-string` (RFC 8941 §4.1.6); characters it cannot carry become `?`.
fn push_sf_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            _ => out.push('?'),
        }
    }
    out.push('"');
}

/// Appends a token when `s` is one, else a string.
fn push_token_or_string(out: &mut String, s: &str) {
    if is_sf_token(s) {
        out.push_str(s);
    } else {
        push_sf_string(out, s);
    }
}

impl CacheStatus {
    /// The field value for the cache named `cache_name`, as Structured Field list member with
    /// its parameters (RFC 9211 §2), e.g. `rulecache; fwd=uri-miss; fwd-status=200; stored;
    /// ttl=60`.
    pub fn to_value(&self, cache_name: &str) -> String {
        self.to_value_with_key(cache_name, self.key.as_deref())
    }

    /// [`CacheStatus::to_value`] with `key` in place of the `key` field.
    pub fn to_value_with_key(&self, cache_name: &str, key: Option<&str>) -> String {
        use std::fmt::Write;
        let detail_len = self.detail.map_or(0, str::len);
        let mut out = String::with_capacity(cache_name.len() + 64 + key.map_or(0, str::len) + detail_len);
        push_token_or_string(&mut out, cache_name);
        if self.hit {
            out.push_str("; hit");
        }
        if let Some(fwd) = self.fwd {
            out.push_str("; fwd=");
            out.push_str(fwd.as_str());
        }
        if let Some(status) = self.fwd_status {
            let _ = write!(out, "; fwd-status={status}");
        }
        if self.stored {
            out.push_str("; stored");
        }
        if self.collapsed {
            out.push_str("; collapsed");
        }
        if let Some(ttl) = self.ttl {
            let _ = write!(out, "; ttl={ttl}");
        }
        if let Some(key) = key {
            out.push_str("; key=");
            push_sf_string(&mut out, key);
        }
        if let Some(detail) = self.detail {
            out.push_str("; detail=");
            push_token_or_string(&mut out, detail);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hit() {
        let s = CacheStatus { hit: true, ttl: Some(376), ..Default::default() };
        assert_eq!(s.to_value("rulecache"), "rulecache; hit; ttl=376");
    }

    #[test]
    fn a_stored_miss() {
        let s = CacheStatus {
            fwd: Some(Fwd::UriMiss),
            fwd_status: Some(200),
            stored: true,
            ttl: Some(60),
            ..Default::default()
        };
        assert_eq!(s.to_value("rulecache"), "rulecache; fwd=uri-miss; fwd-status=200; stored; ttl=60");
    }

    #[test]
    fn stale_with_negative_ttl_key_and_detail() {
        let s = CacheStatus {
            fwd: Some(Fwd::Stale),
            fwd_status: Some(304),
            collapsed: true,
            ttl: Some(-12),
            key: Some("https://example.org/a \"b\"".into()),
            detail: Some("no-store"),
            ..Default::default()
        };
        assert_eq!(
            s.to_value("rulecache"),
            "rulecache; fwd=stale; fwd-status=304; collapsed; ttl=-12; key=\"https://example.org/a \\\"b\\\"\"; detail=no-store"
        );
    }

    #[test]
    fn detail_and_name_fall_back_to_strings() {
        let s = CacheStatus { fwd: Some(Fwd::Bypass), detail: Some("anon only"), ..Default::default() };
        assert_eq!(s.to_value("my cache"), "\"my cache\"; fwd=bypass; detail=\"anon only\"");
        let s = CacheStatus { detail: Some("caf\u{e9}"), ..Default::default() };
        assert_eq!(s.to_value("c"), "c; detail=\"caf?\"");
    }

    #[test]
    fn fwd_tokens() {
        let all = [
            (Fwd::Bypass, "bypass"),
            (Fwd::Method, "method"),
            (Fwd::UriMiss, "uri-miss"),
            (Fwd::VaryMiss, "vary-miss"),
            (Fwd::Miss, "miss"),
            (Fwd::Request, "request"),
            (Fwd::Stale, "stale"),
            (Fwd::Partial, "partial"),
        ];
        for (fwd, token) in all {
            assert_eq!(fwd.as_str(), token);
        }
    }
}
