//! Who is asking: anonymous or authenticated, derived from the request's auth cookies and
//! `Authorization` header, and the split-view header sent to the origin.
//!
//! Cookies are parsed as RFC 6265 §5.2 tells a user agent to, and tolerantly: pieces without
//! `=`, empty names, quotes and odd bytes are skipped or kept as they are, never a panic.
//!
//! The audience is read more conservatively than any origin reads cookies, because an edge that
//! sees "anonymous" where the origin sees a login stores that user's page for everybody. Origins
//! disagree: ZPublisher ends a quoted value at `;` *or* `,`, Python's `http.cookies` ends a
//! value at whitespace, Node's `cookie` splits on `;` only, and the runtime joins two `Cookie`
//! lines with `", "`. So a request is authenticated when, in any `Cookie` field read on its own:
//!
//! * an auth cookie name (exact, or one of the prefixes; ASCII case ignored) starts at the
//!   beginning or after any byte that cannot be part of a cookie name (`;`, `,`, whitespace,
//!   quotes, non-ASCII…), is followed by optional whitespace and `=`, and its value is not
//!   empty (a value that is nothing, or exactly `""`, up to the next `;` or the end);
//! * the field with its `%XX` escapes decoded names an auth cookie, with any value (for
//!   lenient parsers that decode names but not values);
//! * or the field is malformed (a control byte, an unbalanced `"`): fail towards
//!   "authenticated".
//!
//! A name that merely contains an auth cookie name (`x__ac`) does not count. A cookie with an
//! empty value does not count either: Plone answers a logout with `__ac=""`, and a browser may
//! keep sending that empty cookie.

use crate::http::{cookies, Headers};
use crate::storage::key::Audience;

/// The default split-view header, also removed from client requests when split view is off.
pub const DEFAULT_SPLIT_VIEW_HEADER: &str = "X-Anonymous";

/// The query parameters that authenticate when a policy does not say (Zope's and Plone's).
pub const DEFAULT_AUTH_QUERY_PARAMS: [&str; 3] = ["__ac", "__ac_name", "__ac_password"];

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
    /// Query parameters that carry credentials (exact names, ASCII case ignored): Zope's PAS
    /// reads `__ac_name`/`__ac_password` (and `__ac`) from the request's form, which the query
    /// string is part of.
    pub auth_query_params: Vec<String>,
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
            auth_query_params: DEFAULT_AUTH_QUERY_PARAMS.iter().map(|p| p.to_string()).collect(),
        }
    }
}

impl AudienceConfig {
    /// Whether `name` is an auth cookie name: one of the names or starting with one of the
    /// prefixes, ASCII case ignored (no origin is more lenient than that).
    pub fn is_auth_cookie(&self, name: &str) -> bool {
        self.auth_cookies.iter().any(|c| c.eq_ignore_ascii_case(name))
            || self.auth_cookie_prefixes.iter().any(|p| starts_with_ci(name, p))
    }

    /// Whether any `Cookie` field carries an auth cookie as some origin could read it (see
    /// the module documentation), or is malformed.
    pub fn cookie_authenticates(&self, h: &Headers) -> bool {
        let reads = |field: &str| {
            is_malformed(field)
                || mentions(field, &self.auth_cookies, &self.auth_cookie_prefixes, true)
                || (field.contains('%')
                    && mentions(
                        &percent_decode(field),
                        &self.auth_cookies,
                        &self.auth_cookie_prefixes,
                        false,
                    ))
        };
        if h.get_all("cookie").any(reads) {
            return true;
        }
        // Several fields reach an origin joined (by the runtime with ", ", by some servers with
        // "; "): a value left empty at the end of one field is not empty in the join.
        let mut fields = h.get_all("cookie");
        if let (Some(_), Some(_)) = (fields.next(), fields.next()) {
            let all: Vec<&str> = h.get_all("cookie").collect();
            return reads(&all.join(", ")) || reads(&all.join("; "));
        }
        false
    }

    /// The credential that authenticates the request: the first non-empty auth cookie's
    /// value, else the `Authorization` header (when it counts), else (a request found
    /// authenticated by the conservative reading alone) its first `Cookie` field. None for
    /// anonymous requests.
    pub fn credential<'a>(&self, h: &'a Headers) -> Option<&'a str> {
        let cookie = cookies(h).find(|(n, v)| !v.is_empty() && self.is_auth_cookie(n)).map(|(_, v)| v);
        cookie.or_else(|| self.authorization(h)).or_else(|| {
            if self.cookie_authenticates(h) {
                h.get_all("cookie").next()
            } else {
                None
            }
        })
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
        if self.authorization(h).is_some() || self.cookie_authenticates(h) {
            Audience::Authenticated
        } else {
            Audience::Anonymous
        }
    }

    /// [`audience`](AudienceConfig::audience), the query string counted too: a request whose
    /// query names a credential parameter is authenticated.
    pub fn audience_of(&self, h: &Headers, query: Option<&str>) -> Audience {
        if query.is_some_and(|q| self.query_authenticates(q)) {
            Audience::Authenticated
        } else {
            self.audience(h)
        }
    }

    /// Whether `query` names a credential parameter as any origin could read it: pieces split
    /// at `&` and at `;` (older Python and some frameworks split there too), each name
    /// percent-decoded with `+` as a space, trimmed, and cut at its first `:` (Zope's type
    /// converters: `__ac_name:string=alice` is `__ac_name`), ASCII case ignored. Any value,
    /// even empty, counts: presence is enough to send the request past the cache.
    pub fn query_authenticates(&self, query: &str) -> bool {
        if self.auth_query_params.is_empty() {
            return false;
        }
        // Read in place, without allocating: the name's characters are decoded as they are
        // compared (see `query_name_is`).
        query.split(['&', ';']).any(|piece| {
            let raw = piece.split_once('=').map_or(piece, |(name, _)| name);
            self.auth_query_params.iter().any(|p| query_name_is(raw, p))
        })
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

/// Whether `field` names one of `names` (exact) or `prefixes` as a cookie some parser could
/// read: at the start or after a byte that cannot be part of a cookie name, followed by
/// optional whitespace (or stray quotes) and `=` (a prefix by anything up to `=` or `;`). With `need_value`, only a cookie whose value
/// is not empty counts (nothing, or exactly `""`, before the next `;` or the end). ASCII case
/// is ignored.
pub fn mentions(field: &str, names: &[String], prefixes: &[String], need_value: bool) -> bool {
    let bytes = field.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let at_boundary = i == 0 || bytes.get(i - 1).is_some_and(|b| !is_name_byte(*b));
        if at_boundary && bytes.get(i).is_some_and(|b| is_name_byte(*b)) {
            let rest = bytes.get(i..).unwrap_or(&[]);
            let after_name = names
                .iter()
                .filter(|n| !n.is_empty() && starts_with_ci_bytes(rest, n.as_bytes()))
                .map(|n| n.len())
                .chain(
                    prefixes
                        .iter()
                        .filter(|p| !p.is_empty() && starts_with_ci_bytes(rest, p.as_bytes()))
                        // A prefix may be followed by any bytes up to the `=`.
                        .map(|p| {
                            let tail = rest.get(p.len()..).unwrap_or(&[]);
                            p.len() + tail.iter().take_while(|b| !matches!(**b, b'=' | b';')).count()
                        }),
                );
            for end in after_name {
                if names_a_cookie(rest.get(end..).unwrap_or(&[]), need_value) {
                    return true;
                }
            }
        }
        i += 1;
    }
    false
}

/// After a cookie name: optional whitespace or quotes, `=`, and (with `need_value`) a value
/// that is not empty.
fn names_a_cookie(after: &[u8], need_value: bool) -> bool {
    let skip = |s: &[u8], set: &[u8]| s.iter().take_while(|b| set.contains(b)).count();
    let rest = after.get(skip(after, b" \t\"")..).unwrap_or(&[]);
    let Some(value) = rest.strip_prefix(b"=") else { return false };
    if !need_value {
        return true;
    }
    let value = value.get(skip(value, b" \t")..).unwrap_or(&[]);
    let ends = |s: &[u8]| s.is_empty() || s.first() == Some(&b';');
    if ends(value) {
        return false;
    }
    if let Some(after_quotes) = value.strip_prefix(b"\"\"") {
        if ends(after_quotes.get(skip(after_quotes, b" \t")..).unwrap_or(&[])) {
            return false;
        }
    }
    true
}

/// RFC 6265 §4.1.1: `cookie-name = token` (RFC 9110 §5.6.2 `tchar`). Anything else separates.
fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// A `Cookie` field no parser reads the same way: a control byte (other than a tab), or an
/// unbalanced double quote.
fn is_malformed(field: &str) -> bool {
    field.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f)
        || field.bytes().filter(|b| *b == b'"').count() % 2 == 1
}

/// `%XX` escapes decoded (invalid ones kept), bytes read lossily as UTF-8.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = |j: usize| bytes.get(j).and_then(|c| char::from(*c).to_digit(16));
        match (b, hex(i + 1), hex(i + 2)) {
            (b'%', Some(hi), Some(lo)) => {
                out.push(u8::try_from(hi * 16 + lo).unwrap_or(b'%'));
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether the raw query parameter name `raw` reads as `wanted`: `raw` with `+` as a space,
/// percent-decoded, read as UTF-8 (an invalid sequence is U+FFFD, as
/// `String::from_utf8_lossy` and Python's `unquote_plus` read it), cut at its first `:`,
/// trimmed of white space, equal to `wanted` with ASCII case ignored. Nothing is allocated:
/// the characters are decoded one by one as they are compared.
fn query_name_is(raw: &str, wanted: &str) -> bool {
    // A trimmed name has no white space at either end, so a wanted name with some never matches.
    if wanted.trim() != wanted || wanted.is_empty() {
        return false;
    }
    let mut name =
        Utf8Lossy::new(PlusPercentDecoded::new(raw.as_bytes())).take_while(|c| *c != ':').peekable();
    while name.next_if(|c| c.is_whitespace()).is_some() {}
    // `wanted` starts with a character that is not white space, so skipping all of it first
    // cannot have skipped part of the name.
    for w in wanted.chars() {
        match name.next() {
            Some(c) if c.eq_ignore_ascii_case(&w) => {}
            _ => return false,
        }
    }
    name.all(char::is_whitespace)
}

/// The bytes of a query piece with `+` read as a space and `%XX` as the byte it escapes (a `%`
/// not followed by two hex digits stands for itself), as [`percent_decode`] reads them.
struct PlusPercentDecoded<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> PlusPercentDecoded<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        PlusPercentDecoded { bytes, at: 0 }
    }
}

impl Iterator for PlusPercentDecoded<'_> {
    type Item = u8;

    fn next(&mut self) -> Option<u8> {
        let b = *self.bytes.get(self.at)?;
        let hex = |j: usize| self.bytes.get(j).and_then(|c| char::from(*c).to_digit(16));
        match (b, hex(self.at + 1), hex(self.at + 2)) {
            (b'%', Some(hi), Some(lo)) => {
                self.at += 3;
                Some(u8::try_from(hi * 16 + lo).unwrap_or(b'%'))
            }
            (b'+', _, _) => {
                self.at += 1;
                Some(b' ')
            }
            _ => {
                self.at += 1;
                Some(b)
            }
        }
    }
}

/// The characters of a byte stream read as UTF-8, each invalid sequence read as one U+FFFD
/// in the way `String::from_utf8_lossy` reads it (the Unicode Standard's "maximal subpart"
/// practice, §3.9: a lead byte and the continuation bytes that can still follow it are one
/// replacement; the byte that breaks the sequence starts the next character).
struct Utf8Lossy<I: Iterator<Item = u8>> {
    bytes: std::iter::Peekable<I>,
}

impl<I: Iterator<Item = u8>> Utf8Lossy<I> {
    fn new(bytes: I) -> Self {
        Utf8Lossy { bytes: bytes.peekable() }
    }
}

impl<I: Iterator<Item = u8>> Iterator for Utf8Lossy<I> {
    type Item = char;

    fn next(&mut self) -> Option<char> {
        let lead = self.bytes.next()?;
        // The sequence's length and the range its second byte must fall in (RFC 3629, §4).
        let (len, second) = match lead {
            0x00..=0x7F => return Some(char::from(lead)),
            0xC2..=0xDF => (2, 0x80..=0xBF),
            0xE0 => (3, 0xA0..=0xBF),
            0xE1..=0xEC | 0xEE..=0xEF => (3, 0x80..=0xBF),
            0xED => (3, 0x80..=0x9F),
            0xF0 => (4, 0x90..=0xBF),
            0xF1..=0xF3 => (4, 0x80..=0xBF),
            0xF4 => (4, 0x80..=0x8F),
            _ => return Some(char::REPLACEMENT_CHARACTER),
        };
        let mut code = u32::from(lead) & (0x7F >> len);
        for i in 1..len {
            let range = if i == 1 { second.clone() } else { 0x80..=0xBF };
            match self.bytes.next_if(|b| range.contains(b)) {
                Some(b) => code = (code << 6) | u32::from(b & 0x3F),
                None => return Some(char::REPLACEMENT_CHARACTER),
            }
        }
        Some(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER))
    }
}

fn starts_with_ci_bytes(s: &[u8], prefix: &[u8]) -> bool {
    s.get(..prefix.len()).is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}

fn starts_with_ci(s: &str, prefix: &str) -> bool {
    starts_with_ci_bytes(s.as_bytes(), prefix.as_bytes())
}

/// Whether a cookie called one of `names` (ASCII case ignored) appears in any `Cookie` field
/// as some parser could read it, with or without a value (cache-stop variables).
pub fn mentions_any(h: &Headers, names: &[String]) -> bool {
    h.get_all("cookie").any(|field| {
        mentions(field, names, &[], false)
            || (field.contains('%') && mentions(&percent_decode(field), names, &[], false))
    })
}

/// The `Cookie` fields reduced to the cookies called one of `keep` (exact names): every field
/// is split at `;`, `,` and whitespace (what any origin might split at), and only
/// `name=value` pieces whose name is kept survive, joined with `; `. None when nothing is left.
pub fn keep_only(h: &Headers, keep: impl Fn(&str) -> bool) -> Option<String> {
    let mut out = String::new();
    for field in h.get_all("cookie") {
        for piece in field.split([';', ',', ' ', '\t']) {
            let Some((name, _)) = piece.split_once('=') else { continue };
            if !name.is_empty() && keep(name) {
                if !out.is_empty() {
                    out.push_str("; ");
                }
                out.push_str(piece);
            }
        }
    }
    (!out.is_empty()).then_some(out)
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
    fn an_auth_cookie_after_any_separator_counts() {
        let cfg = AudienceConfig { auth_cookie_prefixes: vec!["__ac_".into()], ..AudienceConfig::default() };
        for header in [
            "a=\"1\", __ac=tok",
            "a=1,__ac=tok",
            "a=1 __ac=tok",
            "a=\"x;__ac=1\"",
            "__AC=tok",
            "x=1;\t__ac = tok",
            "%5F%5Fac=tok",
            "a=\"x\"__ac=tok",
            "é__ac=tok",
            "__ac_é=tok",
            "a=\"unbalanced; b=1",
            "a=1\u{1}b",
        ] {
            assert_eq!(cfg.audience(&h(header)), Audience::Authenticated, "{header:?}");
        }
        for header in ["x__ac=tok", "a=1; b=2", "__ac=; b=1", "__ac = \"\" ; b=1", "a.__ac=tok", "__acx=tok"]
        {
            assert_eq!(cfg.audience(&h(header)), Audience::Anonymous, "{header:?}");
        }
    }

    #[test]
    fn every_cookie_field_is_read_on_its_own() {
        let cfg = AudienceConfig::default();
        let two = Headers::from_pairs([("cookie", "a=\"1"), ("cookie", "__ac=tok\"")]);
        assert_eq!(cfg.audience(&two), Audience::Authenticated);
        assert_eq!(cfg.credential(&two), Some("tok\""));
    }

    #[test]
    fn cache_stop_names_and_the_keep_list() {
        let h = h("a=1, statusmessages=x; _ZopeId=\"z\" tracking=1; __ac=t");
        assert!(mentions_any(&h, &["statusmessages".to_string()]));
        assert!(!mentions_any(&h, &["messages".to_string()]));
        let kept = keep_only(&h, |n| n == "__ac" || n == "_ZopeId");
        assert_eq!(kept.as_deref(), Some("_ZopeId=\"z\"; __ac=t"));
        assert_eq!(keep_only(&h, |_| false), None);
    }

    #[test]
    fn odd_bytes_never_panic() {
        let h = Headers::from_pairs([("cookie", "é=ü; \u{0}=\u{1}; ;;==;=")]);
        assert_eq!(cookie_names(&h).collect::<Vec<_>>(), vec!["é", "\u{0}"]);
    }
}
