//! Cache keys: the normalised primary key of a URL and the secondary (variant) keys.
//!
//! * The **primary key** is the normalised absolute URL (RFC 9111 §2: the cache key "is
//!   composed from, at a minimum, the request method and target URI"; only GET and HEAD reach
//!   the cache, and a HEAD is answered from the GET entry, so the method is left out).
//! * The **variant** is the canonical form of the request fields named by the stored
//!   response's `Vary` (RFC 9111 §4.1), so equivalent requests share one entry.
//! * The **storage key** folds the primary key, the split-view audience and the variant into
//!   one absolute URL usable as a Workers Cache API key.
//!
//! Primary and storage keys have types of their own ([`PrimaryKey`], [`StorageKey`]), made
//! only by the functions that compute them, so one can never be passed where the other is
//! meant; a stored record or a JavaScript call still gets the plain string.
//!
//! This module holds the options, the key types, the primary key and its parts; the variant
//! and the coding a request is keyed on are in `variant`, the storage and index keys in
//! `storage_key` (everything re-exported here).

use std::borrow::{Borrow, Cow};
use std::fmt::{self, Write as _};

use serde::{Deserialize, Serialize};

use crate::http::is_listed;

mod storage_key;
mod variant;

pub use storage_key::{fnv1a_64, origin_storage_key, storage_key};
pub use variant::{negotiate_encoding, variant, VarySpec};

/// Who is asking: split-view caching keys and varies on this (the policy tells which).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Audience {
    Anonymous,
    Authenticated,
}

impl Audience {
    pub fn is_anonymous(self) -> bool {
        self == Audience::Anonymous
    }

    /// The token used in cache keys and Cache-Status details.
    pub fn as_str(self) -> &'static str {
        match self {
            Audience::Anonymous => "anon",
            Audience::Authenticated => "auth",
        }
    }
}

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
    /// Lower-case request header names forwarded on requests whose answer may be stored,
    /// besides [`FORWARDED_UNKEYED`] (never one of the forwarding family:
    /// [`is_forwarding_field`]).
    pub trusted_headers: Vec<String>,
    /// `varyCookies`: when set, a response varying on `Cookie` is keyed on these cookies only
    /// (exact names, or prefixes ending in `*`), so cookies the page does not depend on
    /// (analytics, `csrftoken`) do not split it into one variant per visitor.
    pub vary_cookies: Option<Vec<String>>,
}

/// Whether a request field belongs to the forwarding family: the fields by which a proxy tells
/// the next hop about the client's connection or about the URL, host, scheme, port, prefix or
/// method it asked for (`Forwarded`, `X-Forwarded-*`, `X-Original-*`, `X-Real-IP`,
/// `Front-End-Https`, `X-Url-Scheme`, `X-Script-Name`, `X-HTTP-Method-Override`, …). Servers
/// and frameworks honour many of them (waitress, gunicorn, Django's `USE_X_FORWARDED_PORT`
/// and `SECURE_PROXY_SSL_HEADER`, Werkzeug's ProxyFix, Rack) to build absolute URLs,
/// canonical links and redirects. A client never sets them: they are removed from every
/// request and the edge sets `X-Forwarded-Proto` and `X-Forwarded-Host` from the real request
/// ([`edge_forwarding_fields`]).
///
/// Recognised by rule, not by a list of known names: a field name with an underscore (CGI and
/// WSGI servers map `_` and `-` to one variable, so `X_Forwarded_Host` or `SCRIPT_NAME` reach
/// an application as `HTTP_X_FORWARDED_HOST` or `HTTP_SCRIPT_NAME`), and every name of these
/// families.
pub fn is_forwarding_field(name: &str) -> bool {
    const FAMILIES: [&str; 15] = [
        "forwarded",
        "x-forwarded",
        "x-original",
        "x-real-",
        "x-client-",
        "x-cluster-client",
        "x-host",
        "x-url-",
        "x-script-",
        "x-rewrite-",
        "x-http-method",
        "x-method-",
        "x-proxy-",
        "front-end-",
        "true-client-",
    ];
    name.contains('_') || FAMILIES.iter().any(|family| name.starts_with(family))
}

/// Request fields forwarded on a request whose answer may be stored although the key does not
/// hold them: content negotiation (an origin that negotiates on one names it in `Vary`, and
/// the stored variant is then keyed by it), the client's own cache directives, and fields
/// that do not change the answer. Everything else a client sends is dropped on that path
/// unless the policy adds it (`cacheKey.trustedHeaders`); the cookies the policy names, the
/// negotiated `Accept-Encoding`, credentials and the split-view header go as the key holds
/// them. (A request that bypasses the cache is forwarded as sent, the forwarding family
/// excepted: its answer is never stored.)
pub const FORWARDED_UNKEYED: [&str; 16] = [
    "host",
    "accept",
    "accept-language",
    "accept-charset",
    "user-agent",
    "cache-control",
    "pragma",
    "origin",
    "dnt",
    "save-data",
    "upgrade-insecure-requests",
    "sec-fetch-dest",
    "sec-fetch-mode",
    "sec-fetch-site",
    "sec-fetch-user",
    "traceparent",
];

/// Request fields of the cache path that go as the key holds them (see [`FORWARDED_UNKEYED`]).
pub const FORWARDED_KEYED: [&str; 3] = ["cookie", "accept-encoding", "authorization"];

/// Whether a field of a request whose answer may be stored reaches the origin: keyed, on the
/// unkeyed-safe list (client hints `Sec-CH-*` included), or added by the policy (`extra`, lower
/// case). Never a field of the forwarding family.
pub fn forwarded_on_cache_path(name: &str, extra: &[String]) -> bool {
    // The edge's own forwarding fields: a client's were removed and replaced at the start.
    is_listed(name, &EDGE_FORWARDING_FIELDS)
        || (!is_forwarding_field(name)
            && (is_listed(name, &FORWARDED_UNKEYED)
                || is_listed(name, &FORWARDED_KEYED)
                || name.starts_with("sec-ch-")
                || extra.iter().any(|e| e == name)))
}

/// The forwarding fields the edge sets itself ([`edge_forwarding_fields`]).
pub const EDGE_FORWARDING_FIELDS: [&str; 2] = ["x-forwarded-proto", "x-forwarded-host"];

/// The forwarding fields the edge sets on every request to the origin, from the URL the client
/// asked for (and so from the key): `X-Forwarded-Proto` and `X-Forwarded-Host`.
pub fn edge_forwarding_fields(url: &crate::http::Url) -> [(&'static str, String); 2] {
    let host = match url.port() {
        Some(port) => format!("{}:{port}", url.host_str().unwrap_or("")),
        None => url.host_str().unwrap_or("").to_string(),
    };
    let [proto, forwarded_host] = EDGE_FORWARDING_FIELDS;
    [(proto, url.scheme().to_string()), (forwarded_host, host)]
}

/// The codings assumed when [`KeyOptions::encodings`] is empty.
pub const DEFAULT_ENCODINGS: [&str; 2] = ["br", "gzip"];

/// The reserved path prefix under which storage and index keys live.
pub const RESERVED_PREFIX: &str = "/.rulecache/";

// ---------------------------------------------------------------------------------------------
// Key types
// ---------------------------------------------------------------------------------------------

/// Defines a key type: a `String` that only the functions making that kind of key produce, so
/// one kind of key cannot be passed where another is meant. Where a key crosses to JavaScript
/// or into a stored record it is written as the plain string ([`as_str`], [`into_string`]).
macro_rules! key_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// A key as a stored record (or a ledger row, or a test) holds it: the text the
            /// function that makes this kind of key wrote.
            pub fn from_stored(key: impl Into<String>) -> Self {
                $name(key.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        /// A map keyed by this kind of key can be searched with the key's text.
        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl From<$name> for String {
            fn from(key: $name) -> String {
                key.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }
    };
}

key_type! {
    /// The normalised primary key of a URL, made by [`primary_key`]: `scheme://host[:port]/path[?query]`.
    PrimaryKey
}

key_type! {
    /// The key one stored variant (or a URL's variant index) is kept under in every tier, made
    /// by [`storage_key`] from a [`PrimaryKey`].
    StorageKey
}

// ---------------------------------------------------------------------------------------------
// Primary key
// ---------------------------------------------------------------------------------------------

/// The normalised primary key of `url`: `scheme://host[:port]/path[?query]`.
///
/// Scheme and host are lower-cased (hosts must be ASCII: internationalised names in punycode), the
/// default port, user info and fragment are dropped, percent-encoding is normalised (see
/// [`normalise_component`]), an empty path becomes `/`, and the query is filtered and
/// optionally sorted by `opts`. An empty query leaves no `?`.
pub fn primary_key(url: &crate::http::Url, opts: &KeyOptions) -> PrimaryKey {
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
    PrimaryKey(out)
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
// Taking a primary key apart
// ---------------------------------------------------------------------------------------------

/// Splits a key into `scheme://authority` and the rest (`/path[?query]`, possibly empty).
fn split_origin(key: &str) -> (&str, &str) {
    let authority_start = key.find("://").map_or(0, |i| i + 3);
    let rest = key.get(authority_start..).unwrap_or("");
    let split = rest.find(['/', '?']).map_or(key.len(), |i| authority_start + i);
    (key.get(..split).unwrap_or(key), key.get(split..).unwrap_or(""))
}

#[cfg(test)]
mod tests;
