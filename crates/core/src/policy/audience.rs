//! Who is asking: anonymous or authenticated, derived from the request's auth cookies and
//! `Authorization` header, and the split-view header sent to the origin.
//!
//! Cookies are parsed as RFC 6265 §5.2 tells a user agent to, and tolerantly: pieces without
//! `=`, empty names, quotes and odd bytes are skipped or kept as they are, never a panic.
//!
//! A cookie authenticates when its *name* equals one of the configured auth cookie names
//! exactly, or starts with one of the configured prefixes. A name that merely contains an auth
//! cookie name (`x__ac`) does not count. A cookie with an empty value does not count either:
//! Plone answers a logout with `__ac=""`, and a browser may keep sending that empty cookie.

use crate::decision::Audience;
use crate::http::Headers;

/// The default split-view header, also removed from client requests when split view is off.
pub const DEFAULT_SPLIT_VIEW_HEADER: &str = "X-Anonymous";

/// How the audience is derived and whether split-view caching is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudienceConfig {
    /// Split-view caching: key and vary the cache on the split-view header.
    pub split_view: bool,
    /// The split-view header name as written in the policy (e.g. `X-Anonymous`).
    pub header: String,
    /// The same name, lower-cased.
    pub header_lower: String,
    /// Cookie names that authenticate (exact match).
    pub auth_cookies: Vec<String>,
    /// Cookie name prefixes that authenticate.
    pub auth_cookie_prefixes: Vec<String>,
    /// Whether a non-empty `Authorization` header authenticates.
    pub authorization_header: bool,
}

impl Default for AudienceConfig {
    fn default() -> Self {
        Self {
            split_view: false,
            header: DEFAULT_SPLIT_VIEW_HEADER.to_string(),
            header_lower: DEFAULT_SPLIT_VIEW_HEADER.to_ascii_lowercase(),
            auth_cookies: vec!["__ac".to_string()],
            auth_cookie_prefixes: Vec::new(),
            authorization_header: true,
        }
    }
}

impl AudienceConfig {
    fn is_auth_cookie(&self, name: &str) -> bool {
        self.auth_cookies.iter().any(|c| c == name)
            || self.auth_cookie_prefixes.iter().any(|p| name.starts_with(p.as_str()))
    }

    /// The credential that authenticates the request: the first non-empty auth cookie's
    /// value, else the `Authorization` header (when it counts). None for anonymous requests.
    pub fn credential<'a>(&self, h: &'a Headers) -> Option<&'a str> {
        let cookie = cookies(h).find(|(n, v)| !v.is_empty() && self.is_auth_cookie(n)).map(|(_, v)| v);
        cookie.or_else(|| self.authorization(h))
    }

    fn authorization<'a>(&self, h: &'a Headers) -> Option<&'a str> {
        if !self.authorization_header {
            return None;
        }
        h.get_all("authorization").map(str::trim).find(|v| !v.is_empty())
    }

    /// Anonymous unless an auth cookie (non-empty) or a counted `Authorization` header is
    /// present.
    pub fn audience(&self, h: &Headers) -> Audience {
        if self.credential(h).is_some() {
            Audience::Authenticated
        } else {
            Audience::Anonymous
        }
    }

    /// Edits the request headers sent to the origin: any client-sent split-view header (and
    /// `X-Anonymous`, even when split view is off) is removed, so a client cannot claim to be
    /// anonymous; with split view on, an anonymous request carries `<header>: 1`.
    pub fn prepare_origin_headers(&self, h: &mut Headers, audience: Audience) {
        h.remove(DEFAULT_SPLIT_VIEW_HEADER);
        h.remove(&self.header_lower);
        if self.split_view && audience.is_anonymous() {
            h.set(&self.header_lower, "1");
        }
    }
}

/// Every cookie `(name, value)` pair of every `Cookie` header, in order. Pieces without `=` and
/// empty names are skipped; names and values are trimmed of spaces and tabs, and one pair of
/// surrounding double quotes is removed from a value.
pub fn cookies(h: &Headers) -> impl Iterator<Item = (&str, &str)> {
    h.get_all("cookie").flat_map(|v| v.split(';')).filter_map(parse_pair)
}

fn parse_pair(piece: &str) -> Option<(&str, &str)> {
    let (name, value) = piece.split_once('=')?;
    let name = name.trim_matches([' ', '\t']);
    if name.is_empty() {
        return None;
    }
    let value = value.trim_matches([' ', '\t']);
    let value = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(value);
    Some((name, value))
}

/// The names of every cookie in the request.
pub fn cookie_names(h: &Headers) -> impl Iterator<Item = &str> {
    cookies(h).map(|(n, _)| n)
}

/// The value of the first cookie called exactly `name`.
pub fn cookie_value<'a>(h: &'a Headers, name: &str) -> Option<&'a str> {
    cookies(h).find(|(n, _)| *n == name).map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(cookie: &str) -> Headers {
        Headers::from_pairs([("cookie", cookie)])
    }

    #[test]
    fn junk_is_skipped_and_quotes_removed() {
        let h = h(" a=1; junk; =x;\tb = \"2\" ; c=; ;d=\"");
        let all: Vec<_> = cookies(&h).collect();
        assert_eq!(all, vec![("a", "1"), ("b", "2"), ("c", ""), ("d", "\"")]);
        assert_eq!(cookie_value(&h, "b"), Some("2"));
        assert_eq!(cookie_value(&h, "B"), None);
    }

    #[test]
    fn auth_cookie_must_be_named_exactly_and_non_empty() {
        let cfg = AudienceConfig::default();
        assert_eq!(cfg.audience(&h("x__ac=abc")), Audience::Anonymous);
        assert_eq!(cfg.audience(&h("__ac=\"\"")), Audience::Anonymous);
        assert_eq!(cfg.audience(&h("__ac=abc")), Audience::Authenticated);
    }

    #[test]
    fn odd_bytes_never_panic() {
        let h = Headers::from_pairs([("cookie", "é=ü; \u{0}=\u{1}; ;;==;=")]);
        assert_eq!(cookie_names(&h).collect::<Vec<_>>(), vec!["é", "\u{0}"]);
    }
}
