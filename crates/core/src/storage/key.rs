//! Cache keys: the normalised primary key of a URL and the secondary (variant) keys.
//!
//! * The **primary key** is the normalised absolute URL (RFC 9111 §2: the cache key "is
//!   composed from, at a minimum, the request method and target URI"; only GET and HEAD reach
//!   the cache, and a HEAD is answered from the GET entry, so the method is left out).
//! * The **variant** is the canonical form of the request fields named by the stored
//!   response's `Vary` (RFC 9111 §4.1), so equivalent requests share one entry.
//! * The **storage key** folds the primary key, the split-view audience and the variant into
//!   one absolute URL usable as a Workers Cache API key.

use std::borrow::Cow;
use std::fmt::Write as _;

use crate::decision::Audience;
use crate::http::Headers;

/// Cache-key options from the policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyOptions {
    /// Query parameters left out of the key. An entry ending in `*` is a prefix (`utm_*`).
    pub drop_params: Vec<String>,
    /// When set, only these query parameters are kept (same `*` prefix rule); applied before
    /// `drop_params`.
    pub keep_params: Option<Vec<String>>,
    /// Sort the remaining query parameters by name (stable for equal names).
    pub sort_query: bool,
    /// Content codings the origin can serve, in preference order (e.g. `["br", "gzip"]`);
    /// `Accept-Encoding` is normalised to one of these or `identity`.
    pub encodings: Vec<String>,
    /// Cookies forwarded on requests whose response may be stored, besides the auth cookies
    /// and cache-stop variables (exact names).
    pub keep_cookies: Vec<String>,
    /// Lower-case request header names forwarded although the key ignores them (from
    /// [`UNKEYED_REQUEST_HEADERS`]).
    pub trusted_headers: Vec<String>,
    /// `varyCookies`: when set, a response varying on `Cookie` is keyed on these cookies only
    /// (exact names, or prefixes ending in `*`), so cookies the page does not depend on
    /// (analytics, `csrftoken`) do not split it into one variant per visitor.
    pub vary_cookies: Option<Vec<String>>,
}

/// Request headers that make origins build other URLs, methods or hosts than the ones keyed:
/// removed before forwarding unless the policy trusts them (`cacheKey.trustedHeaders`).
pub const UNKEYED_REQUEST_HEADERS: [&str; 9] = [
    "x-forwarded-host",
    "x-forwarded-server",
    "x-host",
    "forwarded",
    "x-original-url",
    "x-rewrite-url",
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
];

/// The codings assumed when [`KeyOptions::encodings`] is empty.
pub const DEFAULT_ENCODINGS: [&str; 2] = ["br", "gzip"];

/// The reserved path prefix under which storage and index keys live.
pub const RESERVED_PREFIX: &str = "/.rulecache/";

// ---------------------------------------------------------------------------------------------
// Primary key
// ---------------------------------------------------------------------------------------------

/// The normalised primary key of `url`: `scheme://host[:port]/path[?query]`.
///
/// Scheme and host are lower-cased (hosts must be ASCII: internationalised names in punycode), the
/// default port, user info and fragment are dropped, percent-encoding is normalised (see
/// [`normalise_component`]), an empty path becomes `/`, and the query is filtered and
/// optionally sorted by `opts`. An empty query leaves no `?`.
pub fn primary_key(url: &url::Url, opts: &KeyOptions) -> String {
    let host = url.host_str().unwrap_or("");
    let path = normalise_component(url.path());
    let query = url.query().map(normalise_component);
    let query_len = query.as_deref().map_or(0, str::len);
    let mut out = String::with_capacity(url.scheme().len() + host.len() + path.len() + query_len + 10);
    // RFC 3986 §6.2.2.1: "the scheme and host are case-insensitive and therefore should be
    // normalized to lowercase."
    out.push_str(url.scheme());
    out.push_str("://");
    out.push_str(host);
    out.make_ascii_lowercase();
    // RFC 3986 §6.2.3: "an explicit ":port", for which the port is empty or the default for
    // the scheme, is equivalent to one where the port and its ":" delimiter are elided and
    // thus should be removed" (`Url::port` is None for a scheme's default port).
    if let Some(port) = url.port() {
        let _ = write!(out, ":{port}");
    }
    // RFC 3986 §6.2.3: "a URI that uses the generic syntax for authority with an empty path
    // should be normalized to a path of "/"".
    if !path.starts_with('/') {
        out.push('/');
    }
    out.push_str(&path);
    if let Some(query) = query {
        push_query(&mut out, &query, opts);
    }
    out
}

/// Normalises percent-encoding in a path or query (RFC 3986 §6.2.2): escapes get upper-case
/// hex ("should be normalized to use uppercase letters for the digits A-F", §6.2.2.1), and
/// escaped unreserved characters are decoded ("should be decoded to their corresponding
/// unreserved characters by URI normalizers", §6.2.2.2). Reserved characters
/// such as `/`, `?`, `&` and `=` stay escaped. Borrows when nothing changes.
pub fn normalise_component(s: &str) -> Cow<'_, str> {
    if !s.contains('%') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    push_normalised_component(&mut out, s);
    if out == s {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(out)
    }
}

fn push_normalised_component(out: &mut String, s: &str) {
    let bytes = s.as_bytes();
    let mut i = 0;
    let mut run_start = 0;
    while let Some(&b) = bytes.get(i) {
        let escape = match (
            b,
            bytes.get(i + 1).and_then(|b| crate::http::hex_digit(*b)),
            bytes.get(i + 2).and_then(|b| crate::http::hex_digit(*b)),
        ) {
            (b'%', Some(hi), Some(lo)) => Some((hi, lo)),
            _ => None,
        };
        let Some((hi, lo)) = escape else {
            i += 1;
            continue;
        };
        // `i` sits on an ASCII `%`, so both slice ends are character boundaries.
        out.push_str(s.get(run_start..i).unwrap_or(""));
        let decoded = (hi << 4) | lo;
        if is_unreserved(decoded) {
            out.push(char::from(decoded));
        } else {
            out.push('%');
            out.push(hex_digit_upper(hi));
            out.push(hex_digit_upper(lo));
        }
        i += 3;
        run_start = i;
    }
    out.push_str(s.get(run_start..).unwrap_or(""));
}

/// RFC 3986 §2.3: `unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~"`.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn hex_digit_upper(n: u8) -> char {
    char::from_digit(u32::from(n), 16).map_or('0', |c| c.to_ascii_uppercase())
}

/// The query a request of the cache path forwards: the key's parameters (percent-encoding
/// normalised, the dropped ones left out, so a parameter cloaked behind `;` in a dropped one
/// goes with it) in the client's order; None when none is left. The key may sort them, the
/// origin gets them as sent.
pub fn forwarded_query(query: &str, opts: &KeyOptions) -> Option<String> {
    let query = normalise_component(query);
    let mut out = String::new();
    for param in query.split('&').filter(|p| !p.is_empty()).filter(|p| param_kept(param_name(p), opts)) {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(param);
    }
    (!out.is_empty()).then_some(out)
}

/// Appends `?query` after filtering (and maybe sorting) its parameters; nothing when no
/// parameter is left.
fn push_query(out: &mut String, query: &str, opts: &KeyOptions) {
    let kept = query.split('&').filter(|p| !p.is_empty()).filter(|p| param_kept(param_name(p), opts));
    if opts.sort_query {
        let mut params: Vec<&str> = kept.collect();
        // `sort_by` is stable: parameters with the same name keep their order.
        params.sort_by(|a, b| param_name(a).cmp(param_name(b)));
        push_params(out, params);
    } else {
        push_params(out, kept);
    }
}

fn push_params<'a>(out: &mut String, params: impl IntoIterator<Item = &'a str>) {
    let mut separator = '?';
    for param in params {
        out.push(separator);
        out.push_str(param);
        separator = '&';
    }
}

fn param_name(param: &str) -> &str {
    param.split_once('=').map_or(param, |(name, _)| name)
}

fn param_kept(name: &str, opts: &KeyOptions) -> bool {
    let listed = |patterns: &[String]| patterns.iter().any(|p| param_matches(name, p));
    opts.keep_params.as_deref().is_none_or(listed) && !listed(&opts.drop_params)
}

/// `pattern` is a parameter name, or a prefix when it ends with `*`.
fn param_matches(name: &str, pattern: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => name == pattern,
    }
}

// ---------------------------------------------------------------------------------------------
// Taking a primary key apart, and matching against it
// ---------------------------------------------------------------------------------------------

/// Splits a key into `scheme://authority` and the rest (`/path[?query]`, possibly empty).
fn split_origin(key: &str) -> (&str, &str) {
    let authority_start = key.find("://").map_or(0, |i| i + 3);
    let rest = key.get(authority_start..).unwrap_or("");
    let split = rest.find(['/', '?']).map_or(key.len(), |i| authority_start + i);
    (key.get(..split).unwrap_or(key), key.get(split..).unwrap_or(""))
}

/// `scheme://host[:port]` of a primary key.
pub fn origin_of(primary_key: &str) -> &str {
    split_origin(primary_key).0
}

/// The path of a primary key (always starts with `/`).
pub fn path_of(primary_key: &str) -> &str {
    let target = split_origin(primary_key).1;
    let path = target.split_once('?').map_or(target, |(path, _)| path);
    if path.is_empty() {
        "/"
    } else {
        path
    }
}

/// The query of a primary key, without the `?`.
pub fn query_of(primary_key: &str) -> Option<&str> {
    split_origin(primary_key).1.split_once('?').map(|(_, query)| query)
}

/// True when `url` normalises to `primary_key` under `opts`.
pub fn matches_url(primary_key: &str, url: &url::Url, opts: &KeyOptions) -> bool {
    primary_key == self::primary_key(url, opts)
}

/// True when `path` lies under `prefix`, segment-wise: `/news` covers `/news` and
/// `/news/2024` but not `/newsletter`; a prefix ending in `/` is a plain string prefix.
pub fn path_has_prefix(path: &str, prefix: &str) -> bool {
    match path.strip_prefix(prefix) {
        None => false,
        Some(rest) => prefix.ends_with('/') || rest.is_empty() || rest.starts_with('/'),
    }
}

/// True when the path of `primary_key` lies under `prefix` (see [`path_has_prefix`]); the
/// prefix's percent-encoding is normalised first, as the key's was.
pub fn matches_path_prefix(primary_key: &str, prefix: &str) -> bool {
    path_has_prefix(path_of(primary_key), &normalise_component(prefix))
}

// ---------------------------------------------------------------------------------------------
// Vary and variants
// ---------------------------------------------------------------------------------------------

/// The request fields a stored response varies on (RFC 9110 §12.5.5).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum VarySpec {
    /// No `Vary`: every request for the URL shares the entry.
    #[default]
    None,
    /// Lower-case field names, de-duplicated and sorted.
    Fields(Vec<String>),
    /// `Vary: *` (or an unreadable field name): never matches a later request.
    Star,
}

impl VarySpec {
    /// Reads the `Vary` fields of a response.
    pub fn from_headers(h: &Headers) -> Self {
        Self::from_names(h.list("vary"))
    }

    /// Builds a spec from field names, canonicalising them (lower case, sorted, unique).
    ///
    /// RFC 9110 §12.5.5: "A Vary field value containing a member "*" signals that anything
    /// about the request might play a role". A member that is not a field name is treated the
    /// same way: we cannot tell what it would select on, so the response is never reused.
    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        let mut fields = Vec::new();
        for name in names {
            let name = name.trim();
            if name.is_empty() {
                continue;
            }
            if name == "*" || !is_token(name) {
                return VarySpec::Star;
            }
            fields.push(name.to_ascii_lowercase());
        }
        fields.sort_unstable();
        fields.dedup();
        if fields.is_empty() {
            VarySpec::None
        } else {
            VarySpec::Fields(fields)
        }
    }

    /// The field names (empty for `None` and `Star`).
    pub fn fields(&self) -> &[String] {
        match self {
            VarySpec::Fields(fields) => fields,
            VarySpec::None | VarySpec::Star => &[],
        }
    }

    pub fn is_star(&self) -> bool {
        matches!(self, VarySpec::Star)
    }
}

/// RFC 9110 §5.6.2: `token = 1*tchar`.
fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// The canonical variant of `req` under `vary`: `name=value` lines joined by `\n`, in the
/// spec's (sorted) field order; a missing field is written as the bare name, so it differs
/// from an empty one. `Some("")` when nothing varies; `None` for `Vary: *`.
///
/// RFC 9111 §4.1: "A stored response with a Vary header field value containing a member "*"
/// always fails to match." and "The header fields from two requests are defined to match if
/// and only if those in the first request can be transformed to those in the second request
/// by applying any of the following: … normalizing both header values in a way that is known
/// to have identical semantics, according to the header field's specification".
pub fn variant(vary: &VarySpec, req: &Headers, opts: &KeyOptions) -> Option<String> {
    let fields = match vary {
        VarySpec::Star => return None,
        VarySpec::None => return Some(String::new()),
        VarySpec::Fields(fields) => fields,
    };
    let mut out = String::new();
    for (i, name) in fields.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(name);
        push_field_value(&mut out, name, req, opts);
    }
    Some(out)
}

fn push_field_value(out: &mut String, name: &str, req: &Headers, opts: &KeyOptions) {
    if name == "accept-encoding" {
        out.push('=');
        out.push_str(negotiate_encoding(req, opts));
        return;
    }
    if name == "cookie" {
        if let Some(reduced) = opts.vary_cookies.as_deref().and_then(|listed| reduced_cookies(req, listed)) {
            out.push('=');
            out.push_str(&reduced);
            return;
        }
    }
    if let Some(value) = req.get_joined(name) {
        out.push('=');
        push_normalised_value(out, &value, is_case_insensitive_field(name));
    }
}

/// The `Cookie` of `req` reduced to the `listed` cookies, sorted, as `a=1; b=2` (empty when
/// none is there, as when there is no `Cookie` at all). None — the whole field is keyed, as
/// without `varyCookies` — when a `Cookie` value holds a double quote or a comma: servers
/// split such values differently (Zope ends a quoted value at `,`), and a reduction must
/// never let two requests share what their origin may read as different cookies.
fn reduced_cookies(req: &Headers, listed: &[String]) -> Option<String> {
    if req.get_all("cookie").any(|v| v.contains('"') || v.contains(',')) {
        return None;
    }
    let mut kept: Vec<(&str, &str)> =
        crate::audience::cookies(req).filter(|(n, _)| listed.iter().any(|p| param_matches(n, p))).collect();
    kept.sort_unstable();
    let mut out = String::new();
    for (i, (n, v)) in kept.into_iter().enumerate() {
        if i > 0 {
            out.push_str("; ");
        }
        out.extend(n.chars().chain(std::iter::once('=')).chain(v.chars()).filter(|c| !c.is_control()));
    }
    Some(out)
}

/// Fields whose whole value is case-insensitive, parameter names included: language tags
/// (RFC 5646 §2.1.1: "there exist conventions for the capitalization of some of the subtags,
/// but these MUST NOT be taken to carry meaning") and charsets (RFC 9110 §8.3.2: "A charset
/// is identified by a case-insensitive token").
fn is_case_insensitive_field(name: &str) -> bool {
    matches!(name, "accept-language" | "accept-charset")
}

/// Appends `value` with whitespace around commas removed, other whitespace runs collapsed to
/// one space and the ends trimmed (RFC 9110 §5.6.1: list elements are separated by
/// `OWS "," OWS`), quoted strings untouched. Control characters become spaces, so a value
/// never contains the `\n` that separates fields.
fn push_normalised_value(out: &mut String, value: &str, lower_case: bool) {
    let mut in_quotes = false;
    let mut escaped = false;
    let mut pending_space = false;
    let mut element_start = true;
    for c in value.chars() {
        let c = if c.is_control() { ' ' } else { c };
        if in_quotes {
            out.push(c);
            in_quotes = escaped || c != '"';
            escaped = !escaped && c == '\\';
            continue;
        }
        match c {
            ' ' => pending_space = true,
            ',' => {
                out.push(',');
                pending_space = false;
                element_start = true;
            }
            _ => {
                if pending_space && !element_start {
                    out.push(' ');
                }
                pending_space = false;
                element_start = false;
                in_quotes = c == '"';
                out.push(if lower_case { c.to_ascii_lowercase() } else { c });
            }
        }
    }
}

/// The content coding the origin will be asked for: the offered coding (from
/// `opts.encodings`, or [`DEFAULT_ENCODINGS`]) with the client's highest weight, ties going to
/// the earlier offer, or `identity` when none is acceptable or the client sent no
/// `Accept-Encoding`. The shell sends this as the origin request's `Accept-Encoding`.
pub fn negotiate_encoding<'a>(req: &Headers, opts: &'a KeyOptions) -> &'a str {
    if !req.contains("accept-encoding") {
        // RFC 9110 §12.5.3 lets us pick anything here; identity is the one every client reads.
        return "identity";
    }
    let mut best = ("identity", 0u16);
    let mut consider = |coding: &'a str| {
        let weight = coding_weight(req, coding);
        if weight > best.1 {
            best = (coding, weight);
        }
    };
    if opts.encodings.is_empty() {
        DEFAULT_ENCODINGS.into_iter().for_each(&mut consider);
    } else {
        opts.encodings.iter().map(String::as_str).for_each(&mut consider);
    }
    best.0
}

/// The client's weight (thousandths) for `coding`; 0 means not acceptable.
///
/// RFC 9110 §12.5.3: "An asterisk "*" symbol in an Accept-Encoding field matches any
/// available content coding not explicitly listed in the field." and "If the representation
/// has no content coding, then it is acceptable by default unless specifically excluded by
/// the Accept-Encoding header field stating either "identity;q=0" or "*;q=0" without a more
/// specific entry for "identity"."
fn coding_weight(req: &Headers, coding: &str) -> u16 {
    let mut explicit = None;
    let mut star = None;
    for element in req.list("accept-encoding") {
        let (name, weight) = parse_weighted(element);
        if coding_names_match(name, coding) {
            explicit = Some(explicit.map_or(weight, |w: u16| w.max(weight)));
        } else if name == "*" {
            star = Some(weight);
        }
    }
    let identity_default = if coding.eq_ignore_ascii_case("identity") { 1000 } else { 0 };
    explicit.or(star).unwrap_or(identity_default)
}

/// RFC 9110 §8.4.1.3: "A recipient SHOULD consider "x-gzip" to be equivalent to "gzip"."
fn coding_names_match(name: &str, coding: &str) -> bool {
    canonical_coding(name).eq_ignore_ascii_case(canonical_coding(coding))
}

fn canonical_coding(name: &str) -> &str {
    if name.eq_ignore_ascii_case("x-gzip") {
        "gzip"
    } else {
        name
    }
}

/// Splits `coding;q=0.5` into the coding and its weight in thousandths (1000 when absent or
/// unreadable).
fn parse_weighted(element: &str) -> (&str, u16) {
    let mut parts = element.split(';');
    let name = parts.next().unwrap_or("").trim();
    let weight = parts
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("q"))
        .map_or(1000, |(_, v)| parse_qvalue(v.trim()));
    (name, weight)
}

/// RFC 9110 §12.4.2: `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`, read
/// leniently and clamped to 0..=1000.
fn parse_qvalue(v: &str) -> u16 {
    match v.parse::<f64>() {
        Ok(q) if q.is_finite() => (q.clamp(0.0, 1.0) * 1000.0).round() as u16,
        _ => 1000,
    }
}

// ---------------------------------------------------------------------------------------------
// Storage keys
// ---------------------------------------------------------------------------------------------

/// FNV-1a, 64-bit (Fowler–Noll–Vo): fast and stable across builds, not collision-resistant.
pub fn fnv1a_64(data: &[u8]) -> u64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    data.iter().fold(OFFSET_BASIS, |hash, &b| (hash ^ u64::from(b)).wrapping_mul(PRIME))
}

/// The Cache API key of one stored variant: `origin/.rulecache/<variant id>/<path>[?query]`.
///
/// The variant id is `base` when there is neither an audience nor a variant; otherwise the
/// audience token (`anon`, `auth`, or `any` when the response is not split by audience) and
/// the hex FNV-1a-64 of audience and variant, e.g. `anon-1f0c…`. The audience is written in
/// clear so that no hash collision can ever hand one audience's entry to the other; the
/// stored [`crate::meta::Meta`] still records the exact variant, to be checked on read.
pub fn storage_key(primary: &str, audience: Option<Audience>, variant: Option<&str>) -> String {
    let (origin, target) = split_origin(primary);
    let mut out = String::with_capacity(primary.len() + RESERVED_PREFIX.len() + 22);
    out.push_str(origin);
    out.push_str(RESERVED_PREFIX);
    let variant = variant.unwrap_or("");
    match audience {
        None if variant.is_empty() => out.push_str("base"),
        _ => {
            let token = audience.map_or("any", Audience::as_str);
            let mut hashed = Vec::with_capacity(token.len() + 1 + variant.len());
            hashed.extend_from_slice(token.as_bytes());
            // 0xFF never occurs in UTF-8, so the two parts cannot run into each other.
            hashed.push(0xFF);
            hashed.extend_from_slice(variant.as_bytes());
            out.push_str(token);
            out.push('-');
            let hash = fnv1a_64(&hashed);
            for shift in (0..16).rev() {
                let nibble = ((hash >> (shift * 4)) & 0xF) as u32;
                out.push(char::from_digit(nibble, 16).unwrap_or('0'));
            }
        }
    }
    push_target(&mut out, target);
    out
}

/// The key of the per-URL record listing every stored variant of `primary`, so a purge of
/// the URL finds them all: `origin/.rulecache/index/<path>[?query]`.
pub fn index_key(primary: &str) -> String {
    let (origin, target) = split_origin(primary);
    let mut out = String::with_capacity(primary.len() + RESERVED_PREFIX.len() + 6);
    out.push_str(origin);
    out.push_str(RESERVED_PREFIX);
    out.push_str("index");
    push_target(&mut out, target);
    out
}

/// Appends `/` and the target without its leading slash (so `/a?q` gives `/a?q`, and an
/// empty target gives `/`).
fn push_target(out: &mut String, target: &str) {
    out.push('/');
    out.push_str(target.strip_prefix('/').unwrap_or(target));
}

/// The primary key a storage or index key was made from; None when `key` is not one.
pub fn primary_of_storage_key(key: &str) -> Option<String> {
    let (origin, target) = split_origin(key);
    let rest = target.strip_prefix(RESERVED_PREFIX)?;
    let (_, original) = rest.split_once('/')?;
    let mut out = String::with_capacity(origin.len() + original.len() + 1);
    out.push_str(origin);
    out.push('/');
    out.push_str(original);
    Some(out)
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // the tests check what the parser itself makes of inputs
mod tests {
    use super::*;
    use crate::testing::XorShift;

    fn key(url: &str) -> String {
        key_with(url, &KeyOptions::default())
    }

    fn key_with(url: &str, opts: &KeyOptions) -> String {
        let parsed = url::Url::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"));
        primary_key(&parsed, opts)
    }

    fn headers(pairs: &[(&str, &str)]) -> Headers {
        Headers::from_pairs(pairs.iter().copied())
    }

    fn opts_sorted() -> KeyOptions {
        KeyOptions { sort_query: true, ..KeyOptions::default() }
    }

    #[test]
    fn scheme_and_host_are_lower_cased_default_port_and_fragment_dropped() {
        assert_eq!(key("HTTPS://WWW.Example.COM:443/A/B#frag"), "https://www.example.com/A/B");
        assert_eq!(key("http://example.com:80"), "http://example.com/");
        assert_eq!(key("http://example.com:8080/x"), "http://example.com:8080/x");
        assert_eq!(key("https://user:pw@example.com/x"), "https://example.com/x");
        assert_eq!(key("http://[::1]:81/"), "http://[::1]:81/");
    }

    #[test]
    fn international_domain_names_are_keyed_in_their_ascii_form_only() {
        // The runtime hands the worker hosts in punycode; the wasm carries no Unicode IDNA
        // tables, so a host written in Unicode is refused rather than guessed at.
        assert_eq!(key("https://XN--BCHER-KVA.example/a"), "https://xn--bcher-kva.example/a");
        assert!(url::Url::parse("https://bücher.example/a").is_err());
    }

    #[test]
    fn percent_encoding_is_normalised_but_reserved_characters_stay_encoded() {
        assert_eq!(key("http://e.com/%7euser/%41%62c"), "http://e.com/~user/Abc");
        assert_eq!(key("http://e.com/a%2fb%3F%2Fc"), "http://e.com/a%2Fb%3F%2Fc");
        assert_eq!(key("http://e.com/caf%c3%a9"), "http://e.com/caf%C3%A9");
        assert_eq!(key("http://e.com/café"), "http://e.com/caf%C3%A9");
        // Broken escapes are left as they are.
        assert_eq!(key("http://e.com/100%/x%4"), "http://e.com/100%/x%4");
        assert_eq!(key("http://e.com/p?q=%7e%2f%26"), "http://e.com/p?q=~%2F%26");
    }

    #[test]
    fn empty_query_leaves_no_question_mark() {
        assert_eq!(key("http://e.com/p?"), "http://e.com/p");
        assert_eq!(key("http://e.com/p?&&"), "http://e.com/p");
        assert_eq!(key("http://e.com/?a=1&&b"), "http://e.com/?a=1&b");
    }

    #[test]
    fn query_is_sorted_by_name_stably_when_asked() {
        let url = "http://e.com/p?b=2&a=9&c&a=1";
        assert_eq!(key(url), "http://e.com/p?b=2&a=9&c&a=1");
        assert_eq!(key_with(url, &opts_sorted()), "http://e.com/p?a=9&a=1&b=2&c");
        assert_eq!(key_with("http://e.com/?%61=1&a=2", &opts_sorted()), "http://e.com/?a=1&a=2");
    }

    #[test]
    fn dropped_and_kept_params_honour_prefix_patterns() {
        let drop = KeyOptions { drop_params: vec!["utm_*".into(), "fbclid".into()], ..KeyOptions::default() };
        assert_eq!(
            key_with("http://e.com/p?utm_source=x&id=3&fbclid=y&fbclid2=z&utm_=1", &drop),
            "http://e.com/p?id=3&fbclid2=z"
        );
        assert_eq!(key_with("http://e.com/p?utm_source=x", &drop), "http://e.com/p");
        let keep = KeyOptions {
            keep_params: Some(vec!["page".into(), "f_*".into()]),
            drop_params: vec!["f_secret".into()],
            ..KeyOptions::default()
        };
        assert_eq!(
            key_with("http://e.com/p?x=1&page=2&f_a=3&f_secret=4&pages=5", &keep),
            "http://e.com/p?page=2&f_a=3"
        );
        let keep_none = KeyOptions { keep_params: Some(vec![]), ..KeyOptions::default() };
        assert_eq!(key_with("http://e.com/p?x=1", &keep_none), "http://e.com/p");
    }

    #[test]
    fn key_parts_are_recovered() {
        let k = "https://e.com:8443/a/b?x=/y";
        assert_eq!(origin_of(k), "https://e.com:8443");
        assert_eq!(path_of(k), "/a/b");
        assert_eq!(query_of(k), Some("x=/y"));
        assert_eq!(path_of("https://e.com"), "/");
        assert_eq!(path_of("https://e.com?x"), "/");
        assert_eq!(query_of("https://e.com/"), None);
    }

    #[test]
    fn path_prefixes_match_whole_segments() {
        assert!(path_has_prefix("/news", "/news"));
        assert!(path_has_prefix("/news/2024", "/news"));
        assert!(!path_has_prefix("/newsletter", "/news"));
        assert!(!path_has_prefix("/newsletter", "/new"));
        assert!(path_has_prefix("/news/a", "/news/"));
        assert!(!path_has_prefix("/news", "/news/"));
        assert!(path_has_prefix("/anything", "/"));
        assert!(matches_path_prefix("http://e.com/~u/page?x=1", "/%7Eu"));
        assert!(!matches_path_prefix("http://e.com/other/~u", "/~u"));
    }

    #[test]
    fn urls_match_their_key() {
        let url = url::Url::parse("HTTP://E.com/a?b=1&a=2").unwrap_or_else(|e| panic!("{e}"));
        assert!(matches_url("http://e.com/a?a=2&b=1", &url, &opts_sorted()));
        assert!(!matches_url("http://e.com/a?a=2&b=1", &url, &KeyOptions::default()));
    }

    #[test]
    fn vary_is_lower_cased_deduplicated_and_sorted() {
        let h =
            headers(&[("Vary", "Accept-Language, accept-encoding"), ("vary", "ACCEPT-ENCODING, Cookie,")]);
        assert_eq!(
            VarySpec::from_headers(&h),
            VarySpec::Fields(vec!["accept-encoding".into(), "accept-language".into(), "cookie".into()])
        );
        assert_eq!(VarySpec::from_headers(&headers(&[])), VarySpec::None);
        assert_eq!(VarySpec::from_headers(&headers(&[("vary", " , ")])), VarySpec::None);
        assert_eq!(VarySpec::from_headers(&headers(&[("vary", "cookie"), ("vary", "*")])), VarySpec::Star);
        assert_eq!(VarySpec::from_headers(&headers(&[("vary", "a b")])), VarySpec::Star);
    }

    #[test]
    fn star_never_matches_and_no_vary_is_empty() {
        let req = headers(&[("accept-language", "de")]);
        assert_eq!(variant(&VarySpec::Star, &req, &KeyOptions::default()), None);
        assert_eq!(variant(&VarySpec::None, &req, &KeyOptions::default()).as_deref(), Some(""));
    }

    fn variant_of(vary: &str, req: &[(&str, &str)]) -> Option<String> {
        let spec = VarySpec::from_headers(&headers(&[("vary", vary)]));
        variant(&spec, &headers(req), &KeyOptions::default())
    }

    #[test]
    fn variant_normalises_whitespace_case_and_field_lines() {
        let a = variant_of(
            "Accept-Language, X-Theme",
            &[("accept-language", "DE-de ,  en;q=0.5"), ("x-theme", "Dark")],
        );
        assert_eq!(a.as_deref(), Some("accept-language=de-de,en;q=0.5\nx-theme=Dark"));
        let b = variant_of(
            "x-theme, accept-language",
            &[("x-theme", " Dark "), ("accept-language", "de-DE"), ("accept-language", "EN;q=0.5")],
        );
        assert_eq!(a, b);
        // Case matters for fields not known to be case-insensitive.
        assert_ne!(
            variant_of("x-theme", &[("x-theme", "dark")]),
            variant_of("x-theme", &[("x-theme", "Dark")])
        );
        // Whitespace inside a quoted string is kept.
        assert_eq!(
            variant_of("x-q", &[("x-q", "a ,  \"b  , c\"  d")]).as_deref(),
            Some("x-q=a,\"b  , c\" d")
        );
        // A newline can never forge a second field.
        assert_eq!(variant_of("x-q", &[("x-q", "a\nx-r=b")]).as_deref(), Some("x-q=a x-r=b"));
    }

    #[test]
    fn missing_field_differs_from_empty_field() {
        let missing = variant_of("cookie", &[]);
        let empty = variant_of("cookie", &[("cookie", "")]);
        assert_eq!(missing.as_deref(), Some("cookie"));
        assert_eq!(empty.as_deref(), Some("cookie="));
    }

    fn encoding(ae: Option<&str>, offered: &[&str]) -> String {
        let req = ae.map_or_else(Headers::new, |v| headers(&[("accept-encoding", v)]));
        let opts = KeyOptions {
            encodings: offered.iter().map(|s| s.to_string()).collect(),
            ..KeyOptions::default()
        };
        negotiate_encoding(&req, &opts).to_string()
    }

    #[test]
    fn accept_encoding_collapses_to_the_best_offered_coding() {
        assert_eq!(encoding(Some("gzip, deflate, br, zstd"), &[]), "br");
        assert_eq!(encoding(Some("gzip, deflate"), &[]), "gzip");
        assert_eq!(encoding(Some("GZIP"), &[]), "gzip");
        assert_eq!(encoding(Some("x-gzip"), &[]), "gzip");
        assert_eq!(encoding(Some("deflate"), &[]), "identity");
        assert_eq!(encoding(Some(""), &[]), "identity");
        assert_eq!(encoding(None, &[]), "identity");
        assert_eq!(encoding(Some("br;q=0, gzip"), &[]), "gzip");
        assert_eq!(encoding(Some("br;q=0.0, gzip;q=0.000"), &[]), "identity");
        assert_eq!(encoding(Some("*"), &[]), "br");
        assert_eq!(encoding(Some("br;q=0, *"), &[]), "gzip");
        assert_eq!(encoding(Some("*;q=0"), &[]), "identity");
        assert_eq!(encoding(Some("br;q=0.2, gzip;q=0.8"), &[]), "gzip");
        assert_eq!(encoding(Some("gzip, br"), &["gzip", "br"]), "gzip");
        assert_eq!(encoding(Some("gzip, br"), &["zstd"]), "identity");
        assert_eq!(encoding(Some("br;q=bogus"), &[]), "br");
    }

    #[test]
    fn browsers_share_one_accept_encoding_variant() {
        let chrome = variant_of("Accept-Encoding", &[("accept-encoding", "gzip, deflate, br, zstd")]);
        let firefox = variant_of("Accept-Encoding", &[("accept-encoding", "gzip, deflate, br")]);
        let curl = variant_of("Accept-Encoding", &[]);
        assert_eq!(chrome.as_deref(), Some("accept-encoding=br"));
        assert_eq!(chrome, firefox);
        assert_eq!(curl.as_deref(), Some("accept-encoding=identity"));
    }

    #[test]
    fn fnv1a_matches_reference_vectors() {
        assert_eq!(fnv1a_64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a_64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a_64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn storage_keys_separate_audiences_and_variants() {
        let pk = "https://e.com/a/b?x=1";
        assert_eq!(storage_key(pk, None, None), "https://e.com/.rulecache/base/a/b?x=1");
        assert_eq!(storage_key(pk, None, Some("")), "https://e.com/.rulecache/base/a/b?x=1");
        let anon = storage_key(pk, Some(Audience::Anonymous), None);
        let auth = storage_key(pk, Some(Audience::Authenticated), None);
        assert!(anon.starts_with("https://e.com/.rulecache/anon-"), "{anon}");
        assert!(auth.starts_with("https://e.com/.rulecache/auth-"), "{auth}");
        assert!(anon.ends_with("/a/b?x=1"));
        let v1 = storage_key(pk, None, Some("accept-encoding=br"));
        let v2 = storage_key(pk, None, Some("accept-encoding=gzip"));
        assert!(v1.starts_with("https://e.com/.rulecache/any-"), "{v1}");
        assert_ne!(v1, v2);
        assert_eq!(v1, storage_key(pk, None, Some("accept-encoding=br")));
        assert_eq!(storage_key("http://e.com/", None, None), "http://e.com/.rulecache/base/");
        assert!(url::Url::parse(&anon).is_ok());
    }

    #[test]
    fn storage_and_index_keys_lead_back_to_the_primary_key() {
        for pk in ["https://e.com/a/b?x=1", "http://e.com:8080/", "http://e.com/.rulecache/base/x"] {
            let sk = storage_key(pk, Some(Audience::Anonymous), Some("cookie=a"));
            assert_eq!(primary_of_storage_key(&sk).as_deref(), Some(pk));
            assert_eq!(primary_of_storage_key(&index_key(pk)).as_deref(), Some(pk));
        }
        assert_eq!(index_key("https://e.com/a/b?x=1"), "https://e.com/.rulecache/index/a/b?x=1");
        assert_eq!(primary_of_storage_key("https://e.com/a/b"), None);
    }

    #[test]
    fn huge_values_are_kept_whole() {
        let big = "x".repeat(100_000);
        let v = variant_of("x-big", &[("x-big", &big)]).unwrap_or_default();
        assert_eq!(v.len(), "x-big=".len() + big.len());
        let long_url = format!("http://e.com/{}?{}", "a/".repeat(10_000), "p=1&".repeat(10_000));
        let k = key_with(&long_url, &opts_sorted());
        assert!(k.ends_with("p=1&p=1"));
    }

    /// Text for the no-panic tests: mostly characters URLs and headers care about, with the odd
    /// random Unicode scalar value.
    fn text(rng: &mut XorShift, max: u64) -> String {
        const ALPHABET: &[u8] = b"aZ09%%%fF/?&=;,*. \t\"\\\n\x01q";
        let len = rng.next() % max;
        let mut s = String::new();
        for _ in 0..len {
            let r = rng.next();
            if r.is_multiple_of(7) {
                s.push(char::from_u32((r >> 8) as u32 % 0x11_0000).unwrap_or('\u{e9}'));
            } else {
                let i = (r >> 8) as usize % ALPHABET.len();
                s.push(char::from(ALPHABET.get(i).copied().unwrap_or(b'a')));
            }
        }
        s
    }

    #[test]
    fn random_input_never_panics() {
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        let opts = KeyOptions {
            drop_params: vec!["a*".into(), "%".into()],
            keep_params: Some(vec!["*".into()]),
            sort_query: true,
            encodings: vec!["br".into(), "identity".into()],
            vary_cookies: Some(vec!["s*".into(), "id".into()]),
            ..KeyOptions::default()
        };
        for _ in 0..3000 {
            let raw = format!("http://e.com/{}", text(&mut rng, 40));
            if let Ok(url) = url::Url::parse(&raw) {
                let pk = primary_key(&url, &opts);
                // Normalising is idempotent.
                let again = url::Url::parse(&pk).map(|u| primary_key(&u, &opts));
                assert_eq!(again.as_deref(), Ok(pk.as_str()), "{raw}");
                let _ = (path_of(&pk), query_of(&pk), origin_of(&pk));
                let sk = storage_key(&pk, Some(Audience::Authenticated), Some(&text(&mut rng, 20)));
                assert_eq!(primary_of_storage_key(&sk).as_deref(), Some(pk.as_str()));
            }
            let arbitrary = text(&mut rng, 60);
            let _ = (path_of(&arbitrary), query_of(&arbitrary), primary_of_storage_key(&arbitrary));
            let _ = matches_path_prefix(&arbitrary, &text(&mut rng, 10));
            let req = headers(&[("accept-encoding", &text(&mut rng, 30)), ("x-a", &text(&mut rng, 30))]);
            let spec = VarySpec::from_names(["accept-encoding", "x-a", "x-missing"]);
            let v = variant(&spec, &req, &opts).unwrap_or_default();
            assert_eq!(v.matches('\n').count(), 2, "{v:?}");
        }
    }
}
