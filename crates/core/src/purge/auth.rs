//! Authentication of purge and admin requests by a shared secret (`PURGE_SECRET`).
//!
//! Two forms are accepted:
//!
//! 1. **Bearer**: `Authorization: Bearer <secret>`. The token is compared with the secret in
//!    constant time: both are hashed with SHA-256 and the two digests are compared with a
//!    byte fold that never exits early, so neither the content nor the length of the secret
//!    leaks through timing.
//! 2. **Signed** (the secret never travels): two headers,
//!
//!    ```text
//!    X-Rulecache-Timestamp: <unix time in seconds>
//!    X-Rulecache-Signature: v2=<hex HMAC-SHA256>
//!    ```
//!
//!    where the HMAC key is the secret and the signed string is
//!
//!    ```text
//!    "v2" LF METHOD LF host LF path-and-query LF timestamp LF hex(sha256(body))
//!         LF X-Purge-Tags LF X-Purge-Soft LF Surrogate-Key LF Fastly-Soft-Purge
//!    ```
//!
//!    (LF is a single `\n`; METHOD is upper case; host is the request's host in lower case,
//!    with its port when the URL names one, e.g. `www.example.org`; path-and-query is the
//!    request target as sent, e.g. `/_purge?x=1`; the body hash of an empty body is that of
//!    zero bytes; each of the four header lines is that field's values as sent, joined by
//!    `, `, empty when absent: every field that changes what a `PURGE` purges, see
//!    [`super::request::PURGE_METHOD_HEADERS`]). A signed request is accepted when its
//!    timestamp is within [`MAX_CLOCK_SKEW_SECS`] of the server's clock, in either
//!    direction, and the same signature has not been accepted before ([`ReplayGuard`], and
//!    across isolates the purge ledger, both comparing the decoded signature bytes).
//!
//!    The older `v1=` form signs `"v1" LF METHOD LF path-and-query LF timestamp LF
//!    hex(sha256(body))`: it covers neither the host nor those header fields, so it is
//!    refused on a request that carries any of the fields.
//!
//!    From a shell (`$HOST` the site's host, `$PURGE_PATH` the endpoint's path and query):
//!
//!    ```text
//!    ts=$(date +%s)
//!    body='{"urls":["/news"]}'
//!    body_hash=$(printf '%s' "$body" | openssl dgst -sha256 | sed 's/^.* //')
//!    sig=$(printf 'v2\nPOST\n%s\n%s\n%s\n%s\n\n\n\n' "$HOST" "$PURGE_PATH" "$ts" "$body_hash" \
//!      | openssl dgst -sha256 -hmac "$PURGE_SECRET" | sed 's/^.* //')
//!    curl -X POST "https://$HOST$PURGE_PATH" -H "X-Rulecache-Timestamp: $ts" \
//!      -H "X-Rulecache-Signature: v2=$sig" --data "$body"
//!    ```
//!
//! 3. **Basic**, for `PURGE` requests only: `Authorization: Basic base64(user ":" secret)`,
//!    any user name, the password compared with the secret as a Bearer token is. This is
//!    what python-requests sends for plone.cachepurging when the caching proxy's URL carries
//!    userinfo (`cachingProxies = ('https://purge:SECRET@www.example.org',)`), so Plone needs
//!    no add-on. A Basic header on an admin call is not a credential (a browser's login
//!    prompt must not open the admin API).
//!
//! A `Bearer` Authorization header is checked first; otherwise the signature headers; any
//! other Authorization header (e.g. `Basic` for a logged-in user) is ignored when the request
//! is signed. Whitespace around the configured secret is ignored; an empty secret counts as none, and
//! with no secret purge and admin are disabled.

use std::collections::HashMap;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::http::{hex, secs, unhex, Headers, Time};

/// Request header carrying the signing time in Unix seconds.
pub const TIMESTAMP_HEADER: &str = "x-rulecache-timestamp";
/// Request header carrying `v1=<hex signature>`.
pub const SIGNATURE_HEADER: &str = "x-rulecache-signature";
/// How far a signed request's timestamp may be from the server's clock, either way.
pub const MAX_CLOCK_SKEW_SECS: u64 = 300;
/// How many accepted signatures a [`ReplayGuard`] remembers at most.
pub const REPLAY_GUARD_CAPACITY: usize = 4096;

/// Why a request was not authorized. Its [`message`](AuthError::message) never contains the
/// secret or the presented credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthError {
    /// No (or an empty) `PURGE_SECRET` is configured: purge and admin are off.
    NotConfigured,
    /// The request carries no credential.
    Missing,
    /// The credential is malformed or does not match the secret.
    Invalid,
    /// The signed request's timestamp is too far from the server's clock.
    Expired,
    /// The same signed request was accepted before.
    Replayed,
}

impl AuthError {
    /// The HTTP status to answer with: 403 when purging is disabled, 401 otherwise.
    pub fn status(self) -> u16 {
        match self {
            AuthError::NotConfigured => 403,
            _ => 401,
        }
    }

    /// A plain sentence for the response body.
    pub fn message(self) -> &'static str {
        match self {
            AuthError::NotConfigured => "purge and admin are disabled: no PURGE_SECRET is configured",
            AuthError::Missing => {
                "authentication required: send Authorization: Bearer <secret> \
                 or sign the request with X-Rulecache-Timestamp and X-Rulecache-Signature"
            }
            AuthError::Invalid => "the credentials presented are not valid",
            AuthError::Expired => {
                "the signed request's timestamp is more than 300 seconds away from the server's clock"
            }
            AuthError::Replayed => "this signed request was already used: sign each request afresh",
        }
    }
}

impl std::fmt::Display for AuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for AuthError {}

/// How a [`Credential`] was presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Bearer,
    Signed,
    /// `Authorization: Basic` with the secret as password (PURGE only).
    Basic,
    /// A `PURGE` from an address on the policy's `purge.allowFrom` list.
    Address,
}

/// Proof that a request was authorized. Only [`authorize`] can make one, and the functions
/// that change state take it as an argument.
#[derive(Debug)]
pub struct Credential {
    scheme: Scheme,
}

impl Credential {
    /// How the request proved itself.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }
}

/// The parts of a request that authentication looks at.
#[derive(Debug, Clone, Copy)]
pub struct AuthInput<'a> {
    pub method: &'a str,
    /// The request target as sent: path and, when present, `?query`.
    pub path_and_query: &'a str,
    pub headers: &'a Headers,
    pub body: &'a [u8],
}

/// Remembers the signatures accepted within the last [`MAX_CLOCK_SKEW_SECS`] window so a
/// captured signed request cannot be sent again. Memory is bounded by
/// [`REPLAY_GUARD_CAPACITY`]: entries whose timestamp has left the window are forgotten
/// (such a request would be refused as expired anyway) and, when full, the entry closest to
/// leaving the window is dropped.
///
/// The guard is per isolate; a replay sent to another isolate is only refused by that
/// isolate's own guard.
#[derive(Debug, Default, Clone)]
pub struct ReplayGuard {
    /// Signature bytes → the request's timestamp in seconds.
    seen: HashMap<Vec<u8>, u64>,
}

impl ReplayGuard {
    pub fn new() -> Self {
        Self::default()
    }

    /// How many signatures are remembered.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    fn forget_expired(&mut self, now_secs: u64) {
        self.seen.retain(|_, ts| ts.saturating_add(MAX_CLOCK_SKEW_SECS) >= now_secs);
    }

    /// Records `signature`; false when it was already recorded.
    fn record(&mut self, signature: &[u8], timestamp: u64, now_secs: u64) -> bool {
        self.forget_expired(now_secs);
        if self.seen.contains_key(signature) {
            return false;
        }
        if self.seen.len() >= REPLAY_GUARD_CAPACITY {
            let oldest = self.seen.iter().min_by_key(|(_, ts)| **ts).map(|(sig, _)| sig.clone());
            if let Some(sig) = oldest {
                self.seen.remove(&sig);
            }
        }
        self.seen.insert(signature.to_vec(), timestamp);
        true
    }
}

/// Checks a purge or admin request against the configured secret.
pub fn authorize(
    secret: Option<&str>,
    req: &AuthInput<'_>,
    now: Time,
    replay: &mut ReplayGuard,
) -> Result<Credential, AuthError> {
    let secret = configured(secret).ok_or(AuthError::NotConfigured)?;
    let authorization = req.headers.get("authorization");
    if let Some(token) = authorization.and_then(bearer_token) {
        return if digests_equal(token.as_bytes(), secret.as_bytes()) {
            Ok(Credential { scheme: Scheme::Bearer })
        } else {
            Err(AuthError::Invalid)
        };
    }
    let timestamp = req.headers.get(TIMESTAMP_HEADER);
    let signature = req.headers.get(SIGNATURE_HEADER);
    let signed = timestamp.is_some() || signature.is_some();
    if let Some(basic) = authorization.and_then(basic_credentials).filter(|_| !signed) {
        if !req.method.eq_ignore_ascii_case("PURGE") {
            return Err(AuthError::Invalid);
        }
        let password = basic.ok_or(AuthError::Invalid)?;
        return if digests_equal(password.trim().as_bytes(), secret.as_bytes()) {
            Ok(Credential { scheme: Scheme::Basic })
        } else {
            Err(AuthError::Invalid)
        };
    }
    match (timestamp, signature) {
        (Some(ts), Some(sig)) => check_signed(secret, req, ts, sig, now, replay),
        (None, None) if authorization.is_none() => Err(AuthError::Missing),
        _ => Err(AuthError::Invalid),
    }
}

/// What the headers alone settle, before any body is read: purge disabled, no credential at
/// all, or a wrong bearer token. `Ok` means the body is needed (a signature covers it) or the
/// request may be authorized; [`authorize`] decides.
pub fn precheck(secret: Option<&str>, headers: &Headers) -> Result<(), AuthError> {
    let secret = configured(secret).ok_or(AuthError::NotConfigured)?;
    let authorization = headers.get("authorization");
    if let Some(token) = authorization.and_then(bearer_token) {
        return if digests_equal(token.as_bytes(), secret.as_bytes()) {
            Ok(())
        } else {
            Err(AuthError::Invalid)
        };
    }
    if authorization.is_none() && !headers.contains(TIMESTAMP_HEADER) && !headers.contains(SIGNATURE_HEADER) {
        return Err(AuthError::Missing);
    }
    Ok(())
}

/// True when `headers` carry `Authorization: Bearer <secret>` for a configured secret. For
/// read-only extras such as debug headers; it changes nothing and yields no [`Credential`].
pub fn is_authorized_quick(secret: Option<&str>, headers: &Headers) -> bool {
    let Some(secret) = configured(secret) else { return false };
    headers
        .get("authorization")
        .and_then(bearer_token)
        .is_some_and(|token| digests_equal(token.as_bytes(), secret.as_bytes()))
}

/// The `X-Rulecache-Signature` value (`v2=<hex>`) for a request, as a client computes it:
/// `headers` are the request's fields (its `host` and the purge fields are read).
pub fn sign_v2(
    secret: &str,
    method: &str,
    path_and_query: &str,
    timestamp: u64,
    body: &[u8],
    headers: &Headers,
) -> String {
    let text = string_to_sign_v2(method, path_and_query, timestamp, body, headers);
    format!("v2={}", hex(&hmac_sha256(secret.trim().as_bytes(), text.as_bytes())))
}

/// The decoded bytes of a request's signature (`v1=`/`v2=` hex, either case), when it has
/// one: what the purge ledger remembers to refuse a replay at any isolate.
pub fn signature_bytes_of(headers: &Headers) -> Option<Vec<u8>> {
    let value = headers.get(SIGNATURE_HEADER)?.trim();
    value.strip_prefix("v2=").or_else(|| value.strip_prefix("v1=")).and_then(unhex)
}

/// The `X-Rulecache-Signature` value (`v1=<hex>`, the older form) for a request.
pub fn sign(secret: &str, method: &str, path_and_query: &str, timestamp: u64, body: &[u8]) -> String {
    format!("v1={}", hex(&signature_bytes(secret.trim(), method, path_and_query, timestamp, body)))
}

fn configured(secret: Option<&str>) -> Option<&str> {
    secret.map(str::trim).filter(|s| !s.is_empty())
}

/// The token of `Bearer <token>` (scheme name case-insensitive); None for other schemes.
fn bearer_token(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token.trim())
}

/// For `Basic <base64>` (scheme name case-insensitive): the password of `user:password`
/// (`Some(None)` when the value does not decode to that shape); None for other schemes.
/// RFC 7617 §2: "the user-id and password ... separated by a single colon", the user-id
/// containing no colon, so the password is everything after the first one.
fn basic_credentials(authorization: &str) -> Option<Option<String>> {
    use base64::Engine;
    let (scheme, token) = authorization.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(token.trim()).ok();
    let text = decoded.and_then(|bytes| String::from_utf8(bytes).ok());
    Some(text.and_then(|t| t.split_once(':').map(|(_, password)| password.to_string())))
}

fn check_signed(
    secret: &str,
    req: &AuthInput<'_>,
    timestamp: &str,
    signature: &str,
    now: Time,
    replay: &mut ReplayGuard,
) -> Result<Credential, AuthError> {
    let ts: u64 = timestamp.trim().parse().map_err(|_| AuthError::Invalid)?;
    let signature = signature.trim();
    let text = if let Some(v2) = signature.strip_prefix("v2=") {
        (v2, string_to_sign_v2(req.method, req.path_and_query, ts, req.body, req.headers))
    } else if let Some(v1) = signature.strip_prefix("v1=") {
        // The older form covers no header field: refused when one that changes the purge is sent.
        if super::request::PURGE_METHOD_HEADERS.iter().any(|h| req.headers.contains(h)) {
            return Err(AuthError::Invalid);
        }
        (v1, string_to_sign(req.method, req.path_and_query, ts, req.body))
    } else {
        return Err(AuthError::Invalid);
    };
    let presented = unhex(text.0).ok_or(AuthError::Invalid)?;
    // RFC 2104 HMAC, compared in constant time by the `hmac` crate.
    hmac_of(secret.as_bytes(), text.1.as_bytes()).verify_slice(&presented).map_err(|_| AuthError::Invalid)?;
    let now_secs = secs(now);
    if now_secs.abs_diff(ts) > MAX_CLOCK_SKEW_SECS {
        return Err(AuthError::Expired);
    }
    if !replay.record(&presented, ts, now_secs) {
        return Err(AuthError::Replayed);
    }
    Ok(Credential { scheme: Scheme::Signed })
}

/// HMAC-SHA256 (RFC 2104) of `message` under `key`, ready to finalize or verify.
fn hmac_of(key: &[u8], message: &[u8]) -> Hmac<Sha256> {
    // Any key length is valid for HMAC: longer keys are hashed, shorter ones padded.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(message);
    mac
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    hmac_of(key, message).finalize().into_bytes().into()
}

fn string_to_sign(method: &str, path_and_query: &str, timestamp: u64, body: &[u8]) -> String {
    let body_hash = hex(&Sha256::digest(body));
    format!("v1\n{}\n{}\n{}\n{}", method.to_ascii_uppercase(), path_and_query, timestamp, body_hash)
}

fn string_to_sign_v2(
    method: &str,
    path_and_query: &str,
    timestamp: u64,
    body: &[u8],
    headers: &Headers,
) -> String {
    let body_hash = hex(&Sha256::digest(body));
    let host = headers.get("host").unwrap_or("").trim().to_ascii_lowercase();
    let mut text = format!(
        "v2\n{}\n{}\n{}\n{}\n{}",
        method.to_ascii_uppercase(),
        host,
        path_and_query,
        timestamp,
        body_hash
    );
    for name in super::request::PURGE_METHOD_HEADERS {
        let values: Vec<&str> = headers.get_all(name).map(str::trim).collect();
        text.push('\n');
        text.push_str(&values.join(", "));
    }
    text
}

fn signature_bytes(secret: &str, method: &str, path_and_query: &str, timestamp: u64, body: &[u8]) -> Vec<u8> {
    hmac_sha256(secret.as_bytes(), string_to_sign(method, path_and_query, timestamp, body).as_bytes())
        .to_vec()
}

/// Constant-time equality of two byte strings of any lengths: compares their SHA-256
/// digests with a fold over all 32 bytes (no early exit, length not observable).
pub fn digests_equal(a: &[u8], b: &[u8]) -> bool {
    let da = Sha256::digest(a);
    let db = Sha256::digest(b);
    let diff = da.iter().zip(db.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    diff == 0
}

/// An address or network of `purge.allowFrom`: `203.0.113.7`, `2001:db8::/32`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressRange {
    network: std::net::IpAddr,
    prefix: u8,
}

impl AddressRange {
    /// Parses `addr` or `addr/prefix`; None when malformed or the prefix is too long.
    pub fn parse(text: &str) -> Option<AddressRange> {
        let text = text.trim();
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let network: std::net::IpAddr = addr.parse().ok()?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => p.parse().ok()?,
            Some(_) => return None,
            None => max,
        };
        (prefix <= max).then_some(AddressRange { network, prefix })
    }

    /// Whether `addr` lies in this range (an IPv4-mapped IPv6 address counts as IPv4).
    pub fn contains(&self, addr: std::net::IpAddr) -> bool {
        use std::net::IpAddr;
        let addr = match addr {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
            v4 => v4,
        };
        let (a, n, bits) = match (addr, self.network) {
            (IpAddr::V4(a), IpAddr::V4(n)) => (u128::from(u32::from(a)), u128::from(u32::from(n)), 32),
            (IpAddr::V6(a), IpAddr::V6(n)) => (u128::from(a), u128::from(n), 128),
            _ => return false,
        };
        let shift = bits - u32::from(self.prefix);
        shift >= bits || (a >> shift) == (n >> shift)
    }
}

/// A `PURGE` request from an address the policy allows (`purge.allowFrom`), for purgers that
/// cannot send a credential (Wagtail's front-end cache invalidator, plone.cachepurging
/// without userinfo). `client` is the `CF-Connecting-IP` value, which Cloudflare's edge sets
/// to the connecting address, replacing anything a client sent: the list means nothing where
/// the worker does not run behind that edge. Only `PURGE` qualifies; the admin API always
/// needs the secret.
pub fn authorize_address(method: &str, client: Option<&str>, allowed: &[AddressRange]) -> Option<Credential> {
    if allowed.is_empty() || !method.eq_ignore_ascii_case("PURGE") {
        return None;
    }
    let addr: std::net::IpAddr = client?.trim().parse().ok()?;
    allowed.iter().any(|r| r.contains(addr)).then_some(Credential { scheme: Scheme::Address })
}

#[cfg(test)]
mod hmac_tests {
    use super::*;

    /// RFC 4231 §4.3 (test case 2) and §4.6 (a key longer than the block, test case 6).
    #[test]
    fn hmac_sha256_matches_the_rfc_4231_vectors() {
        assert_eq!(
            hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hex(&hmac_sha256(&[0xaa; 131], b"Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }
}
